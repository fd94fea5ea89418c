import fs from 'node:fs';
import path from 'node:path';
import { sleep, TestClient } from '../helpers/client';
import { startServer } from '../helpers/server';

describe('room expiry: empty rooms do not pile up', () => {
  test('a room with no members and no new entries for ROOM_TTL_MS is deleted with its history and GIFs; a room in use is kept', async () => {
    const s = await startServer({ roomTtlMs: 400, sweepMs: 50, presenceGraceMs: 50 });
    const a = await TestClient.connect(s.wsUrl);
    const watcher = await TestClient.connect(s.wsUrl);
    const idle = await a.request('create', { title: 'idle' });
    const busy = await a.request('create', { title: 'busy' });
    await a.request('join', { room: idle.id });
    // A GIF of the idle room, as an upload leaves it: a file under uploads/ and an entry naming it.
    const name = 'AAAAAAAAAAAAAAAAAAAAAA.gif';
    const file = path.join(s.dataDir, 'uploads', name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'GIF89a');
    await a.request('leave', { room: idle.id });
    await s.app.store.append([{ entry: { room: idle.id, user: a.user, gif: `/gif/${name}`, ts: Date.now() } }]);
    await a.request('join', { room: busy.id }); // a member keeps it alive however old
    const removed = watcher.next('roomRemoved', (d) => d.id === idle.id);
    expect((await removed).data).toEqual({ id: idle.id });
    expect(await s.app.store.room(idle.id)).toBeUndefined();
    expect(await s.app.store.entriesAfter(idle.id, 0, 10)).toEqual([]);
    for (let i = 0; i < 20 && fs.existsSync(file); i++) await sleep(20);
    expect(fs.existsSync(file)).toBe(false);
    await sleep(600);
    expect((await watcher.request('chatrooms')).rooms.map((r: any) => r.id)).toEqual([busy.id]);
  });

  test('ROOM_TTL_MS=0 keeps rooms forever', async () => {
    const s = await startServer({ roomTtlMs: 0, sweepMs: 20 });
    const a = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'kept' });
    await sleep(200);
    expect((await a.request('chatrooms')).rooms.map((r: any) => r.id)).toEqual([room.id]);
  });
});
