import fs from 'node:fs';
import path from 'node:path';
import { AA, contrast, DARKEST_NAME_BACKGROUND, idTag, lookAlikes, luminance, readableColor, shapeOf, SHAPES } from '../../client/colors';
import { NAME_COLORS, newGuest } from '../../src/chat/identity';

const css = fs.readFileSync(path.resolve(__dirname, '../../public/style.css'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, (c) => (c.includes('name background') ? c : ''));

/** The stylesheet's custom properties (`--name: value`) in :root. */
function variables(): Map<string, string> {
  const root = /:root\s*\{([^}]*)\}/.exec(css)![1];
  return new Map([...root.matchAll(/(--[\w-]+)\s*:\s*([^;]+);/g)].map((m) => [m[1], m[2].trim()]));
}

/**
 * Every background a name is drawn on: the :root variables commented "name background", and
 * every background color set by a rule for the places names appear (the log and its
 * entries, the member list, the lobby's rows and whispers, inputs, the page).
 */
function nameBackgrounds(): Map<string, string> {
  const vars = variables();
  const resolve = (value: string) => value.replace(/var\((--[\w-]+)\)/, (_m, name: string) => vars.get(name) ?? `missing ${name}`).trim();
  const found = new Map<string, string>();
  const root = /:root\s*\{([^}]*)\}/.exec(css)![1];
  for (const m of root.matchAll(/(--[\w-]+)\s*:\s*(#[0-9a-f]{3,6})\s*;\s*\/\*[^*]*name background/gi)) found.set(m[1], m[2]);
  for (const rule of css.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
    const selector = rule[1].replace(/\/\*[\s\S]*?\*\//g, '').replace(/@media[^{]*$/, '').trim();
    if (!/(\.(rooms|entry|members|scroller|log|whispers|who)\b|^body\b|^input\b|^\.name-form)/m.test(selector)) continue;
    for (const decl of rule[2].matchAll(/background(?:-color)?\s*:\s*([^;]+);/g)) {
      const value = resolve(decl[1]);
      if (/^(none|transparent|inherit)$/.test(value)) continue;
      const color = /^#[0-9a-f]{3,6}\b/i.exec(value)?.[0];
      if (!color) throw new Error(`${selector}: a background that is not a plain color (${value}); teach this test about it`);
      found.set(selector, color);
    }
  }
  return found;
}

describe('name colors', () => {
  const backgrounds = nameBackgrounds();

  test('the stylesheet names the backgrounds names are drawn on', () => {
    expect([...backgrounds.keys()]).toEqual(expect.arrayContaining(['--bg', '--surface', '--bubble', '--mine', '--whisper-bg']));
    expect(backgrounds.size).toBeGreaterThanOrEqual(5);
  });

  test('every palette color passes WCAG AA (4.5:1) on every one of them', () => {
    const failures: string[] = [];
    for (const color of NAME_COLORS) {
      for (const [where, background] of backgrounds) {
        const ratio = contrast(color, background);
        if (ratio < AA) failures.push(`${color} on ${background} (${where}): ${ratio.toFixed(2)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  test('muted text (times, system lines) passes AA on them too', () => {
    const muted = variables().get('--muted')!;
    for (const background of backgrounds.values()) expect(contrast(muted, background)).toBeGreaterThanOrEqual(AA);
  });

  test("the client's darkest name background is the stylesheet's darkest", () => {
    const darkest = [...backgrounds.values()].sort((a, b) => luminance(a) - luminance(b))[0];
    expect(DARKEST_NAME_BACKGROUND).toBe(darkest);
  });

  test('the palette is large, without repeats, and guests get colors from it', () => {
    expect(NAME_COLORS.length).toBeGreaterThanOrEqual(16);
    expect(new Set(NAME_COLORS.map((c) => c.toLowerCase())).size).toBe(NAME_COLORS.length);
    for (let i = 0; i < 50; i++) expect(NAME_COLORS).toContain(newGuest().color);
  });

  test('a color from before the palette was fixed is darkened until it reads; palette colors are kept', () => {
    for (const old of ['#b7950b', '#27ae60', '#16a085', '#e84393', '#2980b9', '#ffffff', '#ff0']) {
      const fixed = readableColor(old);
      for (const background of backgrounds.values()) expect(contrast(fixed, background)).toBeGreaterThanOrEqual(AA);
    }
    for (const color of NAME_COLORS) expect(readableColor(color)).toBe(color);
    expect(readableColor('red; background: url(x)')).toBe('#1d2330');
  });
});

describe('telling people apart', () => {
  test('the mark comes from the user id: the same id, the same shape; the shapes are all used', () => {
    expect(shapeOf('u_abc')).toBe(shapeOf('u_abc'));
    const shapes = new Set(Array.from({ length: 400 }, (_, i) => shapeOf(`u_${i.toString(36)}x`)));
    expect(shapes.size).toBe(SHAPES);
    for (const s of shapes) expect(s).toBeGreaterThanOrEqual(0);
  });

  test('every shape has its drawing in the stylesheet', () => {
    for (let s = 0; s < SHAPES; s++) expect(css).toContain(`.mark[data-shape="${s}"]`);
  });

  test('members who share color and mark get id tags; those who differ in either do not', () => {
    // Find two ids with the same mark and one with another.
    const ids = Array.from({ length: 50 }, (_, i) => `u_id${i}`);
    const [a, b] = ids.filter((id) => shapeOf(id) === shapeOf(ids[0]));
    const c = ids.find((id) => shapeOf(id) !== shapeOf(a))!;
    const tagged = lookAlikes([
      { id: a, name: 'Ann', color: '#1565c0' },
      { id: b, name: 'Bob', color: '#1565C0' },
      { id: c, name: 'Cy', color: '#1565c0' },
      { id: 'u_dee', name: 'Dee', color: '#c62828' },
    ]);
    expect([...tagged].sort()).toEqual([a, b].sort());
    expect(idTag(a)).not.toBe(idTag(b));
    expect(idTag('u_3q9Xk2')).toBe('#Xk2');
  });
});
