/**
 * The room page and the lobby in real Chromium (issue 13, items 1–10): following the log
 * as GIFs load, "new messages", whispers as one-offs, pacing, focus, days and runs and
 * links, refused visitors, phones, no JavaScript, and the lobby's states, order and filter.
 * Screenshots of the lobby, a room and a phone go to test-artifacts/ui-*.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser';
import { TestClient } from '../helpers/client';
import { makeGif } from '../helpers/gif';
import { browserSession, startServer, TestServer } from '../helpers/server';

jest.setTimeout(90_000);

const artifacts = path.resolve(__dirname, '../../test-artifacts');
const DESKTOP = { width: 1280, height: 800 };
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

let browser: Browser;
const contexts: BrowserContext[] = [];
let pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
  fs.mkdirSync(artifacts, { recursive: true });
});
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
  const errors = pageErrors;
  pageErrors = [];
  expect(errors).toEqual([]);
});
afterAll(async () => {
  await browser?.close();
});

/** A new page in a context of its own (its own session), whose script errors fail the test. */
async function newPage(options: BrowserContextOptions = { viewport: DESKTOP }): Promise<Page> {
  const context = await browser.newContext(options);
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('dialog', (dialog) => void dialog.accept());
  return page;
}

/** A guest connected over the socket with a page session of its own (so it may upload). */
async function member(s: TestServer, name: string): Promise<{ client: TestClient; cookie: string }> {
  const { cookie } = await browserSession(s.url);
  const client = await TestClient.connect(s.wsUrl, { headers: { cookie } });
  await client.request('register', { name });
  return { client, cookie };
}

/**
 * A room made by `owner`, with `n` earlier messages from them (written to the store, as
 * history, before anyone reads the room), and the owner in it.
 */
async function roomWith(s: TestServer, owner: TestClient, n: number, title = 'Talk', max = 20): Promise<{ id: string }> {
  const room = await owner.request('create', { title, max });
  const start = Date.now() - n * 1000;
  const ops = Array.from({ length: n }, (_, i) => ({ entry: { room: room.id, user: owner.user, text: `line ${i + 1} ${'words '.repeat((i + 1) % 4)}`.trim(), ts: start + i * 1000 } }));
  if (ops.length) await s.app.store.append(ops);
  await owner.request('join', { room: room.id });
  return room;
}

async function openRoom(page: Page, s: TestServer, roomId: string): Promise<void> {
  await page.goto(`${s.url}/room/${roomId}`);
  await page.waitForSelector('#conn-state[data-state="online"]');
  await page.waitForFunction(() => !(document.getElementById('composer') as HTMLFieldSetElement).disabled);
}

/** Where the log is scrolled: distance from its end, and whether the last item is wholly inside the visible part. */
function logPosition(page: Page): Promise<{ fromEnd: number; lastVisible: boolean; scrollTop: number }> {
  return page.evaluate(() => {
    const scroller = document.getElementById('scroller')!;
    const last = document.querySelector('#log > li:last-child')!;
    const box = scroller.getBoundingClientRect();
    const item = last.getBoundingClientRect();
    return {
      fromEnd: scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight,
      lastVisible: item.top >= box.top - 1 && item.bottom <= box.bottom + 1,
      scrollTop: scroller.scrollTop,
    };
  });
}

/** Posts a GIF as `who` (a member by their session), the way the page does. */
async function upload(s: TestServer, cookie: string, roomId: string, gif: Buffer): Promise<void> {
  const body = new FormData();
  body.append('gif', new Blob([new Uint8Array(gif)], { type: 'image/gif' }), 'a.gif');
  const res = await fetch(`${s.url}/room/${roomId}/gif`, { method: 'POST', body, headers: { cookie, origin: s.url } });
  expect(res.status).toBe(201);
}

