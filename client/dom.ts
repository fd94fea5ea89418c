import type { UserInfo } from './protocol.js';

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

/** A user's name in their color. */
export function userName(user: UserInfo): HTMLSpanElement {
  const span = el('span', { className: 'who', text: user.name });
  span.style.color = user.color;
  return span;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/** A <time> showing the local clock time of `ts`. */
export function timeOf(ts: number): HTMLTimeElement {
  return el('time', { text: clock.format(ts), attrs: { datetime: new Date(ts).toISOString() } });
}

/** Rewrites server-rendered times (UTC) in the reader's own time zone. */
export function localizeTimes(root: ParentNode): void {
  for (const node of root.querySelectorAll<HTMLTimeElement>('time[datetime]')) {
    const ts = Date.parse(node.dateTime);
    if (Number.isFinite(ts)) node.textContent = clock.format(ts);
  }
}
