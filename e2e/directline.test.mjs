// Microsoft's own Direct Line client, `botframework-directlinejs`, in Node against `botrun dev`:
// both modes, anonymous start, a trailing slash in `domain`, every activity type a client may
// send, card submits, files by link, `replyToId`, the documented status codes, and a network
// blip between client and service (a TCP relay the test cuts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import XHR2 from 'xhr2';
import WebSocket from 'ws';
import directLineJs from 'botframework-directlinejs';
import { cxMessagesUntil, freePort, startDev, startRelay } from './harness.mjs';

const { DirectLine } = directLineJs;

let dev;
let relay;
let origin;

// directlinejs needs a browser's XMLHttpRequest and WebSocket. A page sends its Origin with
// every call (how botrun picks the site for an anonymous start); xhr2 would refuse to set it.
class PageXhr extends XHR2 {
  send(body) {
    this.setRequestHeader('Origin', origin);
    return super.send(body);
  }
}
PageXhr.prototype._restrictedHeaders = { ...XHR2.prototype._restrictedHeaders, origin: false };
globalThis.XMLHttpRequest = PageXhr;
globalThis.WebSocket = WebSocket;

before(async () => {
  const port = await freePort();
  relay = await startRelay(port);
  // Stream URLs point at the relay too, so a blip cuts the WebSocket as well.
  dev = await startDev('bots/faq.bot', { port, args: ['--public-url', `http://127.0.0.1:${relay.port}`] });
  origin = `http://localhost:${dev.port}`;
});

after(async () => {
  await relay?.close();
  await dev?.stop();
});

const direct = () => `http://127.0.0.1:${dev.port}/v3/directline`;
const relayed = () => `http://127.0.0.1:${relay.port}/v3/directline`;

/** A DirectLine client that records what it receives. */
function client(mode, options = {}) {
  const dl = new DirectLine({ domain: direct(), webSocket: mode === 'websocket', pollingInterval: 300, ...options });
  const seen = [];
  dl.activity$.subscribe({ next: (activity) => seen.push(activity), error: () => {} });
  return {
    dl,
    seen,
    /** Resolves with the first activity `match` accepts. */
    async waitFor(match, timeout = 15000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const found = seen.find(match);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(`not received; got ${JSON.stringify(seen.map((a) => [a.type, a.text]))}`);
        }
        await new Promise((ok) => setTimeout(ok, 50));
      }
    },
    post(activity) {
      return new Promise((ok, fail) => {
        dl.postActivity({ from: { id: 'customer' }, ...activity }).subscribe({ next: ok, error: fail });
      });
    },
    end() { dl.end(); },
  };
}

const botSaid = (text) => (a) => a.type === 'message' && a.from.role !== 'user' && a.text?.includes(text);
const GREETING = 'the Acme help centre bot';

/** A page token as the demo site's backend mints it: only for the page's own origin, as a
 * browser on the demo page would send it. */
async function mint() {
  const page = `http://127.0.0.1:${dev.port}`;
  const response = await fetch(`${page}/demo/token`, { method: 'POST', headers: { origin: page } });
  assert.equal(response.status, 200);
  return response.json();
}

for (const mode of ['websocket', 'polling']) {
  describe(`directlinejs, ${mode}`, () => {
    test('anonymous start (the client sends `Bearer undefined`) gets the greeting and answers', async () => {
      const page = client(mode);
      await page.waitFor(botSaid(GREETING));
      const id = await page.post({ type: 'message', text: 'how long does delivery take' });
      const reply = await page.waitFor(botSaid('Deliveries take 2–4 working days'));
      assert.equal(reply.replyToId, id, 'the reply names the message it answers');
      page.end();
    });

    test('a trailing slash in `domain` reaches the same routes', async () => {
      const { token } = await mint();
      const page = client(mode, { token, domain: `${direct()}/` });
      await page.waitFor(botSaid(GREETING));
      await page.post({ type: 'message', text: 'what are your opening hours' });
      await page.waitFor(botSaid('Monday to Friday'));
      page.end();
    });

    test('every activity type a client may send is accepted, as Direct Line passes them through', async () => {
      const { token } = await mint();
      const page = client(mode, { token });
      await page.waitFor(botSaid(GREETING));
      for (const activity of [
        { type: 'messageReaction', reactionsAdded: [{ type: 'like' }] },
        { type: 'installationUpdate', action: 'add' },
        { type: 'trace', name: 'debug', value: { step: 1 } },
        { type: 'endOfConversation', code: 'completedSuccessfully' },
      ]) {
        const id = await page.post(activity);
        assert.equal(typeof id, 'string', `${activity.type} got an id`);
      }
      page.end();
    });

    test('a value-only message (a card submit) reaches the bot and CX', async () => {
      const { token } = await mint();
      const page = client(mode, { token });
      await page.waitFor(botSaid(GREETING));
      const marker = `how long does delivery take ${mode}`;
      await page.post({ type: 'message', value: marker });
      await page.waitFor(botSaid('Deliveries take 2–4 working days'));
      const messages = await cxMessagesUntil(dev, (all) => all.some((m) => m.content === marker));
      assert.ok(messages.some((m) => m.content === marker && m.message_type === 'incoming'),
        'CX got the submitted value as the customer message');
      page.end();
    });
  });
}