/** Holds every GIF the page fetches until `release` is called. */
async function holdGifs(page: Page): Promise<() => void> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/gif/**', async (route) => {
    await gate;
    await route.continue();
  });
  return release;
}

describe('1. GIFs and scrolling', () => {
  test('a GIF without a known size: the reader at the bottom stays there once it loads, and sees it whole', async () => {
    const s = await startServer();
    const bob = await member(s, 'Bob');
    const room = await roomWith(s, bob.client, 40);
    const page = await newPage();
    const release = await holdGifs(page);
    await openRoom(page, s, room.id);
    expect((await logPosition(page)).fromEnd).toBeLessThanOrEqual(2);
    await upload(s, bob.cookie, room.id, makeGif(96));
    await page.waitForSelector('#log img.gif', { state: 'attached' });
    release();
    await page.waitForFunction(() => (document.querySelector('#log img.gif') as HTMLImageElement).naturalWidth === 96);
    await page.waitForFunction(() => {
      const scroller = document.getElementById('scroller')!;
      return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= 2;
    });
    const position = await logPosition(page);
    expect(position.lastVisible).toBe(true);
    const img = await page.$eval('#log img.gif', (node) => node.getBoundingClientRect().height);
    expect(img).toBe(96);
    // Still following: the next message is in view too.
    await bob.client.request('message', { room: room.id, text: 'after the gif' });
    await page.waitForSelector('#log li:last-child:has-text("after the gif")');
    await page.waitForFunction(() => {
      const scroller = document.getElementById('scroller')!;
      return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= 2;
    });
    expect(await page.isVisible('#jump')).toBe(false);
  });

  test('a GIF with width and height: its box is reserved before it loads, and nothing moves when it does', async () => {
    const s = await startServer();
    const bob = await member(s, 'Bob');
    const room = await roomWith(s, bob.client, 40);
    const page = await newPage();
    // The server side of width/height lands separately: until then, the test adds them to the push.
    await page.routeWebSocket(/.*/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => server.send(m));
      server.onMessage((m) => {
        const frame = JSON.parse(String(m));
        if (frame.event === 'message' && frame.data?.gif) Object.assign(frame.data, { width: 96, height: 48 });
        ws.send(JSON.stringify(frame));
      });
    });
    const release = await holdGifs(page);
    await openRoom(page, s, room.id);
    await upload(s, bob.cookie, room.id, makeGif(96));
    await page.waitForSelector('#log a.gif-open[style*="aspect-ratio"]');
    await page.waitForFunction(() => {
      const scroller = document.getElementById('scroller')!;
      return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= 2;
    });
    const before = await page.$eval('#log a.gif-open', (a) => {
      const r = a.getBoundingClientRect();
      return { width: r.width, height: r.height, loaded: (a.querySelector('img') as HTMLImageElement).complete };
    });
    expect(before).toEqual({ width: 96, height: 48, loaded: false });
    expect((await logPosition(page)).lastVisible).toBe(true);
    release();
    await page.waitForFunction(() => (document.querySelector('#log img.gif') as HTMLImageElement).naturalWidth === 96);
    const after = await page.$eval('#log a.gif-open', (a) => ({ width: a.getBoundingClientRect().width, height: a.getBoundingClientRect().height }));
    expect(after).toEqual({ width: 96, height: 48 });
    expect((await logPosition(page)).fromEnd).toBeLessThanOrEqual(2);
  });

  test('scrolled up, new messages do not move the log; a button counts them and jumps down; a GIF opens large', async () => {
    const s = await startServer();
    const bob = await member(s, 'Bob');
    const room = await roomWith(s, bob.client, 40);
    await upload(s, bob.cookie, room.id, makeGif(96));
    const page = await newPage();
    await openRoom(page, s, room.id);
    await page.waitForFunction(() => (document.querySelector('#log img.gif') as HTMLImageElement)?.complete);

    // A GIF opens large, and closes with Esc.
    await page.click('#log a.gif-open');
    await page.waitForSelector('#viewer[open]');
    await page.waitForFunction(() => (document.getElementById('viewer-img') as HTMLImageElement).getBoundingClientRect().width > 96);
    await page.keyboard.press('Escape');
    await page.waitForSelector('#viewer:not([open])', { state: 'hidden' });
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('gif-open'); // focus goes back

    await page.evaluate(() => (document.getElementById('scroller')!.scrollTop = 0));
    await page.waitForFunction(() => document.getElementById('scroller')!.scrollTop === 0);
    for (const text of ['one', 'two', 'three']) await bob.client.request('message', { room: room.id, text: `new ${text}` });
    await page.waitForSelector('#log li:has-text("new three")');
    await page.waitForSelector('#jump:has-text("3 new messages")');
    expect((await logPosition(page)).scrollTop).toBe(0);
    await page.click('#jump');
    await page.waitForSelector('#jump', { state: 'hidden' });
    expect((await logPosition(page)).fromEnd).toBeLessThanOrEqual(2);

    // Scrolled up again, the reader's own message takes them down.
    await page.evaluate(() => (document.getElementById('scroller')!.scrollTop = 0));
    await page.fill('#text', 'mine takes me down');
    await page.press('#text', 'Enter');
    await page.waitForSelector('#log li.mine:not(.pending):has-text("mine takes me down")');
    await page.waitForFunction(() => {
      const scroller = document.getElementById('scroller')!;
      return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= 2;
    });
  });
});

