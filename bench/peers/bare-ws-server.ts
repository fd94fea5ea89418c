/**
 * The ceiling: a bare `ws` broadcast loop with no protocol and no storage. Each
 * recipient socket is corked for one event-loop turn so a turn's frames leave in
 * one write. Text frames: `J<room>` joins; `M<room>\t<id>\t<text>` is broadcast as
 * `<text>` to the room and answered with `A<id>`. Used by the benchmark harness only.
 */
import http from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';

const server = http.createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 });
const rooms = new Map<string, Set<WebSocket>>();
const corked = new Set<Socket>();
let scheduled = false;

function uncorkAll(): void {
  scheduled = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}

function send(ws: WebSocket, data: string | Buffer): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  const socket = (ws as unknown as { _socket: Socket })._socket;
  if (!corked.has(socket)) {
    socket.cork();
    corked.add(socket);
    if (!scheduled) {
      scheduled = true;
      setImmediate(uncorkAll);
    }
  }
  ws.send(data, { binary: false });
}

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  const joined = new Set<string>();
  ws.on('message', (raw) => {
    const text = raw.toString();
    if (text[0] === 'J') {
      const room = text.slice(1);
      let set = rooms.get(room);
      if (!set) rooms.set(room, (set = new Set()));
      set.add(ws);
      joined.add(room);
      send(ws, 'J');
    } else if (text[0] === 'M') {
      const tab1 = text.indexOf('\t');
      const tab2 = text.indexOf('\t', tab1 + 1);
      const room = text.slice(1, tab1);
      const payload = Buffer.from(text.slice(tab2 + 1));
      for (const peer of rooms.get(room) ?? []) send(peer, payload);
      send(ws, `A${text.slice(tab1 + 1, tab2)}`);
    } else if (text[0] === 'R') {
      send(ws, `A${text.slice(1)}`);
    }
  });
  ws.on('close', () => {
    for (const room of joined) rooms.get(room)?.delete(ws);
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`bare ws listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
const stop = () => {
  wss.close();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
