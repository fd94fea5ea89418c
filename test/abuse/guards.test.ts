/**
 * Abuse guards, tried as an attacker would on 127.0.0.1, each loop bounded:
 * room-password guessing (WebSocket and the unlock form) and the hashing line, whisper
 * floods and mutes, kick bans that cover the client's address, room quotas, and the
 * longest allowed password at the unlock form.
 */
import { Frame, sleep, TestClient } from '../helpers/client';
import { inProcessBackend } from '../helpers/cluster';
import { makeGif } from '../helpers/gif';
import { browserSession, startServer, TestServer } from '../helpers/server';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** A reply's error, or undefined for an ack. */
const errorOf = (frame: Frame): { code: string; message: string; retryAfterMs?: number } | undefined => (frame.event === 'error' ? frame.data : undefined);

function unlock(s: TestServer, room: string, cookie: string, password: string) {
  const headers = { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: s.url };
  return fetch(`${s.url}/room/${room}/unlock`, { method: 'POST', headers, body: form({ password }), redirect: 'manual' });
}

describe('room-password guessing', () => {
  test('over WebSocket: wrong guesses are refused as rate_limited with retryAfterMs after the limit; another user with the right password still gets in', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'Vault', password: 'hunter2' });
    const attacker = await TestClient.connect(s.wsUrl);
    // Tried: up to 20 guesses in a row from one user (before the fix all 20 were checked, ~80/s).
    const replies: { code: string; retryAfterMs?: number }[] = [];
    for (let i = 0; i < 20; i++) {
      const error = errorOf(await attacker.call('join', { room: room.id, password: `guess-${i}` }));
      replies.push(error!);
      if (error?.code === 'rate_limited') break;
    }
    expect(replies.slice(0, 5).map((r) => r.code)).toEqual(Array(5).fill('forbidden'));
    expect(replies[5]).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    expect(replies[5].retryAfterMs).toBeGreaterThan(0);
    // Even the right password waits now: the limit counts attempts, not failures.
    expect(errorOf(await attacker.call('join', { room: room.id, password: 'hunter2' }))?.code).toBe('rate_limited');
    // Someone else, from the same address, is not locked out.
    const friend = await TestClient.connect(s.wsUrl);
    expect((await friend.request('join', { room: room.id, password: 'hunter2' })).room.id).toBe(room.id);
  });

  test('over WebSocket with a new user per guess: the per-address limit stops it', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'Vault', password: 'hunter2' });
    // Tried: up to 40 fresh guests (no cookie: a new user each), one guess each.
    let refusedAt = -1;
    let refusal: { code: string; message: string; retryAfterMs?: number } | undefined;
    for (let i = 0; i < 40 && refusedAt < 0; i++) {
      const guest = await TestClient.connect(s.wsUrl);
      const error = errorOf(await guest.call('join', { room: room.id, password: `guess-${i}` }));
      if (error?.code === 'rate_limited') {
        refusedAt = i;
        refusal = error;
      }
      await guest.close();
    }
    // PASSWORD_ATTEMPTS_PER_MINUTE (5) x 6 per address at once, then one every 2 s: refused soon after 30.
    expect(refusedAt).toBeGreaterThanOrEqual(30);
    expect(refusal?.message).toContain('address');
    expect(refusal?.retryAfterMs).toBeGreaterThan(0);
  });

  test('through the unlock form: a 429 page with Retry-After saying when to try again; another session with the right password gets in', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'Vault', password: 'hunter2' });
    const { cookie } = await browserSession(s.url);
    // Tried: up to 20 posts of wrong passwords from one session.
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 20 && !limited; i++) {
      const res = await unlock(s, room.id, cookie, `guess-${i}`);
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.text();
    }
    expect(statuses).toEqual([403, 403, 403, 403, 403, 429]);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    const html = await limited!.text();
    expect(html).toMatch(/try again in \d+ seconds \(at \d\d:\d\d:\d\d UTC\)/);
    expect(html).toContain('id="unlock-form"');
    const other = await browserSession(s.url);
    expect((await unlock(s, room.id, other.cookie, 'hunter2')).status).toBe(303);
  });

  test('guesses run in a bounded line: past it `unavailable` with retryAfterMs, and a GIF is still served meanwhile', async () => {
    // Attempt limits out of the way, to load the hashing line itself.
    const s = await startServer({ passwordAttemptsPerMinute: 1000, socketsPerIp: 1000 });
    const { cookie } = await browserSession(s.url);
    const member = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    const room = await member.request('create', { title: 'Vault', password: 'hunter2' });
    await member.request('join', { room: room.id, password: 'hunter2' });
    const body = new FormData();
    body.append('gif', new Blob([new Uint8Array(makeGif())], { type: 'image/gif' }), 'cat.gif');
    const posted: any = await (await fetch(`${s.url}/room/${room.id}/gif`, { method: 'POST', body, headers: { cookie, origin: s.url } })).json();
    // Tried: 60 sockets sending a guess each at once (60 scrypt jobs for 2 places and 32 waiting).
    const guessers = await Promise.all(Array.from({ length: 60 }, () => TestClient.connect(s.wsUrl)));
    // Each scrypt takes a while on a busy machine: wait for the replies as long as the test may run.
    const guesses = guessers.map((g, i) => {
      const reply = g.waitFor((f) => f.id === 1 && (f.event === 'ack' || f.event === 'error'), 0, 55_000);
      g.sendRaw(JSON.stringify({ event: 'join', id: 1, data: { room: room.id, password: `guess-${i}` } }));
      return reply;
    });
    const served = await fetch(s.url + posted.gif);
    expect(served.status).toBe(200);
    expect((await served.arrayBuffer()).byteLength).toBe(makeGif().length);
    const replies = (await Promise.all(guesses)).map(errorOf);
    const codes = new Set(replies.map((r) => r?.code));
    expect([...codes].sort()).toEqual(['forbidden', 'unavailable']);
    for (const r of replies) if (r?.code === 'unavailable') expect(r.retryAfterMs).toBeGreaterThan(0);
  }, 60_000);
});

