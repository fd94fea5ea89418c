import { str } from '../../src/protocol/schema';

describe('schema str', () => {
  test('counts code points: a surrogate pair once', () => {
    const three = str({ max: 3 });
    expect(three('🎉🎉🎉', 'text')).toBe('🎉🎉🎉');
    expect(() => three('🎉🎉🎉🎉', 'text')).toThrow('text must be at most 3 characters');
    expect(str({ min: 2, max: 5 })('\ud83c\udf89x', 'name')).toBe('🎉x');
    expect(() => str({ min: 2, max: 5 })('🎉', 'name')).toThrow('name must be at least 2 characters');
  });
});

describe('strings never carry NUL', () => {
  test('a string holding U+0000 is refused as invalid_data, naming the field (PostgreSQL could not store it)', () => {
    const { str } = require('../../src/protocol/schema');
    expect(() => str({ max: 10 })('a\u0000b', 'text')).toThrow(/text must not contain NUL/);
    expect(str({ max: 10 })('a\u0001b', 'text')).toBe('a\u0001b');
  });
});

describe('strings are well-formed; names and titles are plain one-line labels', () => {
  test('a lone surrogate is refused as invalid_data in any string (it could not be stored and returned unchanged)', () => {
    for (const bad of ['a\ud800b', '\udc00', 'x\ud83c']) {
      expect(() => str({ max: 10 })(bad, 'text')).toThrow(/text must be valid Unicode text/);
    }
    expect(str({ max: 10 })('🎉 ok', 'text')).toBe('🎉 ok');
  });

  test('line: NFKC-normalized; control, zero-width and bidi-override characters refused; messages keep their newlines', () => {
    const name = str({ min: 1, max: 32, trim: true, line: true });
    expect(name('Ａｌｉｃｅ', 'name')).toBe('Alice'); // fullwidth letters
    expect(name('  ﬁsh  ', 'name')).toBe('fish'); // a ligature
    for (const bad of ['Al\u200bice', 'Al\u200dice', '\u202eecilA', 'Al\u2066ice', 'Al\u0007ice', 'Al\nice', 'Al\u2028ice', 'Al\ufeffice']) {
      expect(() => name(bad, 'name')).toThrow(/name must not contain control or invisible formatting characters/);
    }
    expect(str({ min: 1, max: 100 })('two\nlines', 'text')).toBe('two\nlines');
  });
});
