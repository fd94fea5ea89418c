import { ChatSocket, type RequestError, showState } from './chat-socket.js';
import { readableColor } from './colors.js';
import { decorateName, el, localizeTimes, richText, timeOf, userName } from './dom.js';
import { plainWords } from './errors.js';
import type { Renamed, RoomInfo, RoomsPage, UserInfo, Welcome, Whisper } from './protocol.js';
import { byActivity, fullDate, isFull, lastActive, matchesFilter } from './timeline.js';

const socket = new ChatSocket();
showState(socket);

const list = document.getElementById('rooms') as HTMLUListElement;
const empty = document.getElementById('no-rooms') as HTMLElement;
const noMatch = document.getElementById('no-match') as HTMLElement;
const filter = document.getElementById('room-filter') as HTMLInputElement;
const nameForm = document.getElementById('name-form') as HTMLFormElement;
const nameInput = document.getElementById('name-input') as HTMLInputElement;
const nameButton = nameForm.querySelector('button[type="submit"]') as HTMLButtonElement;
const nameMessage = document.getElementById('name-message') as HTMLElement;
const whispers = document.getElementById('whispers') as HTMLElement;
const whisperList = document.getElementById('whisper-list') as HTMLOListElement;
const moreRooms = document.getElementById('more-rooms') as HTMLAnchorElement;
const newestRooms = document.getElementById('newest-rooms') as HTMLAnchorElement | null;

/** The rooms as last heard of, by id: the list is rendered from them. */
const rooms = new Map<string, RoomInfo>();

/** The room's row: title (the row's link), badges for a password and a full room, how many are in, owner and last activity. */
function renderRoom(room: RoomInfo): HTMLLIElement {
  const full = isFull(room);
  const when = el('time', { text: lastActive(room.lastActivity, Date.now()), attrs: { datetime: new Date(room.lastActivity).toISOString(), title: fullDate(room.lastActivity) } });
  return el('li', { className: `room${full ? ' full' : ''}`, attrs: { 'data-room-id': room.id, 'data-owner-id': room.owner.id, 'data-last-activity': String(room.lastActivity) } }, [
    el('div', { className: 'name-line' }, [
      el('a', { className: 'title', text: room.title, attrs: { href: `/room/${encodeURIComponent(room.id)}` } }),
      room.locked ? el('span', { className: 'badge lock', text: 'Password', attrs: { title: 'Needs a password' } }) : null,
      full ? el('span', { className: 'badge full', text: 'Full' }) : null,
    ]),
    el('span', { className: 'count', attrs: { 'aria-label': `${room.members} of ${room.max} places taken` } }, [el('strong', { text: `${room.members} / ${room.max}` }), el('br'), document.createTextNode('here')]),
    el('span', { className: 'meta' }, [document.createTextNode('by '), userName(room.owner), document.createTextNode(' · active '), when]),
  ]);
}

/** Renders every room, most recently active first, showing those the filter matches. */
function render(): void {
  const query = filter.value.trim();
  const sorted = [...rooms.values()].sort(byActivity);
  const shown = sorted.filter((room) => matchesFilter(room, query));
  // Rows are rendered anew: the room whose link has the focus keeps it.
  const focused = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('#rooms li[data-room-id]')?.dataset.roomId;
  list.replaceChildren(...shown.map(renderRoom));
  if (focused) list.querySelector<HTMLAnchorElement>(`li[data-room-id="${CSS.escape(focused)}"] a.title`)?.focus({ preventScroll: true });
  empty.hidden = rooms.size > 0;
  noMatch.hidden = rooms.size === 0 || shown.length > 0;
}

function upsert(room: RoomInfo): void {
  rooms.set(room.id, room);
  render();
}

function showName(user: UserInfo): void {
  if (document.activeElement !== nameInput) nameInput.value = user.name;
  nameInput.style.color = readableColor(user.color);
}

/** A whisper to (or from) this person: the lobby shows it, as the room would. */
function showWhisper(w: Whisper, me: string): void {
  const mine = w.from.id === me;
  whisperList.append(
    el('li', { className: `entry whisper${mine ? ' mine' : ''}` }, [
      el('div', { className: 'meta' }, [el('span', { className: 'whisper-label', text: mine ? 'You whispered to' : 'Whisper from' }), userName(mine ? w.to : w.from), timeOf(w.ts)]),
      el('p', { className: 'text' }, [richText(w.text)]),
    ]),
  );
  whispers.hidden = false;
}

