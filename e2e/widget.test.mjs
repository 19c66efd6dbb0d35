// Web Chat 4.18.1 in Chromium against `botrun dev bots/faq.bot`: the page is served from
// `localhost` while Direct Line is on `127.0.0.1`, so every call goes through CORS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BOT_TEXT, SEND_FAILED, botSays, launch, send, startDev } from './harness.mjs';

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
      await page.goto(dev.pageUrl(mode));
      await botSays(page, 'the Acme help centre bot');
      const actions = page.getByRole('toolbar', { name: 'Suggested actions' });
      await actions.getByRole('button', { name: 'Delivery' }).waitFor({ timeout: 10000 });

      await send(page, 'how long does delivery take');
      await botSays(page, 'Deliveries take 2–4 working days within the EU.');

      await send(page, 'help');
      await botSays(page, 'I know about opening hours');
      // Count before clicking: over the WebSocket the reply can land before a later count.
      const before = await page.locator(BOT_TEXT).count();
      await page.getByRole('toolbar', { name: 'Suggested actions' })
        .getByRole('button', { name: 'Plans and prices' }).click();
      await page.locator('.webchat__bubble--from-user .webchat__bubble__content', { hasText: 'Plans and prices' })
        .first().waitFor({ timeout: 10000 });
      await page.waitForFunction(
        ([selector, count]) => document.querySelectorAll(selector).length > count,
        [BOT_TEXT, before], { timeout: 10000 });

      await send(page, 'talk to a person');
      await page.waitForFunction(() => document.getElementById('status').dataset.state === 'talking to an agent',
        null, { timeout: 10000 });

      // Give a lost echo time to show "Send failed" (Web Chat waits 20 s): none may appear.
      await page.waitForTimeout(mode === 'polling' ? 1500 : 500);
      assert.equal(await page.locator(SEND_FAILED).count(), 0, 'a message shows as not sent');
      assert.equal(await page.getByText('Send failed').count(), 0);
      assert.deepEqual(errors, []);
      await page.close();
    });
  });
}