describe('whispers', () => {
  test('per target and per sender rates: rate_limited with retryAfterMs past them', async () => {
    const s = await startServer();
    const [sender, ...targets] = await Promise.all(Array.from({ length: 6 }, () => TestClient.connect(s.wsUrl)));
    // Tried: 10 whispers to one user, then 5 to each of four more.
    const toFirst: (string | undefined)[] = [];
    for (let i = 0; i < 10; i++) toFirst.push(errorOf(await sender.call('whisper', { to: targets[0].user.id, text: `hi ${i}` }))?.code);
    expect(toFirst).toEqual([...Array(5).fill(undefined), ...Array(5).fill('rate_limited')]);
    for (const target of targets.slice(1, 4)) {
      for (let i = 0; i < 5; i++) expect(errorOf(await sender.call('whisper', { to: target.user.id, text: 'hi' }))).toBeUndefined();
    }
    // 5 + 15 = 20 in 10 s from this sender: the next, to anyone, waits.
    const refused = errorOf(await sender.call('whisper', { to: targets[4].user.id, text: 'hi' }));
    expect(refused).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('too many whispers') });
    expect(refused!.retryAfterMs).toBeGreaterThan(0);
    expect(targets[0].all('whisper')).toHaveLength(5);
  });

  test("mute: a muted user's whispers and typing stop reaching you, on every socket of your session and after a reconnect; unmute undoes it", async () => {
    const s = await startServer();
    const { cookie } = await browserSession(s.url);
    const me = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    const [pest, friend] = await Promise.all([TestClient.connect(s.wsUrl), TestClient.connect(s.wsUrl)]);
    const room = await friend.request('create', { title: 'talk' });
    for (const c of [me, pest, friend]) await c.request('join', { room: room.id });

    expect(await me.request('mute', { user: pest.user.id })).toEqual({});
    expect(errorOf(await me.call('mute', { user: me.user.id }))?.code).toBe('invalid_data');
    // The pest still gets their own copy and an ack: nothing tells them they are muted.
    expect((await pest.request('whisper', { to: me.user.id, text: 'psst' })).text).toBe('psst');
    pest.sendRaw(JSON.stringify({ event: 'typing', data: { room: room.id } }));
    // A marker after them: once it arrives, anything of the pest's would have too.
    await friend.request('whisper', { to: me.user.id, text: 'marker' });
    await me.next('whisper', (w) => w.text === 'marker', 0);
    friend.sendRaw(JSON.stringify({ event: 'typing', data: { room: room.id } }));
    await me.next('typing', (t) => t.user.id === friend.user.id, 0);
    expect(me.all('whisper').map((w) => w.from.id)).toEqual([friend.user.id]);
    expect(me.all('typing').map((t) => t.user.id)).toEqual([friend.user.id]);

    // A reconnect: still muted (kept with the session).
    await me.close();
    const again = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    // Its welcome says whom this person muted, so a reloaded page shows it.
    expect(again.frames[0]).toMatchObject({ event: 'welcome', data: { muted: [pest.user.id] } });
    await pest.request('whisper', { to: again.user.id, text: 'still here' });
    await friend.request('whisper', { to: again.user.id, text: 'marker 2' });
    await again.next('whisper', (w) => w.text === 'marker 2', 0);
    expect(again.all('whisper').map((w) => w.text)).toEqual(['marker 2']);

    expect(await again.request('unmute', { user: pest.user.id })).toEqual({});
    await pest.request('whisper', { to: again.user.id, text: 'hello again' });
    await again.next('whisper', (w) => w.text === 'hello again', 0);
    const fresh = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    expect(fresh.frames[0].data.muted).toEqual([]);
  });
});