// What the server rendered, until the socket brings the live list.
for (const li of list.querySelectorAll<HTMLElement>('li[data-room-id]')) {
  const who = li.querySelector<HTMLElement>('.who');
  if (who && li.dataset.ownerId) decorateName(who, li.dataset.ownerId);
}
localizeTimes(list, (ts) => lastActive(ts, Date.now()));
let me = nameInput.dataset.userId ?? '';

/** Where the next page of rooms starts (from the last `chatrooms` page), if there is one. */
let cursor: string | undefined;

function showMore(next: string | undefined): void {
  cursor = next;
  moreRooms.hidden = next === undefined;
  if (next !== undefined) moreRooms.href = `/?cursor=${encodeURIComponent(next)}`;
}

/** Loads the first page of rooms anew (the newest activity), replacing the list. */
async function loadRooms(): Promise<void> {
  try {
    const page = await socket.request<RoomsPage>('chatrooms');
    rooms.clear();
    for (const room of page.rooms) rooms.set(room.id, room);
    showMore(page.cursor);
    if (newestRooms) newestRooms.hidden = true; // the live list starts from the newest
    filter.hidden = false; // filtering works on the live list
    render();
  } catch {
    /* offline again: the next welcome retries */
  }
}

/** Many rooms changed at once (`roomsChanged`): refetch the list, at most once per REFETCH_MS. */
const REFETCH_MS = 3000;
let lastRefetch = 0;
let refetchTimer: ReturnType<typeof setTimeout> | undefined;
function refetchSoon(): void {
  if (refetchTimer !== undefined) return;
  refetchTimer = setTimeout(() => {
    refetchTimer = undefined;
    lastRefetch = Date.now();
    void loadRooms();
  }, Math.max(0, lastRefetch + REFETCH_MS - Date.now()));
}

socket.on('welcome', (data: Welcome) => {
  me = data.user.id;
  showName(data.user);
  // Catch up on what changed while offline.
  lastRefetch = Date.now();
  void loadRooms();
});
socket.on('roomsChanged', refetchSoon);

// "More rooms": the next page, added to the list (without the script, the link opens it as a page).
moreRooms.addEventListener('click', async (event) => {
  if (cursor === undefined || filter.hidden) return; // not live yet: the link works as a page
  event.preventDefault();
  moreRooms.setAttribute('aria-disabled', 'true');
  try {
    const page = await socket.request<RoomsPage>('chatrooms', { cursor });
    for (const room of page.rooms) rooms.set(room.id, room);
    showMore(page.cursor);
    render();
  } catch {
    /* offline: the link stays for another try */
  } finally {
    moreRooms.removeAttribute('aria-disabled');
  }
});
// Renamed in another tab: the field shows the name in use.
socket.on('renamed', (d: Renamed) => d.room === undefined && showName(d.user));
socket.on('roomCreated', upsert);
socket.on('roomUpdated', upsert);
socket.on('roomRemoved', (d: { id: string }) => {
  rooms.delete(d.id);
  render();
});
socket.on('whisper', (w: Whisper) => showWhisper(w, me));

filter.addEventListener('input', render);
// "Active 5 min ago" moves on.
setInterval(render, 60_000);

nameForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  nameMessage.textContent = '';
  nameMessage.classList.remove('ok');
  nameInput.removeAttribute('aria-invalid');
  try {
    const user = await socket.request<UserInfo>('register', { name: nameInput.value });
    nameInput.value = user.name;
    nameMessage.textContent = 'Saved.';
    nameMessage.classList.add('ok');
  } catch (err) {
    const e = err as RequestError;
    nameInput.setAttribute('aria-invalid', 'true');
    nameMessage.textContent = plainWords(e.code, 'register');
  }
});

// Ready: the script runs, so the name form works (without it, it stays off).
nameInput.readOnly = false;
nameButton.disabled = false;
// A first visit has no session yet (reading the lobby makes none): make it before the socket
// opens, so the socket, the name typed here and the room pages share one user.
if (nameInput.dataset.session === 'none') {
  fetch('/session', { method: 'POST', credentials: 'same-origin' })
    .catch(() => undefined) // offline: the socket is a guest until the next visit
    .finally(() => socket.start());
} else {
  socket.start();
}
