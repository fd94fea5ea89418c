import { str } from '../../src/protocol/schema';

describe('schema str', () => {
  test('counts code points: a surrogate pair once, a lone surrogate once', () => {
    const three = str({ max: 3 });
    expect(three('🎉🎉🎉', 'text')).toBe('🎉🎉🎉');
    expect(() => three('🎉🎉🎉🎉', 'text')).toThrow('text must be at most 3 characters');
    expect(three('a\ud800b', 'text')).toBe('a\ud800b');
    expect(() => three('a\ud800b\udc00c', 'text')).toThrow('at most 3');
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
