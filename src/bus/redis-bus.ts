import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';
import { Logger } from '../logger';
import { checkHealth } from '../health';
import { fail } from '../protocol/errors';
import { Bus, BusEvent, BusHandler } from './bus';

/** Tuning of the Redis bus; every field has a default fit for production. */
export interface RedisBusOptions {
  logger: Logger;
  /** Prefix of every channel (`<prefix>room:<id>`, `<prefix>probe:<bus id>`). Default `gifchat:`. */
  prefix?: string;
  /** How often the probe checks the subscription end to end, in ms; 0 turns it off. Default 5000. */
  probeMs?: number;
  /** How long a probe may take to come back before the subscriber is replaced, in ms. Default 2000. */
  probeTimeoutMs?: number;
  /** Limit on connecting (TCP + handshake) and on a SUBSCRIBE's reply, in ms. Default 2000. */
  timeoutMs?: number;
  /** Most publishes waiting for Redis's reply; past it, publishes are dropped. Default 10000. */
  maxPending?: number;
}

/** How the Redis bus is doing. */
export interface RedisBusStats {
  /** Both connections (publisher, subscriber) are up. */
  connected: boolean;
  /** Round trip of the last probe that came back (publish → own subscriber), in ms. */
  lastProbeMs?: number;
  /** Publishes dropped so far (Redis unreachable, or too many waiting). */
  dropped: number;
  /** Times the subscriber came back (reconnected by the client, or replaced after a failed probe). */
  reconnects: number;
}

/** The Redis bus: a Bus that also says when it reconnected, and how it is. */
export type RedisBus = Bus & {
  /** Calls `listener` after the subscriber reconnected (events published meanwhile are lost). */
  onReconnect(listener: () => void): () => void;
  /** Connection state and counters (for tests and logs). */
  stats(): RedisBusStats;
};

type Client = ReturnType<typeof createClient>;

/** A round's events for one topic leave in messages of at most this many bytes (a receiver parses each in one go). */
export const PUBLISH_BATCH_BYTES = 256 * 1024;

/** A topic followed here: its handlers, and the SUBSCRIBE that makes it live. */
interface TopicState {
  handlers: Set<BusHandler>;
  /** Settles once Redis confirmed the SUBSCRIBE (rejects when it failed). */
  live: Promise<void>;
  /** subscribe() calls waiting on `live`: the topic must not be dropped under them. */
  waiting: number;
}

const ID_LENGTH = 16;
/** Drops are logged at most this often. */
const DROP_LOG_MS = 10_000;
/** Probes in a row that find the publisher's queue full before it counts as stuck. */
const FULL_PROBES = 3;

/** The URL without its password, for logs and errors. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an invalid URL)';
  }
}

/** The reason of an error, for a log line. */
function reason(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}

/** Rejects with `message` when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * node-redis builds a client class with every command (and the modules' of package `redis`)
 * on each createClient() call: some 50-80 ms of CPU. Clients made with duplicate() share
 * the class, so every client here is a duplicate of one template (never connected).
 */
let templateClient: Client | undefined;
const template = (): Client => (templateClient ??= createClient());

/**
 * Opens a Redis client and waits until it is ready. While connecting it gives up after a
 * few attempts (the caller decides what to do); once connected, it reconnects forever with
 * a backoff capped at one second. Every client has an 'error' listener: errors are logged
 * once per outage, as a warning.
 */
export async function connectRedis(url: string, what: string, logger: Logger, options: { timeoutMs: number; extra?: { disableOfflineQueue?: boolean; commandsQueueMaxLength?: number; commandOptions?: { timeout?: number } } }): Promise<Client> {
  let everReady = false;
  let down = false;
  const client: Client = template().duplicate({
    url,
    ...options.extra,
    socket: {
      connectTimeout: options.timeoutMs,
      reconnectStrategy: (retries, cause) => {
        if (!everReady) return retries >= 2 ? new Error(`cannot connect to Redis at ${redact(url)}: ${reason(cause)}`) : 200;
        return Math.min(100 * 2 ** retries, 1000) + Math.floor(Math.random() * 100);
      },
    },
  });
  client.on('error', (err) => {
    if (!everReady || down) return;
    down = true;
    logger.warn(`${what}: lost Redis (${reason(err)}); reconnecting`);
  });
  client.on('ready', () => {
    if (down) logger.info(`${what}: reconnected to Redis`);
    everReady = true;
    down = false;
  });
  try {
    await client.connect();
  } catch (err) {
    client.destroy();
    const message = reason(err);
    throw new Error(message.startsWith('cannot connect') ? message : `cannot connect to Redis at ${redact(url)}: ${message}`);
  }
  return client;
}

