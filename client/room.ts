import { ChatSocket, type RequestError, showState } from './chat-socket.js';
import { lookAlikes } from './colors.js';
import { decorateName, el, localizeTimes, richText, timeOf, userName } from './dom.js';
import { plainWords, retryFor, retryWords } from './errors.js';
import type { Entry, JoinAck, Limits, MessageEntry, OwnerChange, Renamed, RoomInfo, SystemKind, UserInfo, Welcome, Whisper } from './protocol.js';
import { backoffMs, type EntryChange, type OutboxItem, RoomState } from './room-state.js';
import { continuesRun, dayKey, dayLabel, gifBoxStyle, type LogItem } from './timeline.js';

const root = document.getElementById('room') as HTMLElement;
const socket = new ChatSocket();
showState(socket);
localizeTimes(document);

if (root.dataset.open === 'true') startRoom();
else {
  // Only to show the connection state; the password form posts to the server. A full room's
  // page says when a place is free.
  if (root.dataset.refused === 'full') watchForPlace();
  socket.start();
}

/** On a full room's page: says so when the lobby's updates show a free place. */
function watchForPlace(): void {
  const free = document.getElementById('notice-free');
  socket.on('roomUpdated', (room: RoomInfo) => {
    if (room.id === root.dataset.roomId && free) free.hidden = room.members >= room.max;
  });
}

/** How far from the end still counts as "at the bottom" (px). */
const BOTTOM_SLACK = 40;

