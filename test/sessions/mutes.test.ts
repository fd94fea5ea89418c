import { MUTES_MAX } from '../../src/protocol';
import { nextMuted } from '../../src/sessions/session-identity';

describe('nextMuted', () => {
  test('mutes and unmutes; the same list when nothing changes', () => {
    const none: string[] = [];
    const one = nextMuted(none, 'u_a', true);
    expect(one).toEqual(['u_a']);
    expect(nextMuted(one, 'u_a', true)).toBe(one);
    expect(nextMuted(one, 'u_b', false)).toBe(one);
    expect(nextMuted(one, 'u_a', false)).toEqual([]);
  });

  test('at most MUTES_MAX: one more is invalid_data; unmuting one makes room', () => {
    const full = Array.from({ length: MUTES_MAX }, (_, i) => `u_${i}`);
    expect(() => nextMuted(full, 'u_new', true)).toThrow(expect.objectContaining({ code: 'invalid_data' }));
    expect(nextMuted(full, 'u_5', true)).toBe(full);
    expect(nextMuted(nextMuted(full, 'u_5', false), 'u_new', true)).toHaveLength(MUTES_MAX);
  });
});
