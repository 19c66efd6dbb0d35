// Flow B in the browser: a customer on the CX emulator's own widget page (Chatwoot's widget
// behaviour) talks to the bot `botrun dev` serves as the inbox's agent bot, and clicks one of the
// bot's buttons. As in Chatwoot, the click updates the bot's message (`message_updated` with
// `submitted_values`) instead of writing one — and the bot must still take it as the pick.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { SHOTS, devAndBrowserForThisFile } from './harness.mjs';

let dev;
let browser;
devAndBrowserForThisFile((d, b) => { dev = d; browser = b; });

const BOT_LINE = '#chat-log .message[data-kind="bot"] .content';

test('a customer on the CX widget clicks a bot button and the bot answers the pick once', async () => {
  const page = await browser.newPage({ viewport: { width: 480, height: 760 } });
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${dev.consoleUrl}/customer`);
  await page.locator('#customer-name').fill('Ada');
  await page.locator('#start-chat').click();
  await page.locator('#chat-input').waitFor({ state: 'visible' });
  await page.waitForFunction(() => !document.getElementById('chat-input').disabled);
  const conversation = Number(await page.locator('#conversation-id').textContent());
  assert.ok(conversation > 0);

  // CX's widget creates a bot conversation on the first message: the bot greets then.
  await page.locator('#chat-input').fill('hello');
  await page.locator('#chat-send').click();
  await page.locator(BOT_LINE, { hasText: 'the Acme help centre bot' }).first().waitFor({ timeout: 20000 });
  const offer = page.locator('#chat-log .message[data-kind="bot"]', { has: page.locator('button.choice') }).first();
  await offer.locator('button.choice', { hasText: 'Plans and prices' }).click();

  await page.locator(BOT_LINE, { hasText: 'Basic is 19 €' }).first().waitFor({ timeout: 20000 });
  await page.locator('button.choice--submitted', { hasText: 'Plans and prices' }).waitFor({ timeout: 10000 });
  assert.equal(await offer.locator('button.choice:not([disabled])').count(), 0, 'an answered offer takes no other pick');
  await page.screenshot({ path: join(SHOTS, 'customer-button-pick.png') });

  // The pick wrote no customer message, and the bot answered it exactly once.
  await new Promise((ok) => setTimeout(ok, 1500));
  const response = await fetch(`${dev.cxRoot}/_control/conversations/${conversation}`);
  const { messages } = await response.json();
  const customer = messages.filter((m) => m.message_type === 'incoming').map((m) => m.content);
  assert.deepEqual(customer, ['hello']);
  const answers = messages.filter((m) => m.message_type === 'outgoing' && m.content.startsWith('Basic is 19 €'));
  assert.equal(answers.length, 1, JSON.stringify(messages.map((m) => m.content)));
  assert.deepEqual(errors, []);
});