/** The view of a room: renders the RoomState and turns the person's actions and the server's pushes into it. */
function startRoom(): void {
  const roomId = root.dataset.roomId!;
  const me = root.dataset.userId!;
  /** Said under the composer after a reload for a change of identity, until the next message is sent. */
  let identityNotice = '';
  /** Where unsent texts wait across the reload that follows a change of identity. */
  const UNSENT_KEY = `gifchat.unsent.${roomId}`;
  const scroller = document.getElementById('scroller') as HTMLElement;
  const log = document.getElementById('log') as HTMLOListElement;
  const jump = document.getElementById('jump') as HTMLButtonElement;
  const typingLine = document.getElementById('typing') as HTMLElement;
  const membersBox = document.getElementById('members-box') as HTMLDetailsElement;
  const memberList = document.getElementById('members') as HTMLUListElement;
  const memberCount = document.getElementById('member-count') as HTMLElement;
  const form = document.getElementById('send-form') as HTMLFormElement;
  const composer = document.getElementById('composer') as HTMLFieldSetElement;
  const input = document.getElementById('text') as HTMLTextAreaElement;
  const sendButton = document.getElementById('send-button') as HTMLButtonElement;
  const sendMessage = document.getElementById('send-message') as HTMLElement;
  const sendHint = document.getElementById('send-hint') as HTMLElement;
  const gifInput = document.getElementById('gif-input') as HTMLInputElement;
  const olderButton = document.getElementById('load-older') as HTMLButtonElement;
  const ownerTools = document.getElementById('owner-tools') as HTMLElement;
  const whisperTo = document.getElementById('whisper-to') as HTMLElement;
  const whisperName = document.getElementById('whisper-name') as HTMLElement;
  const viewer = document.getElementById('viewer') as HTMLDialogElement;
  const viewerImg = document.getElementById('viewer-img') as HTMLImageElement;

  // The server rendered the latest history and the members; the state starts from them.
  const lastSeq = Number(root.dataset.lastSeq) || 0;
  const firstShown = Number(log.querySelector<HTMLElement>('[data-seq]')?.dataset.seq);
  const state = new RoomState({
    room: roomId,
    me,
    lastSeq,
    oldestSeq: Number.isFinite(firstShown) && firstShown > 0 ? firstShown : lastSeq + 1,
    owner: root.dataset.ownerId ?? '',
    members: [...memberList.querySelectorAll<HTMLElement>('li[data-user-id]')].map((li) => {
      const who = li.querySelector<HTMLElement>('.who');
      return { id: li.dataset.userId!, name: who?.textContent ?? '', color: who?.getAttribute('style')?.match(/#[0-9a-f]{6}/i)?.[0] ?? '' };
    }),
  });

  let joined = false;
  let joining = false;
  let joinFailures = 0;
  let joinTimer: ReturnType<typeof setTimeout> | undefined;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let uploading = false;
  let limits: Limits | undefined;
  let whisperTarget: UserInfo | undefined;
  /** Users this person muted (the server keeps the list with the session and says it in `welcome`). */
  const muted = new Set<string>();
  /** The log item of each outbox message, by nonce. */
  const outboxNodes = new Map<string, HTMLLIElement>();
  const typers = new Map<string, { user: UserInfo; until: number }>();
  /** Touch keyboards: Enter makes a new line and the Send button sends. */
  const touch = matchMedia('(pointer: coarse)').matches;
  /** Phone-sized: the member list folds away. */
  const narrow = matchMedia('(max-width: 40rem)');

  // ---- following the log ------------------------------------------------------
  // The reader follows the log while at its bottom: whatever grows it (an entry, an image
  // that loads, a resized window) keeps them there. Scrolled up, they stay where they are
  // and a button counts what arrived below.

  let following = true;
  let unread = 0;
  /** The scroller's geometry when last seen: a scroll that comes with a change of it is the layout's, not the reader's. */
  let seen = { client: 0, content: 0 };
  const geometryChanged = () => {
    const now = { client: scroller.clientHeight, content: scroller.scrollHeight };
    const changed = now.client !== seen.client || now.content !== seen.content;
    seen = now;
    return changed;
  };
  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= BOTTOM_SLACK;
  const scrollToEnd = () => {
    scroller.scrollTop = scroller.scrollHeight;
    following = true;
    geometryChanged();
  };
  const renderJump = () => {
    jump.hidden = unread === 0;
    jump.textContent = `↓ ${unread} new message${unread === 1 ? '' : 's'}`;
  };
  scroller.addEventListener('scroll', () => {
    // The log or its box changed size (an image loaded, the member list opened) and the
    // browser moved the scroll position with it: a reader who followed still follows.
    if (geometryChanged() && following) return scrollToEnd();
    following = nearBottom();
    if (following && unread > 0) {
      unread = 0;
      renderJump();
    }
  });
  const keepFollowing = new ResizeObserver(() => {
    if (following) scrollToEnd();
    else geometryChanged();
  });
  keepFollowing.observe(log);
  keepFollowing.observe(scroller);
  jump.addEventListener('click', () => {
    scrollToEnd();
    unread = 0;
    renderJump();
    if (!touch) input.focus(); // on a phone, no keyboard popping up to read
  });
  /** Something new arrived from someone else: counted when the reader is not following. */
  const arrived = () => {
    if (following) return;
    unread++;
    renderJump();
  };

  // ---- rendering -------------------------------------------------------------

  const systemWords: Record<SystemKind, string> = { joined: 'joined', left: 'left', kicked: 'was removed by the owner', owner: 'is now the owner' };

  /** People present who look alike (color and mark): their names carry an id tag. */
  let alike = lookAlikes(state.members());

  function gifLink(e: MessageEntry): HTMLAnchorElement {
    const img = el('img', { className: 'gif', attrs: { src: e.gif!, alt: `GIF from ${e.user.name}`, loading: 'lazy' } });
    const link = el('a', { className: 'gif-open', attrs: { href: e.gif!, target: '_blank', rel: 'noopener', 'aria-label': `GIF from ${e.user.name}: show it larger` } }, [img]);
    const box = gifBoxStyle(e.width, e.height);
    if (box) {
      img.width = e.width!;
      img.height = e.height!;
      link.setAttribute('style', box);
    }
    return link;
  }

  function renderEntry(e: Entry): HTMLLIElement {
    const data = { 'data-seq': String(e.seq), 'data-ts': String(e.ts), 'data-user-id': e.user.id };
    if ('kind' in e) {
      return el('li', { className: 'entry system', attrs: data }, [userName(e.user, alike.has(e.user.id)), document.createTextNode(` ${systemWords[e.kind]} `), timeOf(e.ts)]);
    }
    const li = el('li', { className: `entry message${e.user.id === me ? ' mine' : ''}`, attrs: data }, [
      el('div', { className: 'meta' }, [userName(e.user, alike.has(e.user.id)), document.createTextNode(' '), timeOf(e.ts)]),
      e.gif ? gifLink(e) : null,
      e.text !== undefined ? el('p', { className: 'text' }, [richText(e.text)]) : null,
    ]);
    if (e.nonce) li.dataset.nonce = e.nonce;
    return li;
  }

  /** What grouping needs of a log item. */
  function itemOf(li: Element | null): LogItem | undefined {
    if (!(li instanceof HTMLElement)) return undefined;
    const kind = li.classList.contains('pending') || li.classList.contains('failed') ? 'outbox' : li.classList.contains('message') ? 'message' : li.classList.contains('whisper') ? 'whisper' : 'system';
    const ts = Number(li.dataset.ts);
    return { kind, userId: li.dataset.userId, ts: Number.isFinite(ts) && li.dataset.ts ? ts : undefined };
  }

  const isDay = (n: Element | null) => n?.classList.contains('day') === true;

  function daySeparator(ts: number): HTMLLIElement {
    return el('li', { className: 'day', text: dayLabel(ts, Date.now()), attrs: { 'data-ts': String(ts), 'data-day': dayKey(ts) } });
  }

  /** Puts the day separator before `li` where its day begins, and marks it when it continues a run. */
  function fixItem(li: Element | null): void {
    if (!(li instanceof HTMLElement) || isDay(li)) return;
    let prev = li.previousElementSibling;
    while (prev && isDay(prev)) {
      const before = prev.previousElementSibling;
      prev.remove();
      prev = before;
    }
    const item = itemOf(li)!;
    const before = itemOf(prev);
    if (item.ts !== undefined && (before?.ts === undefined || dayKey(before.ts) !== dayKey(item.ts))) li.before(daySeparator(item.ts));
    li.classList.toggle('cont', continuesRun(before, item));
  }

  const nextItem = (li: Element) => {
    let next = li.nextElementSibling;
    while (next && isDay(next)) next = next.nextElementSibling;
    return next;
  };

  /** Inserts a log item and fixes the separators and runs around it. */
  function place(li: HTMLLIElement, before: Element | null): void {
    log.insertBefore(li, before);
    fixItem(li);
    fixItem(nextItem(li));
  }

  /** Removes a log item and fixes what follows it. */
  function unplace(li: Element): void {
    const next = nextItem(li);
    let prev = li.previousElementSibling;
    li.remove();
    if (next) fixItem(next);
    else while (prev && isDay(prev)) {
      const before = prev.previousElementSibling;
      prev.remove(); // a day separator left with nothing under it
      prev = before;
    }
  }

  /** The day labels change at midnight (Today becomes Yesterday). */
  setInterval(() => {
    for (const day of log.querySelectorAll<HTMLElement>('li.day')) day.textContent = dayLabel(Number(day.dataset.ts), Date.now());
  }, 60_000);

  /** Gives server-rendered entries what the script adds: marks, readable colors, links, separators, runs. */
  function decorateRendered(items: Iterable<HTMLElement>): void {
    for (const li of items) {
      const who = li.querySelector<HTMLElement>('.who');
      if (who && li.dataset.userId) decorateName(who, li.dataset.userId);
      const text = li.querySelector<HTMLElement>('.text');
      if (text && !text.querySelector('a')) text.replaceChildren(richText(text.textContent ?? ''));
    }
    for (const li of [...log.children]) fixItem(li);
  }

  /** Where confirmed entries and whispers end: above the messages still on their way, which stay at the bottom. */
  function outboxAnchor(): HTMLLIElement | null {
    const first = state.firstWaiting();
    return (first && outboxNodes.get(first.nonce)) ?? null;
  }

  /** Renders what an entry changed: the entry once, in seq order, in place of its pending copy if it was ours. */
  function show(change: EntryChange): void {
    if (change.confirmed) {
      const node = outboxNodes.get(change.confirmed.nonce);
      if (node) unplace(node);
      outboxNodes.delete(change.confirmed.nonce);
    }
    if (!change.added) return;
    const e = change.entry;
    const mine = e.user.id === me;
    const next = change.before === undefined ? null : log.querySelector<HTMLElement>(`li[data-seq="${change.before}"]`);
    place(renderEntry(e), next ?? outboxAnchor());
    if (change.membersChanged) renderMembers();
    if (!('kind' in e) && typers.delete(e.user.id)) renderTyping(); // they sent it: no longer typing
    if (mine && !('kind' in e)) scrollToEnd();
    else if (!('kind' in e)) arrived();
  }

  function addEntry(e: Entry): void {
    show(state.addEntry(e));
  }

  function renderOutboxItem(item: OutboxItem): void {
    let node = outboxNodes.get(item.nonce);
    if (!node) {
      node = el('li', { className: 'entry message mine pending', attrs: { 'data-nonce': item.nonce, 'data-ts': String(Date.now()), 'data-user-id': me } }, [
        el('p', { className: 'text' }, [richText(item.text)]),
        el('span', { className: 'state', attrs: { role: 'status' } }),
      ]);
      outboxNodes.set(item.nonce, node);
      place(node, null);
    }
    const failed = item.status === 'failed';
    node.classList.toggle('pending', !failed);
    node.classList.toggle('failed', failed);
    const label = node.querySelector('.state')!;
    if (failed) {
      label.replaceChildren(
        document.createTextNode(`Not sent. ${plainWords(item.error ?? 'internal', 'message')} `),
        el('button', { className: 'link', text: 'Retry', attrs: { type: 'button', 'data-action': 'retry' } }),
        el('button', { className: 'link', text: 'Dismiss', attrs: { type: 'button', 'data-action': 'dismiss' } }),
      );
    } else if (item.status === 'pending' && (item.error === 'offline' || !joined)) label.textContent = 'Waiting for the connection…';
    else if (item.retryAt !== undefined) label.textContent = plainWords(item.error ?? 'unavailable', 'message');
    else label.textContent = 'Sending…';
  }

  function renderMembers(): void {
    const owner = state.isOwner;
    alike = lookAlikes(state.members());
    memberList.replaceChildren(
      ...state.members().map((user) => {
        const tools: HTMLElement[] = [];
        if (user.id !== me && !closed) {
          tools.push(el('button', { text: 'Whisper', attrs: { type: 'button', 'data-action': 'whisper', 'aria-label': `Whisper to ${user.name}` } }));
          // Muting hides their whispers and typing from you (kept with your session on the server).
          const isMuted = muted.has(user.id);
          tools.push(
            el('button', {
              text: isMuted ? 'Unmute' : 'Mute',
              attrs: { type: 'button', 'data-action': isMuted ? 'unmute' : 'mute', 'aria-label': `${isMuted ? 'Unmute' : 'Mute'} ${user.name}` },
            }),
          );
          if (owner) {
            tools.push(el('button', { className: 'danger', text: 'Kick', attrs: { type: 'button', 'data-action': 'kick', 'aria-label': `Kick ${user.name}` } }));
            tools.push(el('button', { text: 'Make owner', attrs: { type: 'button', 'data-action': 'transfer', 'aria-label': `Make ${user.name} the owner` } }));
          }
        }
        const badge = user.id === state.owner ? el('span', { className: 'badge', text: 'owner' }) : null;
        const you = user.id === me ? el('span', { className: 'badge', text: 'you' }) : null;
        return el('li', { attrs: { 'data-user-id': user.id } }, [userName(user, alike.has(user.id)), badge, you, tools.length ? el('span', { className: 'tools' }, tools) : null]);
      }),
    );
    memberCount.textContent = String(state.members().length);
    ownerTools.hidden = closed || !owner;
  }

  function renderTyping(): void {
    const now = Date.now();
    for (const [id, t] of typers) if (t.until <= now) typers.delete(id);
    const names = [...typers.values()].map((t) => t.user.name);
    typingLine.textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, 3).join(', ')} are typing…`;
  }
  setInterval(renderTyping, 1000);

  const noticeTitles: Record<string, string> = {
    kicked: 'You were removed from this room',
    banned: 'You cannot enter this room',
    room_full: 'This room is full',
    not_found: 'This room was deleted',
    deleted: 'This room was deleted',
    forbidden: 'This room needs its password',
  };

  /**
   * The room is over for this page (deleted, kicked, refused): the room's content goes (its
   * log and members), and the page says why and where to go.
   */
  function notice(kind: string, text: string): void {
    closed = true;
    joined = false;
    clearTimeout(joinTimer);
    clearTimeout(flushTimer);
    root.dataset.refused = kind;
    (document.getElementById('notice-title') as HTMLElement).textContent = noticeTitles[kind] ?? 'You are no longer in this room';
    (document.getElementById('notice-text') as HTMLElement).textContent = text;
    const actions = document.querySelector('#notice .actions') as HTMLElement;
    if ((kind === 'room_full' || kind === 'forbidden') && !actions.querySelector('[data-action="again"]')) {
      actions.prepend(el('a', { className: 'button', text: 'Try again', attrs: { href: location.pathname, 'data-action': 'again' } }), document.createTextNode(' '));
      actions.querySelector('a[href="/"]')?.classList.add('secondary');
    }
    (document.getElementById('notice') as HTMLElement).hidden = false;
    if (viewer.open) viewer.close();
    composer.disabled = true;
    log.replaceChildren();
    memberList.replaceChildren();
    (document.getElementById('chat') as HTMLElement).hidden = true;
    form.hidden = true;
    ownerTools.hidden = true;
    outboxNodes.clear();
  }

  function say(text: string): void {
    sendMessage.textContent = text;
  }

  // ---- the composer ---------------------------------------------------------------

  /** The textarea grows with what is typed, up to its CSS max-height. */
  function fitInput(): void {
    input.style.height = 'auto';
    if (input.value) input.style.height = `${input.scrollHeight + 2}px`;
    else input.style.removeProperty('height');
  }

  /** Whisper mode: the next message goes to `user` only; then the composer goes back to the room. */
  function setWhisper(user: UserInfo | undefined): void {
    whisperTarget = user;
    whisperTo.hidden = !user;
    form.classList.toggle('whispering', !!user);
    if (user) whisperName.textContent = user.name;
    sendButton.textContent = user ? 'Whisper' : 'Send';
    input.placeholder = user ? `Whisper to ${user.name}` : 'Message';
  }

  // ---- joining and sending ------------------------------------------------------

  /** Joins (again) from the last seq seen, catching up in batches; then sends what waits in the outbox. */
  async function join(): Promise<void> {
    if (closed || joining) return;
    joining = true;
    clearTimeout(joinTimer);
    try {
      for (;;) {
        const since = state.since;
        const ack = await socket.request<JoinAck>('join', { room: roomId, since });
        if (closed) return;
        const change = state.applyJoin(since, ack);
        for (const c of change.entries) show(c);
        if (!change.more || state.since <= since) break; // else still catching up: ask for the next batch
      }
      joined = true;
      joinFailures = 0;
      renderMembers();
      for (const item of state.outbox()) renderOutboxItem(item);
      if (!uploading) say(identityNotice); // a join clears old errors, not the news that this is someone new
      flush();
    } catch (err) {
      const code = (err as RequestError).code;
      if (code === 'offline') return; // the next welcome joins again
      const words = plainWords(code, 'join');
      if (code === 'not_found' || code === 'forbidden' || code === 'banned' || code === 'room_full' || code === 'invalid_data') return notice(code, words);
      // Nothing changed (the server is struggling, or we asked too fast): try again shortly.
      say(words);
      joinTimer = setTimeout(() => void join(), backoffMs(++joinFailures));
    } finally {
      joining = false;
    }
  }

  /** Sends every outbox message that is due, and wakes up again when the next back-off ends. */
  function flush(): void {
    clearTimeout(flushTimer);
    if (!joined || closed) return;
    for (const item of state.takeSendable(Date.now())) send(item);
    const at = state.nextRetryAt();
    if (at !== undefined) flushTimer = setTimeout(flush, Math.max(0, at - Date.now()));
  }

  function send(item: OutboxItem): void {
    renderOutboxItem(item);
    socket.request<MessageEntry>('message', { room: roomId, text: item.text, nonce: item.nonce }).then(
      (entry) => {
        addEntry(entry);
        identityNotice = '';
        if (!uploading) say(''); // a success clears what an earlier failure said
      },
      (err: RequestError) => {
        const retry = retryFor(err.code);
        const waiting = state.sendFailed(item.nonce, err.code, retry, Date.now());
        if (!waiting) return; // its entry came meanwhile
        renderOutboxItem(waiting);
        if (err.code === 'offline') return; // sent again after the rejoin
        if (err.code === 'not_joined') {
          joined = false;
          void join(); // then flush() sends it once its back-off ends
        } else flush();
      },
    );
  }

  function queueMessage(text: string): void {
    renderOutboxItem(state.queue(text));
    scrollToEnd();
    flush();
  }

  function showWhisper(w: Whisper): void {
    const mine = w.from.id === me;
    const other = mine ? w.to : w.from;
    const li = el('li', { className: `entry whisper${mine ? ' mine' : ''}`, attrs: { 'data-ts': String(w.ts), 'data-user-id': w.from.id } }, [
      el('div', { className: 'meta' }, [el('span', { className: 'whisper-label', text: mine ? 'You whispered to' : 'Whisper from' }), userName(other), timeOf(w.ts)]),
      el('p', { className: 'text' }, [richText(w.text)]),
    ]);
    place(li, outboxAnchor());
    if (mine) scrollToEnd();
    else arrived();
  }

  function sendWhisper(to: UserInfo, text: string): void {
    socket.request<Whisper>('whisper', { to: to.id, text }).then(
      () => {
        if (!uploading) say('');
      },
      (err: RequestError) => {
        say(`Whisper to ${to.name} not sent. ${plainWords(err.code, 'whisper')}`);
        // Nothing is lost: the words come back, ready to send again, if nothing else was typed since.
        if (!input.value && !closed) {
          input.value = text;
          fitInput();
          if (state.member(to.id)) setWhisper(state.member(to.id));
        }
      },
    );
  }

  async function uploadGif(file: File | undefined): Promise<void> {
    if (!file || closed) return;
    if (!joined) return say('Wait until you are back online to post a GIF.');
    if (limits && file.size > limits.maxUploadBytes) {
      gifInput.value = '';
      return say(`That GIF is too large: the limit is ${Math.floor(limits.maxUploadBytes / 1048576)} MB.`);
    }
    const body = new FormData();
    body.append('gif', file);
    say('Uploading GIF…');
    uploading = true;
    try {
      const res = await fetch(`/room/${encodeURIComponent(roomId)}/gif`, { method: 'POST', body, credentials: 'same-origin' });
      const reply = await res.json().catch(() => ({}));
      if (!res.ok) {
        const code = reply?.error?.code;
        if (typeof code !== 'string') return say(`Upload failed (${res.status}).`);
        const size = code === 'too_large' && limits ? ` The limit is ${Math.floor(limits.maxUploadBytes / 1048576)} MB.` : '';
        const wait = code === 'rate_limited' && typeof reply.error.retryAfterMs === 'number' ? ` ${retryWords(reply.error.retryAfterMs)}` : '';
        return say(`${plainWords(code, 'upload')}${size}${wait}`);
      }
      say('');
      addEntry(reply as MessageEntry); // may come before pushes of earlier entries: placed by seq
    } catch {
      say(plainWords('offline', 'upload'));
    } finally {
      uploading = false;
      gifInput.value = ''; // the same file can be sent again
    }
  }

  // ---- server pushes ------------------------------------------------------------
  socket.on('welcome', (data: Welcome) => {
    limits = data.limits;
    if (data.user.id !== me) {
      // The server no longer knows this page's person (their session is gone): nothing may be
      // sent as someone else. Unsent messages and the draft are kept for the reloaded page,
      // which shows the room as the person the server now says this is.
      const texts = state
        .outbox()
        .filter((item) => item.status !== 'sent')
        .map((item) => item.text);
      if (input.value.trim() !== '') texts.push(input.value);
      try {
        sessionStorage.setItem(UNSENT_KEY, JSON.stringify(texts));
      } catch {
        // Storage refused: the texts are lost, never posted under another name.
      }
      location.reload();
      return;
    }
    // The mutes the server keeps with the session: the member list's Mute buttons say so after a reload.
    const mutes = data.muted ?? [];
    const changed = mutes.length !== muted.size || mutes.some((id) => !muted.has(id));
    muted.clear();
    for (const id of mutes) muted.add(id);
    if (state.rename(data.user) || changed) renderMembers(); // renamed (or muted) while away
    void join();
  });
  socket.on('state', (s) => {
    if (s !== 'online') joined = false;
  });
  socket.on('message', (e: MessageEntry) => addEntry(e));
  socket.on('system', (e: Entry) => addEntry(e));
  socket.on('whisper', showWhisper);
  socket.on('typing', (d: { room: string; user: UserInfo }) => {
    if (d.room !== roomId) return;
    typers.set(d.user.id, { user: d.user, until: Date.now() + 3000 });
    renderTyping();
  });
  // The owner changes only by these pushes and join acks: not when the owner leaves or reloads.
  socket.on('owner', (d: OwnerChange) => {
    if (d.room === roomId && state.setOwner(d.user.id)) renderMembers();
  });
  // A new name: with `room`, someone in this room; without, this person (in every room).
  socket.on('renamed', (d: Renamed) => {
    if (d.room !== undefined ? d.room !== roomId : d.user.id !== me) return;
    if (state.rename(d.user)) renderMembers();
    const typer = typers.get(d.user.id);
    if (typer) typer.user = d.user;
    if (whisperTarget?.id === d.user.id) setWhisper(d.user);
  });
  socket.on('kicked', (d: { room: string }) => d.room === roomId && notice('kicked', 'The owner removed you from this room. You can come back in a few minutes.'));
  socket.on('roomRemoved', (d: { id: string }) => d.id === roomId && notice('deleted', 'Its owner deleted it, with all its messages.'));

  // ---- the person's actions -------------------------------------------------------
  let lastTyping = 0;
  input.addEventListener('input', () => {
    fitInput();
    const now = Date.now();
    if (joined && !whisperTarget && now - lastTyping > 2000 && input.value.trim()) {
      lastTyping = now;
      socket.send('typing', { room: roomId });
    }
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && whisperTarget) {
      event.preventDefault();
      setWhisper(undefined);
      return;
    }
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && !touch) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    input.focus(); // after a click on Send too: the next message is typed at once
    if (!text || closed) return;
    input.value = '';
    fitInput();
    const to = whisperTarget;
    if (to) {
      setWhisper(undefined); // a whisper is a one-off: the next message goes to the room
      sendWhisper(to, text);
      return;
    }
    queueMessage(text);
  });
  // Keep the focus in the composer when Send is pressed with a pointer (no flash of focus on the button).
  sendButton.addEventListener('pointerdown', (event) => {
    if (document.activeElement === input) event.preventDefault();
  });
  log.addEventListener('click', (event) => {
    const target = event.target as HTMLElement;
    const gif = target.closest<HTMLAnchorElement>('a.gif-open');
    if (gif) {
      event.preventDefault();
      const img = gif.querySelector('img');
      viewerImg.src = gif.href;
      viewerImg.alt = img?.alt ?? 'GIF';
      viewer.showModal();
      return;
    }
    const button = target.closest<HTMLButtonElement>('button[data-action]');
    const nonce = button?.closest<HTMLElement>('li[data-nonce]')?.dataset.nonce;
    if (!button || !nonce || closed) return;
    if (button.dataset.action === 'dismiss') {
      if (!state.dismiss(nonce)) return;
      const node = outboxNodes.get(nonce);
      if (node) unplace(node);
      outboxNodes.delete(nonce);
      if (!touch) input.focus();
      return;
    }
    const item = state.retry(nonce);
    if (!item) return;
    const node = outboxNodes.get(item.nonce);
    if (node) {
      unplace(node);
      place(node, null); // back at the bottom with the others on their way
    }
    renderOutboxItem(item);
    scrollToEnd();
    flush();
    if (!touch) input.focus();
  });
  // The large GIF closes on a click anywhere (on the image or around it), and on Esc.
  viewer.addEventListener('click', (event) => {
    if (event.target === viewer || event.target === viewerImg) viewer.close();
  });
  viewer.addEventListener('close', () => {
    viewerImg.removeAttribute('src');
    viewerImg.removeAttribute('style');
  });
  // Large: as big as the window allows, but a tiny GIF at most 4 times its size.
  viewerImg.addEventListener('load', () => {
    const { naturalWidth: w, naturalHeight: h } = viewerImg;
    if (!w || !h) return;
    const scale = Math.min(4, (innerWidth * 0.92) / w, (innerHeight * 0.84) / h);
    viewerImg.style.width = `${Math.round(w * scale)}px`;
    viewerImg.style.height = `${Math.round(h * scale)}px`;
  });

  gifInput.addEventListener('change', () => void uploadGif(gifInput.files?.[0]));
  const chatArea = document.getElementById('chat') as HTMLElement;
  chatArea.addEventListener('dragover', (event) => {
    event.preventDefault();
    chatArea.classList.add('dropping');
  });
  chatArea.addEventListener('dragleave', () => chatArea.classList.remove('dropping'));
  chatArea.addEventListener('drop', (event) => {
    event.preventDefault();
    chatArea.classList.remove('dropping');
    void uploadGif(event.dataTransfer?.files?.[0]);
  });
  input.addEventListener('paste', (event) => {
    const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type === 'image/gif');
    if (file) {
      event.preventDefault();
      void uploadGif(file);
    }
  });

  olderButton.addEventListener('click', async () => {
    try {
      const page = await socket.request<Entry[]>('history', { room: roomId, before: state.oldestSeq, limit: 50 });
      const height = scroller.scrollHeight;
      const top = scroller.scrollTop;
      const older = state.addOlder(page).map(renderEntry);
      log.prepend(...older);
      if (older.length > 0) {
        for (const li of older) fixItem(li);
        fixItem(nextItem(older[older.length - 1])); // the first of those shown before: its separator may go
      }
      scroller.scrollTop = top + scroller.scrollHeight - height; // keep the reader's place
      // A page may hold fewer than asked (the server bounds its bytes): only an empty one, or seq 1, is the start.
      if (page.length === 0 || state.oldestSeq <= 1) olderButton.hidden = true;
    } catch (err) {
      say(plainWords((err as RequestError).code, 'history'));
    }
  });

  memberList.addEventListener('click', async (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
    const userId = button?.closest<HTMLElement>('li[data-user-id]')?.dataset.userId;
    const user = userId ? state.member(userId) : undefined;
    if (!button || !user) return;
    const action = button.dataset.action;
    if (action === 'whisper') {
      setWhisper(user);
      if (membersBox.open && narrow.matches) membersBox.open = false; // on a phone, out of the way of the log
      input.focus();
      return;
    }
    if (action === 'mute' || action === 'unmute') {
      try {
        await socket.request(action, { user: user.id });
        if (action === 'mute') muted.add(user.id);
        else muted.delete(user.id);
        renderMembers();
        say(action === 'mute' ? `${user.name} is muted: their whispers and typing no longer reach you.` : `${user.name} is no longer muted.`);
      } catch (err) {
        say(plainWords((err as RequestError).code, 'mute'));
      }
      return;
    }
    if (action !== 'kick' && action !== 'transfer') return;
    try {
      if (action === 'kick' && confirm(`Remove ${user.name} from this room?`)) await socket.request('kick', { room: roomId, user: user.id });
      if (action === 'transfer' && confirm(`Make ${user.name} the owner of this room?`)) await socket.request('transfer', { room: roomId, user: user.id });
    } catch (err) {
      say(plainWords((err as RequestError).code, action));
    }
  });
  (document.getElementById('whisper-cancel') as HTMLButtonElement).addEventListener('click', () => {
    setWhisper(undefined);
    input.focus();
  });
  (document.getElementById('delete-room') as HTMLButtonElement).addEventListener('click', async () => {
    if (!confirm('Delete this room and all its messages?')) return;
    try {
      await socket.request('delete', { room: roomId });
      location.assign('/');
    } catch (err) {
      say(plainWords((err as RequestError).code, 'delete'));
    }
  });

  // On a phone the member list starts folded, so the log gets the room; wide, it stays open.
  membersBox.open = !narrow.matches;
  narrow.addEventListener('change', () => {
    membersBox.open = !narrow.matches;
  });

  // Back after the identity changed (see 'welcome'): what was not sent waits in the composer.
  try {
    const kept = sessionStorage.getItem(UNSENT_KEY);
    sessionStorage.removeItem(UNSENT_KEY);
    const texts: unknown = kept ? JSON.parse(kept) : [];
    if (Array.isArray(texts) && texts.length > 0) {
      input.value = texts.filter((t): t is string => typeof t === 'string').join('\n');
      identityNotice = `The server did not recognise you after reconnecting, so this page was reloaded as ${root.dataset.userName ?? 'a new guest'}. What you had not sent is back in the box: send it if you still want to.`;
      say(identityNotice);
    }
  } catch {
    // Nothing kept.
  }

  // Ready: the script runs, so the composer works (without it, it stays disabled).
  input.enterKeyHint = touch ? 'enter' : 'send';
  sendHint.hidden = touch;
  composer.disabled = false;
  decorateRendered(log.querySelectorAll<HTMLElement>('li.entry'));
  renderMembers();
  scrollToEnd();
  input.focus();
  socket.start();
}
