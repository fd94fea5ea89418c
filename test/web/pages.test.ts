import { TestClient } from '../helpers/client';
import { browserSession, startServer } from '../helpers/server';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('pages', () => {
  test('every page renders with security headers and no inline script', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'Open' });
    for (const path of ['/', '/room/new', `/room/${room.id}`]) {
      const res = await fetch(s.url + path);
      expect(res.status).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const html = await res.text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    }
    const cookie = (await fetch(s.url)).headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
  });

  test('the new-room form re-renders with values kept and a message by each bad field; success redirects to the room', async () => {
    const s = await startServer();
    const { cookie } = await browserSession(s.url);
    const headers = { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: s.url };
    const bad = await fetch(`${s.url}/room/new`, { method: 'POST', headers, body: form({ title: '   ', max: '1', password: 'p'.repeat(129) }), redirect: 'manual' });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain('id="title-error"');
    expect(html).toContain('id="max-error"');
    expect(html).toContain('id="password-error"');
    expect(html).toContain('value="1"');
    expect(html).not.toMatch(/at \w+ \(/); // no stack
    expect(html).not.toContain('p'.repeat(129)); // a password is never echoed back
    const notNumber = await (await fetch(`${s.url}/room/new`, { method: 'POST', headers, body: form({ title: 'ok', max: 'ten' }) })).text();
    expect(notNumber).toContain('Max must be an integer');
    expect(notNumber).toContain('value="ok"');
    const good = await fetch(`${s.url}/room/new`, { method: 'POST', headers, body: form({ title: 'Cats', max: '', password: 'meow' }), redirect: 'manual' });
    expect(good.status).toBe(303);
    const location = good.headers.get('location')!;
    expect(location).toMatch(/^\/room\/r_/);
    // The creator typed the password, so the room opens for them.
    const page = await (await fetch(s.url + location, { headers: { cookie } })).text();
    expect(page).toContain('id="log"');
    const watcher = await TestClient.connect(s.wsUrl);
    const [room] = await watcher.request('chatrooms');
    expect(room).toMatchObject({ title: 'Cats', max: 10, locked: true });
  });

  test('a password room shows a password form (never the history) until the password is posted', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'Secret', password: 'meow' });
    await owner.request('join', { room: room.id, password: 'meow' });
    await owner.request('message', { room: room.id, text: 'classified words' });
    const { cookie } = await browserSession(s.url);
    const locked = await (await fetch(`${s.url}/room/${room.id}`, { headers: { cookie } })).text();
    expect(locked).toContain('id="unlock-form"');
    expect(locked).toContain('method="post"');
    expect(locked).not.toContain('classified words');
    const headers = { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: s.url };
    const wrong = await fetch(`${s.url}/room/${room.id}/unlock`, { method: 'POST', headers, body: form({ password: 'woof' }) });
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).toContain('Wrong password.');
    const right = await fetch(`${s.url}/room/${room.id}/unlock`, { method: 'POST', headers, body: form({ password: 'meow' }), redirect: 'manual' });
    expect(right.status).toBe(303);
    const open = await (await fetch(`${s.url}/room/${room.id}`, { headers: { cookie } })).text();
    expect(open).toContain('classified words');
    // The page's socket shares the grant: it joins without sending the password.
    const socket = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    expect((await socket.request('join', { room: room.id })).history.some((e: any) => e.text === 'classified words')).toBe(true);
  });

  test('a form posted from another site is refused', async () => {
    const s = await startServer();
    const { cookie } = await browserSession(s.url);
    const res = await fetch(`${s.url}/room/new`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: form({ title: 'pwned' }),
    });
    expect(res.status).toBe(403);
    expect(await s.app.store.rooms()).toEqual([]);
  });

  test('unknown rooms and paths get the 404 page; production errors carry no stack', async () => {
    const s = await startServer({ production: true });
    const missing = await fetch(`${s.url}/room/r_nope`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('does not exist');
    const broken = await fetch(`${s.url}/room/new`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.url },
      body: 'x'.repeat(20_000),
    });
    expect(broken.status).toBe(413);
    const html = await broken.text();
    expect(html).not.toMatch(/node_modules|at \w+ \(/);
  });
});
