import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Chat } from '../chat/chat';
import type { HistoryCache } from '../chat/history-cache';
import type { Dispatcher } from '../realtime/dispatcher';
import type { Hub } from '../realtime/hub';

/** Latency buckets (seconds): from well under a millisecond to seconds. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The Prometheus registry behind GET /metrics (close() stops the loop-delay monitor): every
 * series carries the process's `node` label; prom-client's default process and Node.js
 * metrics; the chat's own. Chat values are read from plain counters when scraped, so the
 * per-frame path only bumps numbers.
 */
export function createMetrics(chat: Chat, hub: Hub, dispatcher: Dispatcher, nodeId: string, history?: HistoryCache): { registry: Registry; close(): void } {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry });
  if (history) {
    new Gauge({
      name: 'gifchat_history_cache_bytes',
      help: "Bytes the rooms' cached history tails hold (at most HISTORY_CACHE_BYTES)",
      registers: [registry],
      collect() {
        this.set(history.bytes);
      },
    });
  }
  const messageTime = new Histogram({
    name: 'gifchat_message_seconds',
    help: "A message's time in the server: frame received to ack written (stored, and handed to this process's sockets)",
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  dispatcher.onMessageTime = (seconds) => messageTime.observe(seconds);
  // How late timers fire: the server's own latency floor under load.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  new Gauge({
    name: 'gifchat_event_loop_delay_seconds',
    help: 'Event loop delay since the last scrape, by quantile',
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      // An empty window (no timer fired since the last scrape) reads as 0, not as the histogram's noise.
      const sampled = loopDelay.count > 0;
      this.set({ quantile: '0.5' }, sampled ? loopDelay.percentile(50) / 1e9 : 0);
      this.set({ quantile: '0.99' }, sampled ? loopDelay.percentile(99) / 1e9 : 0);
      this.set({ quantile: '1' }, sampled ? loopDelay.max / 1e9 : 0);
      loopDelay.reset();
    },
  });
  new Gauge({
    name: 'gifchat_connections',
    help: 'Open WebSocket connections',
    registers: [registry],
    collect() {
      this.set(hub.size);
    },
  });
  new Gauge({
    name: 'gifchat_users_online',
    help: 'Users with at least one open socket (each counted once)',
    registers: [registry],
    async collect() {
      this.set((await chat.counts()).users);
    },
  });
  new Gauge({
    name: 'gifchat_rooms',
    help: 'Rooms that exist',
    registers: [registry],
    async collect() {
      this.set((await chat.counts()).rooms);
    },
  });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter('gifchat_frames_in_total', 'WebSocket frames received', () => hub.stats.framesIn);
  counter('gifchat_frames_out_total', 'WebSocket frames sent', () => hub.stats.framesOut);
  counter('gifchat_slow_consumers_total', 'Sockets cut off for falling behind (OUTBOX_LIMIT)', () => hub.stats.slowConsumers);
  new Counter({
    name: 'gifchat_errors_total',
    help: 'Error replies sent, by code',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, count] of dispatcher.errors) this.inc({ code }, count);
    },
  });
  return {
    registry,
    close: () => {
      loopDelay.disable();
      dispatcher.onMessageTime = undefined;
    },
  };
}
