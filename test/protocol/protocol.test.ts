import { framePayload } from '../../src/protocol';
import { encodeAck, encodeEntry, encodeError, encodePush, entriesJson, entryJson, isProblem, MessageEntry, parseEnvelope, RawJson, requestSchemas } from '../../src/protocol';

describe('protocol', () => {
  test('parseEnvelope accepts the envelope and keeps data as it is', () => {
    expect(parseEnvelope('{"event":"join","id":3,"data":{"room":"r"}}')).toEqual({ event: 'join', id: 3, data: { room: 'r' } });
    expect(parseEnvelope('{"event":"chatrooms"}')).toEqual({ event: 'chatrooms', data: undefined });
  });

  test('parseEnvelope never throws', () => {
    for (const raw of ['', '{', '[]', '1', 'true', '{"event":null}', '{"id":{}}', '\u0000']) {
      const result = parseEnvelope(raw);
      expect(isProblem(result)).toBe(true);
    }
  });

  test('schemas apply defaults, trim where documented, and name the bad field', () => {
    expect(requestSchemas.create({ title: ' t ' }, 'data')).toEqual({ title: 't', max: 10, password: undefined });
    expect(() => requestSchemas.join({ room: 'r', since: -1 }, 'data')).toThrow('since');
    expect(() => requestSchemas.message({ room: 'r', text: 'x', nonce: '' }, 'data')).toThrow('nonce');
    const polluted = JSON.parse('{"__proto__":{"room":"evil"},"room":"r"}');
    expect(requestSchemas.leave(polluted, 'data')).toEqual({ room: 'r' });
    expect(({} as Record<string, unknown>).room).toBeUndefined();
  });

  test('encoders produce the documented frames', () => {
    expect(JSON.parse(framePayload(encodePush('typing', { room: 'r' })))).toEqual({ event: 'typing', data: { room: 'r' } });
    expect(JSON.parse(framePayload(encodeAck(4, undefined)))).toEqual({ event: 'ack', id: 4, data: {} });
    expect(JSON.parse(framePayload(encodeError('forbidden', 'no', 5)))).toEqual({ event: 'error', id: 5, data: { code: 'forbidden', message: 'no' } });
    expect(JSON.parse(framePayload(encodeError('bad_json', 'no')))).toEqual({ event: 'error', data: { code: 'bad_json', message: 'no' } });
  });

  test('an entry is encoded once; pushes, acks and pages reuse the same JSON, byte for byte', () => {
    const entry: MessageEntry = { room: 'r', seq: 7, user: { id: 'u', name: 'Ann "A"', color: '#123456' }, text: 'hi </script> \u2028', ts: 1 };
    const json = entryJson(entry);
    expect(json).toBe(JSON.stringify(entry));
    expect(entryJson(entry)).toBe(json); // kept, not encoded again
    expect(Object.keys(entry)).toEqual(['room', 'seq', 'user', 'text', 'ts']); // the kept JSON is invisible
    expect(JSON.stringify(entry)).toBe(json);
    expect(encodeEntry('message', entry).equals(encodePush('message', entry))).toBe(true);
    expect(encodeAck(3, new RawJson(json)).equals(encodeAck(3, entry))).toBe(true);
    expect(encodeAck(4, new RawJson(entriesJson([entry, entry]))).equals(encodeAck(4, [entry, entry]))).toBe(true);
    expect(entriesJson([])).toBe('[]');
  });
});
