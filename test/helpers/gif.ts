/**
 * Makes a real GIF89a image of `size`×`size` pixels in diagonal stripes of four colors.
 * LZW is written uncompressed (a clear code every two pixels keeps codes at 3 bits),
 * which every decoder accepts.
 */
export function makeGif(size = 96): Buffer {
  const palette = [0xe8, 0x43, 0x93, 0x29, 0x80, 0xb9, 0xf1, 0xc4, 0x0f, 0x27, 0xae, 0x60];
  const header = Buffer.from('GIF89a', 'latin1');
  const screen = Buffer.from([size & 255, size >> 8, size & 255, size >> 8, 0b10000001, 0, 0]);
  const image = Buffer.from([0x2c, 0, 0, 0, 0, size & 255, size >> 8, size & 255, size >> 8, 0]);
  const codes: number[] = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if ((y * size + x) % 2 === 0) codes.push(4);
      codes.push(Math.floor((x + y) / 12) % 4);
    }
  }
  codes.push(5);
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const code of codes) {
    acc |= code << bits;
    bits += 3;
    while (bits >= 8) {
      bytes.push(acc & 255);
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) bytes.push(acc & 255);
  const blocks: number[] = [2];
  for (let i = 0; i < bytes.length; i += 255) {
    const chunk = bytes.slice(i, i + 255);
    blocks.push(chunk.length, ...chunk);
  }
  blocks.push(0);
  return Buffer.concat([header, screen, Buffer.from([...palette]), image, Buffer.from(blocks), Buffer.from([0x3b])]);
}

/** A real PNG signature and header: an image that is not a GIF. */
export const pngBytes = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
