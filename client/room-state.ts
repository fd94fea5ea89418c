/**
 * What the room page knows, without the page: the room's entries by seq, the seq to resume
 * from, the messages this person typed that are not confirmed yet (the outbox), the members
 * and the owner. No DOM and no socket: the view (room.ts) feeds it what arrives and renders
 * what it answers; jest tests it (test/client/room-state.test.ts).
 *
 * Only type imports here, so it runs unchanged in the browser and under ts-jest.
 */
import type { Entry, JoinAck, UserInfo } from './protocol.js';

/**
 * Where one of this person's messages is:
 * - `pending`: waiting to be sent (offline, not joined yet, or a back-off after a refusal
 *   that changed nothing);
 * - `sending`: the request is out;
 * - `sent`: the server stored it (its entry is in the log; the item has left the outbox);
 * - `failed`: refused for good; kept, so the person can retry it.
 */
export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed';

/** A message typed here, identified by the nonce it is sent with (each send of it uses the same). */
export interface OutboxItem {
  readonly nonce: string;
  readonly text: string;
  status: OutboxStatus;
  /** Sends started so far. */
  attempts: number;
  /** While pending after a refusal: not sent again before this time (ms since epoch). */
  retryAt?: number;
  /** The code of the last refusal, while pending again or failed. */
  error?: string;
}

/** How to go on after a send was refused (see retryFor in errors.ts). */
export type Retry = 'rejoin' | 'backoff' | false;

/** What one entry changed, for the view to render. */
export interface EntryChange {
  /** True when the entry is new (shown once): false for a duplicate or another room's entry. */
  added: boolean;
  entry: Entry;
  /** Where it goes: before the shown entry with this seq, or undefined: after every entry (ahead of the outbox). */
  before?: number;
  /** This person's message that the entry confirms (matched by nonce): no longer pending, drop its copy. */
  confirmed?: OutboxItem;
  /** The member list changed (a `joined`, `left` or `kicked` entry). */
  membersChanged: boolean;
}

/** What a join ack changed. */
export interface JoinChange {
  entries: EntryChange[];
  /** The ack was capped: join again (with the new `since`) for the rest. Members and owner wait for the last ack. */
  more: boolean;
}

export interface RoomStateInit {
  room: string;
  /** This person's user id. */
  me: string;
  /** The newest seq the page shows already (server-rendered history), 0 for none. */
  lastSeq?: number;
  /** The oldest seq the page shows, for paging back (default lastSeq + 1: none shown). */
  oldestSeq?: number;
  owner?: string;
  members?: UserInfo[];
  /** Makes message nonces (default: time and randomness). */
  makeNonce?: () => string;
}