describe('2. whispers', () => {
  test('a whisper is a one-off, Esc cancels, the mode is unmistakable; the lobby shows whispers too', async () => {
    const s = await startServer();
    const alice = await newPage();
    const bob = await newPage();
    await bob.goto(s.url);
    await bob.fill('#name-input', 'Bob');
    await bob.click('#name-form button');
    await bob.waitForSelector('#name-message:has-text("Saved")');
    await alice.goto(s.url);
    await alice.click('a[href="/room/new"]');
    await alice.fill('#title', 'Whispers');
    await alice.click('form.stack button[type=submit]');
    await alice.waitForSelector('#log');
    const roomUrl = alice.url();
    await bob.goto(roomUrl);
    await alice.waitForSelector('#members li:has-text("Bob") button[data-action="whisper"]');

    // The mode is on: a banner, the composer tinted, the button says Whisper. Esc turns it off.
    await alice.click('#members li:has-text("Bob") button[data-action="whisper"]');
    expect(await alice.isVisible('#whisper-to:has-text("Whispering to Bob")')).toBe(true);
    expect(await alice.getAttribute('#send-form', 'class')).toContain('whispering');
    expect(await alice.textContent('#send-button')).toBe('Whisper');
    expect(await alice.evaluate(() => document.activeElement?.id)).toBe('text');
    await alice.press('#text', 'Escape');
    expect(await alice.isVisible('#whisper-to')).toBe(false);
    expect(await alice.textContent('#send-button')).toBe('Send');

    // One whisper, then the composer is back to the room.
    await alice.click('#members li:has-text("Bob") button[data-action="whisper"]');
    await alice.fill('#text', 'psst, just us');
    await alice.press('#text', 'Enter');
    await bob.waitForSelector('#log li.whisper:has-text("psst, just us")');
    await alice.waitForSelector('#log li.whisper:has-text("psst, just us")');
    // Her copy names whom it went to (own messages hide her name; this is Bob's).
    expect(await alice.$eval('#log li.whisper.mine .who', (w) => [w.textContent, w.getBoundingClientRect().width > 10])).toEqual(['Bob', true]);
    expect(await alice.isVisible('#whisper-to')).toBe(false);
    expect(await alice.textContent('#send-button')).toBe('Send');
    await alice.fill('#text', 'for everyone');
    await alice.press('#text', 'Enter');
    await bob.waitForSelector('#log li.message:has-text("for everyone")');
    expect(await bob.$('#log li.whisper:has-text("for everyone")')).toBeNull();

    // Bob in the lobby still gets whispers (he is still listed in the room for its grace period).
    await bob.goto(s.url);
    await bob.waitForSelector('#conn-state[data-state="online"]');
    await alice.click('#members li:has-text("Bob") button[data-action="whisper"]');
    await alice.fill('#text', 'are you in the lobby?');
    await alice.press('#text', 'Enter');
    await bob.waitForSelector('#whispers li.whisper:has-text("are you in the lobby?")');
    expect(await bob.textContent('#whispers li.whisper')).toContain('Whisper from');
  });
});

