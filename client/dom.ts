import { idTag, readableColor, shapeOf } from './colors.js';
import type { UserInfo } from './protocol.js';
import { clock, fullDate, linkParts } from './timeline.js';

/** Creates an element; text always goes through textContent, never HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; attrs?: Record<string, string> } = {},
  children: (Node | null | undefined)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

/** The mark before a name: a small shape in the person's color, from their id. */
function mark(userId: string): HTMLSpanElement {
  return el('span', { className: 'mark', attrs: { 'data-shape': String(shapeOf(userId)), 'aria-hidden': 'true' } });
}

/**
 * A user's name in their color (darkened if it would not read), after their mark; with
 * `tagged`, their id tag too (for people who look alike).
 */
export function userName(user: UserInfo, tagged = false): HTMLSpanElement {
  const span = el('span', { className: 'who' }, [mark(user.id), document.createTextNode(user.name)]);
  span.style.color = readableColor(user.color);
  if (tagged) span.append(el('span', { className: 'tag', text: idTag(user.id), attrs: { title: 'Told apart from someone who looks alike' } }));
  return span;
}

/**
 * Gives a server-rendered name its mark and a readable color (the page renders the name in
 * the stored color; the script adds what it computes). `userId` is the person's id.
 */
export function decorateName(who: HTMLElement, userId: string): void {
  if (who.querySelector('.mark')) return;
  who.prepend(mark(userId));
  const color = who.style.color;
  const hex = /^#/.test(color) ? color : rgbToHex(color);
  if (hex) who.style.color = readableColor(hex);
}

/** `rgb(r, g, b)` (how the browser reports an inline color) as `#rrggbb`. */
function rgbToHex(color: string): string | undefined {
  const m = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(color);
  return m ? `#${m.slice(1, 4).map((n) => Number(n).toString(16).padStart(2, '0')).join('')}` : undefined;
}

/** A <time> showing the local clock time of `ts`, with the full date as its tooltip. */
export function timeOf(ts: number): HTMLTimeElement {
  return el('time', { text: clock(ts), attrs: { datetime: new Date(ts).toISOString(), title: fullDate(ts) } });
}

/** Rewrites server-rendered times (UTC, marked so) in the reader's own time zone. */
export function localizeTimes(root: ParentNode, format: (ts: number) => string = clock): void {
  for (const node of root.querySelectorAll<HTMLTimeElement>('time[datetime]')) {
    const ts = Date.parse(node.dateTime);
    if (!Number.isFinite(ts)) continue;
    node.textContent = format(ts);
    node.title = fullDate(ts);
  }
}

/**
 * Message text with its http(s) links clickable: they open in a new tab, with no referrer
 * and no opener, and are marked nofollow. Everything else stays text.
 */
export function richText(text: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  for (const part of linkParts(text)) {
    if ('href' in part) fragment.append(el('a', { text: part.text, attrs: { href: part.href, target: '_blank', rel: 'noopener noreferrer nofollow' } }));
    else fragment.append(part.text);
  }
  return fragment;
}
