/**
 * Telling people apart: name colors that stay readable, and a mark (a small shape) and,
 * where needed, a short id tag that differ between people whose colors are the same.
 * Pure (no DOM), so jest tests it (test/client/colors.test.ts).
 */
import type { UserInfo } from './protocol.js';

/** WCAG's minimum contrast for normal text (AA). */
export const AA = 4.5;

/**
 * The darkest background a name is drawn on (public/style.css: `--mine`, the reader's own
 * message bubbles). test/client/colors.test.ts checks it against the stylesheet.
 */
export const DARKEST_NAME_BACKGROUND = '#e3f0ff';

/** `#rrggbb` (or `#rgb`) as 0–255 channels; undefined when it is not such a color. */
export function parseHex(color: string): [number, number, number] | undefined {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (!m) return undefined;
  const hex = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1];
  return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/** WCAG relative luminance of a `#rrggbb` color (0 black … 1 white). */
export function luminance(color: string): number {
  const rgb = parseHex(color);
  if (!rgb) throw new Error(`not a #rrggbb color: ${color}`);
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two colors (1 … 21). */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const toHex = (channels: number[]) => `#${channels.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;

/**
 * A name color that reads on every name background: the color itself when it does (every
 * color of the server's palette), else the same hue darkened until it does (colors kept in
 * sessions from before the palette was fixed). Not a color at all: the page's text color.
 */
export function readableColor(color: string, background = DARKEST_NAME_BACKGROUND): string {
  const rgb = parseHex(color);
  if (!rgb) return '#1d2330';
  let current = toHex(rgb);
  for (let k = 0.95; contrast(current, background) < AA && k > 0; k -= 0.05) current = toHex(rgb.map((c) => c * k));
  return current;
}

/** How many marks there are (public/style.css draws `.mark[data-shape="0"]` … `"7"`). */
export const SHAPES = 8;

/** A 32-bit FNV-1a hash of a string: the same id always gives the same number. */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The mark shown before a person's name: one of SHAPES shapes, derived from their id. */
export function shapeOf(userId: string): number {
  return hashId(userId) % SHAPES;
}

/** A short tag from the id (`#k3f`), shown beside names that would otherwise look alike. */
export function idTag(userId: string): string {
  return `#${userId.replace(/^u_/, '').slice(-3)}`;
}

/**
 * The people among `users` who share both color and mark with someone else in the list:
 * those get their id tag beside the name, so everyone present is told apart.
 */
export function lookAlikes(users: readonly UserInfo[]): Set<string> {
  const byLook = new Map<string, string[]>();
  for (const u of users) {
    const key = `${u.color.toLowerCase()}/${shapeOf(u.id)}`;
    byLook.set(key, [...(byLook.get(key) ?? []), u.id]);
  }
  return new Set([...byLook.values()].filter((ids) => new Set(ids).size > 1).flat());
}