/** The wait before the next automatic send after `attempts` sends were refused: 1 s, 2 s, 4 s, … up to 15 s. */
export function backoffMs(attempts: number): number {
  return Math.min(15_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

function randomNonce(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export class RoomState {
  readonly room: string;
  readonly me: string;
  /** This person as the server last described them (welcome, renamed). */
  self: UserInfo | undefined;
  private ownerId: string;
  /** The highest seq up to which every entry is known: `join {since}` asks for what follows. */
  private mark: number;
  private oldest: number;
  /** Every entry received since the page loaded, by seq (those above `mark` came out of order). */
  private readonly entries = new Map<number, Entry>();
  private newest: number;
  private readonly people = new Map<string, UserInfo>();
  private readonly items: OutboxItem[] = [];
  private readonly makeNonce: () => string;

  constructor(init: RoomStateInit) {
    this.room = init.room;
    this.me = init.me;
    this.mark = init.lastSeq ?? 0;
    this.newest = this.mark;
    this.oldest = init.oldestSeq ?? this.mark + 1;
    this.ownerId = init.owner ?? '';
    for (const user of init.members ?? []) this.people.set(user.id, user);
    this.makeNonce = init.makeNonce ?? randomNonce;
  }

  // ---- entries -------------------------------------------------------------

  /** The seq to resume from: every entry up to it is known (and shown). */
  get since(): number {
    return this.mark;
  }

  /** The oldest seq shown, for `history {before}`. */
  get oldestSeq(): number {
    return this.oldest;
  }

  /** The entries received since the page loaded, in seq order. */
  list(): Entry[] {
    return [...this.entries.values()].sort((a, b) => a.seq - b.seq);
  }

  /** True when the entry with this seq is known (shown) already. */
  has(seq: number): boolean {
    return seq <= this.mark || this.entries.has(seq);
  }

  /**
   * Takes an entry from anywhere (a push, a message ack, a join ack, an upload reply): new
   * ones are kept in seq order, one seen already is a duplicate. A message of this person
   * whose nonce is in the outbox confirms it, whichever of its push and its ack comes first.
   */
  addEntry(entry: Entry): EntryChange {
    if (entry.room !== this.room) return { added: false, entry, membersChanged: false };
    const confirmed = this.confirm(entry);
    if (this.has(entry.seq)) return { added: false, entry, confirmed, membersChanged: false };
    this.entries.set(entry.seq, entry);
    let before: number | undefined;
    if (entry.seq < this.newest) {
      for (const seq of this.entries.keys()) if (seq > entry.seq && (before === undefined || seq < before)) before = seq;
    } else this.newest = entry.seq;
    while (this.entries.has(this.mark + 1)) this.mark++;
    return { added: true, entry, before, confirmed, membersChanged: this.applyMembership(entry) };
  }

  /**
   * Takes a join ack for `join {since}`. Its history holds every entry after `since`, so
   * whatever it does not hold up to its last seq does not exist: the resume point moves
   * there even past a hole. On the last ack (no `more`) the members and owner are replaced
   * by the ack's: they are the room's as of the join.
   */
  applyJoin(since: number, ack: JoinAck): JoinChange {
    const entries = ack.history.map((entry) => this.addEntry(entry));
    const last = ack.history[ack.history.length - 1]?.seq;
    if (last !== undefined && since <= this.mark && last > this.mark) {
      this.mark = last;
      while (this.entries.has(this.mark + 1)) this.mark++;
    }
    if (ack.more) return { entries, more: true };
    this.setMembers(ack.members);
    this.setOwner(ack.room.owner.id);
    return { entries, more: false };
  }

  /** Takes a page of older entries (`history {before}`): those older than any shown, oldest first. */
  addOlder(page: Entry[]): Entry[] {
    const older = page.filter((e) => e.room === this.room && e.seq < this.oldest).sort((a, b) => a.seq - b.seq);
    const seen = new Set<number>();
    const fresh = older.filter((e) => !seen.has(e.seq) && seen.add(e.seq));
    if (fresh.length) this.oldest = fresh[0].seq;
    return fresh;
  }

  // ---- members and owner ---------------------------------------------------

  /** Everyone present, in the order they came. */
  members(): UserInfo[] {
    return [...this.people.values()];
  }

  member(id: string): UserInfo | undefined {
    return this.people.get(id);
  }

  /** Replaces the member list (a join ack holds the whole list). */
  setMembers(members: UserInfo[]): void {
    this.people.clear();
    for (const user of members) this.people.set(user.id, user);
  }

  /**
   * A user's new name and color (`renamed`). Their member entry changes in place; entries
   * keep the name they were sent under. Returns true when the member list changed.
   */
  rename(user: UserInfo): boolean {
    if (user.id === this.me) this.self = user;
    const old = this.people.get(user.id);
    if (!old || (old.name === user.name && old.color === user.color)) return false;
    this.people.set(user.id, user); // same key: keeps its place
    return true;
  }

  /** The room's owner: from the page, join acks and `owner` pushes only. */
  get owner(): string {
    return this.ownerId;
  }

  get isOwner(): boolean {
    return this.ownerId === this.me;
  }

  /** Returns true when the owner changed. */
  setOwner(id: string): boolean {
    if (id === this.ownerId) return false;
    this.ownerId = id;
    return true;
  }

  /**
   * Membership deltas. A `joined` for someone listed (back from a reload the server did not
   * announce) only refreshes them. `owner` entries are shown but change nothing here: the
   * owner comes with its own push.
   */
  private applyMembership(entry: Entry): boolean {
    if (!('kind' in entry)) return false;
    if (entry.kind === 'joined') {
      this.people.set(entry.user.id, entry.user);
      return true;
    }
    if (entry.kind === 'left' || entry.kind === 'kicked') return this.people.delete(entry.user.id);
    return false;
  }

  // ---- outbox ----------------------------------------------------------------

  /** The messages typed here and not confirmed yet, oldest first (failed ones included). */
  outbox(): readonly OutboxItem[] {
    return this.items;
  }

  /** The first message still on its way (not failed): confirmed entries go above it. */
  firstWaiting(): OutboxItem | undefined {
    return this.items.find((item) => item.status !== 'failed');
  }

  /** Adds a typed message, pending. */
  queue(text: string): OutboxItem {
    const item: OutboxItem = { nonce: this.makeNonce(), text, status: 'pending', attempts: 0 };
    this.items.push(item);
    return item;
  }

  /** The pending messages due at `now`, marked sending (the caller sends each), oldest first. */
  takeSendable(now: number): OutboxItem[] {
    const due = this.items.filter((item) => item.status === 'pending' && (item.retryAt ?? 0) <= now);
    for (const item of due) {
      item.status = 'sending';
      item.attempts++;
      item.retryAt = undefined;
    }
    return due;
  }

  /** When the next pending message with a back-off is due, if any. */
  nextRetryAt(): number | undefined {
    let next: number | undefined;
    for (const item of this.items) {
      if (item.status === 'pending' && item.retryAt !== undefined && (next === undefined || item.retryAt < next)) next = item.retryAt;
    }
    return next;
  }

  /**
   * A send was refused with `code`. `rejoin`: pending again, sent after the next join;
   * `backoff`: pending again, not before `now + backoffMs(attempts)`; false: failed. Returns
   * the item, or undefined when it is no longer being sent (its entry came meanwhile).
   */
  sendFailed(nonce: string, code: string, retry: Retry, now: number): OutboxItem | undefined {
    const item = this.items.find((i) => i.nonce === nonce);
    if (!item || item.status !== 'sending') return undefined;
    item.error = code;
    if (retry === false) item.status = 'failed';
    else {
      item.status = 'pending';
      item.retryAt = retry === 'backoff' ? now + backoffMs(item.attempts) : undefined;
    }
    return item;
  }

  /** The person asks to send a failed message again: pending, at the end of the outbox. */
  retry(nonce: string): OutboxItem | undefined {
    const index = this.items.findIndex((i) => i.nonce === nonce && i.status === 'failed');
    if (index < 0) return undefined;
    const [item] = this.items.splice(index, 1);
    item.status = 'pending';
    item.retryAt = undefined;
    item.error = undefined;
    this.items.push(item);
    return item;
  }

  /** The person gives up on a failed message: it leaves the outbox. Returns it, or undefined when it is not failed. */
  dismiss(nonce: string): OutboxItem | undefined {
    const index = this.items.findIndex((i) => i.nonce === nonce && i.status === 'failed');
    if (index < 0) return undefined;
    return this.items.splice(index, 1)[0];
  }

  /** The outbox item this person's message entry stands for, taken out of the outbox as sent. */
  private confirm(entry: Entry): OutboxItem | undefined {
    if ('kind' in entry || entry.nonce === undefined || entry.user.id !== this.me) return undefined;
    const index = this.items.findIndex((i) => i.nonce === entry.nonce);
    if (index < 0) return undefined;
    const [item] = this.items.splice(index, 1);
    item.status = 'sent';
    item.retryAt = undefined;
    item.error = undefined;
    return item;
  }
}