describe('kick bans', () => {
  test('a kick bans the address too: a fresh cookie and a new name from it are refused as banned, over WebSocket and on the room page', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'club' });
    await owner.request('join', { room: room.id });
    const troll = await TestClient.connect(s.wsUrl);
    await troll.request('join', { room: room.id });
    await owner.request('kick', { room: room.id, user: troll.user.id });
    // Tried: a fresh socket with no cookie (a new user) and a new name, at once after the kick.
    const fresh = await TestClient.connect(s.wsUrl);
    await fresh.request('register', { name: 'Totally New' });
    expect(errorOf(await fresh.call('join', { room: room.id }))?.code).toBe('banned');
    // The page too, with a new session.
    const { cookie } = await browserSession(s.url);
    const page = await fetch(`${s.url}/room/${room.id}`, { headers: { cookie } });
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('data-refused="banned"');
    // The owner shares the address, but is never kept out of their own room.
    await owner.request('leave', { room: room.id });
    expect((await owner.request('join', { room: room.id })).room.id).toBe(room.id);
  });

  test('behind TRUST_PROXY the forwarded address is the one banned', async () => {
    const s = await startServer({ trustProxy: true });
    const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });
    const owner = await TestClient.connect(s.wsUrl, from('198.51.100.1'));
    const room = await owner.request('create', { title: 'club' });
    await owner.request('join', { room: room.id });
    const troll = await TestClient.connect(s.wsUrl, from('203.0.113.7'));
    await troll.request('join', { room: room.id });
    await owner.request('kick', { room: room.id, user: troll.user.id });
    const back = await TestClient.connect(s.wsUrl, from('203.0.113.7'));
    expect(errorOf(await back.call('join', { room: room.id }))?.code).toBe('banned');
    const neighbour = await TestClient.connect(s.wsUrl, from('203.0.113.8'));
    expect((await neighbour.request('join', { room: room.id })).room.id).toBe(room.id);
  });
});

describe('across processes (two apps sharing store, bus and presence)', () => {
  /** Retries `check` until it stops throwing, at most 3 s. */
  async function eventually(check: () => Promise<void>): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        return await check();
      } catch (err) {
        if (i >= 120) throw err;
        await sleep(25);
      }
    }
  }

  test("a mute made on one process reaches the user's socket on another", async () => {
    const cluster = await inProcessBackend.start(2, {});
    const [a, b] = cluster.nodes;
    const { cookie } = await browserSession(a.url);
    const here = await TestClient.connect(a.wsUrl, { headers: { cookie } });
    const there = await TestClient.connect(b.wsUrl, { headers: { cookie } });
    const [pest, friend] = await Promise.all([TestClient.connect(b.wsUrl), TestClient.connect(a.wsUrl)]);
    await here.request('mute', { user: pest.user.id });
    // The fact travels on the bus: wait until the other process applied it (a whisper that gets through is the sign it has not).
    await eventually(async () => {
      const before = there.all('whisper').length;
      await pest.request('whisper', { to: here.user.id, text: 'probe' });
      await friend.request('whisper', { to: here.user.id, text: 'marker' });
      await there.next('whisper', (w) => w.text === 'marker', before);
      expect(there.all('whisper').slice(before).map((w) => w.text)).toEqual(['marker']);
    });
    await cluster.close();
  });

  test('a kick on one process bans the address of the socket on the other', async () => {
    const cluster = await inProcessBackend.start(2, {});
    const [a, b] = cluster.nodes;
    const owner = await TestClient.connect(a.wsUrl);
    const room = await owner.request('create', { title: 'club' });
    await owner.request('join', { room: room.id });
    const troll = await TestClient.connect(b.wsUrl);
    await troll.request('join', { room: room.id });
    await owner.request('kick', { room: room.id, user: troll.user.id });
    await troll.next('kicked', () => true, 0);
    await eventually(async () => {
      const fresh = await TestClient.connect(b.wsUrl);
      expect(errorOf(await fresh.call('join', { room: room.id }))?.code).toBe('banned');
    });
    await cluster.close();
  });
});

