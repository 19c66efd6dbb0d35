// The paperclip in Chromium: with uploads on, a picture sent from Web Chat is stored, shown on
// the page and mirrored to CX as a link; with uploads off the snippet hides the paperclip.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { INPUT, SEND_FAILED, botSays, cxMessagesUntil, launch, startDev } from './harness.mjs';

// A 1×1 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

let browser;
let folder;

before(async () => {
  browser = await launch();
  folder = mkdtempSync(join(tmpdir(), 'botrun-upload-'));
});

after(async () => {
  await browser?.close();
  rmSync(folder, { recursive: true, force: true });
});

test('a picture sent with the paperclip is stored, shown as its link and mirrored to CX', async () => {
  const dev = await startDev('bots/faq.bot');
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('console', (m) => { if (['error', 'warning'].includes(m.type())) problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(dev.pageUrl('websocket'));
    await botSays(page, 'the Acme help centre bot');
    const file = join(folder, 'screenshot.png');
    writeFileSync(file, PNG);
    // Web Chat 4.18 stages the file in the send box; Enter sends it.
    await page.locator('input[type="file"]').setInputFiles(file);
    // Staging is a React state update: Enter before the paperclip shows it checked sends nothing.
    await page.locator('.webchat__attachment-icon--checked').waitFor({ timeout: 5000 });
    await page.locator(INPUT).press('Enter');
    const shown = page.locator('.webchat__bubble--from-user a[href*="/v3/directline/files/"]');
    await shown.first().waitFor({ timeout: 15000 });
    const src = await shown.first().getAttribute('href');
    assert.match(src, /\/v3\/directline\/files\/[0-9a-f]{32}\/screenshot\.png$/);
    const served = await fetch(src);
    assert.equal(served.status, 200);
    assert.deepEqual(Buffer.from(await served.arrayBuffer()), PNG);
    const messages = await cxMessagesUntil(dev, (all) => all.some((m) => m.content?.includes('screenshot.png')));
    assert.ok(messages.some((m) => m.message_type === 'incoming' && m.content.includes(`📎 screenshot.png: ${src}`)));
    await page.waitForTimeout(500);
    assert.equal(await page.locator(SEND_FAILED).count(), 0);
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await dev.stop();
  }
});

test('with uploads off the paperclip is hidden', async () => {
  const dev = await startDev('bots/faq.bot', { args: ['--no-uploads'] });
  try {
    const page = await browser.newPage();
    await page.goto(dev.pageUrl('polling'));
    await botSays(page, 'the Acme help centre bot');
    assert.equal(await page.locator('.webchat__upload-button').count(), 0);
    assert.equal(await page.evaluate(() => window.BotrunChat.server.uploads), false);
    await page.close();
  } finally {
    await dev.stop();
  }
});
