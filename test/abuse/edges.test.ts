import { TestClient } from '../helpers/client';
import { makeGif } from '../helpers/gif';
import { browserSession, startServer, TestServer } from '../helpers/server';

/** How many session rows the store holds: all of them are "expired" at the end of time (the count empties the table). */
const countSessionRows = (s: TestServer) => s.app.store.pruneSessions(Number.MAX_SAFE_INTEGER);

const cookieOf = (res: Response) => res.headers.get('set-cookie')?.split(';')[0];

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('sessions', () => {
  test('cookieless requests (the lobby, a 404, health, a static file, a GIF) write no session row and set no cookie', async () => {
    // Tried: 500 requests without a cookie, as a crawler or a flood would send them.
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'r' });
    await owner.request('join', { room: room.id });
    const upload = new FormData();
    upload.append('gif', new Blob([new Uint8Array(makeGif())], { type: 'image/gif' }), 'a.gif');
    const paths = ['/', '/nope', '/healthz', '/style.css', '/gif/nothing.gif', '/room/new'];
    for (let i = 0; i < 500; i++) {
      const res = await fetch(`${s.url}${paths[i % paths.length]}`);
      expect(cookieOf(res)).toBeUndefined();
      await res.arrayBuffer();
    }
    // A cookieless upload is refused (no session is no member) and makes no row either.
    const refused = await fetch(`${s.url}/room/${room.id}/gif`, { method: 'POST', body: upload });
    expect(refused.status).toBe(403);
    expect(await countSessionRows(s)).toBe(0);
    // A socket without a cookie is a guest, as before, and makes no row.
    const guest = await TestClient.connect(s.wsUrl);
    expect(await guest.request('register', { name: 'Passing' })).toMatchObject({ name: 'Passing' });
    expect(await countSessionRows(s)).toBe(0);
  });

  test('a page that needs an identity makes one row: the lobby script (POST /session), a room page', async () => {
    const s = await startServer();
    const { cookie, html } = await browserSession(s.url);
    expect(html).not.toContain('data-session="none"');
    const socket = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    expect(html).toContain(socket.user.id);
    const lobby = await (await fetch(`${s.url}/`)).text();
    expect(lobby).toContain('data-session="none"');
    expect(await countSessionRows(s)).toBe(1);
    const room = await socket.request('create', { title: 'r' });
    const page = await fetch(`${s.url}/room/${room.id}`);
    expect(cookieOf(page)).toBeDefined();
    expect(await countSessionRows(s)).toBe(1);
  });

  test('unlocking a room through the form gives the session a new id, keeping its user and grants; the old id is gone', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const locked = await owner.request('create', { title: 'locked', password: 'sesame' });
    const other = await owner.request('create', { title: 'other', password: 'other-pw' });
    const { cookie } = await browserSession(s.url);
    const before = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    await before.request('join', { room: other.id, password: 'other-pw' }); // a grant made over the socket
    await before.close();
    const headers = { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: s.url };
    const unlock = await fetch(`${s.url}/room/${locked.id}/unlock`, { method: 'POST', headers, body: form({ password: 'sesame' }), redirect: 'manual' });
    expect(unlock.status).toBe(303);
    const rotated = cookieOf(unlock)!;
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(cookie);
    const after = await TestClient.connect(s.wsUrl, { headers: { cookie: rotated } });
    expect(after.user).toEqual(before.user);
    // Both grants came along: no password asked for either room.
    await after.request('join', { room: locked.id });
    await after.request('join', { room: other.id });
    // The old id carries nothing any more.
    const stale = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    expect(stale.user.id).not.toBe(before.user.id);
    await expect(stale.request('join', { room: locked.id })).rejects.toMatchObject({ code: 'forbidden' });
  });

  test('a rename over the socket rotates the id at the next page view, keeping the new name', async () => {
    const s = await startServer();
    const { cookie } = await browserSession(s.url);
    const tab = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    await tab.request('register', { name: 'Renamed' });
    const page = await fetch(`${s.url}/`, { headers: { cookie } });
    expect(await page.text()).toContain('Renamed');
    const rotated = cookieOf(page)!;
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(cookie);
    const again = await TestClient.connect(s.wsUrl, { headers: { cookie: rotated } });
    expect(again.user).toEqual({ ...tab.user, name: 'Renamed' });
    // Rotated once: the next view keeps the id.
    expect(cookieOf(await fetch(`${s.url}/`, { headers: { cookie: rotated } }))).toBeUndefined();
    expect(await countSessionRows(s)).toBe(1);
  });
});
