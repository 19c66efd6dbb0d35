// Starts `botrun dev` on a free port and opens pages in Debian's Chromium through playwright-core.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..');
export const BOTRUN = process.env.BOTRUN_BIN
  || join(resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target'), 'debug/botrun');
/** Where the browser tests leave their screenshots. */
export const SHOTS = join(ROOT, 'target/e2e-screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const BOT_TEXT = '.webchat__bubble:not(.webchat__bubble--from-user) .webchat__bubble__content';
export const USER_TEXT = '.webchat__bubble--from-user .webchat__bubble__content';
export const SEND_FAILED = 'span.webchat__activity-status--sending';
export const INPUT = '[data-id="webchat-sendbox-input"]';

export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

/**
 * Runs `botrun dev BOT` until `stop()`; resolves once it listens. `options.port` and
 * `options.data` let a test restart the service in place; `options.args` adds flags.
 */
export async function startDev(bot = 'bots/faq.bot', options = {}) {
  const port = options.port ?? await freePort();
  const data = options.data ?? mkdtempSync(join(tmpdir(), 'botrun-e2e-'));
  const args = ['dev', bot, '--listen', `127.0.0.1:${port}`, '--cx-listen', '127.0.0.1:0', '--data', data,
    ...(options.args ?? [])];
  const child = spawn(BOTRUN, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk) => { output += chunk; });
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`botrun dev did not start:\n${output}`)), 30000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('data:')) { clearTimeout(timer); ok(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`botrun dev exited ${code}:\n${output}`)); });
  });
  const consoleUrl = output.match(/agent console:\s+(\S+)/)[1];
  return {
    port,
    data,
    /** The emulator's agent console, and its root (for the control API). */
    consoleUrl,
    cxRoot: consoleUrl.replace(/\/console$/, ''),
    pageUrl: (mode) =>
      `http://localhost:${port}/?mode=${mode}&domain=${encodeURIComponent(`http://127.0.0.1:${port}/v3/directline`)}`,
    /** Stops the service; `keepData` leaves its data folder for a restart. */
    async stop({ keepData = false } = {}) {
      child.kill('SIGINT');
      await new Promise((ok) => { if (child.exitCode !== null) ok(); else child.on('exit', ok); });
      if (!keepData) rmSync(data, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP relay in front of `target` that a test can cut: `blip(ms)` drops every open connection
 * and refuses new ones for `ms`, as a flaky network or a sleeping laptop does.
 */
export async function startRelay(target) {
  const port = await freePort();
  const open = new Set();
  let server;
  const listen = () => new Promise((ok, fail) => {
    server = createServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      open.add(client); open.add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => { client.destroy(); upstream.destroy(); open.delete(client); open.delete(upstream); };
      client.on('error', drop); upstream.on('error', drop); client.on('close', drop); upstream.on('close', drop);
    });
    server.on('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  const cut = () => new Promise((ok) => {
    for (const socket of open) socket.destroy();
    open.clear();
    server.close(() => ok());
  });
  await listen();
  return {
    port,
    async blip(ms) { await cut(); await new Promise((ok) => setTimeout(ok, ms)); await listen(); },
    async close() { await cut(); },
  };
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}

/** Waits until some bot/agent bubble contains `text`. */
export async function botSays(page, text, timeout = 15000) {
  await page.locator(BOT_TEXT, { hasText: text }).first().waitFor({ timeout });
}

export async function send(page, text) {
  await page.locator(INPUT).fill(text);
  await page.locator(INPUT).press('Enter');
  await page.locator(USER_TEXT, { hasText: text }).first().waitFor({ timeout: 10000 });
}

/** The CX emulator's control API (`/_control/…`) of a running `botrun dev`. */
export async function cxControl(dev, path) {
  const response = await fetch(`${dev.cxRoot}/_control/${path}`);
  if (response.status !== 200) throw new Error(`control ${path}: ${response.status}`);
  return response.json();
}

/** Every message of the Flow A (API inbox) conversations, waiting until `found` accepts them. */
export async function cxMessagesUntil(dev, found, timeout = 15000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const { conversations } = await cxControl(dev, 'conversations');
    const all = [];
    for (const conversation of conversations.filter((c) => c.inbox_id === 1)) {
      const { messages } = await cxControl(dev, `conversations/${conversation.id}`);
      all.push(...messages);
    }
    if (found(all) || Date.now() > deadline) return all;
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/**
 * One `botrun dev` and one browser for the whole test file: started before its first test and
 * stopped after its last; `use(dev, browser)` receives them. The screenshot folder exists.
 */
export function devAndBrowserForThisFile(use, bot = 'bots/faq.bot') {
  let dev;
  let browser;
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dev = await startDev(bot);
    browser = await launch();
    use(dev, browser);
  });
  after(async () => {
    await browser?.close();
    await dev?.stop();
  });
}
