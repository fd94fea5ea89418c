import fs from 'node:fs';
import path from 'node:path';
import { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser';
import { makeGif } from '../helpers/gif';
import { startServer, tempDataDir } from '../helpers/server';

jest.setTimeout(90_000);

const artifacts = path.resolve(__dirname, '../../test-artifacts');

/** Texts of the room log, in order, and the seqs of confirmed entries. */
async function logOf(page: Page): Promise<{ texts: string[]; seqs: number[] }> {
  return page.$$eval('#log > li', (items) => ({
    texts: items.map((li) => li.querySelector('.text')?.textContent ?? '').filter(Boolean),
    seqs: items.map((li) => Number((li as HTMLElement).dataset.seq)).filter((n) => n > 0),
  }));
}

describe('the GIF chat in a real browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('two people: password room, chat both ways, GIF, members, typing, whisper, restart without loss, kick', async () => {
    const dataDir = tempDataDir();
    const secret = 'e2e-cookie-secret';
    let server = await startServer({ dataDir, cookieSecret: secret });
    const port = Number(new URL(server.url).port);
    const alice = await (await browser.newContext()).newPage();
    const bob = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    for (const [who, page] of [['alice', alice], ['bob', bob]] as const) {
      page.on('pageerror', (err) => errors.push(`${who}: ${err.message}`));
      // Anything the Content-Security-Policy blocked (a style, a socket) is reported on the console.
      page.on('console', (msg) => {
        if (/Content Security Policy/i.test(msg.text())) errors.push(`${who}: ${msg.text()}`);
      });
      page.on('dialog', (dialog) => void dialog.accept());
    }

    // Bob waits in the lobby under his own name.
    await bob.goto(server.url);
    await bob.fill('#name-input', 'Bob');
    await bob.click('#name-form button');
    await bob.waitForSelector('#name-message:has-text("Saved")');

    // Alice takes Bob's name first: refused by the field; then her own.
    await alice.goto(server.url);
    await alice.waitForSelector('#conn-state[data-state="online"]');
    await alice.fill('#name-input', 'bob');
    await alice.click('#name-form button');
    await alice.waitForSelector('#name-message:has-text("already has that name")');
    await alice.fill('#name-input', 'Alice');
    await alice.click('#name-form button');
    await alice.waitForSelector('#name-message:has-text("Saved")');

    // Alice creates a password room; Bob's lobby shows it live.
    await alice.click('a[href="/room/new"]');
    await alice.fill('#title', 'Cats only');
    await alice.fill('#max', '5');
    await alice.fill('#password', 'meow');
    await alice.click('form.stack button[type=submit]');
    await alice.waitForSelector('#log');
    await bob.waitForSelector('#rooms li:has-text("Cats only")');
    expect(await bob.textContent('#rooms li')).toMatch(/password/i);

    // Bob enters with the password (a wrong one first).
    await bob.click('#rooms li a');
    await bob.fill('#room-password', 'woof');
    await bob.click('#unlock-form button');
    await bob.waitForSelector('#password-error:has-text("Wrong password")');
    await bob.fill('#room-password', 'meow');
    await bob.click('#unlock-form button');
    await bob.waitForSelector('#log');
    expect(bob.url()).not.toContain('meow');

    // Members update live on both sides.
    await alice.waitForSelector('#members li:has-text("Bob")');
    await bob.waitForSelector('#members li:has-text("Alice")');

    // Chat both ways; markup shows as text.
    await alice.fill('#text', 'Hi Bob <img src=x onerror=alert(1)>');
    await alice.press('#text', 'Enter');
    await bob.waitForSelector('#log li:has-text("Hi Bob <img src=x onerror=alert(1)>")');
    expect(await bob.$('#log img[src="x"]')).toBeNull();
    await bob.fill('#text', 'Hello Alice');
    await alice.waitForSelector('#typing:has-text("Bob is typing")');
    await bob.press('#text', 'Enter');
    await alice.waitForSelector('#log li.message:not(.mine):has-text("Hello Alice")');
    await alice.waitForSelector('#log li.mine:has-text("Hi Bob")');

    // A GIF from Alice appears for Bob.
    await alice.setInputFiles('#gif-input', { name: 'stripes.gif', mimeType: 'image/gif', buffer: makeGif(96) });
    const gif = await bob.waitForSelector('#log img.gif');
    expect(await gif.getAttribute('src')).toMatch(/^\/gif\//);
    await bob.waitForFunction(() => (document.querySelector('#log img.gif') as HTMLImageElement)?.naturalWidth === 96);

    // A whisper, shown to the two of them as a whisper.
    await alice.click('#members li:has-text("Bob") button[data-action="whisper"]');
    await alice.fill('#text', 'psst, just us');
    await alice.press('#text', 'Enter');
    await bob.waitForSelector('#log li.whisper:has-text("psst, just us")');
    await alice.waitForSelector('#log li.whisper:has-text("psst, just us")');
    expect(await alice.isVisible('#whisper-to')).toBe(false); // a whisper is a one-off

    fs.mkdirSync(artifacts, { recursive: true });
    await alice.setViewportSize({ width: 1000, height: 760 });
    await alice.screenshot({ path: path.join(artifacts, 'room.png') });

    // The server restarts on the same DATA_DIR. Alice types while it is down; her message waits, then goes once.
    await server.stop();
    await alice.waitForSelector('#conn-state[data-state="offline"], #conn-state[data-state="connecting"]');
    await alice.fill('#text', 'sent while offline');
    await alice.press('#text', 'Enter');
    await alice.waitForSelector('#log li.pending:has-text("sent while offline")');
    server = await startServer({ dataDir, cookieSecret: secret, port });
    await alice.waitForSelector('#conn-state[data-state="online"]', { timeout: 30_000 });
    await bob.waitForSelector('#log li:has-text("sent while offline")', { timeout: 30_000 });
    await alice.waitForSelector('#log li.mine:not(.pending):has-text("sent while offline")');
    await bob.fill('#text', 'back again');
    await bob.press('#text', 'Enter');
    await alice.waitForSelector('#log li:has-text("back again")');

    for (const page of [alice, bob]) {
      const { texts, seqs } = await logOf(page);
      for (const text of ['Hi Bob <img src=x onerror=alert(1)>', 'Hello Alice', 'sent while offline', 'back again']) {
        expect(texts.filter((t) => t === text)).toHaveLength(1);
      }
      expect(seqs).toEqual([...new Set(seqs)].sort((x, y) => x - y));
    }
    // Nothing the server stored is missing from Alice's log since she joined.
    const stored = (await server.app.store.entriesAfter((await alice.getAttribute('#room', 'data-room-id'))!, 0, 1000)).map((e) => e.seq);
    expect((await logOf(alice)).seqs).toEqual(stored);

    // The owner kicks Bob: he is told, and cannot come back.
    await alice.waitForSelector('#members li:has-text("Bob")');
    await alice.click('#members li:has-text("Bob") button[data-action="kick"]');
    await bob.waitForSelector('#notice:has-text("removed from this room")');
    await alice.waitForSelector('#log li.system:has-text("was removed by the owner")');
    await bob.reload();
    await bob.waitForSelector('#notice:has-text("removed from this room")');
    expect(await bob.isVisible('#notice a[href="/"]')).toBe(true);

    expect(errors).toEqual([]);
  });
});
