import { TestClient } from '../../helpers/client';
import { startServer } from '../../helpers/server';

describe('owner powers: kick, transfer, delete; ownership when the owner leaves', () => {
  test('kick: owner only; the user gets kicked, others get a kicked entry, and they cannot rejoin for the ban', async () => {
    const s = await startServer({ kickBanMs: 300 });
    const owner = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const c = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'r' });
    for (const x of [owner, b, c]) await x.request('join', { room: room.id });
    await expect(b.request('kick', { room: room.id, user: c.user.id })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(owner.request('kick', { room: room.id, user: 'u_nobody' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(owner.request('kick', { room: 'nope', user: b.user.id })).rejects.toMatchObject({ code: 'not_found' });
    expect((await owner.call('kick', { room: room.id, user: owner.user.id })).data.code).toBe('invalid_data');

    const kicked = b.next('kicked');
    const entry = c.next('system', (d) => d.kind === 'kicked');
    expect(await owner.request('kick', { room: room.id, user: b.user.id })).toEqual({});
    expect((await kicked).data).toEqual({ room: room.id });
    expect((await entry).data).toMatchObject({ room: room.id, kind: 'kicked', user: b.user });
    await expect(b.request('message', { room: room.id, text: 'still?' })).rejects.toMatchObject({ code: 'not_joined' });
    await expect(b.request('join', { room: room.id })).rejects.toMatchObject({ code: 'forbidden' });
    await c.request('message', { room: room.id, text: 'after kick' });
    await b.request('chatrooms');
    expect(b.all('message')).toHaveLength(0);
    expect(b.all('system').some((e) => e.kind === 'left')).toBe(false);
    await new Promise((r) => setTimeout(r, 350));
    await b.request('join', { room: room.id }); // the ban ran out
  });

  test('transfer: owner only, to a present member; everyone in the room gets owner', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const outsider = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'r' });
    await a.request('join', { room: room.id });
    await b.request('join', { room: room.id });
    await expect(b.request('transfer', { room: room.id, user: b.user.id })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(a.request('transfer', { room: room.id, user: outsider.user.id })).rejects.toMatchObject({ code: 'not_found' });
    const pushA = a.next('owner');
    const pushB = b.next('owner');
    const sys = b.next('system', (d) => d.kind === 'owner');
    expect(await a.request('transfer', { room: room.id, user: b.user.id })).toEqual({ room: room.id, user: b.user });
    expect((await pushA).data).toEqual({ room: room.id, user: b.user });
    expect((await pushB).data).toEqual({ room: room.id, user: b.user });
    expect((await sys).data).toMatchObject({ kind: 'owner', user: b.user });
    await expect(a.request('kick', { room: room.id, user: b.user.id })).rejects.toMatchObject({ code: 'forbidden' });
    expect((await a.request('chatrooms'))[0].owner).toEqual(b.user);
    await outsider.request('chatrooms');
    expect(outsider.all('owner')).toHaveLength(0);
  });

  test('when the owner leaves, ownership passes to the longest-present member', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const c = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'r' });
    for (const x of [owner, b, c]) await x.request('join', { room: room.id });
    const passed = c.next('owner');
    await owner.close();
    expect((await passed).data).toEqual({ room: room.id, user: b.user });
    await b.request('kick', { room: room.id, user: c.user.id }); // b has the powers now
  });

  test('an owner leaving an empty room keeps it until someone joins, who then takes over', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'r' });
    await owner.request('join', { room: room.id });
    await owner.request('leave', { room: room.id });
    expect((await owner.request('chatrooms'))[0].owner).toEqual(owner.user);
    const b = await TestClient.connect(s.wsUrl);
    await b.request('join', { room: room.id });
    await b.next('owner', (d) => d.user.id === b.user.id, 0);
    expect((await b.request('chatrooms'))[0].owner).toEqual(b.user);
  });
});
