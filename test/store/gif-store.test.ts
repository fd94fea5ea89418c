import { gifNames, gifSize, isGif, isGifName } from '../../src/store/gif-store';
import { makeGif } from '../helpers/gif';

describe('GIF bytes and names', () => {
  test('gifSize reads the logical screen size; a short, zero-sized or non-GIF header has none', () => {
    expect(gifSize(makeGif(96))).toEqual({ width: 96, height: 96 });
    const wide = Buffer.from(makeGif(8));
    wide.writeUInt16LE(640, 6);
    wide.writeUInt16LE(20, 8);
    expect(gifSize(wide)).toEqual({ width: 640, height: 20 });
    expect(gifSize(Buffer.from('GIF89a\x01\x00', 'latin1'))).toBeUndefined();
    const zero = Buffer.from(makeGif(8));
    zero.writeUInt16LE(0, 6);
    expect(gifSize(zero)).toBeUndefined();
    expect(gifSize(Buffer.from('\x89PNG\r\n\x1a\n0000', 'latin1'))).toBeUndefined();
    expect(isGif(Buffer.from('GIF87a', 'latin1'))).toBe(true);
    expect(isGif(Buffer.from('GIF88a', 'latin1'))).toBe(false);
  });

  test('only names of our shape are ours; URLs are reduced to them', () => {
    expect(isGifName('AAAAAAAAAAAAAAAAAAAA_-.gif')).toBe(true);
    for (const bad of ['', 'a.gif', '../AAAAAAAAAAAAAAAAAAAAAA.gif', 'AAAAAAAAAAAAAAAAAAAAAA.png', 'AAAAAAAAAAAAAAAAAAAAAA.gif/', 'AAAAAAAAAAAAAAAAAAAA%2e.gif']) {
      expect(isGifName(bad)).toBe(false);
    }
    expect(gifNames(['/gif/AAAAAAAAAAAAAAAAAAAAAA.gif', '/gif/../x.gif', 'https://e.com/gif/AAAAAAAAAAAAAAAAAAAAAA.gif', '/other/AAAAAAAAAAAAAAAAAAAAAA.gif'])).toEqual([
      'AAAAAAAAAAAAAAAAAAAAAA.gif',
    ]);
  });
});
