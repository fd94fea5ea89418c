import { TestClient } from '../../helpers/client';
import { browserSession, startServer } from '../../helpers/server';

describe('identity: welcome, register, availableUsers', () => {
  test('welcome gives a guest identity, the heartbeat and the limits', async () => {
    const s = await startServer({ heartbeatMs: 12_345 });
    const a = await TestClient.connect(s.wsUrl);
    const welcome = a.frames[0];
    expect(welcome.event).toBe('welcome');
    expect(welcome.data).toEqual({
      user: { id: expect.any(String), name: expect.any(String), color: expect.stringMatching(/^#[0-9a-f]{6}$/) },
      heartbeatMs: 12_345,
      limits: expect.objectContaining({ maxPayload: 65536, ratePerSec: 20, rateBurst: 40, textMax: 4000, nameMax: 32 }),
      muted: [],
    });
    const b = await TestClient.connect(s.wsUrl);
    expect(b.user.id).not.toBe(a.user.id);
  });

  test('names and titles: look-alike width forms normalized (NFKC), hidden characters refused; a lone surrogate anywhere is invalid_data and stores nothing', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    expect(await a.request('register', { name: 'Ａｌｉｃｅ' })).toMatchObject({ name: 'Alice' });
    // Normalized before the uniqueness check: the fullwidth clone is the same name.
    await expect(b.request('register', { name: 'ａｌｉｃｅ' })).rejects.toMatchObject({ code: 'name_taken' });
    for (const name of ['Al\u200bice', '\u202eecilA', 'Al\u0007ice']) expect((await b.call('register', { name })).data.code).toBe('invalid_data');
    // Look-alikes of an online user's name are that name (Unicode TS #39 skeleton): Cyrillic А, capital I for l, Greek Α.
    for (const name of ['\u0410lice', 'AIice', '\u0391LICE']) expect({ name, code: (await b.call('register', { name })).data.code }).toEqual({ name, code: 'name_taken' });
    expect(await b.request('register', { name: 'Alicia' })).toMatchObject({ name: 'Alicia' });
    expect((await b.call('create', { title: 'Room\u200d' })).data.code).toBe('invalid_data');
    const room = await b.request('create', { title: 'Ｃａｔｓ' });
    expect(room.title).toBe('Cats');
    await b.request('join', { room: room.id });
    // Sent as raw JSON: the escape is a lone surrogate once parsed.
    const refused = new Promise((resolve) => b.next('error', () => true, b.frames.length).then(resolve));
    b.sendRaw(`{"event":"message","id":77,"data":{"room":"${room.id}","text":"broken \\ud800 text"}}`);
    expect(((await refused) as any).data).toMatchObject({ code: 'invalid_data', message: expect.stringMatching(/valid Unicode/) });
    expect((await b.request('history', { room: room.id })).filter((e: any) => e.text)).toEqual([]);
  });

  test('register trims, validates, and refuses a name held by another online user (case-insensitive)', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const b = await TestClient.connect(s.wsUrl);
    expect(await a.request('register', { name: '  Alice  ' })).toEqual({ ...a.user, name: 'Alice' });
    await expect(b.request('register', { name: 'alice' })).rejects.toMatchObject({ code: 'name_taken' });
    expect(await a.request('register', { name: 'ALICE' })).toMatchObject({ name: 'ALICE' }); // own name, other case
    for (const name of ['', '   ', 'x'.repeat(33), 5]) expect((await b.call('register', { name })).data.code).toBe('invalid_data');
    expect(await b.request('availableUsers')).toEqual(expect.arrayContaining([{ ...a.user, name: 'ALICE' }, b.user]));
    await a.close();
    expect(await b.request('register', { name: 'Alice' })).toMatchObject({ name: 'Alice' }); // freed when a left
    expect(await b.request('availableUsers')).toEqual([{ ...b.user, name: 'Alice' }]);
  });

  test('a browser session gives page and socket the same user, and a registered name survives reconnects', async () => {
    const s = await startServer();
    const { cookie, html } = await browserSession(s.url);
    const a = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    expect(html).toContain(a.user.name);
    await a.request('register', { name: 'Kept' });
    await a.close();
    const again = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    expect(again.user).toEqual({ ...a.user, name: 'Kept' });
    const page = await fetch(`${s.url}/`, { headers: { cookie } });
    expect(await page.text()).toContain('Kept');
    // A forged or foreign cookie is just a guest.
    const forged = await TestClient.connect(s.wsUrl, { headers: { cookie: cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) } });
    expect(forged.user.id).not.toBe(a.user.id);
  });

  test("a rename reaches the rooms the user is in, the user's other tabs, and the lobby rows of rooms they own", async () => {
    const s = await startServer();
    const { cookie } = await browserSession(s.url);
    const tab1 = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    const tab2 = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    const b = await TestClient.connect(s.wsUrl);
    const outsider = await TestClient.connect(s.wsUrl);
    const room = await tab1.request('create', { title: 'r' });
    await tab1.request('join', { room: room.id });
    await b.request('join', { room: room.id });
    const inRoom = b.next('renamed');
    const ownTab = tab2.next('renamed');
    const lobby = outsider.next('roomUpdated', (d) => d.owner.name === 'Zoe');
    const renamed = await tab1.request('register', { name: 'Zoe' });
    expect((await inRoom).data).toEqual({ room: room.id, user: renamed });
    expect((await ownTab).data).toEqual({ user: renamed });
    expect((await lobby).data.owner).toEqual(renamed);
    // The new name is used from now on, by every tab, and the member list agrees.
    const sent = await tab2.request('message', { room: room.id, text: 'hi' }).catch(() => null);
    expect(sent).toBeNull(); // tab2 is not in the room
    expect((await tab1.request('message', { room: room.id, text: 'hi' })).user).toEqual(renamed);
    expect((await b.request('join', { room: room.id })).members).toContainEqual(renamed);
    await outsider.request('chatrooms');
    expect(outsider.all('renamed')).toEqual([]); // not in the room: not told
  });
});
