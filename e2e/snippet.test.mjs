// The embed snippet (`/static/botrun-chat.js`, which the demo page uses) in Chromium, in both
// modes: a network blip and a service restart lose and duplicate nothing and never show "Send
// failed", the history survives a reload, the status line is true through every transition, and
// the console stays clean.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  BOT_TEXT, INPUT, SEND_FAILED, USER_TEXT, botSays, cxControl, launch, send, startDev,
} from './harness.mjs';

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

/**
 * Collects console errors and warnings; network failures are expected only while the test
 * itself cuts the network or stops the service (`expectFailures`).
 */
function watchConsole(page) {
  const problems = [];
  let tolerate = false;
  const networkFailure = /Failed to load resource|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection to .* failed/;
  page.on('console', (message) => {
    if (!['error', 'warning'].includes(message.type())) return;
    if (tolerate && networkFailure.test(message.text())) return;
    problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  return {
    problems,
    async during(work) {
      tolerate = true;
      try { return await work(); } finally {
        // Requests that failed inside the window report a moment later.
        await new Promise((ok) => setTimeout(ok, 300));
        tolerate = false;
      }
    },
  };
}

async function state(page) {
  return page.locator('#status').getAttribute('data-state');
}

async function waitForState(page, want, timeout = 20000) {
  await page.waitForFunction((wanted) => document.getElementById('status').dataset.state === wanted,
    want, { timeout });
}

async function countText(page, selector, text) {
  return page.locator(selector, { hasText: text }).count();
}

for (const mode of ['websocket', 'polling']) {
  describe(`snippet, ${mode}`, () => {
    test('a network blip: a message sent offline arrives once, answered once, no "Send failed"', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const console = watchConsole(page);
      const sockets = [];
      await page.routeWebSocket(/\/stream/, (ws) => { ws.connectToServer(); sockets.push(ws); });
      await page.goto(dev.pageUrl(mode));
      await botSays(page, 'the Acme help centre bot');
      await waitForState(page, 'talking to the bot');

      await console.during(async () => {
        await context.setOffline(true);
        for (const socket of sockets) await socket.close({ code: 1006, reason: 'network gone' }).catch(() => {});
        await waitForState(page, 'reconnecting');
        // The customer writes while offline: the snippet holds it and sends it once back online.
        await page.locator(INPUT).fill('what are your opening hours');
        await page.locator(INPUT).press('Enter');
        await page.waitForTimeout(1500);
        await context.setOffline(false);
        await waitForState(page, 'talking to the bot');
      });
      await botSays(page, 'Monday to Friday', 30000);
      await page.waitForTimeout(1000);
      assert.equal(await countText(page, USER_TEXT, 'what are your opening hours'), 1, 'the message shows once');
      assert.equal(await countText(page, BOT_TEXT, 'Monday to Friday'), 1, 'and is answered once');
      assert.equal(await page.locator(SEND_FAILED).count(), 0);
      assert.equal(await page.getByText('Send failed').count(), 0);
      assert.deepEqual(console.problems, []);
      await context.close();
    });

    test('a reload keeps the conversation and its history', async () => {
      const page = await browser.newPage();
      const console = watchConsole(page);
      await page.goto(dev.pageUrl(mode));
      await botSays(page, 'the Acme help centre bot');
      await send(page, 'how long does delivery take');
      await botSays(page, 'Deliveries take 2–4 working days');
      const before = await page.evaluate(() => window.BotrunChat.conversation && sessionStorage.length);
      assert.ok(before >= 1, 'the session is saved');
      await page.reload();
      await botSays(page, 'Deliveries take 2–4 working days');
      await page.locator(USER_TEXT, { hasText: 'how long does delivery take' }).first().waitFor();
      assert.equal(await countText(page, BOT_TEXT, 'the Acme help centre bot'), 1, 'no second greeting');
      await send(page, 'what are your opening hours');
      await botSays(page, 'Monday to Friday');
      assert.equal(await page.locator(SEND_FAILED).count(), 0);
      assert.deepEqual(console.problems, []);
      await page.close();
    });
  });
}

/** The widget conversation's CX conversation (the newest in the API inbox). */
async function newestCx() {
  const { conversations } = await cxControl(dev, 'conversations');
  return conversations.filter((c) => c.inbox_id === 1).sort((a, b) => b.id - a.id)[0];
}

/**
 * The page's status changes when the turn runs; the CX side of the handoff (the conversation,
 * the note, deliver-to-agent) follows in the mirror's own time. An agent can act only once CX
 * has put the conversation in the agents' queue (`open`), so the test waits for that, as a
 * person in the console would see it.
 */
async function handedOverCx(newerThan = 0) {
  for (let tries = 0; tries < 200; tries += 1) {
    const cx = await newestCx();
    if (cx && cx.id > newerThan && cx.status === 'open') return cx;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error('the handoff never reached CX');
}

async function agent(path, body) {
  const response = await fetch(`${dev.cxRoot}/_control/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(response.status < 300, true, `${path}: ${response.status}`);
}

test('the status line is true through handoff, agent, hand-back, end, a new start and an outage', async () => {
  const page = await browser.newPage();
  const console = watchConsole(page);
  const before = await newestCx();
  await page.goto(dev.pageUrl('websocket'));
  await botSays(page, 'the Acme help centre bot');
  await waitForState(page, 'talking to the bot');

  await send(page, 'talk to a person');
  await waitForState(page, 'waiting for a person');
  await botSays(page, 'Waiting for a person to join');

  const cx = await handedOverCx(before?.id ?? 0);
  await agent(`conversations/${cx.id}/reply`, { agent: 'Grace', content: 'Hi, Grace here.' });
  await waitForState(page, 'talking to an agent');
  assert.equal(await page.locator('#status').textContent(), 'Grace (a person) is answering');
  await botSays(page, 'Grace joined the conversation');
  const bubble = page.locator('.webchat__bubble__content', { hasText: 'Hi, Grace here.' });
  assert.match(await bubble.first().textContent(), /Grace/, 'the agent message names the agent');

  await agent(`conversations/${cx.id}/hand-back`);
  await waitForState(page, 'talking to the bot');
  await botSays(page, 'Grace left the conversation');

  await send(page, 'talk to a person');
  await waitForState(page, 'waiting for a person');
  await handedOverCx(cx.id - 1);
  await agent(`conversations/${cx.id}/reply`, { agent: 'Grace', content: 'Back again.' });
  await waitForState(page, 'talking to an agent');
  await agent(`conversations/${cx.id}/resolve`);
  await waitForState(page, 'conversation ended');

  await send(page, 'what are your opening hours');
  await waitForState(page, 'talking to the bot');
  await botSays(page, 'Monday to Friday');

  // The service goes away: the status says so, and comes back with it.
  await console.during(async () => {
    await dev.stop({ keepData: true });
    await waitForState(page, 'reconnecting');
    dev = await startDev('bots/faq.bot', { port: dev.port, data: dev.data });
    await waitForState(page, 'talking to the bot', 30000);
  });
  await send(page, 'how long does delivery take');
  await botSays(page, 'Deliveries take 2–4 working days');
  assert.equal(await page.locator(SEND_FAILED).count(), 0);
  assert.deepEqual(console.problems, []);
  assert.ok(['talking to the bot'].includes(await state(page)));
  await page.close();
});
