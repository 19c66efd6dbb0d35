// Starts `botrun dev` on a free port and opens pages in Debian's Chromium through playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..');
const BOTRUN = process.env.BOTRUN_BIN || join(ROOT, 'target/debug/botrun');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const BOT_TEXT = '.webchat__bubble:not(.webchat__bubble--from-user) .webchat__bubble__content';
export const USER_TEXT = '.webchat__bubble--from-user .webchat__bubble__content';
export const SEND_FAILED = 'span.webchat__activity-status--sending';
export const INPUT = '[data-id="webchat-sendbox-input"]';

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

/** Runs `botrun dev BOT` until `stop()`; resolves once it listens. */
export async function startDev(bot = 'bots/faq.bot') {
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'botrun-e2e-'));
  const child = spawn(BOTRUN, ['dev', bot, '--listen', `127.0.0.1:${port}`, '--cx-listen', '127.0.0.1:0', '--data', data], {
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
    /** The emulator's agent console, and its root (for the control API). */
    consoleUrl,
    cxRoot: consoleUrl.replace(/\/console$/, ''),
    pageUrl: (mode) =>
      `http://localhost:${port}/?mode=${mode}&domain=${encodeURIComponent(`http://127.0.0.1:${port}/v3/directline`)}`,
    async stop() {
      child.kill('SIGINT');
      await new Promise((ok) => { if (child.exitCode !== null) ok(); else child.on('exit', ok); });
      rmSync(data, { recursive: true, force: true });
    },
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
