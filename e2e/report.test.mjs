// `botrun report --format html` in Chromium: a customer talks to the faq bot on the widget page
// of `botrun dev` (one answered question, two misses, the handoff the second miss brings), then
// the report is generated from the service's store and opened from a file. Its figures and
// charts must render with what happened, fetching nothing and running no script.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { BOTRUN, SHOTS, botSays, devAndBrowserForThisFile, send } from './harness.mjs';

let dev;
let browser;
devAndBrowserForThisFile((d, b) => { dev = d; browser = b; });

test('the HTML report shows what the bot decided, with its charts', async () => {
  const chat = await browser.newPage();
  await chat.goto(dev.pageUrl('websocket'));
  await botSays(chat, 'the Acme help centre bot');
  await send(chat, 'how long does delivery take');
  await botSays(chat, 'Deliveries take 2–4 working days');
  await send(chat, 'do you sell gift cards');
  await botSays(chat, 'not sure about that one');
  await send(chat, 'Do you sell gift cards?');
  await botSays(chat, 'Let me get a person to help');
  await chat.close();

  const html = join(dev.data, 'report.html');
  execFileSync(BOTRUN, ['report', '--store', `sqlite://${join(dev.data, 'botrun.db')}`,
    '--format', 'html', '-o', html]);

  const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
  const requests = [];
  const problems = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => problems.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => problems.push(error.message));
  const url = pathToFileURL(html).href;
  await page.goto(url);

  const figure = (name) => page.locator(`[data-figure="${name}"]`).textContent();
  assert.equal(await figure('conversations'), '1');
  assert.equal(await figure('handed-off'), '1');
  assert.equal(await figure('customer-messages'), '3');
  assert.equal(await figure('missed'), '2');
  assert.equal(await figure('miss-rate'), '66.7%');
  assert.equal(await figure('containment'), '0.0%');

  // The charts are drawn: visible SVG with bars sized by their values.
  const bar = (chart, name) => page.locator(`svg[data-chart="${chart}"] rect[data-name="${name}"]`);
  assert.equal(await bar('containment', 'handed off').getAttribute('data-value'), '1');
  assert.equal(await bar('handoffs-by-reason', 'missed').getAttribute('data-value'), '1');
  assert.equal(await bar('top-intents', 'delivery_time').getAttribute('data-value'), '1');
  for (const chart of ['containment', 'days', 'handoffs-by-reason', 'top-intents']) {
    const box = await page.locator(`svg[data-chart="${chart}"]`).boundingBox();
    assert.ok(box && box.width > 100 && box.height > 20, `${chart} chart is drawn: ${JSON.stringify(box)}`);
  }
  const handedOff = await bar('containment', 'handed off').boundingBox();
  assert.ok(handedOff.width > 500, 'the only conversation fills the containment bar');

  // The two misses are one group; its wordings open under the title.
  const group = page.locator('table[data-table="missed"] tr[data-group-count="2"]');
  await group.locator('summary').click();
  await group.locator('li').first().waitFor();
  assert.deepEqual(await group.locator('li').allTextContents(),
    ['Do you sell gift cards? ×1', 'do you sell gift cards ×1']);
  assert.equal(await page.locator('table[data-table="missed"] tr[data-group-count]').count(), 1);

  await page.screenshot({ path: join(SHOTS, 'report.png'), fullPage: true });
  assert.deepEqual(requests, [url], 'the page fetches nothing');
  assert.equal(await page.locator('script').count(), 0);
  assert.deepEqual(problems, []);
});
