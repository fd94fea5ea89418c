import unhomoglyph from 'unhomoglyph';

/** The skeleton of Unicode TS #39 (section 4): NFD, each confusable mapped to its prototype, NFD again. */
function skeleton(text: string): string {
  return unhomoglyph(text.normalize('NFD')).normalize('NFD');
}

/**
 * The keys under which an online user claims a name: two names are the same name when they
 * share a key. A name has its skeleton (Unicode TS #39 confusables, from the maintained data
 * of the `unhomoglyph` package), so "Аlice" with a Cyrillic А, "AIice" with a capital I and
 * "Alice" are one name; the skeleton of its lower case, so "ALICE" and "alice" are one name;
 * and the skeleton of its skeleton's lower case, so "B0B" (a zero) and "Bob" are one name.
 * Case and look-alikes do not fold into one key (capital I looks like l, small i does not),
 * hence several. At most three keys, joined by a newline (a name never holds one).
 */
export function nameKey(name: string): string {
  const nfkc = name.normalize('NFKC');
  const looks = skeleton(nfkc);
  const keys = new Set([looks, skeleton(nfkc.toLowerCase()), skeleton(looks.toLowerCase())]);
  return [...keys].join('\n');
}

/** The keys of a `nameKey`. */
export function nameKeys(key: string): string[] {
  return key.split('\n');
}
