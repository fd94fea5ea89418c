import { Bus, BusHandler } from './bus';

/**
 * The in-process bus: publish calls each subscriber synchronously, in subscription order.
 * A topic with one subscriber (every user topic) holds the handler itself, not a set:
 * it is per-connection memory.
 */
export function createMemoryBus(): Bus {
  const topics = new Map<string, BusHandler | Set<BusHandler>>();
  return {
    publish(topic, message) {
      const handlers = topics.get(topic);
      if (handlers === undefined) return;
      if (typeof handlers === 'function') return handlers(message);
      for (const handler of handlers) handler(message);
    },
    subscribe(topic, handler) {
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
    async close() {
      topics.clear();
    },
  };
}
