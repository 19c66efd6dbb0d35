// Web Chat 4.18.1 in Chromium against `botrun dev bots/faq.bot`: the page is served from
// `localhost` while Direct Line is on `127.0.0.1`, so every call goes through CORS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SEND_FAILED, USER_TEXT, botSays, launch, send, startDev } from './harness.mjs';

let dev;
let browser;

before(async () => {
  dev = await startDev('bots/faq.bot');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await dev?.stop();
});

for (const mode of ['websocket', 'polling']) {
  describe(`${mode} mode`, () => {
    test('greeting, an answered question, a suggested action and a handoff', async () => {
      const page = await browser.newPage();
      const errors = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (m) => { if (['error', 'warning'].includes(m.type())) errors.push(`${m.type()}: ${m.text()}`); });
      await page.goto(dev.pageUrl(mode));
      await botSays(page, 'the Acme help centre bot');
      const actions = page.getByRole('toolbar', { name: 'Suggested actions' });
      await actions.getByRole('button', { name: 'Delivery' }).waitFor({ timeout: 10000 });

      await send(page, 'how long does delivery take');
      await botSays(page, 'Deliveries take 2–4 working days within the EU.');

      await send(page, 'help');
      await botSays(page, 'I know about opening hours');
      await page.getByRole('toolbar', { name: 'Suggested actions' })
        .getByRole('button', { name: 'Plans and prices' }).click();
      await page.locator('.webchat__bubble--from-user .webchat__bubble__content', { hasText: 'Plans and prices' })
        .first().waitFor({ timeout: 10000 });
      await botSays(page, 'Basic is 19 €, Plus 29 € and Premium 45 € per month.');

      await send(page, 'talk to a person');
      await page.waitForFunction(() => document.getElementById('status').dataset.state === 'waiting for a person',
        null, { timeout: 10000 });

      // Every message the customer sent is confirmed by its echo: Web Chat shows a message as
      // "Sending" until the echo comes and "Send failed" 20 s later without one, so waiting
      // (with a deadline shorter than those 20 s) for no message left in that state fails on a
      // lost echo, where a fixed pause would pass.
      await page.waitForFunction((selector) => document.querySelectorAll(selector).length === 0,
        SEND_FAILED, { timeout: 15000 });
      assert.equal(await page.locator(USER_TEXT).count(), 4, 'four customer messages are shown');
      assert.equal(await page.getByText('Send failed').count(), 0);
      assert.deepEqual(errors, []);
      await page.close();
    });
  });
}

test('a dropped WebSocket reconnects and replays what it missed', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (m) => { if (['error', 'warning'].includes(m.type())) errors.push(`${m.type()}: ${m.text()}`); });
  // Sit between the page and botrun's stream so the test can cut the connection.
  const sockets = [];
  await page.routeWebSocket(/\/stream/, (ws) => {
    ws.connectToServer();
    sockets.push(ws);
  });
  await page.goto(dev.pageUrl('websocket'));
  await botSays(page, 'the Acme help centre bot');
  assert.ok(sockets.length >= 1, 'the page opened a stream');
  await sockets[sockets.length - 1].close({ code: 4000, reason: 'dropped by the test' });
  await send(page, 'what are your opening hours');
  await botSays(page, 'Monday to Friday', 45000);
  assert.ok(sockets.length >= 2, 'the client reconnected with a new stream');
  assert.equal(await page.locator(SEND_FAILED).count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});
