import fs from 'node:fs';
import path from 'node:path';
import nunjucks from 'nunjucks';
import type { RoomInfo } from '../../client/protocol';
import {
  byActivity,
  continuesRun,
  dayKey,
  dayLabel,
  daysAgo,
  GIF_MAX_HEIGHT_PX,
  gifBoxStyle,
  isFull,
  lastActive,
  linkParts,
  matchesFilter,
  RUN_GAP_MS,
  safeHref,
} from '../../client/timeline';

// Local times, so the tests hold in any time zone.
const at = (y: number, m: number, d: number, h = 12, min = 0) => new Date(y, m - 1, d, h, min).getTime();

describe('days and times', () => {
  const now = at(2025, 3, 12, 9, 30);

  test('entries of one local day share a key; midnight starts the next', () => {
    expect(dayKey(at(2025, 3, 12, 0, 0))).toBe(dayKey(at(2025, 3, 12, 23, 59)));
    expect(dayKey(at(2025, 3, 12, 23, 59))).not.toBe(dayKey(at(2025, 3, 13, 0, 0)));
    expect(daysAgo(at(2025, 3, 11, 23, 59), now)).toBe(1);
    expect(daysAgo(at(2024, 12, 31), at(2025, 1, 1, 0, 1))).toBe(1);
  });

  test('separators say Today, Yesterday, the weekday within a week, else the date (with the year when it differs)', () => {
    expect(dayLabel(at(2025, 3, 12, 0, 1), now)).toBe('Today');
    expect(dayLabel(at(2025, 3, 11, 23, 0), now)).toBe('Yesterday');
    const weekday = new Intl.DateTimeFormat(undefined, { weekday: 'long' }).format(at(2025, 3, 8));
    expect(dayLabel(at(2025, 3, 8), now)).toBe(weekday);
    expect(dayLabel(at(2025, 2, 1), now)).toContain('1');
    expect(dayLabel(at(2025, 2, 1), now)).not.toContain('2025');
    expect(dayLabel(at(2024, 12, 24), now)).toContain('2024');
  });

  test("the lobby's last activity: just now, minutes, today's time, yesterday, a date", () => {
    expect(lastActive(now - 10_000, now)).toBe('just now');
    expect(lastActive(now - 5 * 60_000, now)).toBe('5 min ago');
    expect(lastActive(at(2025, 3, 12, 7, 5), now)).toMatch(/^at /);
    expect(lastActive(at(2025, 3, 11, 20, 0), now)).toBe('yesterday');
    expect(lastActive(at(2025, 1, 2), now)).toMatch(/2/);
    expect(lastActive(at(2023, 1, 2), now)).toContain('2023');
  });
});

describe('runs of messages', () => {
  const m = (userId: string, ts: number, kind = 'message') => ({ kind, userId, ts });
  const t = at(2025, 3, 12, 10, 0);

  test('one person, close together, same day: one run', () => {
    expect(continuesRun(m('a', t), m('a', t + 60_000))).toBe(true);
    expect(continuesRun(m('a', t), m('a', t + RUN_GAP_MS))).toBe(true);
  });

  test('another person, a long pause, another day, or anything but two messages breaks it', () => {
    expect(continuesRun(undefined, m('a', t))).toBe(false);
    expect(continuesRun(m('a', t), m('b', t + 1000))).toBe(false);
    expect(continuesRun(m('a', t), m('a', t + RUN_GAP_MS + 1))).toBe(false);
    expect(continuesRun(m('a', at(2025, 3, 12, 23, 59)), m('a', at(2025, 3, 13, 0, 1)))).toBe(false);
    expect(continuesRun(m('a', t, 'system'), m('a', t + 1000))).toBe(false);
    expect(continuesRun(m('a', t), m('a', t + 1000, 'whisper'))).toBe(false);
    expect(continuesRun(m('a', t), m('a', t + 1000, 'outbox'))).toBe(false);
  });
});

