import { backoffMs, RoomState, type RoomStateInit } from '../../client/room-state';
import type { Entry, JoinAck, MessageEntry, SystemEntry, SystemKind, UserInfo } from '../../client/protocol';

const ann: UserInfo = { id: 'u_ann', name: 'Ann', color: '#111111' };
const bob: UserInfo = { id: 'u_bob', name: 'Bob', color: '#222222' };
const cy: UserInfo = { id: 'u_cy', name: 'Cy', color: '#333333' };

const message = (seq: number, user: UserInfo = bob, more: Partial<MessageEntry> = {}): MessageEntry => ({ room: 'r1', seq, user, text: `m${seq}`, ts: 1000 + seq, ...more });
const system = (seq: number, kind: SystemKind, user: UserInfo): SystemEntry => ({ room: 'r1', seq, kind, user, ts: 1000 + seq });
const ack = (history: Entry[], more: Partial<JoinAck> = {}): JoinAck => ({
  room: { id: 'r1', title: 'Room', max: 10, members: 2, locked: false, owner: ann, lastActivity: 0 },
  members: [ann, bob],
  history,
  ...more,
});

/** A state as the page of `ann` starts it, with nonces n1, n2, … */
function roomState(init: Partial<RoomStateInit> = {}): RoomState {
  let n = 0;
  return new RoomState({ room: 'r1', me: ann.id, lastSeq: 0, owner: ann.id, members: [ann], makeNonce: () => `n${++n}`, ...init });
}

const seqs = (state: RoomState) => state.list().map((e) => e.seq);

describe('RoomState entries', () => {
  test('a new entry is added once; one at or below the resume point is a duplicate', () => {
    const state = roomState({ lastSeq: 5 });
    expect(state.addEntry(message(5)).added).toBe(false); // the page showed it already
    expect(state.addEntry(message(6))).toMatchObject({ added: true, before: undefined, membersChanged: false });
    expect(state.addEntry(message(6)).added).toBe(false);
    expect(state.addEntry(message(3)).added).toBe(false);
    expect(seqs(state)).toEqual([6]);
    expect(state.since).toBe(6);
  });

  test("another room's entries are ignored", () => {
    const state = roomState();
    expect(state.addEntry({ ...message(1), room: 'r2' }).added).toBe(false);
    expect(state.since).toBe(0);
  });

  test('out-of-order entries are placed by seq, and the resume point waits for the gap', () => {
    const state = roomState({ lastSeq: 10 });
    expect(state.addEntry(message(13)).before).toBeUndefined(); // e.g. an upload reply ahead of the pushes
    expect(state.since).toBe(10);
    expect(state.addEntry(message(11)).before).toBe(13);
    expect(state.since).toBe(11);
    expect(state.addEntry(message(14)).before).toBeUndefined();
    expect(state.addEntry(message(12)).before).toBe(13);
    expect(state.since).toBe(14); // the gap filled: everything up to 14 is known
    expect(seqs(state)).toEqual([11, 12, 13, 14]);
    expect(state.addEntry(message(13)).added).toBe(false); // above the old point, still a duplicate
  });

  test('a join ack resumes from `since`; its history is complete up to its last seq, even across a hole', () => {
    const state = roomState({ lastSeq: 4 });
    state.addEntry(message(9)); // arrived out of band while the rest was missing
    const first = state.applyJoin(4, ack([message(5), message(6)], { more: true }));
    expect(first.more).toBe(true);
    expect(first.entries.map((c) => [c.entry.seq, c.added, c.before])).toEqual([
      [5, true, 9],
      [6, true, 9],
    ]);
    expect(state.since).toBe(6);
    // No seq 7 exists on the server: the next batch has 8 and 9, and the point moves past the hole.
    const second = state.applyJoin(state.since, ack([message(8), message(9)]));
    expect(second.more).toBe(false);
    expect(second.entries.map((c) => c.added)).toEqual([true, false]);
    expect(state.since).toBe(9);
    expect(seqs(state)).toEqual([5, 6, 8, 9]);
  });

  test('an empty join ack changes no entries but replaces members and owner', () => {
    const state = roomState({ lastSeq: 3, owner: 'u_gone', members: [ann, cy] });
    const change = state.applyJoin(3, ack([], { members: [ann, bob], room: { ...ack([]).room, owner: bob } }));
    expect(change).toEqual({ entries: [], more: false });
    expect(state.since).toBe(3);
    expect(state.members()).toEqual([ann, bob]);
    expect(state.owner).toBe(bob.id);
  });

  test('members and owner wait for the last ack of a catch-up', () => {
    const state = roomState({ members: [ann] });
    state.applyJoin(0, ack([message(1)], { more: true, members: [ann, bob, cy], room: { ...ack([]).room, owner: cy } }));
    expect(state.owner).toBe(ann.id);
    expect(state.members()).toEqual([ann]);
  });

  test('older pages keep only entries older than any shown', () => {
    const state = roomState({ lastSeq: 60, oldestSeq: 11 });
    expect(state.addOlder([message(8), message(9), message(10), message(11), message(9)]).map((e) => e.seq)).toEqual([8, 9, 10]);
    expect(state.oldestSeq).toBe(8);
    expect(state.addOlder([]).length).toBe(0);
    expect(state.oldestSeq).toBe(8);
  });
});

