import fs from 'node:fs';
import path from 'node:path';
import { TestClient } from '../helpers/client';
import { makeGif } from '../helpers/gif';
import { browserSession, startServer } from '../helpers/server';

const DAY = 86_400_000;

describe('retention (HISTORY_DAYS)', () => {
  test('a pass deletes entries older than HISTORY_DAYS with their GIF files; the room, newer entries and the seq counter stay; cached history does not serve deleted entries', async () => {
    const s = await startServer({ historyDays: 2 });
    const { cookie } = await browserSession(s.url);
    const socket = await TestClient.connect(s.wsUrl, { headers: { cookie } });
    const room = await socket.request('create', { title: 'kept' });
    await socket.request('join', { room: room.id });
    const body = new FormData();
    body.append('gif', new Blob([new Uint8Array(makeGif(32))], { type: 'image/gif' }), 'a.gif');
    const upload = await fetch(`${s.url}/room/${room.id}/gif`, { method: 'POST', body, headers: { cookie, origin: s.url } });
    expect(upload.status).toBe(201);
    for (let i = 0; i < 5; i++) await socket.request('message', { room: room.id, text: `old ${i}` });
    const uploads = path.join(s.dataDir, 'uploads');
    expect(fs.readdirSync(uploads)).toHaveLength(1);
    // Read once, so the room's tail is cached here.
    const before = await socket.request('history', { room: room.id });
    expect(before.filter((e: any) => e.text?.startsWith('old') || e.gif)).toHaveLength(6);

    // A day from now nothing is old enough yet.
    expect(await s.app.chat.applyRetention(Date.now() + DAY)).toEqual({ deleted: 0, gifs: 0, done: true });
    // Three days from now everything written so far is older than two days.
    const pass = await s.app.chat.applyRetention(Date.now() + 3 * DAY);
    expect(pass.deleted).toBeGreaterThanOrEqual(6);
    expect(pass).toMatchObject({ gifs: 1, done: true });
    expect(fs.readdirSync(uploads)).toEqual([]);
    expect(await socket.request('history', { room: room.id })).toEqual([]);
    const again = await socket.request('message', { room: room.id, text: 'new' });
    expect(again.seq).toBeGreaterThan(Math.max(...before.map((e: any) => e.seq)));
    expect((await socket.request('history', { room: room.id })).map((e: any) => e.text)).toEqual(['new']);
    expect((await socket.request('chatrooms')).rooms.some((r: any) => r.id === room.id)).toBe(true);
  });
});