/** Closes a client, waiting at most `ms` for its pending replies; safe on a client already gone. */
export async function closeRedis(client: Client, ms = 1000): Promise<void> {
  try {
    await within(client.close(), ms, 'close timed out');
  } catch {
    // Not open any more, or Redis is not answering: destroy() below settles it.
  }
  try {
    client.destroy();
  } catch {
    // Already destroyed.
  }
}

/**
 * The bus on Redis pub/sub, for many server processes.
 *
 * - One publisher connection and one dedicated subscriber connection. Topic `t` is channel
 *   `<prefix>t`; the channel is SUBSCRIBEd with the topic's first local handler and
 *   UNSUBSCRIBEd with its last, so a process receives only the rooms it has members in.
 * - `publish` calls the local handlers synchronously, as the in-process bus does (local
 *   delivery never waits for Redis and survives its outages), and encodes the event once
 *   (JSON) for the other processes. Events published to one topic while one callback and its
 *   microtasks run (a committed batch's entries) leave as ONE message, a JSON array, flushed on
 *   process.nextTick (at most PUBLISH_BATCH_BYTES each): a receiving process then fans a
 *   batch out to its sockets in one write each, as the publishing process does, instead of
 *   one write per entry. Fire and forget. Each message carries this bus's id, and the copy
 *   Redis sends back to this process is dropped. Remote order per publisher and topic is
 *   PUBLISH order on one connection (events in an array in publish order). While the publisher is not connected (or too many publishes
 *   await Redis's reply), the remote copy is dropped and counted: at most once, no queue.
 * - `subscribe` resolves once Redis confirmed the SUBSCRIBE; it rejects with `unavailable`
 *   when Redis is not reachable (the handler is not added).
 * - After the subscriber reconnects (node-redis resubscribes its channels) the `onReconnect`
 *   listeners are called: what was published meanwhile is lost, callers refill from the store.
 * - A probe publishes to this bus's own probe channel every `probeMs` and expects it back
 *   within `probeTimeoutMs`. When it does not come back although the publisher works and
 *   the subscriber received nothing else meanwhile (a subscription silently dead: a
 *   half-open connection, a failover that did not close it), the subscriber is replaced by
 *   a new connection subscribed to every channel, and the `onReconnect` listeners are
 *   called. A publisher whose PUBLISH times out (or whose queue stays full) is replaced too.
 * - Every client is a duplicate() of one template: createClient() costs 50-80 ms of CPU
 *   (node-redis builds a class with every command per call), duplicate() shares the class.
 */
