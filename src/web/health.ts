import express, { Router } from 'express';
import type { Chat } from '../chat/chat';
import { DependencyHealth, HEALTH_CHECK_MS } from '../health';
import type { Hub } from '../realtime/hub';

export interface HealthDeps {
  chat: Chat;
  hub: Hub;
  /** This process's id. */
  nodeId: string;
  /** The server's version (package.json). */
  version: string;
  /** Each dependency's check, by the name /healthz shows it under. */
  dependencies: Record<string, () => Promise<DependencyHealth>>;
}

/** What GET /healthz answers. */
export interface HealthReport {
  /** ok: every dependency up; degraded: one works partly; unavailable: one is down (HTTP 503). */
  status: 'ok' | 'degraded' | 'unavailable';
  node: string;
  version: string;
  uptime: number;
  connections: number;
  /** Users online and rooms, across every process; null when they could not be counted. */
  users: number | null;
  rooms: number | null;
  dependencies: Record<string, DependencyHealth>;
}

/** Resolves with `promise`'s value, or `fallback` if it rejects or takes longer than `ms`. */
function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

/**
 * GET /healthz: this process and each dependency it needs, checked now (in parallel, each
 * within HEALTH_CHECK_MS). 200 while every dependency works (also partly: `degraded`),
 * 503 when one is down: a load balancer stops sending new visitors to a process that
 * cannot serve them.
 */
export function createHealthRoute(deps: HealthDeps): Router {
  const router = express.Router();
  router.get('/healthz', async (_req, res) => {
    const names = Object.keys(deps.dependencies);
    const [checked, counts] = await Promise.all([
      Promise.all(names.map((name) => deps.dependencies[name]())),
      within(deps.chat.counts(), HEALTH_CHECK_MS, undefined),
    ]);
    const dependencies = Object.fromEntries(names.map((name, i) => [name, checked[i]]));
    const states = checked.map((d) => d.state);
    const status: HealthReport['status'] = states.includes('down') ? 'unavailable' : states.includes('degraded') ? 'degraded' : 'ok';
    const report: HealthReport = {
      status,
      node: deps.nodeId,
      version: deps.version,
      uptime: Math.round(process.uptime()),
      connections: deps.hub.size,
      users: counts?.users ?? null,
      rooms: counts?.rooms ?? null,
      dependencies,
    };
    res.status(status === 'unavailable' ? 503 : 200).set('Cache-Control', 'no-store').json(report);
  });
  return router;
}
