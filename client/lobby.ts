import { ChatSocket, type RequestError, showState } from './chat-socket.js';
import { el, localizeTimes, timeOf } from './dom.js';
import { plainWords } from './errors.js';
import type { Renamed, RoomInfo, UserInfo, Welcome } from './protocol.js';

const socket = new ChatSocket();
showState(socket);
localizeTimes(document);

const list = document.getElementById('rooms') as HTMLUListElement;
const empty = document.getElementById('no-rooms') as HTMLElement;
const nameForm = document.getElementById('name-form') as HTMLFormElement;
const nameInput = document.getElementById('name-input') as HTMLInputElement;
const nameMessage = document.getElementById('name-message') as HTMLElement;

function renderRoom(room: RoomInfo): HTMLLIElement {
  const link = el('a', { className: 'title', attrs: { href: `/room/${encodeURIComponent(room.id)}` } }, [
    room.locked ? el('span', { className: 'lock', text: 'password', attrs: { title: 'Needs a password' } }) : null,
    document.createTextNode(room.locked ? ` ${room.title}` : room.title),
  ]);
  const owner = el('span', { text: room.owner.name });
  owner.style.color = room.owner.color;
  const activity = timeOf(room.lastActivity);
  activity.className = 'activity';
  return el('li', { className: 'room', attrs: { 'data-room-id': room.id } }, [
    link,
    el('span', { className: 'count', text: `${room.members} / ${room.max}` }),
    el('span', { className: 'owner' }, [document.createTextNode('by '), owner]),
    activity,
  ]);
}

function upsert(room: RoomInfo): void {
  const node = renderRoom(room);
  const existing = list.querySelector(`li[data-room-id="${CSS.escape(room.id)}"]`);
  if (existing) existing.replaceWith(node);
  else list.append(node);
  empty.hidden = true;
}

function showName(user: UserInfo): void {
  if (document.activeElement !== nameInput) nameInput.value = user.name;
  nameInput.style.color = user.color;
}

socket.on('welcome', async (data: Welcome) => {
  showName(data.user);
  // Catch up on what changed while offline.
  try {
    const rooms = await socket.request<RoomInfo[]>('chatrooms');
    list.replaceChildren(...rooms.map(renderRoom));
    empty.hidden = rooms.length > 0;
  } catch {
    /* offline again: the next welcome retries */
  }
});
// Renamed in another tab: the field shows the name in use.
socket.on('renamed', (d: Renamed) => d.room === undefined && showName(d.user));
socket.on('roomCreated', upsert);
socket.on('roomUpdated', upsert);
socket.on('roomRemoved', (d: { id: string }) => {
  list.querySelector(`li[data-room-id="${CSS.escape(d.id)}"]`)?.remove();
  empty.hidden = list.children.length > 0;
});

nameForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  nameMessage.textContent = '';
  nameInput.removeAttribute('aria-invalid');
  try {
    const user = await socket.request<UserInfo>('register', { name: nameInput.value });
    nameInput.value = user.name;
    nameMessage.textContent = 'Saved.';
  } catch (err) {
    const e = err as RequestError;
    nameInput.setAttribute('aria-invalid', 'true');
    nameMessage.textContent = plainWords(e.code, 'register');
  }
});

socket.start();
