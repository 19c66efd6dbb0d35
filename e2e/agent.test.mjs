// Flow A in the browser: a customer in Web Chat, a human agent in the CX emulator's agent
// console, and the CX transcript that must hold the whole conversation in order.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { SEND_FAILED, SHOTS, botSays, devAndBrowserForThisFile, send } from './harness.mjs';

let dev;
let browser;
devAndBrowserForThisFile((d, b) => { dev = d; browser = b; });

async function control(path) {
  const response = await fetch(`${dev.cxRoot}/_control/${path}`);
  assert.equal(response.status, 200, `control ${path}`);
  return response.json();
}

/** The Flow A conversations in the emulator (API inbox), oldest first, once there are `count`. */
async function cxConversations(count = 1) {
  for (let tries = 0; ; tries += 1) {
    const { conversations } = await control('conversations');
    const found = conversations.filter((c) => c.inbox_id === 1).sort((a, b) => a.id - b.id);
    if (found.length >= count || tries > 200) return found;
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

/** A CX conversation's messages, once there are `count` of them. */
async function cxMessages(id, count) {
  for (let tries = 0; ; tries += 1) {
    const { messages } = await control(`conversations/${id}`);
    if (messages.length >= count || tries > 200) return messages;
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

async function waitForState(page, state) {
  await page.waitForFunction((want) => document.getElementById('status').dataset.state === want,
    state, { timeout: 15000 });
}

test('an agent answers in the console, finishes, and CX holds the whole transcript', async () => {
  const customer = await browser.newPage({ viewport: { width: 480, height: 760 } });
  const errors = [];
  customer.on('pageerror', (err) => errors.push(err.message));
  customer.on('console', (m) => { if (['error', 'warning'].includes(m.type())) errors.push(`customer ${m.type()}: ${m.text()}`); });
  await customer.goto(`${dev.pageUrl('websocket')}&name=Ada%20Lovelace&email=ada%40example.com`);
  await botSays(customer, 'the Acme help centre bot');

  await customer.getByRole('toolbar', { name: 'Suggested actions' })
    .getByRole('button', { name: 'Plans and prices' }).click();
  await botSays(customer, 'Basic is 19 €, Plus 29 € and Premium 45 € per month.');
  await send(customer, 'how long does delivery take');
  await botSays(customer, 'Deliveries take 2–4 working days within the EU.');
  await send(customer, 'talk to a person');
  await waitForState(customer, 'waiting for a person');

  // The agent picks the conversation in the console and answers.
  const agent = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  agent.on('pageerror', (err) => errors.push(err.message));
  await agent.goto(dev.consoleUrl);
  const [cx] = await cxConversations();
  assert.ok(cx, 'botrun created the CX conversation');
  assert.equal(cx.contact_name, 'Ada Lovelace', 'the contact has the name the page gave');
  assert.equal(cx.meta.sender.email, 'ada@example.com', 'and the email');
  await agent.locator(`.conversation-item[data-conversation-id="${cx.id}"]`).click();
  await agent.locator('#agent-name').fill('Grace');
  await agent.locator('#reply-text').fill('Hi, Grace here. Which plan are you on?');
  await agent.locator('#reply-send').click();
  await botSays(customer, 'Hi, Grace here. Which plan are you on?');
  await waitForState(customer, 'talking to an agent');
  assert.equal(await customer.locator('#status').textContent(), 'Grace (a person) is answering');
  const agentBubble = customer.locator('.webchat__bubble__content', { hasText: 'Grace here' });
  assert.equal(await agentBubble.count(), 1, 'the agent reply shows once');

  await send(customer, 'I am on Plus');
  await agent.locator('#transcript .message', { hasText: 'I am on Plus' }).waitFor({ timeout: 10000 });
  await customer.screenshot({ path: join(SHOTS, 'widget-demo.png') });
  await agent.screenshot({ path: join(SHOTS, 'agent-console.png') });

  // The agent finishes: the page shows the farewell and the end.
  await agent.locator('#btn-resolve').click();
  await waitForState(customer, 'conversation ended');
  await botSays(customer, 'The agent has closed this conversation');

  const messages = await cxMessages(cx.id, 9);
  const transcript = messages.map((m) => [m.message_type === 'incoming' ? 'in' : 'out',
    Boolean(m.private), m.content]);
  assert.deepEqual(transcript, [
    ['out', false, "Hallo! I'm the Acme help centre bot. Ask me about plans, deliveries, devices or billing."],
    ['in', false, 'Plans and prices'],
    ['out', false, 'Basic is 19 €, Plus 29 € and Premium 45 € per month.'],
    ['in', false, 'how long does delivery take'],
    ['out', false, 'Deliveries take 2–4 working days within the EU.'],
    ['in', false, 'talk to a person'],
    ['out', true, 'customer asked for a person'],
    ['out', false, 'Hi, Grace here. Which plan are you on?'],
    ['in', false, 'I am on Plus'],
  ]);

  // Writing again starts a new CX conversation for the same contact, with the bot back.
  await send(customer, 'what are your opening hours');
  await botSays(customer, 'Monday to Friday');
  const conversations = await cxConversations(2);
  assert.equal(conversations.length, 2);
  assert.equal(conversations[1].contact_id, cx.contact_id);

  assert.equal(await customer.locator(SEND_FAILED).count(), 0);
  assert.equal(await customer.getByText('Send failed').count(), 0);
  assert.deepEqual(errors, []);
  await agent.close();
  await customer.close();
});