describe('RoomState members and owner', () => {
  test('joined adds, left and kicked remove, a repeated joined only refreshes', () => {
    const state = roomState({ members: [ann] });
    expect(state.addEntry(system(1, 'joined', bob)).membersChanged).toBe(true);
    expect(state.addEntry(system(2, 'joined', cy)).membersChanged).toBe(true);
    expect(state.members().map((u) => u.id)).toEqual([ann.id, bob.id, cy.id]);
    state.addEntry(system(3, 'joined', { ...bob, name: 'Bobby' })); // no left came (a reload in the grace period)
    expect(state.members().map((u) => u.name)).toEqual(['Ann', 'Bobby', 'Cy']);
    expect(state.addEntry(system(4, 'left', bob)).membersChanged).toBe(true);
    expect(state.addEntry(system(5, 'kicked', cy)).membersChanged).toBe(true);
    expect(state.addEntry(system(6, 'left', cy)).membersChanged).toBe(false); // not listed
    expect(state.members()).toEqual([ann]);
  });

  test('rename updates the member in place and not the entries', () => {
    const state = roomState({ members: [ann, bob, cy] });
    state.addEntry(message(1, bob));
    const renamed = { ...bob, name: 'Robert', color: '#444444' };
    expect(state.rename(renamed)).toBe(true);
    expect(state.members()).toEqual([ann, renamed, cy]);
    expect(state.rename(renamed)).toBe(false); // nothing new
    expect(state.rename({ id: 'u_elsewhere', name: 'X', color: '#000000' })).toBe(false);
    expect((state.list()[0] as MessageEntry).user.name).toBe('Bob');
  });

  test('renaming this person updates self and their member entry', () => {
    const state = roomState({ members: [ann, bob] });
    const me = { ...ann, name: 'Annie' };
    expect(state.rename(me)).toBe(true);
    expect(state.self).toEqual(me);
    expect(state.member(ann.id)).toEqual(me);
  });

  test('the owner comes from the page, join acks and owner pushes; owner entries and leaving do not move it', () => {
    const state = roomState({ owner: ann.id, members: [ann, bob] });
    expect(state.isOwner).toBe(true);
    state.addEntry(system(1, 'owner', bob)); // shown; the push that comes with it moves the owner
    expect(state.owner).toBe(ann.id);
    expect(state.setOwner(bob.id)).toBe(true);
    expect(state.setOwner(bob.id)).toBe(false);
    expect(state.isOwner).toBe(false);
    state.addEntry(system(2, 'left', bob)); // the owner left: still the owner
    expect(state.owner).toBe(bob.id);
    state.applyJoin(2, ack([]));
    expect(state.owner).toBe(ann.id);
    expect(state.isOwner).toBe(true);
  });
});

