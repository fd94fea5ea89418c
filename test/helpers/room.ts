import { Config } from '../../src/config';
import { TestClient } from './client';
import { startServer } from './server';

/** A server with `n` connected guests, all joined (in order) to one room the first one created. */
export async function startRoom(n: number, overrides: Partial<Config> = {}) {
  const s = await startServer(overrides);
  const clients = await Promise.all(Array.from({ length: n }, () => TestClient.connect(s.wsUrl)));
  const room = await clients[0].request('create', { title: 'talk', max: 100 });
  for (const c of clients) await c.request('join', { room: room.id });
  return { s, clients, room };
}