describe('3. sending fast', () => {
  test('the client paces itself by welcome.limits: a burst of messages all arrive, none refused', async () => {
    const s = await startServer({ ratePerSec: 4, rateBurst: 4 });
    const bob = await member(s, 'Bob');
    const room = await roomWith(s, bob.client, 0);
    const page = await newPage();
    await openRoom(page, s, room.id);
    const count = 20;
    await page.evaluate((n) => {
      const input = document.getElementById('text') as HTMLTextAreaElement;
      const form = document.getElementById('send-form') as HTMLFormElement;
      for (let i = 1; i <= n; i++) {
        input.value = `fast ${i}`;
        form.requestSubmit();
      }
    }, count);
    await page.waitForFunction((n) => document.querySelectorAll('#log li.mine:not(.pending):not(.failed)').length === n, count, { timeout: 60_000 });
    expect(await page.$$('#log li.failed')).toEqual([]);
    const texts = await page.$$eval('#log li.mine .text', (items) => items.map((li) => li.textContent));
    expect(texts).toEqual(Array.from({ length: count }, (_, i) => `fast ${i + 1}`));
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).not.toMatch(/gifchat_errors_total\{code="rate_limited"\} [1-9]/);
  });

  test('a message that really failed says so plainly, with Retry and Dismiss; errors clear on the next success', async () => {
    const s = await startServer();
    const bob = await member(s, 'Bob');
    const room = await roomWith(s, bob.client, 0);
    const page = await newPage();
    await openRoom(page, s, room.id);
    // Too long for the server (the textarea's maxlength is bypassed on purpose).
    await page.evaluate(() => {
      (document.getElementById('text') as HTMLTextAreaElement).value = 'x'.repeat(4001);
      (document.getElementById('send-form') as HTMLFormElement).requestSubmit();
    });
    await page.waitForSelector('#log li.failed:has-text("Not sent. The server did not accept this message (too long?)")');
    expect(await page.isVisible('#log li.failed button[data-action="retry"]')).toBe(true);
    await page.click('#log li.failed button[data-action="dismiss"]');
    await page.waitForSelector('#log li.failed', { state: 'detached' });

    // A refused upload leaves a message under the composer; the next success clears it.
    await page.setInputFiles('#gif-input', { name: 'x.png', mimeType: 'image/png', buffer: Buffer.from('89504e470d0a1a0a', 'hex') });
    await page.waitForSelector('#send-message:has-text("not a GIF")');
    await page.fill('#text', 'this one goes');
    await page.press('#text', 'Enter');
    await page.waitForSelector('#log li.mine:not(.pending):has-text("this one goes")');
    await page.waitForFunction(() => document.getElementById('send-message')!.textContent === '');
  });
});

/** Tabs through the page; for each control that takes focus, whether a focus ring shows (on it, or on the GIF button for its input). */
async function focusRings(page: Page, steps: number): Promise<{ id: string; ring: boolean }[]> {
  const seen: { id: string; ring: boolean }[] = [];
  for (let i = 0; i < steps; i++) {
    await page.keyboard.press('Tab');
    seen.push(
      await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        // Past the last control focus leaves the page (and comes back from the top).
        if (!el.matches('a[href], button, input, textarea, select, summary, [tabindex]')) return { id: 'outside', ring: true };
        const shown = (node: Element) => {
          const style = getComputedStyle(node);
          return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
        };
        const label = el.id ? document.querySelector(`label[for="${el.id}"].button`) : null;
        const row = el.closest('.rooms li');
        const ring = shown(el) || (label !== null && shown(label)) || (row !== null && shown(row));
        return { id: el.id || el.getAttribute('data-action') || el.textContent?.trim().slice(0, 20) || el.tagName, ring };
      }),
    );
  }
  return seen.filter((s) => s.id !== 'outside');
}

describe('4. focus and keyboard', () => {
  test('the composer has focus on entry and after sending (also by clicking Send); every control shows focus', async () => {
    const s = await startServer();
    const bob = await member(s, 'Bob');
    const room = await roomWith(s, bob.client, 3);
    const page = await newPage();
    await openRoom(page, s, room.id);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('text');
    await page.fill('#text', 'sent with the button');
    await page.click('#send-button');
    await page.waitForSelector('#log li.mine:has-text("sent with the button")');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('text');

    await page.focus('.brand');
    const rings = await focusRings(page, 10);
    expect(rings.map((r) => r.id)).toEqual(expect.arrayContaining(['text', 'gif-input', 'send-button', 'whisper']));
    expect(rings.filter((r) => !r.ring)).toEqual([]);

    // The lobby and the new-room form too; the form starts on its first field.
    await page.goto(s.url);
    await page.waitForSelector('#room-filter:not([hidden])');
    await page.focus('.brand');
    const lobbyRings = await focusRings(page, 5);
    expect(lobbyRings.map((r) => r.id)).toEqual(['name-input', 'Save', 'room-filter', 'Create a room', 'Talk']);
    expect(lobbyRings.filter((r) => !r.ring)).toEqual([]);
    await page.goto(`${s.url}/room/new`);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('title');
  });
});

