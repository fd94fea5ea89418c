import { ChatSocket, type RequestError, showState } from './chat-socket.js';
import { el, localizeTimes, timeOf, userName } from './dom.js';
import { plainWords, retryFor } from './errors.js';
import type { Entry, JoinAck, Limits, MessageEntry, OwnerChange, Renamed, SystemKind, UserInfo, Welcome, Whisper } from './protocol.js';
import { backoffMs, type EntryChange, type OutboxItem, RoomState } from './room-state.js';

const root = document.getElementById('room') as HTMLElement;
const socket = new ChatSocket();
showState(socket);
localizeTimes(document);

if (root.dataset.open === 'true') startRoom();
else socket.start(); // only to show the connection state; the password form posts to the server

/** The view of a room: renders the RoomState and turns the person's actions and the server's pushes into it. */
function startRoom(): void {
  const roomId = root.dataset.roomId!;
  const me = root.dataset.userId!;
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
      return { id: li.dataset.userId!, name: who?.textContent ?? '', color: who?.style.color ?? '' };
    }),
  });

  let joined = false;
  let joining = false;
  let joinFailures = 0;
  let joinTimer: ReturnType<typeof setTimeout> | undefined;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let limits: Limits | undefined;
  let whisperTarget: UserInfo | undefined;
  /** The log item of each outbox message, by nonce. */
  const outboxNodes = new Map<string, HTMLLIElement>();
  const typers = new Map<string, { user: UserInfo; until: number }>();

  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const scrollToEnd = () => {
    log.scrollTop = log.scrollHeight;
  };
  scrollToEnd();

  // ---- rendering -------------------------------------------------------------

  const systemWords: Record<SystemKind, string> = { joined: 'joined', left: 'left', kicked: 'was removed by the owner', owner: 'is now the owner' };

  function renderEntry(e: Entry): HTMLLIElement {
    if ('kind' in e) {
      return el('li', { className: 'entry system', attrs: { 'data-seq': String(e.seq) } }, [userName(e.user), document.createTextNode(` ${systemWords[e.kind]} `), timeOf(e.ts)]);
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

  /** Where confirmed entries and whispers end: above the messages still on their way, which stay at the bottom. */
  function outboxAnchor(): HTMLLIElement | null {
    const first = state.firstWaiting();
    return (first && outboxNodes.get(first.nonce)) ?? null;
  }

  /** Renders what an entry changed: the entry once, in seq order, in place of its pending copy if it was ours. */
  function show(change: EntryChange): void {
    if (change.confirmed) {
      outboxNodes.get(change.confirmed.nonce)?.remove();
      outboxNodes.delete(change.confirmed.nonce);
    }
    if (!change.added) return;
    const e = change.entry;
    const stick = nearBottom() || e.user.id === me;
    const next = change.before === undefined ? null : log.querySelector<HTMLElement>(`li[data-seq="${change.before}"]`);
    log.insertBefore(renderEntry(e), next ?? outboxAnchor());
    if (change.membersChanged) renderMembers();
    if (!('kind' in e) && typers.delete(e.user.id)) renderTyping(); // they sent it: no longer typing
    if (stick) scrollToEnd();
  }

  function addEntry(e: Entry): void {
    show(state.addEntry(e));
  }

  function renderOutboxItem(item: OutboxItem): void {
    let node = outboxNodes.get(item.nonce);
    if (!node) {
      node = el('li', { className: 'entry message mine pending', attrs: { 'data-nonce': item.nonce } }, [el('p', { className: 'text', text: item.text }), el('span', { className: 'state' })]);
      outboxNodes.set(item.nonce, node);
      log.append(node);
    }
    const failed = item.status === 'failed';
    node.classList.toggle('pending', !failed);
    node.classList.toggle('failed', failed);
    const label = node.querySelector('.state')!;
    if (failed) {
      label.replaceChildren(
        document.createTextNode(`Not sent: ${plainWords(item.error ?? 'internal', 'message')} `),
        el('button', { className: 'link', text: 'Retry', attrs: { type: 'button', 'data-action': 'retry' } }),
      );
    } else if (item.status === 'pending' && (item.error === 'offline' || !joined)) label.textContent = 'waiting for the connection…';
    else if (item.retryAt !== undefined) label.textContent = `${plainWords(item.error ?? 'unavailable', 'message')}`;
    else label.textContent = 'sending…';
  }

  function renderMembers(): void {
    const owner = state.isOwner;
    memberList.replaceChildren(
      ...state.members().map((user) => {
        const tools: HTMLElement[] = [];
        if (user.id !== me) {
          tools.push(el('button', { className: 'link', text: 'Whisper', attrs: { type: 'button', 'data-action': 'whisper', 'aria-label': `Whisper to ${user.name}` } }));
          if (owner) {
            tools.push(el('button', { className: 'link', text: 'Kick', attrs: { type: 'button', 'data-action': 'kick', 'aria-label': `Kick ${user.name}` } }));
            tools.push(el('button', { className: 'link', text: 'Make owner', attrs: { type: 'button', 'data-action': 'transfer', 'aria-label': `Make ${user.name} the owner` } }));
          }
        }
        const badge = user.id === state.owner ? el('span', { className: 'badge', text: 'owner' }) : null;
        const you = user.id === me ? el('span', { className: 'badge', text: 'you' }) : null;
        return el('li', { attrs: { 'data-user-id': user.id } }, [userName(user), badge, you, ...tools]);
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

  /** The room is over for this page (deleted, kicked, refused): says why and disables sending. */
  function notice(text: string): void {
    closed = true;
    joined = false;
    clearTimeout(joinTimer);
    clearTimeout(flushTimer);
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
      say('');
      flush();
    } catch (err) {
      const code = (err as RequestError).code;
      if (code === 'offline') return; // the next welcome joins again
      const words = plainWords(code, 'join');
      if (code === 'not_found' || code === 'forbidden' || code === 'banned' || code === 'room_full' || code === 'invalid_data') return notice(words);
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
    socket.request<MessageEntry>('message', { room: roomId, text: item.text, nonce: item.nonce }).then(addEntry, (err: RequestError) => {
      const retry = retryFor(err.code);
      const waiting = state.sendFailed(item.nonce, err.code, retry, Date.now());
      if (!waiting) return; // its entry came meanwhile
      renderOutboxItem(waiting);
      if (err.code === 'offline') return; // sent again after the rejoin
      if (err.code === 'not_joined') {
        joined = false;
        void join(); // then flush() sends it once its back-off ends
      } else flush();
    });
  }

  function queueMessage(text: string): void {
    renderOutboxItem(state.queue(text));
    scrollToEnd();
    flush();
  }

  function showWhisper(w: Whisper): void {
    const mine = w.from.id === me;
    const stick = nearBottom() || mine;
    const li = el('li', { className: `entry whisper${mine ? ' mine' : ''}` }, [
      el('span', { className: 'whisper-label', text: mine ? 'whisper to ' : 'whisper from ' }),
      userName(mine ? w.to : w.from),
      el('p', { className: 'text', text: w.text }),
      timeOf(w.ts),
    ]);
    log.insertBefore(li, outboxAnchor());
    if (stick) scrollToEnd();
  }

  async function uploadGif(file: File | undefined): Promise<void> {
    if (!file) return;
    if (!joined) return say('Wait until you are back online to post a GIF.');
    const body = new FormData();
    body.append('gif', file);
    say('Uploading GIF…');
    try {
      const res = await fetch(`/room/${encodeURIComponent(roomId)}/gif`, { method: 'POST', body, credentials: 'same-origin' });
      const reply = await res.json().catch(() => ({}));
      if (!res.ok) {
        const code = reply?.error?.code;
        if (typeof code !== 'string') return say(`Upload failed (${res.status}).`);
        const size = code === 'too_large' && limits ? ` The limit is ${Math.floor(limits.maxUploadBytes / 1048576)} MB.` : '';
        return say(`${plainWords(code, 'upload')}${size}`);
      }
      say('');
      addEntry(reply as MessageEntry); // may come before pushes of earlier entries: placed by seq
    } catch {
      say(plainWords('offline', 'upload'));
    } finally {
      gifInput.value = ''; // the same file can be sent again
    }
  }

  // ---- server pushes ------------------------------------------------------------
  socket.on('welcome', (data: Welcome) => {
    limits = data.limits;
    if (data.user.id === me && state.rename(data.user)) renderMembers(); // renamed while away
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
    if (whisperTarget?.id === d.user.id) {
      whisperTarget = d.user;
      whisperName.textContent = d.user.name;
    }
  });
  socket.on('kicked', (d: { room: string }) => d.room === roomId && notice('You were removed from this room by its owner.'));
  socket.on('roomRemoved', (d: { id: string }) => d.id === roomId && notice('This room was deleted by its owner.'));

  // ---- the person's actions -------------------------------------------------------
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
      socket.request<Whisper>('whisper', { to: to.id, text }).catch((err: RequestError) => say(`Whisper not sent: ${plainWords(err.code, 'whisper')}`));
      return;
    }
    queueMessage(text);
  });
  log.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-action="retry"]');
    const nonce = button?.closest<HTMLElement>('li[data-nonce]')?.dataset.nonce;
    const item = nonce && !closed ? state.retry(nonce) : undefined;
    if (!item) return;
    const node = outboxNodes.get(item.nonce);
    if (node) log.append(node); // back at the bottom with the others on their way
    renderOutboxItem(item);
    scrollToEnd();
    flush();
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
      const page = await socket.request<Entry[]>('history', { room: roomId, before: state.oldestSeq, limit: 50 });
      const height = log.scrollHeight;
      log.prepend(...state.addOlder(page).map(renderEntry));
      log.scrollTop += log.scrollHeight - height; // keep the reader's place
      if (page.length < 50 || state.oldestSeq <= 1) olderButton.hidden = true;
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
      whisperTarget = user;
      whisperName.textContent = user.name;
      whisperTo.hidden = false;
      input.focus();
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
    whisperTarget = undefined;
    whisperTo.hidden = true;
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

  renderMembers();
  socket.start();
}
