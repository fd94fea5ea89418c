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
    const cookie = (await fetch(`${s.url}/session`, { method: 'POST' })).headers.get('set-cookie')!;
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
    // The creator typed the password, so the room opens for them (under a new session id: rights changed).
    const rotated = good.headers.get('set-cookie')!.split(';')[0];
    expect(rotated).not.toBe(cookie);
    const page = await (await fetch(s.url + location, { headers: { cookie: rotated } })).text();
    expect(page).toContain('id="log"');
    const watcher = await TestClient.connect(s.wsUrl);
    const [room] = (await watcher.request('chatrooms')).rooms;
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
    const rotated = right.headers.get('set-cookie')!.split(';')[0];
    const open = await (await fetch(`${s.url}/room/${room.id}`, { headers: { cookie: rotated } })).text();
    expect(open).toContain('classified words');
    // The page's socket shares the grant: it joins without sending the password.
    const socket = await TestClient.connect(s.wsUrl, { headers: { cookie: rotated } });
    expect((await socket.request('join', { room: room.id })).history.some((e: any) => e.text === 'classified words')).toBe(true);
  });

  test('a full room shows a page saying so, without its history or members; a member still gets in', async () => {
    const s = await startServer();
    const [ann, bob] = await Promise.all([TestClient.connect(s.wsUrl), TestClient.connect(s.wsUrl)]);
    const room = await ann.request('create', { title: 'Pair', max: 2 });
    await ann.request('join', { room: room.id });
    await bob.request('join', { room: room.id });
    await ann.request('message', { room: room.id, text: 'just the two of us' });
    const { cookie } = await browserSession(s.url);
    const res = await fetch(`${s.url}/room/${room.id}`, { headers: { cookie } });
    expect(res.status).toBe(409);
    const html = await res.text();
    expect(html).toContain('This room is full');
    expect(html).toContain('data-refused="full"');
    expect(html).toContain('Pair');
    expect(html).not.toContain('just the two of us');
    expect(html).not.toContain('id="log"');
    expect(html).not.toContain('id="send-form"');
    expect(html).not.toContain(ann.user.name);
    expect(html).not.toContain(bob.user.name);
    // Once a place is free, the page is the room again.
    await bob.request('leave', { room: room.id });
    const open = await fetch(`${s.url}/room/${room.id}`, { headers: { cookie } });
    expect(open.status).toBe(200);
    expect(await open.text()).toContain('just the two of us');
  });

  test('someone kicked sees a page saying so (until when), without the room, even with its password', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'Strict', password: 'meow' });
    await owner.request('join', { room: room.id, password: 'meow' });
    const { cookie } = await browserSession(s.url);
    const visitor = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    await visitor.request('join', { room: room.id, password: 'meow' });
    await owner.request('message', { room: room.id, text: 'members only words' });
    await owner.request('kick', { room: room.id, user: visitor.user.id });
    const res = await fetch(`${s.url}/room/${room.id}`, { headers: { cookie } });
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(html).toContain('data-refused="banned"');
    expect(html).toContain('removed from this room by its owner');
    expect(html).toMatch(/come back after <time datetime="[^"]+Z">\d\d:\d\d UTC<\/time>/);
    expect(html).not.toContain('members only words');
    expect(html).not.toContain('id="log"');
    expect(html).not.toContain('id="unlock-form"');
    expect(html).toMatch(/id="owner-tools"[^>]*hidden/);
  });

  test('without JavaScript the composer is disabled and its form is a POST: a message never lands in a URL', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'Open' });
    const html = await (await fetch(`${s.url}/room/${room.id}`)).text();
    const sendForm = /<form id="send-form"[^>]*>/.exec(html)![0];
    expect(sendForm).toContain('method="post"');
    expect(sendForm).not.toContain('action="#"');
    expect(html).toMatch(/<fieldset id="composer" disabled>[\s\S]*<textarea id="text"[\s\S]*<\/fieldset>/);
    expect(html).toContain('<noscript><p id="no-script" class="field-message">Sending needs JavaScript');
    // The lobby's name form likewise: a POST, off until the script turns it on.
    const lobby = await (await fetch(`${s.url}/`)).text();
    expect(/<form id="name-form"[^>]*>/.exec(lobby)![0]).toContain('method="post"');
    expect(lobby).toMatch(/<input id="name-input"[^>]*readonly>/);
  });

  test('the lobby lists rooms by recent activity, with full and password states outside the link', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const tick = () => new Promise((r) => setTimeout(r, 5)); // distinct creation times
    const quiet = await owner.request('create', { title: 'Quiet', max: 2, password: 'pw' });
    await tick();
    const busy = await owner.request('create', { title: 'Busy', max: 2 });
    await tick();
    const later = await owner.request('create', { title: 'Later' });
    await tick();
    const other = await TestClient.connect(s.wsUrl);
    await owner.request('join', { room: busy.id });
    await other.request('join', { room: busy.id });
    await owner.request('message', { room: busy.id, text: 'activity' });
    const html = await (await fetch(`${s.url}/`)).text();
    const order = [...html.matchAll(/data-room-id="(r_[^"]+)"/g)].map((m) => m[1]);
    expect(order[0]).toBe(busy.id);
    expect(order.indexOf(later.id)).toBeLessThan(order.indexOf(quiet.id));
    const row = (id: string) => new RegExp(`<li class="room[^"]*" data-room-id="${id}"[\\s\\S]*?</li>`).exec(html)![0];
    expect(row(busy.id)).toContain('class="room full"');
    expect(row(busy.id)).toMatch(/<\/a> <span class="badge full">Full<\/span>/);
    expect(row(quiet.id)).toMatch(/<\/a> <span class="badge lock"[^>]*>Password<\/span>/);
    expect(row(quiet.id)).not.toContain('class="room full"');
  });

  test('server-rendered times say they are UTC; the new-room form starts on its first field', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'Times' });
    await owner.request('join', { room: room.id });
    const html = await (await fetch(`${s.url}/room/${room.id}`)).text();
    expect(html).toMatch(/<time datetime="[^"]+Z" title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">\d\d:\d\d UTC<\/time>/);
    const form = await (await fetch(`${s.url}/room/new`)).text();
    expect(form).toMatch(/<input id="title"[^>]*autofocus/);
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
