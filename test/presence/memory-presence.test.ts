import { UserInfo } from '../../src/protocol';
import { createMemoryPresence } from '../../src/presence/memory-presence';
import { Presence, SocketRef } from '../../src/presence/presence';
import { presenceContract } from './presence-contract';

presenceContract('memory', async (options) => createMemoryPresence(options));

describe('memory presence', () => {
  const graceMs = 1_000;
  const ttlMs = 5_000;
  let p: Presence;
  beforeEach(() => {
    p = createMemoryPresence({ graceMs, ttlMs });
  });
  afterEach(async () => {
    await p.close();
  });
  const user = (id: string, name = id.toUpperCase()): UserInfo => ({ id, name, color: '#000000' });
  const ref = (node: string, socket: string): SocketRef => ({ node, socket });

  test('two apps (two node ids) sharing one instance agree', async () => {
    // App A is node 'a', app B node 'b'; both talk to the same instance.
    const t0 = Date.now();
    await p.beat('a', t0);
    await p.beat('b', t0);
    expect(await p.connect(ref('a', '1'), user('u_x', 'Xena'))).toBe(true);
    expect(await p.connect(ref('b', '1'), user('u_x', 'Xena'))).toBe(false); // the same user, another app
    expect(await p.connect(ref('b', '2'), user('u_y', 'xena'))).toBe(true);
    expect(await p.rename(user('u_y', 'XENA'))).toBe(false);

    expect(await p.join('r', ref('a', '1'), user('u_x'), 2)).toBe('joined');
    expect(await p.join('r', ref('b', '1'), user('u_x'), 2)).toBe('present');
    expect(await p.join('r', ref('b', '2'), user('u_y'), 2)).toBe('joined');
    await p.connect(ref('a', '3'), user('u_z'));
    expect(await p.join('r', ref('a', '3'), user('u_z'), 2)).toBe('full');
    expect((await p.members('r')).map((m) => m.user.id)).toEqual(['u_x', 'u_y']);

    // App B dies; app A keeps beating and both sweep: each departure reaches one of them.
    await p.beat('a', t0 + 100 * ttlMs);
    const [fromA, fromB] = await Promise.all([p.sweep(t0 + ttlMs + graceMs), p.sweep(t0 + ttlMs + graceMs)]);
    expect(fromA.map((d) => d.user.id)).toEqual(['u_y']);
    expect(fromB).toEqual([]);
    expect((await p.users()).map((u) => u.id)).toEqual(['u_x', 'u_z']);
    expect((await p.members('r')).map((m) => m.user.id)).toEqual(['u_x']); // x still in through app A
    expect(await p.join('r', ref('a', '3'), user('u_z'), 2)).toBe('joined');
  });

  test('calls apply in call order, without awaiting in between', async () => {
    const a = ref('n', 'a');
    const b = ref('n', 'b');
    const results = await Promise.all([
      p.connect(a, user('u_a')),
      p.join('r', a, user('u_a'), 1),
      p.connect(b, user('u_b')),
      p.join('r', b, user('u_b'), 1),
      p.leave('r', a, true),
      p.join('r', b, user('u_b'), 1),
      p.disconnect(a),
    ]);
    expect(results).toEqual([true, 'joined', true, 'full', true, 'joined', true]);
  });

  test('join connects a socket that is not connected; a socket of another user is refused', async () => {
    expect(await p.join('r', ref('n', 'a'), user('u_a', 'Alice'), 5)).toBe('joined');
    expect(await p.user('u_a')).toEqual(user('u_a', 'Alice'));
    expect(await p.connect(ref('n', 'a'), user('u_a', 'Alice'))).toBe(false);
    await expect(p.join('r', ref('n', 'a'), user('u_b'), 5)).rejects.toThrow(/another user/);
    await expect(p.connect(ref('n', 'a'), user('u_b'))).rejects.toThrow(/another user/);
    expect(await p.members('r')).toEqual([{ user: user('u_a', 'Alice'), since: expect.any(Number) }]);
  });

  test('members carry the online info: connect of an online user keeps it, a present join refreshes it', async () => {
    await p.connect(ref('n', 'a1'), user('u_a', 'Alice'));
    await p.connect(ref('n', 'a2'), user('u_a', 'Someone else'));
    expect((await p.user('u_a'))?.name).toBe('Alice');
    await p.join('r', ref('n', 'a1'), user('u_a', 'Alice'), 5);
    await p.disconnect(ref('n', 'a1'));
    await p.disconnect(ref('n', 'a2'));
    // Offline, then back with another name (renamed elsewhere while away, say).
    await p.connect(ref('n', 'a3'), user('u_a', 'Alicia'));
    expect(await p.join('r', ref('n', 'a3'), user('u_a', 'Alicia'), 5)).toBe('present');
    expect((await p.members('r')).map((m) => m.user.name)).toEqual(['Alicia']);
  });

  test('sweep with nothing due leaves everything in place, however many members', async () => {
    const now = Date.now();
    await p.beat('n', now);
    for (let i = 0; i < 2_000; i++) {
      const r = ref('n', `s${i}`);
      await p.connect(r, user(`u_${i}`));
      await p.join(`room${i % 50}`, r, user(`u_${i}`), 1_000);
    }
    for (let i = 0; i < 100; i++) await p.leave(`room${i % 50}`, ref('n', `s${i}`), false);
    expect(await p.sweep(now + 1)).toEqual([]);
    expect(await p.userCount()).toBe(2_000);
    expect((await p.counts(['room0', 'room49'])).every((n) => n === 40)).toBe(true);
    const later = Date.now() + graceMs;
    await p.beat('n', later);
    expect(await p.sweep(later)).toHaveLength(100);
    expect(await p.counts(['room0'])).toEqual([38]);
  });

  test('graces started in any order end in order of their start', async () => {
    // 60 nodes, each dying at its own time, made in a shuffled order: one member each.
    const t0 = Date.now();
    const order = Array.from({ length: 60 }, (_, i) => (i * 37) % 60);
    for (const k of order) {
      await p.beat(`n${k}`, t0 + k * 10 - ttlMs); // expires at t0 + k * 10
      await p.connect(ref(`n${k}`, 's'), user(`u_${k}`));
      await p.join('r', ref(`n${k}`, 's'), user(`u_${k}`), 100);
    }
    const departed: string[] = [];
    for (let step = 0; step < 60; step += 7) {
      const now = t0 + step * 10 + graceMs;
      const got = (await p.sweep(now)).map((d) => d.user.id);
      departed.push(...got);
      expect(departed).toEqual(Array.from({ length: step + 1 }, (_, k) => `u_${k}`));
      expect(await p.counts(['r'])).toEqual([60 - step - 1]);
    }
  });

  test('a member leaving and coming back many times within the grace departs once, after the last', async () => {
    await p.connect(ref('n', 'a'), user('u_a'));
    for (let i = 0; i < 10; i++) {
      await p.join('r', ref('n', 'a'), user('u_a'), 5);
      await p.leave('r', ref('n', 'a'), false);
    }
    const later = Date.now() + graceMs;
    await p.beat('n', later);
    expect((await p.sweep(later)).map((d) => d.user.id)).toEqual(['u_a']);
    expect(await p.sweep(later + graceMs)).toEqual([]);
  });

  test('close empties the instance, which keeps answering', async () => {
    await p.connect(ref('n', 'a'), user('u_a'));
    await p.join('r', ref('n', 'a'), user('u_a'), 5);
    await p.close();
    await p.close();
    expect(await p.userCount()).toBe(0);
    expect(await p.activeRooms()).toEqual([]);
    expect(await p.disconnect(ref('n', 'a'))).toBe(false);
    expect(await p.sweep(Date.now() + 100 * ttlMs)).toEqual([]);
  });
});