describe('links in text', () => {
  test('http and https addresses become links; the rest stays text', () => {
    expect(linkParts('see https://example.com/a?b=1#c now')).toEqual([{ text: 'see ' }, { text: 'https://example.com/a?b=1#c', href: 'https://example.com/a?b=1#c' }, { text: ' now' }]);
    expect(linkParts('http://x.org')).toEqual([{ text: 'http://x.org', href: 'http://x.org/' }]);
    expect(linkParts('no links here')).toEqual([{ text: 'no links here' }]);
    expect(linkParts('')).toEqual([{ text: '' }]);
  });

  test('other schemes never become links', () => {
    for (const text of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x', 'ftp://x.org/f', 'file:///etc/passwd', 'JaVaScRiPt:alert(1)//http://x']) {
      expect(linkParts(text).every((p) => !('href' in p) || /^https?:\/\//.test(p.href))).toBe(true);
    }
    expect(linkParts('javascript:alert(1)')).toEqual([{ text: 'javascript:alert(1)' }]);
    expect(safeHref('javascript:alert(1)')).toBeUndefined();
    expect(safeHref('https://')).toBeUndefined();
  });

  test('trailing punctuation stays text; balanced brackets stay in the link', () => {
    expect(linkParts('(see https://x.org/a).')).toEqual([{ text: '(see ' }, { text: 'https://x.org/a', href: 'https://x.org/a' }, { text: ').' }]);
    expect(linkParts('https://en.wikipedia.org/wiki/Cat_(disambiguation), ok')[0]).toEqual({
      text: 'https://en.wikipedia.org/wiki/Cat_(disambiguation)',
      href: 'https://en.wikipedia.org/wiki/Cat_(disambiguation)',
    });
    expect(linkParts('"https://x.org/q"')[1]).toEqual({ text: 'https://x.org/q', href: 'https://x.org/q' });
  });

  test('markup in the address is not markup: the link text is the text', () => {
    const parts = linkParts('https://x.org/<img src=x onerror=alert(1)>');
    expect(parts[0]).toEqual({ text: 'https://x.org/', href: 'https://x.org/' });
    expect(parts.map((p) => p.text).join('')).toBe('https://x.org/<img src=x onerror=alert(1)>');
  });
});

describe("a GIF's box before it loads", () => {
  test('from width and height: the ratio, and the width capped by the height cap', () => {
    expect(gifBoxStyle(320, 180)).toBe('aspect-ratio: 320 / 180; width: 320px');
    expect(gifBoxStyle(96, 96)).toBe('aspect-ratio: 96 / 96; width: 96px');
    expect(gifBoxStyle(400, 800)).toBe(`aspect-ratio: 400 / 800; width: ${GIF_MAX_HEIGHT_PX / 2}px`);
  });

  test('no box without a plausible size: the client then follows the image as it loads', () => {
    for (const [w, h] of [
      [undefined, undefined],
      [320, undefined],
      [0, 10],
      [-1, 10],
      [1.5, 10],
      [70_000, 10],
      ['320', '180'],
    ]) {
      expect(gifBoxStyle(w, h)).toBeUndefined();
    }
  });

  test('the stylesheet caps GIFs at the same height', () => {
    const css = fs.readFileSync(path.resolve(__dirname, '../../public/style.css'), 'utf8');
    expect(css).toMatch(new RegExp(`\\.gif \\{[^}]*max-height: ${GIF_MAX_HEIGHT_PX / 16}rem`));
  });

  test('the server renders the same box as the client (views/_entry.njk)', () => {
    const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(path.resolve(__dirname, '../../views')), { autoescape: true });
    env.addFilter('clock', (ts: number) => new Date(ts).toISOString().slice(11, 16));
    env.addFilter('iso', (ts: number) => new Date(ts).toISOString());
    const render = (e: Record<string, unknown>) => env.renderString('{% from "_entry.njk" import entry %}{{ entry(e, "u_me") }}', { e });
    const user = { id: 'u_ann', name: 'Ann', color: '#1565c0' };
    for (const [w, h] of [
      [320, 180],
      [400, 800],
    ]) {
      const html = render({ room: 'r', seq: 1, user, gif: '/gif/a.gif', width: w, height: h, ts: 0 });
      expect(html).toContain(`style="${gifBoxStyle(w, h)}"`);
      expect(html).toContain(`width="${w}" height="${h}"`);
    }
    const plain = render({ room: 'r', seq: 1, user, gif: '/gif/a.gif', ts: 0 });
    expect(plain).toContain('src="/gif/a.gif"');
    expect(plain).not.toContain('aspect-ratio');
    expect(plain).not.toContain('width=');
    // Server-rendered times say they are UTC (the script rewrites them in local time).
    expect(plain).toMatch(/<time datetime="1970-01-01T00:00:00.000Z"[^>]*>00:00 UTC<\/time>/);
  });
});

describe('the lobby', () => {
  const room = (id: string, lastActivity: number, more: Partial<RoomInfo> = {}): RoomInfo => ({
    id,
    title: id,
    max: 3,
    members: 0,
    locked: false,
    owner: { id: 'u_o', name: 'Olga', color: '#1565c0' },
    lastActivity,
    ...more,
  });

  test('rooms are listed by recent activity', () => {
    const rooms = [room('old', 1), room('new', 3), room('mid', 2)];
    expect(rooms.sort(byActivity).map((r) => r.id)).toEqual(['new', 'mid', 'old']);
  });

  test('a room at its limit is full', () => {
    expect(isFull({ members: 3, max: 3 })).toBe(true);
    expect(isFull({ members: 2, max: 3 })).toBe(false);
  });

  test('the filter matches title and owner, any case, every word', () => {
    const cats = room('r1', 1, { title: 'Cats and Dogs' });
    expect(matchesFilter(cats, '')).toBe(true);
    expect(matchesFilter(cats, 'cats')).toBe(true);
    expect(matchesFilter(cats, 'DOGS cats')).toBe(true);
    expect(matchesFilter(cats, 'olga')).toBe(true);
    expect(matchesFilter(cats, 'birds')).toBe(false);
  });
});