describe('6. time and grouping', () => {
  test('day separators, local times, runs of one person, safe clickable links', async () => {
    const s = await startServer();
    const bob = await member(s, 'Bob');
    const cy = await member(s, 'Cy');
    const room = await bob.client.request('create', { title: 'Days' });
    // History from two days ago, written straight to the store (the server sets ts itself).
    const twoDaysAgo = Date.now() - 2 * 24 * 3600_000;
    await s.app.store.append([
      { entry: { room: room.id, user: bob.client.user, text: 'old one', ts: twoDaysAgo } },
      { entry: { room: room.id, user: bob.client.user, text: 'old two', ts: twoDaysAgo + 60_000 } },
    ]);
    await bob.client.request('join', { room: room.id });
    await cy.client.request('join', { room: room.id });
    await bob.client.request('message', { room: room.id, text: 'first of a run' });
    await bob.client.request('message', { room: room.id, text: 'second of the run, see https://example.com/a_(b). and javascript:alert(1)' });
    await cy.client.request('message', { room: room.id, text: 'someone else' });
    const page = await newPage({ viewport: DESKTOP, timezoneId: 'Pacific/Auckland', locale: 'en-US' });
    await openRoom(page, s, room.id);
    await cy.client.request('message', { room: room.id, text: 'live, after the page' });
    await cy.client.request('message', { room: room.id, text: 'live again' });
    await page.waitForSelector('#log li:has-text("live again")');

    const days = await page.$$eval('#log li.day', (items) => items.map((li) => li.textContent));
    expect(days).toHaveLength(2);
    expect(days[1]).toBe('Today');
    const texts = await page.$$eval('#log li', (items) => items.map((li) => (li.classList.contains('day') ? `[${li.textContent}]` : li.querySelector('.text')?.textContent ?? 'system')));
    expect(texts.indexOf('[Today]')).toBeGreaterThan(texts.indexOf('old two'));
    expect(texts.indexOf('[Today]')).toBeLessThan(texts.indexOf('first of a run'));

    // Runs: the second message of a person's run shows no name; another person's does.
    const cont = (text: string) => page.$eval(`#log li.message:has-text("${text}")`, (li) => li.classList.contains('cont'));
    expect(await cont('old two')).toBe(true);
    expect(await cont('first of a run')).toBe(false);
    expect(await cont('second of the run')).toBe(true);
    expect(await cont('someone else')).toBe(false);
    expect(await cont('live, after the page')).toBe(false); // the reader's own arrival came between
    expect(await cont('live again')).toBe(true);
    const header = (text: string) => page.$eval(`#log li.message:has-text("${text}") .meta`, (m) => m.getBoundingClientRect().height);
    expect(await header('second of the run')).toBeLessThanOrEqual(1); // kept for screen readers, not shown
    expect(await header('first of a run')).toBeGreaterThan(10);

    // Times are the reader's own (Auckland here), not UTC.
    const shown = await page.$eval('#log li.message:has-text("first of a run") time', (t) => ({ text: t.textContent, iso: t.getAttribute('datetime') }));
    expect(shown.text).not.toContain('UTC');
    const expected = new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit', timeZone: 'Pacific/Auckland' }).format(Date.parse(shown.iso!));
    expect(shown.text).toBe(expected);

    // Links: http(s) only, safe.
    const links = await page.$$eval('#log li.message:has-text("second of the run") a', (as) => as.map((a) => ({ href: a.getAttribute('href'), rel: a.getAttribute('rel'), text: a.textContent })));
    expect(links).toEqual([{ href: 'https://example.com/a_(b)', rel: 'noopener noreferrer nofollow', text: 'https://example.com/a_(b)' }]);
  });
});

