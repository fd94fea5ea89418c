import { ChatSocket, RequestError, showState } from './chat-socket.js';
import { el, localizeTimes, timeOf, userName } from './dom.js';
import { Entry, JoinAck, User, Whisper } from './types.js';

const root = document.getElementById('room') as HTMLElement;
const roomId = root.dataset.roomId!;
const me = root.dataset.userId!;
let ownerId = root.dataset.ownerId!;
const socket = new ChatSocket();
showState(socket);
localizeTimes(document);

/** A message typed by this person that the server has not acked yet (kept across drops). */
interface Pending {
  nonce: string;
  text: string;
  node: HTMLLIElement;
  sending: boolean;
}

if (root.dataset.open === 'true') startRoom();
else socket.start(); // only to show the connection state; the password form posts to the server

function startRoom(): void {
  const log = document.getElementById('log') as HTMLOListElement;
  const typingLine = document.getElementById('typing') as HTMLElement;
  const memberList = document.getElementById('members') as HTMLUListElement;
  const memberCount = document.getElementById('member-count') as HTMLElement;
  const form = document.getElementById('send-form') as HTMLFormElement;
  const input = document.getElementById('text') as HTMLTextAreaElement;
  const sendMessage = document.getElementById('send-message') as HTMLElement;
  const gifInput = document.getElementById('gif-input') as HTMLInputElement;
  const olderButton = document.getElementById('load-older') as HTMLButtonElement;
  const ownerTools = document.getElementById('owner-tools') as HTMLElement;
  const whisperTo = document.getElementById('whisper-to') as HTMLElement;
  const whisperName = document.getElementById('whisper-name') as HTMLElement;

  // The newest seq rendered: a rejoin asks for everything after it, and anything at or
  // below it is a duplicate.
  let lastSeq = Number(root.dataset.lastSeq) || 0;
  let oldestSeq = Number(log.querySelector<HTMLElement>('[data-seq]')?.dataset.seq ?? lastSeq + 1);
  let joined = false;
  let closed = false;
  let whisperTarget: User | undefined;
  const members = new Map<string, User>();
  const outbox: Pending[] = [];
  const typers = new Map<string, { user: User; until: number }>();

  for (const li of memberList.querySelectorAll<HTMLElement>('li[data-user-id]')) {
    const who = li.querySelector<HTMLElement>('.who')!;
    members.set(li.dataset.userId!, { id: li.dataset.userId!, name: who.textContent ?? '', color: who.style.color });
  }

  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const scrollToEnd = () => {
    log.scrollTop = log.scrollHeight;
  };
  scrollToEnd();

  function renderEntry(e: Entry): HTMLLIElement {
    if (e.kind) {
      const what = { joined: 'joined', left: 'left', kicked: 'was removed by the owner', owner: 'is now the owner' }[e.kind];
      return el('li', { className: 'entry system', attrs: { 'data-seq': String(e.seq) } }, [userName(e.user), document.createTextNode(` ${what} `), timeOf(e.ts)]);
    }
    const li = el('li', { className: `entry message${e.user.id === me ? ' mine' : ''}`, attrs: { 'data-seq': String(e.seq) } }, [
      userName(e.user),
      e.gif ? el('img', { className: 'gif', attrs: { src: e.gif, alt: `GIF from ${e.user.name}`, loading: 'lazy' } }) : null,
      e.text !== undefined ? el('p', { className: 'text', text: e.text }) : null,
      timeOf(e.ts),
    ]);
    if (e.nonce) li.dataset.nonce = e.nonce;
    return li;
  }

  /** Appends a new entry exactly once, in seq order, replacing its pending copy if it was ours. */
  function addEntry(e: Entry): void {
    if (e.seq <= lastSeq) return;
    lastSeq = e.seq;
    const stick = nearBottom() || e.user.id === me;
    if (e.nonce) {
      const index = outbox.findIndex((p) => p.nonce === e.nonce);
      if (index >= 0) outbox.splice(index, 1)[0].node.remove();
    }
    // Pending messages stay at the bottom, after every confirmed entry.
    const firstPending = outbox[0]?.node;
    log.insertBefore(renderEntry(e), firstPending ?? null);
    if (e.kind) applySystem(e);
    else if (typers.delete(e.user.id)) renderTyping(); // they sent it: no longer typing
    if (stick) scrollToEnd();
  }

  function applySystem(e: Entry): void {
    if (e.kind === 'joined') members.set(e.user.id, e.user);
    if (e.kind === 'left' || e.kind === 'kicked') members.delete(e.user.id);
    if (e.kind === 'owner') setOwner(e.user.id);
    renderMembers();
  }

  function setOwner(id: string): void {
    ownerId = id;
    ownerTools.hidden = ownerId !== me;
    renderMembers();
  }

  function renderMembers(): void {
    memberList.replaceChildren(
      ...[...members.values()].map((user) => {
        const tools: HTMLElement[] = [];
        if (user.id !== me) {
          tools.push(el('button', { className: 'link', text: 'Whisper', attrs: { type: 'button', 'data-action': 'whisper', 'aria-label': `Whisper to ${user.name}` } }));
          if (ownerId === me) {
            tools.push(el('button', { className: 'link', text: 'Kick', attrs: { type: 'button', 'data-action': 'kick', 'aria-label': `Kick ${user.name}` } }));
            tools.push(el('button', { className: 'link', text: 'Make owner', attrs: { type: 'button', 'data-action': 'transfer', 'aria-label': `Make ${user.name} the owner` } }));
          }
        }
        const badge = user.id === ownerId ? el('span', { className: 'badge', text: 'owner' }) : null;
        const you = user.id === me ? el('span', { className: 'badge', text: 'you' }) : null;
        return el('li', { attrs: { 'data-user-id': user.id } }, [userName(user), badge, you, ...tools]);
      }),
    );
    memberCount.textContent = String(members.size);
  }

  function notice(text: string): void {
    closed = true;
    joined = false;
    const box = document.getElementById('notice') as HTMLElement;
    (document.getElementById('notice-text') as HTMLElement).textContent = text;
    box.hidden = false;
    form.querySelectorAll<HTMLElement>('textarea, button, input, label.button').forEach((n) => {
      n.setAttribute('disabled', '');
      n.setAttribute('aria-disabled', 'true');
    });
    ownerTools.hidden = true;
  }

  function say(text: string): void {
    sendMessage.textContent = text;
  }

  async function join(): Promise<void> {
    if (closed) return;
    try {
      const ack = await socket.request<JoinAck>('join', { room: roomId, since: lastSeq });
      for (const e of ack.history) addEntry(e);
      if (ack.more) return join(); // still catching up: ask for the next batch
      members.clear();
      for (const m of ack.members) members.set(m.id, m);
      setOwner(ack.room.owner.id);
      joined = true;
      say('');
      flushOutbox();
    } catch (err) {
      const e = err as RequestError;
      if (e.code === 'offline') return; // the next welcome retries
      if (e.code === 'not_found') notice('This room was deleted.');
      else if (e.code === 'room_full') notice('This room is full. Try again later.');
      else if (e.code === 'forbidden') notice(e.message.includes('kicked') ? 'You were removed from this room by its owner. You can come back later.' : 'This room needs its password. Reload the page to enter it.');
      else say(e.message);
    }
  }

  function send(p: Pending): void {
    if (!joined || p.sending) return;
    p.sending = true;
    socket.request<Entry>('message', { room: roomId, text: p.text, nonce: p.nonce }).then(
      (entry) => addEntry(entry),
      (err: RequestError) => {
        p.sending = false;
        if (err.code === 'offline') return; // kept, marked pending: sent again after the rejoin
        p.node.classList.add('failed');
        p.node.querySelector('.state')!.textContent = `Not sent: ${err.message}`;
        outbox.splice(outbox.indexOf(p), 1);
      },
    );
  }

  function flushOutbox(): void {
    for (const p of outbox) send(p);
  }

  function queueMessage(text: string): void {
    const nonce = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const node = el('li', { className: 'entry message mine pending', attrs: { 'data-nonce': nonce } }, [
      el('p', { className: 'text', text }),
      el('span', { className: 'state', text: 'sending…' }),
    ]);
    log.append(node);
    scrollToEnd();
    const p: Pending = { nonce, text, node, sending: false };
    outbox.push(p);
    send(p);
  }

  function showWhisper(w: Whisper): void {
    const mine = w.from.id === me;
    const label = mine ? ['whisper to ', w.to] : ['whisper from ', w.from];
    const stick = nearBottom() || mine;
    const li = el('li', { className: `entry whisper${mine ? ' mine' : ''}` }, [
      el('span', { className: 'whisper-label', text: label[0] as string }),
      userName(label[1] as User),
      el('p', { className: 'text', text: w.text }),
      timeOf(w.ts),
    ]);
    log.insertBefore(li, outbox[0]?.node ?? null);
    if (stick) scrollToEnd();
  }

  function renderTyping(): void {
    const now = Date.now();
    for (const [id, t] of typers) if (t.until <= now) typers.delete(id);
    const names = [...typers.values()].map((t) => t.user.name);
    typingLine.textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, 3).join(', ')} are typing…`;
  }
  setInterval(renderTyping, 1000);

  async function uploadGif(file: File | undefined): Promise<void> {
    if (!file) return;
    if (!joined) return say('Wait until you are back online to post a GIF.');
    const body = new FormData();
    body.append('gif', file);
    say('Uploading GIF…');
    try {
      const res = await fetch(`/room/${encodeURIComponent(roomId)}/gif`, { method: 'POST', body, credentials: 'same-origin' });
      const reply = await res.json().catch(() => ({}));
      if (!res.ok) return say(reply?.error?.message ?? `Upload failed (${res.status}).`);
      say('');
      addEntry(reply as Entry);
    } catch {
      say('Upload failed: the server could not be reached.');
    } finally {
      gifInput.value = ''; // the same file can be sent again
    }
  }

  // ---- server pushes ------------------------------------------------------
  socket.on('welcome', () => void join());
  socket.on('state', (state) => {
    if (state !== 'online') joined = false;
  });
  socket.on('message', (e: Entry) => e.room === roomId && addEntry(e));
  socket.on('system', (e: Entry) => e.room === roomId && addEntry(e));
  socket.on('whisper', showWhisper);
  socket.on('typing', (d: { room: string; user: User }) => {
    if (d.room !== roomId) return;
    typers.set(d.user.id, { user: d.user, until: Date.now() + 3000 });
    renderTyping();
  });
  socket.on('owner', (d: { room: string; user: User }) => d.room === roomId && setOwner(d.user.id));
  socket.on('kicked', (d: { room: string }) => d.room === roomId && notice('You were removed from this room by its owner.'));
  socket.on('roomRemoved', (d: { id: string }) => d.id === roomId && notice('This room was deleted by its owner.'));

  // ---- the person's actions -------------------------------------------------
  let lastTyping = 0;
  input.addEventListener('input', () => {
    const now = Date.now();
    if (joined && !whisperTarget && now - lastTyping > 2000 && input.value.trim()) {
      lastTyping = now;
      socket.send('typing', { room: roomId });
    }
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || closed) return;
    input.value = '';
    if (whisperTarget) {
      const to = whisperTarget;
      socket.request<Whisper>('whisper', { to: to.id, text }).catch((err: RequestError) => say(`Whisper not sent: ${err.message}`));
      return;
    }
    queueMessage(text);
  });
  gifInput.addEventListener('change', () => void uploadGif(gifInput.files?.[0]));
  const chatArea = document.querySelector('.chat') as HTMLElement;
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
      const page = await socket.request<Entry[]>('history', { room: roomId, before: oldestSeq, limit: 50 });
      const height = log.scrollHeight;
      log.prepend(...page.map(renderEntry));
      log.scrollTop += log.scrollHeight - height; // keep the reader's place
      if (page.length) oldestSeq = page[0].seq;
      if (page.length < 50 || oldestSeq <= 1) olderButton.hidden = true;
    } catch (err) {
      say((err as RequestError).message);
    }
  });

  memberList.addEventListener('click', async (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
    const userId = button?.closest<HTMLElement>('li[data-user-id]')?.dataset.userId;
    const user = userId ? members.get(userId) : undefined;
    if (!button || !user) return;
    const action = button.dataset.action;
    if (action === 'whisper') {
      whisperTarget = user;
      whisperName.textContent = user.name;
      whisperTo.hidden = false;
      input.focus();
      return;
    }
    try {
      if (action === 'kick' && confirm(`Remove ${user.name} from this room?`)) await socket.request('kick', { room: roomId, user: user.id });
      if (action === 'transfer' && confirm(`Make ${user.name} the owner of this room?`)) await socket.request('transfer', { room: roomId, user: user.id });
    } catch (err) {
      say((err as RequestError).message);
    }
  });
  (document.getElementById('whisper-cancel') as HTMLButtonElement).addEventListener('click', () => {
    whisperTarget = undefined;
    whisperTo.hidden = true;
  });
  (document.getElementById('delete-room') as HTMLButtonElement).addEventListener('click', async () => {
    if (!confirm('Delete this room and all its messages?')) return;
    try {
      await socket.request('delete', { room: roomId });
      location.assign('/');
    } catch (err) {
      say((err as RequestError).message);
    }
  });

  renderMembers();
  socket.start();
}
