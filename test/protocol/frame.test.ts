import { framePayload, textFrame } from '../../src/protocol';
import { TestClient } from '../helpers/client';
import { startServer, FAST_SENDER } from '../helpers/server';

describe('frame', () => {
  test.each([0, 1, 125, 126, 65_535, 65_536, 200_000])('a %i-byte payload gets the right header and round-trips', (n) => {
    const text = 'é'.repeat(Math.floor(n / 2)) + 'x'.repeat(n % 2);
    const frame = textFrame(text);
    expect(frame[0]).toBe(0x81);
    const marker = frame[1];
    expect(marker & 0x80).toBe(0); // server frames are never masked
    if (n < 126) expect(marker).toBe(n);
    else if (n < 65_536) expect([marker, frame.readUInt16BE(2)]).toEqual([126, n]);
    else expect([marker, frame.readUInt32BE(2), frame.readUInt32BE(6)]).toEqual([127, 0, n]);
    expect(framePayload(frame)).toBe(text);
  });

  test('a real ws client reads frames of every length class, coalesced in one write', async () => {
    const s = await startServer({ ...FAST_SENDER });
    const a = await TestClient.connect(s.wsUrl);
    const room = await a.request('create', { title: 'big' });
    await a.request('join', { room: room.id });
    const texts = ['s', 'm'.repeat(300), '𝒳'.repeat(4000)];
    for (let i = 0; i < 30; i++) await a.request('message', { room: room.id, text: texts[i % 3] });
    const joined = await a.request('join', { room: room.id, since: 0 }); // an ack well over 64 KiB
    expect(joined.history.filter((e: any) => e.text)).toHaveLength(30);
    expect(joined.history[30].text).toBe('𝒳'.repeat(4000));
  });
});
