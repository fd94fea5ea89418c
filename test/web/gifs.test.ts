import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { TestClient } from '../helpers/client';
import { makeGif, pngBytes } from '../helpers/gif';
import { browserSession, startServer, TestServer } from '../helpers/server';

async function member(s: TestServer) {
  const { cookie } = await browserSession(s.url);
  const socket = await TestClient.connect(s.wsUrl, { headers: { cookie } });
  return { cookie, socket };
}

function post(s: TestServer, room: string, cookie: string, bytes: Buffer, name = 'cat.gif', type = 'image/gif') {
  const body = new FormData();
  body.append('gif', new Blob([new Uint8Array(bytes)], { type }), name);
  return fetch(`${s.url}/room/${room}/gif`, { method: 'POST', body, headers: { cookie, origin: s.url } });
}

const uploads = (s: TestServer) => {
  const dir = path.join(s.dataDir, 'uploads');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
};

describe('GIF upload', () => {
  test('a member posts a GIF: stored, served as image/gif, pushed to the room like a message; the same file twice is fine', async () => {
    const s = await startServer();
    const { cookie, socket } = await member(s);
    const other = await TestClient.connect(s.wsUrl);
    const room = await socket.request('create', { title: 'gifs' });
    await socket.request('join', { room: room.id });
    await other.request('join', { room: room.id });
    const gif = makeGif();
    const pushed = other.next('message', (d) => d.gif);
    const res = await post(s, room.id, cookie, gif, 'renamed.png', 'application/octet-stream');
    expect(res.status).toBe(201);
    const entry: any = await res.json();
    // The GIF's size in pixels comes with it (from its header), for clients to reserve its box.
    expect(entry).toMatchObject({ room: room.id, user: socket.user, gif: expect.stringMatching(/^\/gif\/[\w-]{22}\.gif$/), width: 96, height: 96 });
    expect((await pushed).data).toEqual(entry);
    const served = await fetch(s.url + entry.gif);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/gif');
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(served.headers.get('cache-control')).toContain('max-age=31536000');
    expect(Buffer.from(await served.arrayBuffer()).equals(gif)).toBe(true);
    // A browser revalidating gets 304 without the bytes; a HEAD gets the headers only.
    const etag = served.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]{22}"$/);
    expect(served.headers.get('last-modified')).toBeTruthy();
    // (node:http: fetch would add Cache-Control: no-cache to a conditional request)
    const revalidated = await new Promise<number>((resolve, reject) =>
      http.get(s.url + entry.gif, { headers: { 'If-None-Match': etag } }, (r) => (r.resume(), resolve(r.statusCode!))).on('error', reject),
    );
    expect(revalidated).toBe(304);
    const head = await fetch(s.url + entry.gif, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(gif.length));
    expect((await fetch(s.url + '/gif/AAAAAAAAAAAAAAAAAAAAAA.gif')).status).toBe(404);
    const again = await post(s, room.id, cookie, gif);
    expect(again.status).toBe(201);
    expect(((await again.json()) as any).gif).not.toBe(entry.gif);
    expect(uploads(s)).toHaveLength(2);
    const history = await socket.request('history', { room: room.id });
    expect(history.filter((e: any) => e.gif)).toHaveLength(2);
  });

  test('a PNG named .gif is refused with 415; an oversize file with 413; neither leaves a file', async () => {
    const s = await startServer({ maxUploadBytes: 2048 });
    const { cookie, socket } = await member(s);
    const room = await socket.request('create', { title: 'gifs' });
    await socket.request('join', { room: room.id });
    const png = await post(s, room.id, cookie, pngBytes, 'sneaky.gif', 'image/gif');
    expect(png.status).toBe(415);
    expect(await png.json()).toEqual({ error: { code: 'not_gif', message: expect.any(String) } });
    const big = await post(s, room.id, cookie, Buffer.concat([makeGif(8), Buffer.alloc(4096)]));
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error.code).toBe('too_large');
    const none = await fetch(`${s.url}/room/${room.id}/gif`, { method: 'POST', body: new FormData(), headers: { cookie, origin: s.url } });
    expect(none.status).toBe(400);
    expect(uploads(s)).toEqual([]);
    expect((await socket.request('history', { room: room.id })).some((e: any) => e.gif)).toBe(false);
  });

  test('a non-member gets 403, an unknown room 404, another site 403', async () => {
    const s = await startServer();
    const owner = await member(s);
    const outsider = await member(s);
    const room = await owner.socket.request('create', { title: 'gifs' });
    await owner.socket.request('join', { room: room.id });
    expect((await post(s, room.id, outsider.cookie, makeGif(8))).status).toBe(403);
    expect((await post(s, 'r_nope', owner.cookie, makeGif(8))).status).toBe(404);
    const body = new FormData();
    body.append('gif', new Blob([new Uint8Array(makeGif(8))]), 'x.gif');
    const crossSite = await fetch(`${s.url}/room/${room.id}/gif`, { method: 'POST', body, headers: { cookie: owner.cookie, origin: 'https://evil.example' } });
    expect(crossSite.status).toBe(403);
    expect(uploads(s)).toEqual([]);
    expect((await fetch(`${s.url}/gif/..%2Fgif-chat.db`)).status).toBe(404);
    expect((await fetch(`${s.url}/gif/nope.gif`)).status).toBe(404);
  });
});
