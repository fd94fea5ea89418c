import { Push } from './push';
import { encodeEntry, SystemEntry } from '../protocol';

/** How long committed presence (`joined`/`left` entries) may wait to go out with the room's next ones. */
export const PRESENCE_BATCH_MS = 1000;

/**
 * Throttles a room's presence. The first committed `joined`/`left` entry of a quiet
 * room is published at once; those that follow within `intervalMs` wait and go out
 * together at the next tick, as one bus message: one buffer of frames, encoded once,
 * written as it is to every member. A room filling up then costs each member one write
 * per interval instead of one per join. Any other push to the room must call
 * `flush(topic)` first, so nothing overtakes a waiting entry and every socket still
 * sees the room in seq order.
 */
export class PresenceBatcher {
  private waiting = new Map<string, SystemEntry[]>();
  /** Topics published by this batcher since the last tick: their next entries wait. */
  private recent = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tick = () => {
    this.timer = undefined;
    const due = [...this.waiting.keys()];
    for (const topic of due) this.flush(topic);
    this.recent = new Set(due);
    if (this.recent.size > 0) this.timer = setTimeout(this.tick, this.intervalMs);
  };

  constructor(
    private readonly publish: (topic: string, message: Push) => void,
    private readonly intervalMs = PRESENCE_BATCH_MS,
  ) {}

  /** Publishes a committed entry for `topic` now if the room was quiet, else queues it (entries arrive in seq order). */
  add(topic: string, entry: SystemEntry): void {
    const list = this.waiting.get(topic);
    if (list) list.push(entry);
    else this.waiting.set(topic, [entry]);
    if (!list && !this.recent.has(topic)) {
      this.flush(topic);
      this.recent.add(topic);
    }
    this.timer ??= setTimeout(this.tick, this.intervalMs);
  }

  /** Publishes what waits for `topic` now, if anything. */
  flush(topic: string): void {
    const entries = this.waiting.get(topic);
    if (!entries) return;
    this.waiting.delete(topic);
    if (entries.length === 1) {
      this.publish(topic, { frame: encodeEntry('system', entries[0]), seq: entries[0].seq });
      return;
    }
    const frames = entries.map((entry) => encodeEntry('system', entry));
    const parts = new Array<{ seq: number; offset: number }>(entries.length);
    let offset = 0;
    for (let i = 0; i < entries.length; i++) {
      parts[i] = { seq: entries[i].seq, offset };
      offset += frames[i].length;
    }
    this.publish(topic, { frame: Buffer.concat(frames, offset), seq: entries[entries.length - 1].seq, parts });
  }

  /** Publishes everything that waits and stops the timer. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const topic of [...this.waiting.keys()]) this.flush(topic);
    this.recent.clear();
  }
}
