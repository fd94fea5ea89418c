/**
 * The Mute button of the room page in real Chromium: beside a member, it stops their
 * whispers reaching the page; Unmute brings them back.
 */
import { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser';
import { TestClient } from '../helpers/client';
import { browserSession, startServer } from '../helpers/server';

jest.setTimeout(90_000);

let browser: Browser;
const contexts: BrowserContext[] = [];
let pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
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

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  return page;
}

test('Mute beside a member hides their whispers from the page, still after a reload; Unmute shows them again', async () => {
  const s = await startServer();
  const named = async (name: string) => {
    const client = await TestClient.connect(s.wsUrl, { headers: { cookie: (await browserSession(s.url)).cookie } });
    await client.request('register', { name });
    return client;
  };
  const bob = await named('Bob');
  const carol = await named('Carol');
  const room = await carol.request('create', { title: 'Talk' });
  await carol.request('join', { room: room.id });
  await bob.request('join', { room: room.id });
  const page = await newPage();
  await page.goto(`${s.url}/room/${room.id}`);
  await page.waitForSelector('#conn-state[data-state="online"]');
  const me = await page.evaluate(() => document.getElementById('room')!.dataset.userId!);

  await page.click('#members li:has-text("Bob") button[data-action="mute"]');
  await page.waitForSelector('#members li:has-text("Bob") button[data-action="unmute"]');
  await bob.request('whisper', { to: me, text: 'from a pest' });
  await carol.request('whisper', { to: me, text: 'from a friend' });
  await page.waitForSelector('#log li.whisper:has-text("from a friend")');
  expect(await page.$('#log li.whisper:has-text("from a pest")')).toBeNull();

  // A reload keeps it: the server keeps the mutes with the session and says them in `welcome`.
  await page.reload();
  await page.waitForSelector('#conn-state[data-state="online"]');
  await page.waitForSelector('#members li:has-text("Bob") button[data-action="unmute"]');

  await page.click('#members li:has-text("Bob") button[data-action="unmute"]');
  await page.waitForSelector('#members li:has-text("Bob") button[data-action="mute"]');
  await bob.request('whisper', { to: me, text: 'welcome back' });
  await page.waitForSelector('#log li.whisper:has-text("welcome back")');
});
