import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Chat } from '../chat/chat';
import type { Dispatcher } from '../realtime/dispatcher';
import type { Hub } from '../realtime/hub';

/**
 * The Prometheus registry behind GET /metrics (close() stops the loop-delay monitor). Values are read from the chat's own
 * counters when scraped, so the per-frame path only bumps plain numbers.
 */
export function createMetrics(chat: Chat, hub: Hub, dispatcher: Dispatcher): { registry: Registry; close(): void } {
  const registry = new Registry();
  // How late timers fire: the server's own latency floor under load.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  new Gauge({
    name: 'gifchat_event_loop_delay_seconds',
    help: 'Event loop delay since the last scrape, by quantile',
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      this.set({ quantile: '0.5' }, loopDelay.percentile(50) / 1e9);
      this.set({ quantile: '0.99' }, loopDelay.percentile(99) / 1e9);
      this.set({ quantile: '1' }, loopDelay.max / 1e9);
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
  new Gauge({
    name: 'gifchat_process_resident_memory_bytes',
    help: 'Resident memory of the server process',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  return { registry, close: () => loopDelay.disable() };
}
