import { TestClient } from '../../helpers/client';
import { browserSession, startServer, tempDataDir } from '../../helpers/server';

describe('owner powers: kick, transfer, delete; the owner policy', () => {
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
    await expect(b.request('join', { room: room.id })).rejects.toMatchObject({ code: 'banned' });
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
    expect((await a.request('chatrooms')).rooms[0].owner).toEqual(b.user);
    await outsider.request('chatrooms');
    expect(outsider.all('owner')).toHaveLength(0);
  });

  test('the owner stays the owner when they leave, reload or drop; ownership passes only after OWNER_AWAY_MS offline with members present', async () => {
    const s = await startServer({ ownerAwayMs: 600, sweepMs: 50, presenceGraceMs: 100 });
    const { cookie } = await browserSession(s.url);
    const owner = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    const b = await TestClient.connect(s.wsUrl);
    const c = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'r' });
    for (const x of [owner, b, c]) await x.request('join', { room: room.id });
    await owner.request('leave', { room: room.id }); // elsewhere in the app: still online
    await new Promise((r) => setTimeout(r, 900));
    expect((await b.request('chatrooms')).rooms[0].owner).toEqual(owner.user);
    await owner.close(); // a reload...
    const again = await TestClient.connect(s.wsUrl, { headers: { cookie } }); // ...back at once
    await new Promise((r) => setTimeout(r, 900));
    expect((await b.request('chatrooms')).rooms[0].owner).toEqual(owner.user);
    expect(b.all('owner')).toHaveLength(0);
    // Gone for good: after OWNER_AWAY_MS the member present longest takes over.
    const passed = c.next('owner');
    const goneAt = Date.now();
    await again.close();
    expect((await passed).data).toEqual({ room: room.id, user: b.user });
    expect(Date.now() - goneAt).toBeGreaterThanOrEqual(500);
    await b.request('kick', { room: room.id, user: c.user.id }); // b has the powers now
  });

  test('an empty room keeps its owner: whoever walks in later does not take it over', async () => {
    const s = await startServer({ ownerAwayMs: 200, sweepMs: 50 });
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'r' });
    await owner.request('join', { room: room.id });
    await owner.request('leave', { room: room.id });
    await owner.close();
    await new Promise((r) => setTimeout(r, 400)); // owner offline, but nobody in the room: the clock does not run
    const b = await TestClient.connect(s.wsUrl);
    await b.request('join', { room: room.id });
    expect((await b.request('chatrooms')).rooms[0].owner).toEqual(owner.user);
    await expect(b.request('delete', { room: room.id })).rejects.toMatchObject({ code: 'forbidden' });
    // From now on the room has a member and its owner is offline: after OWNER_AWAY_MS it passes.
    await b.next('owner', (d) => d.user.id === b.user.id, 0);
  });

  test('kick bans and the owner survive a restart', async () => {
    const dataDir = tempDataDir();
    let s = await startServer({ dataDir });
    const owner = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    const { cookie } = await browserSession(s.url);
    const room = await owner.request('create', { title: 'r' });
    await owner.request('join', { room: room.id });
    const c = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    await c.request('join', { room: room.id });
    await b.request('join', { room: room.id });
    await owner.request('transfer', { room: room.id, user: b.user.id });
    await b.request('kick', { room: room.id, user: c.user.id });
    await s.stop();
    s = await startServer({ dataDir, cookieSecret: s.config.cookieSecret });
    const cAgain = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    expect(cAgain.user.id).toBe(c.user.id);
    await expect(cAgain.request('join', { room: room.id })).rejects.toMatchObject({ code: 'banned' });
    expect((await cAgain.request('chatrooms')).rooms[0].owner).toEqual(b.user);
  });
});
