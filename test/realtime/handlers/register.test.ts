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
    });
    const b = await TestClient.connect(s.wsUrl);
    expect(b.user.id).not.toBe(a.user.id);
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
});
