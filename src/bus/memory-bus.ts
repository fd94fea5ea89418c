import { Bus, BusHandler } from './bus';

/**
 * The in-process bus: it serves one process (or several apps in one process, as the
 * tests build them). `publish` calls each subscriber synchronously, in subscription
 * order, so events of one topic arrive in publish order and nothing is ever lost. A
 * topic with one subscriber (every user topic) holds the handler itself, not a set: it
 * is per-connection memory.
 */
export function createMemoryBus(): Bus {
  const topics = new Map<string, BusHandler | Set<BusHandler>>();
  return {
    publish(topic, event) {
      const handlers = topics.get(topic);
      if (handlers === undefined) return;
      if (typeof handlers === 'function') return handlers(event);
      for (const handler of handlers) handler(event);
    },
    async subscribe(topic, handler) {
      const existing = topics.get(topic);
      if (existing === undefined) topics.set(topic, handler);
      else if (typeof existing === 'function') topics.set(topic, new Set([existing, handler]));
      else existing.add(handler);
      let active = true;
      return () => {
        if (!active) return;
        active = false;
        const current = topics.get(topic);
        if (current === handler) topics.delete(topic);
        else if (current instanceof Set) {
          current.delete(handler);
          if (current.size === 0) topics.delete(topic);
        }
      };
    },
    async health() {
      return { kind: 'memory', state: 'up' as const };
    },
    async close() {
      topics.clear();
    },
  };
}