export async function openRedisBus(url: string, options: RedisBusOptions): Promise<RedisBus> {
  const { logger } = options;
  const prefix = options.prefix ?? 'gifchat:';
  const probeMs = options.probeMs ?? 5000;
  const probeTimeoutMs = options.probeTimeoutMs ?? 2000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const maxPending = options.maxPending ?? 10_000;
  const id = randomBytes(12).toString('base64url'); // ID_LENGTH characters
  const probeChannel = `${prefix}probe:${id}`;

  const topics = new Map<string, TopicState>();
  const reconnectListeners = new Set<() => void>();
  let dropped = 0;
  let droppedLoggedAt = -Infinity;
  /** Probes in a row whose PUBLISH found the publisher's queue full. */
  let fullProbes = 0;
  let reconnects = 0;
  let lastProbeMs: number | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  /** Set while the subscriber is being replaced; resolves true once the new one is subscribed. */
  let replacing: Promise<boolean> | undefined;
  let probeTimer: NodeJS.Timeout | undefined;
  /** The probe waiting for its echo. */
  let pendingProbe: { token: string; resolve: (came: boolean) => void } | undefined;
  let probeSeq = 0;
  /** Messages the subscriber received, all channels: a subscriber that receives is alive, if slow. */
  let received = 0;

  const openPublisher = () =>
    connectRedis(url, 'bus publisher', logger, {
      timeoutMs,
      // No per-command timer on the hot path; the queue is bounded instead (and the probe watches).
      extra: { disableOfflineQueue: true, commandsQueueMaxLength: maxPending, commandOptions: { timeout: 0 } },
    });
  const openSubscriber = async () => {
    const client = await connectRedis(url, 'bus subscriber', logger, { timeoutMs, extra: { disableOfflineQueue: true } });
    // Every later 'ready' is a reconnect: node-redis resubscribed the channels before emitting it.
    client.on('ready', () => {
      if (client !== sub || closed) return;
      reconcile(client);
      reconnected();
    });
    return client;
  };

  let pub: Client = await openPublisher();
  let sub: Client;
  let first: Client | undefined;
  try {
    first = await openSubscriber();
    await within(first.subscribe(probeChannel, onProbe), timeoutMs, 'SUBSCRIBE timed out');
  } catch (err) {
    await Promise.all([closeRedis(pub), first && closeRedis(first)]);
    throw err;
  }
  sub = first;

  /**
   * Makes the subscriber's channels the topics followed here: an UNSUBSCRIBE lost with the
   * old connection leaves a channel node-redis resubscribed; a topic may lack its channel.
   */
  function reconcile(client: Client): void {
    const listening = client.getPubSubListeners('CHANNELS');
    const stale: string[] = [];
    for (const channel of listening.keys()) {
      if (channel !== probeChannel && !topics.has(channel.slice(prefix.length))) stale.push(channel);
    }
    const missing: string[] = [];
    for (const topic of topics.keys()) if (!listening.has(prefix + topic)) missing.push(prefix + topic);
    if (!listening.has(probeChannel)) client.subscribe(probeChannel, onProbe).catch(() => {});
    if (stale.length > 0) client.unsubscribe(stale, onMessage).catch(() => {});
    if (missing.length > 0) client.subscribe(missing, onMessage).catch(() => {});
  }

  function reconnected(): void {
    reconnects++;
    for (const listener of [...reconnectListeners]) {
      try {
        listener();
      } catch (err) {
        logger.error('bus: an onReconnect listener threw', err);
      }
    }
  }

  function deliver(topic: string, event: BusEvent): void {
    const state = topics.get(topic);
    if (state === undefined) return;
    for (const handler of state.handlers) {
      try {
        handler(event);
      } catch (err) {
        logger.error(`bus: a handler of ${topic} threw`, err);
      }
    }
  }

  function onMessage(message: string, channel: string): void {
    received++;
    if (closed || message.startsWith(id)) return; // our own: delivered locally already
    const topic = channel.slice(prefix.length);
    if (!topics.has(topic)) return;
    let decoded: BusEvent | BusEvent[];
    try {
      decoded = JSON.parse(message.slice(ID_LENGTH)) as BusEvent | BusEvent[];
    } catch {
      logger.warn(`bus: dropped a message on ${channel} that is not JSON`);
      return;
    }
    if (!Array.isArray(decoded)) return deliver(topic, decoded);
    for (const event of decoded) deliver(topic, event);
  }

  function onProbe(message: string): void {
    if (pendingProbe !== undefined && message === pendingProbe.token) pendingProbe.resolve(true);
  }

  /** Counts a dropped publish; warns at most every DROP_LOG_MS. */
  function countDrop(events = 1): void {
    dropped += events;
    const now = Date.now();
    if (closed || now - droppedLoggedAt < DROP_LOG_MS) return;
    logger.warn(`bus: dropping publishes (Redis unreachable, or too many awaiting its reply): ${dropped} so far; receivers refill from the store`);
    droppedLoggedAt = now;
  }

  /** SUBSCRIBEs the topic's channel on the current subscriber; rejects with `unavailable`. */
  async function subscribeChannel(topic: string): Promise<void> {
    const channel = prefix + topic;
    for (;;) {
      if (replacing !== undefined) await replacing;
      if (closed) throw fail.unavailable('bus is closed');
      const client = sub;
      if (!client.isReady) throw fail.unavailable('bus is unavailable: not connected to Redis');
      try {
        await within(client.subscribe(channel, onMessage), timeoutMs, 'SUBSCRIBE timed out');
        return;
      } catch (err) {
        // The subscriber was replaced meanwhile: the new one subscribes every topic; make sure on it.
        if (client !== sub && !closed) continue;
        // Maybe it did reach Redis: undo, so no channel stays subscribed without a topic.
        client.unsubscribe(channel, onMessage).catch(() => {});
        throw fail.unavailable(`bus is unavailable: ${reason(err)}`);
      }
    }
  }

  function unsubscribeChannel(topic: string): void {
    if (closed) return;
    sub.unsubscribe(prefix + topic, onMessage).catch(() => {
      // Disconnected: node-redis forgets the channel and will not resubscribe it.
    });
  }

  /**
   * Replaces the subscriber by a new connection subscribed to the probe channel and every
   * topic, then tells the onReconnect listeners. Resolves false when it could not (Redis
   * down: the old client keeps reconnecting by itself, and the next probe tries again).
   */
  function replaceSubscriber(why: string): Promise<boolean> {
    if (replacing !== undefined) return replacing;
    logger.warn(`bus: ${why}; replacing the subscriber connection`);
    replacing = (async () => {
      let next: Client;
      try {
        next = await openSubscriber();
      } catch (err) {
        logger.warn(`bus: ${reason(err)}`);
        return false;
      }
      if (closed) {
        await closeRedis(next, 0);
        return false;
      }
      const old = sub;
      sub = next;
      old.destroy(); // SUBSCRIBEs in flight on it reject, and retry on `next` (see subscribeChannel)
      const channels = [...topics.keys()].map((t) => prefix + t);
      try {
        await within(
          Promise.all([next.subscribe(probeChannel, onProbe), channels.length > 0 ? next.subscribe(channels, onMessage) : undefined]),
          timeoutMs,
          'SUBSCRIBE timed out',
        );
      } catch (err) {
        logger.warn(`bus: resubscribing failed (${reason(err)}); the probe will try again`);
        return false;
      }
      if (closed) return false;
      reconnected();
      return true;
    })().finally(() => (replacing = undefined));
    return replacing;
  }

  async function replacePublisher(why: string): Promise<void> {
    logger.warn(`bus: ${why}; replacing the publisher connection`);
    let next: Client;
    try {
      next = await openPublisher();
    } catch (err) {
      logger.warn(`bus: ${reason(err)}`);
      return;
    }
    if (closed) return void (await closeRedis(next, 0));
    const old = pub;
    pub = next;
    old.destroy(); // what it still holds is lost (at most once), never reordered after newer publishes
  }

  /** One probe: publish a token on the probe channel, expect it back on the subscriber. */
  async function probe(): Promise<void> {
    const p = pub;
    const s = sub;
    // An outage: the clients reconnect by themselves (and 'ready' tells the listeners).
    if (!p.isReady || !s.isReady || replacing !== undefined) return;
    const epoch = s.socketEpoch;
    const receivedBefore = received;
    const token = `${id}:${++probeSeq}`;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const echo = new Promise<boolean>((resolve) => {
      pendingProbe = { token, resolve };
      timer = setTimeout(() => resolve(false), probeTimeoutMs);
      timer.unref();
    });
    try {
      let receivers: number;
      try {
        receivers = Number(await p.sendCommand(['PUBLISH', probeChannel, token], { timeout: probeTimeoutMs }));
      } catch (err) {
        if (p !== pub || !p.isReady || closed) return; // an outage the client saw: it reconnects by itself
        // A full queue is a burst, or a connection that stopped answering when it stays full.
        if (reason(err) === 'The queue is full' && ++fullProbes < FULL_PROBES) return;
        fullProbes = 0;
        await replacePublisher(`the probe's PUBLISH failed (${reason(err)})`);
        return;
      }
      fullProbes = 0;
      const came = receivers > 0 && (await echo);
      // No verdict when it reconnected meanwhile, or received other messages (busy, not dead).
      const inconclusive = closed || s !== sub || s.socketEpoch !== epoch || !s.isReady || (receivers > 0 && received !== receivedBefore);
      if (came) lastProbeMs = Math.round((performance.now() - started) * 100) / 100;
      else if (!inconclusive) await replaceSubscriber(receivers === 0 ? 'the probe channel had no subscriber' : `the probe did not come back within ${probeTimeoutMs} ms`);
    } finally {
      clearTimeout(timer);
      pendingProbe = undefined;
    }
  }

  function scheduleProbe(): void {
    if (closed || probeMs <= 0) return;
    probeTimer = setTimeout(() => {
      probe()
        .catch((err) => logger.error('bus: the probe failed', err))
        .finally(scheduleProbe);
    }, probeMs);
    probeTimer.unref();
  }
  scheduleProbe();

  async function close(): Promise<void> {
    closed = true;
    clearTimeout(probeTimer);
    pendingProbe?.resolve(false);
    topics.clear();
    reconnectListeners.clear();
    // A replacement under way closes its new connection itself when it sees `closed`.
    await Promise.all([closeRedis(pub), closeRedis(sub)]);
  }

  // Events waiting for this round's PUBLISH, by topic (encoded, in publish order).
  let outgoing = new Map<string, { parts: string[]; bytes: number }>();
  let flushScheduled = false;
  const send = (topic: string, parts: string[]) => {
    try {
      const message = parts.length === 1 ? id + parts[0] : `${id}[${parts.join(',')}]`;
      if (pub.isReady) pub.publish(prefix + topic, message).catch(() => countDrop(parts.length));
      else countDrop(parts.length);
    } catch (err) {
      // A full queue rejects (handled above); anything thrown here is a bug, never the caller's.
      countDrop(parts.length);
      logger.error(`bus: publishing to ${topic} failed`, err);
    }
  };
  const flushOutgoing = () => {
    flushScheduled = false;
    const due = outgoing;
    outgoing = new Map();
    if (closed) return;
    for (const [topic, batch] of due) send(topic, batch.parts);
  };

  return {
    publish(topic, event) {
      if (closed) return;
      let json: string | undefined;
      try {
        json = JSON.stringify(event);
      } catch (err) {
        countDrop();
        logger.error(`bus: encoding an event for ${topic} failed`, err);
      }
      // Not connected: dropped now (at most once: no queue builds up during an outage).
      if (json !== undefined && !pub.isReady) countDrop();
      else if (json !== undefined) {
        let batch = outgoing.get(topic);
        if (batch !== undefined && batch.bytes + json.length > PUBLISH_BATCH_BYTES) {
          send(topic, batch.parts);
          batch = undefined;
        }
        if (batch === undefined) outgoing.set(topic, (batch = { parts: [], bytes: 0 }));
        batch.parts.push(json);
        batch.bytes += json.length + 1;
        if (!flushScheduled) {
          flushScheduled = true;
          process.nextTick(flushOutgoing);
        }
      }
      deliver(topic, event);
    },

    async subscribe(topic, handler) {
      if (closed) throw fail.unavailable('bus is closed');
      let state = topics.get(topic);
      if (state === undefined) {
        const created: TopicState = { handlers: new Set(), live: Promise.resolve(), waiting: 0 };
        created.live = subscribeChannel(topic).catch((err) => {
          if (topics.get(topic) === created) topics.delete(topic);
          throw err;
        });
        created.live.catch(() => {}); // observed by the waiters below
        topics.set(topic, created);
        state = created;
      }
      state.waiting++;
      try {
        await state.live;
      } finally {
        state.waiting--;
      }
      if (closed) throw fail.unavailable('bus is closed');
      const live = state;
      live.handlers.add(handler);
      let active = true;
      return () => {
        if (!active) return;
        active = false;
        live.handlers.delete(handler);
        if (live.handlers.size > 0 || live.waiting > 0 || topics.get(topic) !== live) return;
        topics.delete(topic);
        unsubscribeChannel(topic);
      };
    },

    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => void reconnectListeners.delete(listener);
    },

    stats() {
      return { connected: !closed && pub.isReady && sub.isReady, lastProbeMs, dropped, reconnects };
    },

    async health() {
      const notes = `last probe ${lastProbeMs === undefined ? 'pending' : `${lastProbeMs} ms`}, ${dropped} publishes dropped, ${reconnects} reconnects`;
      if (closed) return { kind: 'redis', state: 'down', detail: 'the bus is closed' };
      if (!sub.isReady) return { kind: 'redis', state: 'down', detail: `the subscriber connection is down; ${notes}` };
      const health = await checkHealth('redis', async () => {
        if (!pub.isReady) throw fail.unavailable('bus is unavailable: not connected to Redis');
        try {
          await pub.sendCommand(['PING']);
        } catch (err) {
          throw fail.unavailable(`bus is unavailable: ${reason(err)}`);
        }
      });
      return health.state === 'up' ? { ...health, detail: notes } : health;
    },

    close() {
      closing ??= close();
      return closing;
    },
  };
}