describe('RoomState outbox', () => {
  const now = 50_000;

  test('queued messages are pending, then sending, each with its own nonce', () => {
    const state = roomState();
    const a = state.queue('hello');
    const b = state.queue('again');
    expect([a.nonce, b.nonce]).toEqual(['n1', 'n2']);
    expect(a).toMatchObject({ status: 'pending', attempts: 0 });
    expect(state.takeSendable(now)).toEqual([a, b]);
    expect(a).toMatchObject({ status: 'sending', attempts: 1 });
    expect(state.takeSendable(now)).toEqual([]); // not sent twice while out
  });

  test('the ack first: the message is shown once and leaves the outbox; the push is a duplicate', () => {
    const state = roomState({ lastSeq: 2 });
    const item = state.queue('hi');
    state.takeSendable(now);
    const entry = message(3, ann, { text: 'hi', nonce: item.nonce });
    const fromAck = state.addEntry(entry);
    expect(fromAck).toMatchObject({ added: true, confirmed: { nonce: 'n1', status: 'sent' } });
    expect(state.outbox()).toEqual([]);
    expect(state.addEntry({ ...entry })).toEqual({ added: false, entry: { ...entry }, confirmed: undefined, membersChanged: false });
    expect(seqs(state)).toEqual([3]);
  });

  test('the push first: the ack is a duplicate, and a later refusal of the request changes nothing', () => {
    const state = roomState({ lastSeq: 2 });
    const item = state.queue('hi');
    state.takeSendable(now);
    const entry = message(3, ann, { text: 'hi', nonce: item.nonce });
    expect(state.addEntry(entry).confirmed).toBe(item);
    expect(state.addEntry(entry).added).toBe(false);
    expect(state.sendFailed(item.nonce, 'offline', 'rejoin', now)).toBeUndefined();
    expect(state.outbox()).toEqual([]);
  });

  test("someone else's message with the same nonce confirms nothing", () => {
    const state = roomState();
    const item = state.queue('hi');
    state.takeSendable(now);
    const change = state.addEntry(message(1, bob, { nonce: item.nonce }));
    expect(change.confirmed).toBeUndefined();
    expect(state.outbox()).toEqual([item]);
  });

  test('a message the server stored before the drop comes back in the join history and is not sent again', () => {
    const state = roomState({ lastSeq: 1 });
    const item = state.queue('sent as the server went down');
    state.takeSendable(now);
    expect(state.sendFailed(item.nonce, 'offline', 'rejoin', now)).toMatchObject({ status: 'pending', error: 'offline', retryAt: undefined });
    const change = state.applyJoin(1, ack([message(2, ann, { text: item.text, nonce: item.nonce })]));
    expect(change.entries[0].confirmed).toBe(item);
    expect(state.takeSendable(now)).toEqual([]);
  });

  test('offline: pending again, sent at the next flush; confirmed entries go above it', () => {
    const state = roomState();
    const item = state.queue('while offline');
    state.takeSendable(now);
    state.sendFailed(item.nonce, 'offline', 'rejoin', now);
    expect(state.firstWaiting()).toBe(item);
    expect(state.nextRetryAt()).toBeUndefined();
    expect(state.takeSendable(now)).toEqual([item]);
    expect(item.attempts).toBe(2);
  });

  test('unavailable: pending with a growing back-off, then sent once due', () => {
    const state = roomState();
    const item = state.queue('try later');
    state.takeSendable(now);
    expect(state.sendFailed(item.nonce, 'unavailable', 'backoff', now)).toMatchObject({ status: 'pending', error: 'unavailable', retryAt: now + 1000 });
    expect(state.nextRetryAt()).toBe(now + 1000);
    expect(state.takeSendable(now + 999)).toEqual([]);
    expect(state.takeSendable(now + 1000)).toEqual([item]);
    state.sendFailed(item.nonce, 'unavailable', 'backoff', now + 1000);
    expect(item.retryAt).toBe(now + 1000 + 2000);
    expect([1, 2, 3, 4, 5, 6, 10].map(backoffMs)).toEqual([1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  test('a refusal for good marks it failed; retry puts it back at the end, pending, with the same nonce', () => {
    const state = roomState();
    const bad = state.queue('x'.repeat(5000));
    const good = state.queue('fine');
    state.takeSendable(now);
    expect(state.sendFailed(bad.nonce, 'invalid_data', false, now)).toMatchObject({ status: 'failed', error: 'invalid_data' });
    expect(state.firstWaiting()).toBe(good); // failed ones stay where they are
    expect(state.takeSendable(now + 60_000)).toEqual([]); // never sent by itself
    expect(state.retry(good.nonce)).toBeUndefined(); // only failed ones
    expect(state.retry(bad.nonce)).toMatchObject({ nonce: 'n1', status: 'pending', error: undefined });
    expect(state.outbox().map((i) => i.nonce)).toEqual(['n2', 'n1']);
    expect(state.takeSendable(now)).toEqual([bad]);
  });

  test('dismiss drops a failed message for good; one still on its way cannot be dismissed', () => {
    const state = roomState();
    const bad = state.queue('refused');
    const good = state.queue('on its way');
    state.takeSendable(now);
    state.sendFailed(bad.nonce, 'invalid_data', false, now);
    expect(state.dismiss(good.nonce)).toBeUndefined();
    expect(state.dismiss(bad.nonce)).toBe(bad);
    expect(state.dismiss(bad.nonce)).toBeUndefined();
    expect(state.outbox()).toEqual([good]);
    expect(state.retry(bad.nonce)).toBeUndefined();
  });

  test('a failed message that the server did store is confirmed by its entry', () => {
    const state = roomState();
    const item = state.queue('stored after all');
    state.takeSendable(now);
    state.sendFailed(item.nonce, 'internal', false, now);
    expect(state.addEntry(message(1, ann, { nonce: item.nonce })).confirmed).toBe(item);
    expect(state.outbox()).toEqual([]);
  });
});