describe('7. refused visitors', () => {
  test('a full room shows its page, says when a place is free, and lets them in then; a kicked member loses the room at once', async () => {
    const s = await startServer();
    const ann = await member(s, 'Ann');
    const bob = await member(s, 'Bob');
    const room = await roomWith(s, ann.client, 2, 'Pair', 2);
    await bob.client.request('join', { room: room.id });
    const page = await newPage();
    await page.goto(`${s.url}/room/${room.id}`);
    await page.waitForSelector('#notice:has-text("This room is full")');
    expect(await page.$('#log')).toBeNull();
    expect(await page.$('#members')).toBeNull();
    await page.waitForSelector('#conn-state[data-state="online"]');
    await bob.client.request('leave', { room: room.id });
    await page.waitForSelector('#notice-free:has-text("A place is free")');
    await page.click('#try-again');
    await page.waitForSelector('#log li:has-text("line 2")');

    // The owner kicks the visitor: the log and members go, a notice says why.
    const visitor = await page.evaluate(() => document.getElementById('room')!.dataset.userId!);
    await page.waitForSelector(`#conn-state[data-state="online"]`);
    await ann.client.request('kick', { room: room.id, user: visitor });
    await page.waitForSelector('#notice:has-text("You were removed from this room")');
    expect(await page.$$('#log li')).toEqual([]);
    expect(await page.$$('#members li')).toEqual([]);
    expect(await page.isVisible('#chat')).toBe(false);
    expect(await page.isVisible('#send-form')).toBe(false);
    await page.reload();
    await page.waitForSelector('#notice:has-text("removed from this room by its owner")');
    expect(await page.$('#log')).toBeNull();
  });
});

describe('8. phones', () => {
  test('Enter makes a new line and Send sends; the member list folds; tap targets are big enough', async () => {
    const s = await startServer();
    const bob = await member(s, 'Bob');
    const room = await roomWith(s, bob.client, 30);
    const page = await newPage(PHONE);
    await openRoom(page, s, room.id);
    expect(await page.evaluate(() => (document.getElementById('members-box') as HTMLDetailsElement).open)).toBe(false);
    expect(await page.isVisible('#members li')).toBe(false);
    await page.fill('#text', 'two');
    await page.press('#text', 'Enter');
    await page.type('#text', 'lines');
    expect(await page.inputValue('#text')).toBe('two\nlines');
    expect(await page.$$('#log li.pending')).toEqual([]);
    await page.tap('#send-button');
    await page.waitForSelector('#log li.mine:not(.pending):has-text("lines")');
    expect(await page.$eval('#log li.mine .text', (p) => p.textContent)).toBe('two\nlines');

    await page.screenshot({ path: path.join(artifacts, 'ui-phone-room.png') });
    await page.tap('#members-box summary');
    await page.waitForSelector('#members li:has-text("Bob") button[data-action="whisper"]');
    // The list opening shrinks the log: a reader at the bottom stays there.
    await page.waitForFunction(() => {
      const scroller = document.getElementById('scroller')!;
      return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= 2;
    });
    const sizes = await page.evaluate(() => {
      const size = (sel: string) => Array.from(document.querySelectorAll(sel)).map((n) => n.getBoundingClientRect()).map((r) => Math.min(r.width, r.height));
      return { tools: size('#members button'), primary: [...size('#send-button'), ...size('.gif-button')], summary: size('#members-box summary'), text: size('#text') };
    });
    for (const s of sizes.tools) expect(s).toBeGreaterThanOrEqual(24);
    for (const s of [...sizes.primary, ...sizes.summary, ...sizes.text]) expect(s).toBeGreaterThanOrEqual(44);
    await page.screenshot({ path: path.join(artifacts, 'ui-phone-members.png') });

    const lobby = await newPage(PHONE);
    await lobby.goto(s.url);
    await lobby.waitForSelector('#room-filter:not([hidden])');
    await lobby.screenshot({ path: path.join(artifacts, 'ui-phone-lobby.png') });
  });

  test('on a desktop, Enter sends and Shift+Enter makes a new line; the member list is open', async () => {
    const s = await startServer();
    const bob = await member(s, 'Bob');
    const room = await roomWith(s, bob.client, 1);
    const page = await newPage();
    await openRoom(page, s, room.id);
    expect(await page.evaluate(() => (document.getElementById('members-box') as HTMLDetailsElement).open)).toBe(true);
    await page.type('#text', 'a');
    await page.keyboard.press('Shift+Enter');
    await page.type('#text', 'b');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#log li.mine:not(.pending)');
    expect(await page.$eval('#log li.mine .text', (p) => p.textContent)).toBe('a\nb');
  });
});