describe('room quotas', () => {
  test('rooms owned: creation past ROOMS_PER_USER is forbidden with a message saying to delete one; deleting one makes room', async () => {
    const s = await startServer({ roomsPerUser: 3 });
    const user = await TestClient.connect(s.wsUrl);
    // Tried: a loop of up to 10 creations (before the fix: 12,000 rooms in 13 s).
    const rooms: string[] = [];
    let refusal: { code: string; message: string } | undefined;
    for (let i = 0; i < 10 && !refusal; i++) {
      const reply = await user.call('create', { title: `room ${i}` });
      if (reply.event === 'error') refusal = reply.data;
      else rooms.push(reply.data.id);
    }
    expect(rooms).toHaveLength(3);
    expect(refusal).toMatchObject({ code: 'forbidden', message: expect.stringContaining('delete one') });
    await user.request('delete', { room: rooms[0] });
    expect((await user.request('create', { title: 'one more' })).title).toBe('one more');
  });

  test('creations per hour, per user and per address: rate_limited with retryAfterMs, over WebSocket and the form (429 with Retry-After)', async () => {
    const s = await startServer({ roomCreatesPerHour: 2 });
    const users = await Promise.all(Array.from({ length: 4 }, () => TestClient.connect(s.wsUrl)));
    // Tried: each of 4 users from one address creating up to 3 rooms.
    const codes = [];
    for (const user of users) {
      const mine = [];
      for (let i = 0; i < 3; i++) mine.push(errorOf(await user.call('create', { title: `r${i}` })));
      codes.push(mine.map((e) => e?.code ?? 'ok'));
      for (const e of mine) if (e) expect(e.retryAfterMs).toBeGreaterThan(0);
    }
    // 2 per user an hour; 6 (3x) per address: the fourth user gets none.
    expect(codes).toEqual([
      ['ok', 'ok', 'rate_limited'],
      ['ok', 'ok', 'rate_limited'],
      ['ok', 'ok', 'rate_limited'],
      ['rate_limited', 'rate_limited', 'rate_limited'],
    ]);
    expect(users[3].frames.find((f) => f.event === 'error')?.data.message).toContain('address');
    const { cookie } = await browserSession(s.url);
    const res = await fetch(`${s.url}/room/new`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: s.url },
      body: form({ title: 'one more', max: '' }),
      redirect: 'manual',
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.text()).toMatch(/try again in \d+ minutes/);
  });
});

describe('the longest password', () => {
  test('a password of PASSWORD_MAX characters, emoji included, opens the room through the unlock form', async () => {
    const s = await startServer();
    const owner = await TestClient.connect(s.wsUrl);
    const passwordMax: number = owner.frames.find((f) => f.event === 'welcome')!.data.limits.passwordMax;
    // 128 characters, each outside the BMP: 256 UTF-16 units (the form cut it at 128 units before).
    const password = '🔑'.repeat(passwordMax);
    const room = await owner.request('create', { title: 'Keys', password });
    const { cookie } = await browserSession(s.url);
    expect((await unlock(s, room.id, cookie, password)).status).toBe(303);
    // One character more cannot be the password: refused as wrong.
    expect((await unlock(s, room.id, (await browserSession(s.url)).cookie, `${password}!`)).status).toBe(403);
    // The same password typed into the new-room form opens the room the same way.
    const ascii = 'x'.repeat(passwordMax);
    const made = await fetch(`${s.url}/room/new`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: s.url },
      body: form({ title: 'Long', max: '', password: ascii }),
      redirect: 'manual',
    });
    expect(made.status).toBe(303);
    const id = made.headers.get('location')!.split('/').pop()!;
    expect((await unlock(s, id, (await browserSession(s.url)).cookie, ascii)).status).toBe(303);
  });
});