test('a file posted by link in the activity JSON reaches CX as a link', async () => {
  const { token, conversationId } = await mint();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  await fetch(`${direct()}/conversations`, { method: 'POST', headers });
  const url = `https://files.example/receipt-${conversationId}.pdf`;
  const response = await fetch(`${direct()}/conversations/${conversationId}/activities`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      type: 'message',
      from: { id: 'x' },
      attachments: [{ contentType: 'application/pdf', contentUrl: url, name: 'receipt.pdf' }],
    }),
  });
  assert.equal(response.status, 200);
  const messages = await cxMessagesUntil(dev, (all) => all.some((m) => m.content?.includes(url)));
  assert.ok(messages.some((m) => m.message_type === 'incoming' && m.content.includes(`receipt.pdf: ${url}`)));
});

test('status codes: restart 200, expires_in counts down, unknown conversation and path 404', async () => {
  const { token, conversationId, expires_in: lifetime } = await mint();
  const headers = { authorization: `Bearer ${token}` };
  const first = await fetch(`${direct()}/conversations`, { method: 'POST', headers });
  assert.equal(first.status, 201);
  await new Promise((ok) => setTimeout(ok, 1100));
  const again = await fetch(`${direct()}/conversations`, { method: 'POST', headers });
  assert.equal(again.status, 200, 'a restart with the same token finds the conversation');
  const body = await again.json();
  assert.equal(body.conversationId, conversationId);
  assert.ok(body.expires_in < lifetime, `expires_in ${body.expires_in} is what is left of ${lifetime}`);

  const other = await fetch(`${direct()}/conversations/not-${conversationId}?watermark=0`, { headers });
  assert.equal(other.status, 404);
  assert.equal((await other.json()).error.code, 'ConversationNotFound');
  const nowhere = await fetch(`${direct()}/no/such/route`, { headers });
  assert.equal(nowhere.status, 404);
  assert.equal((await nowhere.json()).error.code, 'NotFound');
});

for (const mode of ['websocket', 'polling']) {
  test(`${mode}: a network blip loses and duplicates nothing when the page resumes from the watermark`, async () => {
    const { token } = await mint();
    let page = client(mode, { token, domain: relayed() });
    await page.waitFor(botSaid(GREETING));
    const conversationId = page.dl.conversationId;
    const blip = relay.blip(1500);
    // While the page is cut off, the conversation goes on (the customer's other tab).
    await new Promise((ok) => setTimeout(ok, 100));
    const missed = await fetch(`${direct()}/conversations/${conversationId}/activities`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'message', from: { id: 'x' }, text: 'how long does delivery take' }),
    });
    assert.equal(missed.status, 200);
    await blip;
    // What the embed snippet does after a failure: a new DirectLine from the old one's
    // watermark (directlinejs's poller stops for good after one failed poll).
    const watermark = page.dl.watermark;
    page.end();
    page = client(mode, { token, conversationId, watermark, domain: relayed() });
    const activity = { type: 'message', text: 'what are your opening hours', channelData: { clientActivityID: `c-${mode}` } };
    const id = await page.post(activity);
    // A retry of the same activity (its answer was lost) is the same message, not a second one.
    assert.equal(await page.post(activity), id);
    await page.waitFor(botSaid('Monday to Friday'));
    await page.waitFor(botSaid('Deliveries take 2–4 working days'));
    await new Promise((ok) => setTimeout(ok, 700));
    assert.equal(page.seen.filter(botSaid('Deliveries take')).length, 1, 'what was missed arrives once');
    const echoes = page.seen.filter((a) => a.from.role === 'user' && a.text === activity.text);
    assert.equal(echoes.length, 1, 'the message is stored once');
    const replies = page.seen.filter(botSaid('Monday to Friday'));
    assert.equal(replies.length, 1, 'and answered once');
    page.end();
  });
}