describe('9. without JavaScript', () => {
  test('the composer is disabled and says why; the room can still be read', async () => {
    const s = await startServer();
    const bob = await member(s, 'Bob');
    const room = await roomWith(s, bob.client, 2);
    const page = await newPage({ viewport: DESKTOP, javaScriptEnabled: false });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
    await page.goto(`${s.url}/room/${room.id}`);
    expect(await page.isDisabled('#text')).toBe(true);
    expect(await page.isDisabled('#send-button')).toBe(true);
    // Says why (in <noscript>: a browser without scripts shows it; Chromium's script switch of the
    // test only stops scripts, so the words are checked in the page rather than on screen).
    expect(await page.$eval('noscript', (n) => n.textContent)).toContain('Sending needs JavaScript');
    expect(await page.isVisible('#log li:has-text("line 2")')).toBe(true);
    await page.click('#send-button', { force: true }).catch(() => {});
    expect(page.url()).toBe(`${s.url}/room/${room.id}`);
    expect(requests.filter((r) => r.includes('text='))).toEqual([]);
  });
});

describe('11. identity across reconnects', () => {
  test('the server no longer knows the page\'s person after a reconnect: nothing is sent as someone else; the page comes back as the new person with the unsent text in the box', async () => {
    const s = await startServer();
    const { client: owner } = await member(s, 'Owner');
    const room = await roomWith(s, owner, 0, 'Who am I');
    const page = await newPage();
    await openRoom(page, s, room.id);
    const before = await page.evaluate(() => document.getElementById('room')!.dataset.userId!);
    // The session is lost on the server (gone from the store); the page's socket drops.
    const cookies = await page.context().cookies();
    const sid = decodeURIComponent(cookies.find((c) => c.name === 'gifchat.sid')!.value).slice(2).split('.')[0];
    await s.app.store.destroySession(sid);
    await page.fill('#text', 'typed while the server forgot me');
    for (const conn of s.app.hub.connections) if (conn.user.info.id === before) conn.ws.terminate();
    // The page reloads as the person the server now says this is.
    await page.waitForFunction((old) => document.getElementById('room')?.dataset.userId !== old, before, { timeout: 20_000 });
    await page.waitForSelector('#conn-state[data-state="online"]');
    const after = await page.evaluate(() => document.getElementById('room')!.dataset.userId!);
    expect(after).not.toBe(before);
    expect(await page.inputValue('#text')).toBe('typed while the server forgot me');
    expect(await page.textContent('#send-message')).toMatch(/did not recognise you/);
    // Nothing was posted under either identity.
    const history = await owner.request('history', { room: room.id });
    expect(history.filter((e: any) => e.text)).toEqual([]);
  });
});

