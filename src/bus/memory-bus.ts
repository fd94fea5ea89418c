import { Bus, BusHandler } from './bus';

/** The in-process bus: publish calls each subscriber synchronously, in subscription order. */
export function createMemoryBus(): Bus {
  const topics = new Map<string, Set<BusHandler>>();
  return {
    publish(topic, message) {
      const handlers = topics.get(topic);
      if (!handlers) return;
      for (const handler of handlers) handler(message);
    },
    subscribe(topic, handler) {
      let handlers = topics.get(topic);
      if (!handlers) topics.set(topic, (handlers = new Set()));
      handlers.add(handler);
      return () => {
        const set = topics.get(topic);
        if (!set) return;
        set.delete(handler);
        if (set.size === 0) topics.delete(topic);
      };
    },
    async close() {
      topics.clear();
    },
  };
}
