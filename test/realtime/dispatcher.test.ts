import path from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { Store } from '../../src/store/store';
import { TestClient } from '../helpers/client';
import { startServer, tempDataDir, FAST_SENDER } from '../helpers/server';

describe('dispatcher: envelope, errors, order, rate limit', () => {
  test('envelope errors answer with the documented code, with the id when it could be read', async () => {
    const s = await startServer();
    const a = await TestClient.connect(s.wsUrl);
    const cases: [string, string, number | undefined][] = [
      ['not json', 'bad_json', undefined],
      ['[1,2]', 'bad_json', undefined],
      ['"str"', 'bad_json', undefined],
      ['null', 'bad_json', undefined],
      ['{"data":{}}', 'bad_envelope', undefined],
      ['{"event":5,"id":3}', 'bad_envelope', 3],
      ['{"event":"chatrooms","id":0}', 'bad_envelope', undefined],
      ['{"event":"chatrooms","id":-1}', 'bad_envelope', undefined],
      ['{"event":"chatrooms","id":1.5}', 'bad_envelope', undefined],
      ['{"event":"chatrooms","id":"7"}', 'bad_envelope', undefined],
      ['{"event":"chatrooms","id":1e400}', 'bad_envelope', undefined],
      ['{"event":"chatrooms","id":9007199254740993}', 'bad_envelope', undefined],
      ['{"event":"nope","id":4}', 'unknown_event', 4],
      ['{"event":"__proto__","id":5}', 'unknown_event', 5],
      ['{"event":"constructor","id":6}', 'unknown_event', 6],
      ['{"event":"toString","id":7}', 'unknown_event', 7],
      ['{"event":"hasOwnProperty"}', 'unknown_event', undefined],
      ['{"event":"join","id":8,"data":{"__proto__":{"room":"x"}}}', 'invalid_data', 8],
      ['{"event":"join","id":9,"data":[1]}', 'invalid_data', 9],
    ];
    for (const [raw, code, id] of cases) {
      const from = a.frames.length;
      a.sendRaw(raw);
      const reply = await a.waitFor((f) => f.event === 'error', from);
      expect({ raw, code: reply.data.code, id: reply.id }).toEqual({ raw, code, id });
      expect(typeof reply.data.message).toBe('string');
    }
    expect((await a.request('chatrooms')).rooms).toEqual([]);
  });

  test('garbage never crashes the server, never closes the socket, never touches another client', async () => {
    const s = await startServer({ ...FAST_SENDER });
    const a = await TestClient.connect(s.wsUrl);
    const bystander = await TestClient.connect(s.wsUrl);
    const room = await bystander.request('create', { title: 'calm' });
    await bystander.request('join', { room: room.id });
    await bystander.next('system', (e) => e.kind === 'joined', 0); // its own presence entry (batched, see PresenceBatcher)
    const before = bystander.frames.length;
    let errors = 0;
    const send = (data: string | Buffer, binary = false) => {
      a.sendRaw(data, { binary });
      errors++;
    };
    for (let i = 0; i < 50; i++) send(Buffer.from(Array.from({ length: 1 + (i * 37) % 500 }, (_, j) => (i * 131 + j * 7) % 256)), true);
    send('['.repeat(30_000) + ']'.repeat(30_000));
    send('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000));
    send(JSON.stringify({ event: 'message', id: 99, data: { room: room.id, text: 'x'.repeat(10), nonce: { deep: [[[[]]]] } } }));
    send(JSON.stringify({ event: 'create', data: { title: 'x', max: 1e308 } }));
    send(JSON.stringify({ event: 'create', data: { title: 'x', max: -0 } }));
    send('{"event":"join","data":{"room":"' + '\\u0000'.repeat(10) + '"}}');
    send('\u0000\u0001\u0002');
    send('');
    await a.waitFor(() => a.frames.filter((f) => f.event === 'error').length >= errors, 0, 10_000);
    expect(a.frames.filter((f) => f.event === 'error')).toHaveLength(errors);
    expect(a.ws.readyState).toBe(a.ws.OPEN);
    expect((await a.request('chatrooms')).rooms).toHaveLength(1);
    await bystander.request('message', { room: room.id, text: 'unbothered' });
    expect(bystander.frames.slice(before).map((f) => f.event).filter((e) => e !== 'roomUpdated')).toEqual(['message', 'ack']);
  });

  test('rate limit: over the burst gets rate_limited (with the id); a client that keeps flooding is closed with 1008', async () => {
    const s = await startServer({ ratePerSec: 5, rateBurst: 10 });
    const a = await TestClient.connect(s.wsUrl);
    const other = await TestClient.connect(s.wsUrl);
    const replies = await Promise.all(Array.from({ length: 14 }, () => a.call('chatrooms')));
    expect(replies.slice(0, 10).every((r) => r.event === 'ack')).toBe(true);
    expect(replies.slice(10).map((r) => r.data.code)).toEqual(['rate_limited', 'rate_limited', 'rate_limited', 'rate_limited']);
    expect(replies[12].id).toBe(13);
    for (let i = 0; i < 20; i++) a.sendRaw('{"event":"chatrooms"}');
    expect((await a.closed).code).toBe(1008);
    expect((await other.request('chatrooms')).rooms).toEqual([]); // others unaffected
  });

  test('rate limit refills: a steady client under the rate is never refused', async () => {
    const s = await startServer({ ratePerSec: 50, rateBurst: 5 });
    const a = await TestClient.connect(s.wsUrl);
    for (let i = 0; i < 20; i++) {
      expect((await a.call('chatrooms')).event).toBe('ack');
      await new Promise((r) => setTimeout(r, 25));
    }
  });

  test('an unexpected failure is answered with internal, never with its message', async () => {
    const dataDir = tempDataDir();
    const real = openSqliteStore(path.join(dataDir, 'gif-chat.db'));
    let broken = false;
    const faulty: Store = {
      ...real,
      append: (ops) => (broken ? Promise.reject(new Error('SQLITE_IOERR secret driver detail at /var/lib')) : real.append(ops)),
    };
    const s = await startServer({ dataDir }, { store: faulty });
    const a = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'r' });
    await a.request('join', { room: room.id });
    broken = true;
    const reply = await a.call('message', { room: room.id, text: 'lost?' });
    expect(reply).toEqual({ event: 'error', id: reply.id, data: { code: 'internal', message: 'internal error' } });
    broken = false;
    expect((await a.request('message', { room: room.id, text: 'works again' })).text).toBe('works again');
  });
});
