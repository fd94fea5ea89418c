import fc from 'fast-check';
import { ChatError, errorCodes } from '../../src/protocol/errors';
import { isProblem, parseEnvelope, requestSchemas } from '../../src/protocol';
import { Schema } from '../../src/protocol/schema';
import { TestClient } from '../helpers/client';
import { FAST_SENDER, startServer } from '../helpers/server';

/**
 * Property-based checks of the boundary: whatever arrives, the envelope parser and every
 * request schema give a defined answer (a value, or `invalid_data`), never another error;
 * and a real server answers any frame with one defined reply, stays up, keeps the socket
 * open, and changes nothing when it refused the frame.
 */

const events = Object.keys(requestSchemas) as (keyof typeof requestSchemas)[];
const known = new Set<string>(errorCodes);

/** Field names the schemas know, plus a few they do not: random objects hit real fields often. */
const fieldNames = fc.constantFrom('room', 'text', 'name', 'title', 'max', 'password', 'since', 'before', 'limit', 'to', 'user', 'nonce', 'cursor', 'id', '__proto__', 'constructor', 'x');
/** Values a hostile client might put in a field: any JSON, odd strings (surrogates, controls, long), odd numbers. */
const oddValue = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('\ud800', '\udfff', '\u200b', '\u202e', '\0', 'A', '\u0410', 'é'), maxLength: 20 }),
  fc.constantFrom(-1, 0, 1.5, 2 ** 53, -(2 ** 60), Number.MAX_VALUE, 'x'.repeat(5000), '', ' ', null, true, [], {}),
);
const nearData = fc.dictionary(fieldNames, oddValue, { maxKeys: 5 });

describe('the boundary under arbitrary input (fast-check)', () => {
  test('parseEnvelope never throws: any text is an envelope or bad_json / bad_envelope', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ event: v, id: v, data: v }))), (raw) => {
        const parsed = parseEnvelope(raw);
        if (isProblem(parsed)) expect(['bad_json', 'bad_envelope']).toContain(parsed.code);
        else expect(typeof parsed.event).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  test.each(events)('the %s schema accepts a value or refuses with invalid_data, never anything else; what it accepts it accepts again unchanged', (event) => {
    const schema = requestSchemas[event] as Schema<unknown>;
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), nearData), (data) => {
        let accepted: unknown;
        try {
          accepted = schema(data, 'data');
        } catch (err) {
          expect(err).toBeInstanceOf(ChatError);
          expect((err as ChatError).code).toBe('invalid_data');
          return;
        }
        expect(schema(accepted, 'data')).toEqual(accepted);
      }),
      { numRuns: 500 },
    );
  });

  test('a real server: any sequence of frames gets one defined reply each, the socket stays open, and a refused frame changes nothing', async () => {
    const s = await startServer({ ...FAST_SENDER });
    const owner = await TestClient.connect(s.wsUrl);
    const room = await owner.request('create', { title: 'Props', max: 5 });
    await owner.request('join', { room: room.id });
    const c = await TestClient.connect(s.wsUrl);
    const seen = owner.next('system', (d) => d.kind === 'joined' && d.user.id === c.user.id);
    await c.request('join', { room: room.id });
    await seen; // the room is settled: snapshots below change nothing themselves
    // What a refused frame must not change: the lobby, the user, the room's log.
    const snapshot = async () => ({
      rooms: (await owner.call('chatrooms')).data,
      me: (await c.request('availableUsers')).find?.((u: any) => u.id === c.user.id) ?? null,
      log: (await owner.request('join', { room: room.id, since: 0 })).history.length,
    });
    const frame = fc.oneof(
      fc.record({ event: fc.constantFrom(...events), data: fc.oneof(fc.jsonValue(), nearData) }),
      fc.record({ event: fc.oneof(fc.string({ maxLength: 10 }), fc.jsonValue()), data: fc.jsonValue() }),
    );
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 4 }), async (frames) => {
        for (const f of frames) {
          const before = await snapshot();
          const reply = await c.call(f.event as string, f.data);
          sent++;
          expect(['ack', 'error']).toContain(reply.event);
          if (reply.event === 'error') {
            expect(known.has(reply.data.code)).toBe(true);
            expect(reply.data.code).not.toBe('internal');
            expect(await snapshot()).toEqual(before);
          }
        }
      }),
      { numRuns: 60 },
    );
    expect(sent).toBeGreaterThanOrEqual(60);
    // Still open and answering; and so is the server for others.
    await expect(c.request('availableUsers')).resolves.toEqual(expect.anything());
    const fresh = await TestClient.connect(s.wsUrl);
    await expect(fresh.request('chatrooms')).resolves.toEqual(expect.anything());
  }, 120_000);
});