describe('10. the lobby', () => {
  test('a page of rooms at a time: "More rooms" loads the next; a rename of the owner of many rooms refetches the list', async () => {
    const s = await startServer();
    const ann = await member(s, 'Ann');
    const now = Date.now();
    for (let i = 0; i < 250; i++) {
      await s.app.store.createRoom({ id: `r_${String(i).padStart(3, '0')}`, title: `Room ${i}`, max: 10, passwordHash: null, owner: ann.client.user, createdAt: now + i });
    }
    const page = await newPage();
    await page.goto(s.url);
    await page.waitForSelector('#room-filter:not([hidden])');
    const count = () => page.$$eval('#rooms li', (lis) => lis.length);
    expect(await count()).toBe(100);
    expect(await page.textContent('#rooms li .title')).toBe('Room 249'); // newest activity first
    await page.click('#more-rooms');
    await page.waitForFunction(() => document.querySelectorAll('#rooms li').length === 200);
    await page.click('#more-rooms');
    await page.waitForFunction(() => document.querySelectorAll('#rooms li').length === 250);
    expect(await page.isHidden('#more-rooms')).toBe(true);
    // Ann owns 250 rooms and renames: one roomsChanged, and the lobby refetches its first page.
    await ann.client.request('register', { name: 'Annabel' });
    await page.waitForFunction(() => document.querySelector('#rooms li .meta')?.textContent?.includes('Annabel'));
    expect(await count()).toBe(100);
    expect(await page.isVisible('#more-rooms')).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  test('full and locked at a glance, live; most recently active first; a filter box; screenshots', async () => {
    const s = await startServer();
    const ann = await member(s, 'Ann');
    const bob = await member(s, 'Bob');
    const locked = await ann.client.request('create', { title: 'Secret garden', password: 'pw' });
    const pair = await roomWith(s, ann.client, 1, 'Pair', 2);
    await roomWith(s, bob.client, 0, 'Quiet corner', 50);
    const page = await newPage();
    await page.goto(s.url);
    await page.waitForSelector('#room-filter:not([hidden])');
    const order = () => page.$$eval('#rooms li .title', (as) => as.map((a) => a.textContent));
    // Most recently active first: the room Bob just joined is on top.
    expect(await order()).toEqual(['Quiet corner', 'Pair', 'Secret garden']);
    expect(await page.textContent(`#rooms li[data-room-id="${locked.id}"] .badge.lock`)).toBe('Password');
    expect(await page.$(`#rooms li[data-room-id="${locked.id}"] a .badge`)).toBeNull();

    // The pair fills up: the lobby shows it full, live (and a keyboard user's focus stays put).
    await page.focus(`#rooms li[data-room-id="${locked.id}"] a`);
    await bob.client.request('join', { room: pair.id });
    await page.waitForSelector(`#rooms li.full[data-room-id="${pair.id}"] .badge.full:has-text("Full")`);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Secret garden');
    expect(await page.textContent(`#rooms li[data-room-id="${pair.id}"] .count strong`)).toBe('2 / 2');
    expect((await order())[0]).toBe('Pair');

    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.screenshot({ path: path.join(artifacts, 'ui-lobby.png') });

    await page.fill('#room-filter', 'secret');
    expect(await order()).toEqual(['Secret garden']);
    await page.fill('#room-filter', 'bob');
    expect(await order()).toEqual(['Quiet corner']);
    await page.fill('#room-filter', 'nothing like it');
    expect(await order()).toEqual([]);
    expect(await page.isVisible('#no-match')).toBe(true);
    await page.fill('#room-filter', '');
    expect(await order()).toHaveLength(3);

    // A room screenshot, desktop size, with a link, a GIF, a run, a whisper and whisper mode on.
    const quiet = await newPage();
    await quiet.goto(s.url);
    await quiet.click('#rooms li:has-text("Quiet corner") a');
    await quiet.waitForSelector('#conn-state[data-state="online"]');
    await quiet.waitForSelector('#members li:has-text("Bob")');
    const quietId = (await quiet.getAttribute('#room', 'data-room-id'))!;
    await bob.client.request('message', { room: quietId, text: 'Welcome! Links work: https://example.com/cats' });
    await upload(s, bob.cookie, quietId, makeGif(96));
    await bob.client.request('message', { room: quietId, text: 'and GIFs, of course' });
    await quiet.waitForFunction(() => (document.querySelector('#log img.gif') as HTMLImageElement | null)?.complete === true);
    await quiet.fill('#text', 'Thanks, nice room');
    await quiet.press('#text', 'Enter');
    await quiet.waitForSelector('#log li.mine:not(.pending)');
    await quiet.click('#members li:has-text("Bob") button[data-action="whisper"]');
    await quiet.fill('#text', 'psst, Bob');
    await quiet.press('#text', 'Enter');
    await quiet.waitForSelector('#log li.whisper');
    await quiet.click('#members li:has-text("Bob") button[data-action="whisper"]');
    await quiet.fill('#text', 'another whisper, for Bob only');
    await quiet.screenshot({ path: path.join(artifacts, 'ui-room.png') });
  });
});
