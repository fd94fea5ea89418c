/**
 * How the log reads: days and their separators, local times with dates where needed, runs
 * of messages from one person, links found in text, the box a GIF takes before it loads,
 * and the lobby's order and filter. Pure (no DOM): times are formatted in the reader's own
 * time zone by Intl; jest tests it (test/client/timeline.test.ts).
 */
import type { RoomInfo } from './protocol.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** A run of messages from one person breaks after this long a pause. */
export const RUN_GAP_MS = 5 * MINUTE;

/** The local calendar day of `ts`, as `YYYY-MM-DD`: entries of one day share it. */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Local midnight that starts the day of `ts`. */
function startOfDay(ts: number): number {
  const d = new Date(ts);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** Whole local days from the day of `ts` to the day of `now` (0 today, 1 yesterday). */
export function daysAgo(ts: number, now: number): number {
  return Math.round((startOfDay(now) - startOfDay(ts)) / DAY);
}

const fmt = (options: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat(undefined, options);
const clockFmt = fmt({ hour: 'numeric', minute: '2-digit' });
const weekdayFmt = fmt({ weekday: 'long' });
const dateFmt = fmt({ weekday: 'long', day: 'numeric', month: 'long' });
const dateYearFmt = fmt({ day: 'numeric', month: 'long', year: 'numeric' });
const shortDateFmt = fmt({ day: 'numeric', month: 'short' });
const shortDateYearFmt = fmt({ day: 'numeric', month: 'short', year: 'numeric' });
const fullFmt = fmt({ dateStyle: 'full', timeStyle: 'short' });

/** The local clock time of `ts` (`14:05`). */
export function clock(ts: number): string {
  return clockFmt.format(ts);
}

/** The full local date and time, for a tooltip. */
export function fullDate(ts: number): string {
  return fullFmt.format(ts);
}

/** The words of a day separator: Today, Yesterday, the weekday within a week, else the date (with the year when not this year). */
export function dayLabel(ts: number, now: number): string {
  const ago = daysAgo(ts, now);
  if (ago === 0) return 'Today';
  if (ago === 1) return 'Yesterday';
  if (ago > 1 && ago < 7) return weekdayFmt.format(ts);
  return new Date(ts).getFullYear() === new Date(now).getFullYear() ? dateFmt.format(ts) : dateYearFmt.format(ts);
}

/**
 * When something last happened, short (the lobby's rooms): `just now`, `5 min ago`,
 * `14:05` today, `yesterday`, else the date.
 */
export function lastActive(ts: number, now: number): string {
  const ago = now - ts;
  if (ago < MINUTE) return 'just now';
  if (ago < 60 * MINUTE) return `${Math.floor(ago / MINUTE)} min ago`;
  const days = daysAgo(ts, now);
  if (days <= 0) return `at ${clock(ts)}`;
  if (days === 1) return 'yesterday';
  return new Date(ts).getFullYear() === new Date(now).getFullYear() ? shortDateFmt.format(ts) : shortDateYearFmt.format(ts);
}

/** What grouping needs to know of a log item. */
export interface LogItem {
  /** `message` (a chat message), or anything else (system entries, whispers, …). */
  kind: string;
  userId?: string;
  ts?: number;
}

/**
 * True when `item` continues the run of `prev`: both chat messages, from the same person,
 * on the same day, at most RUN_GAP_MS apart. A continuing message shows no name.
 */
export function continuesRun(prev: LogItem | undefined, item: LogItem): boolean {
  if (!prev || prev.kind !== 'message' || item.kind !== 'message') return false;
  if (!prev.userId || prev.userId !== item.userId || prev.ts === undefined || item.ts === undefined) return false;
  return item.ts - prev.ts <= RUN_GAP_MS && item.ts >= prev.ts && dayKey(prev.ts) === dayKey(item.ts);
}

/** A piece of message text: plain, or a link. */
export type TextPart = { text: string } | { text: string; href: string };

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/**
 * Splits text into plain parts and links. Only http and https addresses become links; a
 * closing bracket or punctuation at the end stays text unless it has its opening pair in
 * the address (`https://en.wikipedia.org/wiki/Cat_(disambiguation)`).
 */
export function linkParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0];
    for (;;) {
      const last = url[url.length - 1];
      if (/[.,;:!?'"*]/.test(last)) url = url.slice(0, -1);
      else if (last === ')' && count(url, '(') < count(url, ')')) url = url.slice(0, -1);
      else if (last === ']' && count(url, '[') < count(url, ']')) url = url.slice(0, -1);
      else break;
    }
    const href = safeHref(url);
    if (!href) continue;
    const start = match.index!;
    if (start > at) parts.push({ text: text.slice(at, start) });
    parts.push({ text: url, href });
    at = start + url.length;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts.length ? parts : [{ text }];
}

const count = (s: string, c: string) => s.split(c).length - 1;

/** The address as a link target when it is a well-formed http(s) URL with a host. */
export function safeHref(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.hostname) return undefined;
    return parsed.href;
  } catch {
    return undefined;
  }
}

/** The tallest a GIF is shown in the log, in CSS pixels (public/style.css `.gif`: 16rem). */
export const GIF_MAX_HEIGHT_PX = 256;

/** True for a plausible GIF side in pixels (the header holds 16 bits). */
export function isGifSide(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 65_535;
}

/**
 * The inline style that reserves a GIF's box before it loads, from its size in pixels: its
 * aspect ratio, and its own width capped by the height cap (the stylesheet caps it by the
 * bubble too: `max-width: 100%`, the height following by the ratio). Undefined when the
 * size is missing or not plausible: the image then keeps a reader who follows the log at
 * the bottom once it loads instead.
 */
export function gifBoxStyle(width: unknown, height: unknown): string | undefined {
  if (!isGifSide(width) || !isGifSide(height)) return undefined;
  const capByHeight = Math.max(1, Math.round((GIF_MAX_HEIGHT_PX * width) / height));
  return `aspect-ratio: ${width} / ${height}; width: ${Math.min(width, capByHeight)}px`;
}

/** True when the room is at its limit. */
export function isFull(room: Pick<RoomInfo, 'members' | 'max'>): boolean {
  return room.members >= room.max;
}

/** Rooms in the lobby's order: most recently active first; then by title. */
export function byActivity(a: RoomInfo, b: RoomInfo): number {
  return b.lastActivity - a.lastActivity || a.title.localeCompare(b.title) || a.id.localeCompare(b.id);
}

/** True when the lobby filter `query` matches the room (its title or its owner's name; any case, every word). */
export function matchesFilter(room: Pick<RoomInfo, 'title' | 'owner'>, query: string): boolean {
  const words = query.toLocaleLowerCase().split(/\s+/).filter(Boolean);
  const haystack = `${room.title} ${room.owner.name}`.toLocaleLowerCase();
  return words.every((w) => haystack.includes(w));
}
