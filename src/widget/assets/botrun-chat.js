/* botrun-chat.js: embeds Web Chat talking to this botrun service, with one <script> tag.
 *
 *   <script src="https://bots.example/static/botrun-chat.js" data-token-url="/chat-token"></script>
 *
 * Attributes: data-token-url (your backend answers POST with {"token": …}; without it the chat
 * starts anonymously, if the site allows that), data-target (id of the element to render into;
 * default: a new 560 px box after the script), data-mode ("websocket" or "polling"),
 * data-domain (the Direct Line URL; default: this script's origin + /v3/directline),
 * data-start="manual" (do nothing until window.BotrunChat.start(options) is called).
 *
 * What it adds to a bare Web Chat: the conversation survives a reload (sessionStorage), a dead
 * connection is replaced by a new DirectLine that resumes from the watermark (directlinejs's
 * poller stops for good after one failed poll), a message sent while offline is re-sent with the
 * same client id (botrun stores it once), agents' messages carry their name, a line marks a
 * person joining or leaving, and the status is reported to the page (onStatus).
 */
(function () {
  'use strict';
  // Filled in by botrun when it serves this file.
  var SERVER = /*BOTRUN_CONFIG*/ { uploads: false } /*END*/;
  var UNINITIALIZED = 0, ONLINE = 2, EXPIRED_TOKEN = 3, FAILED = 4, ENDED = 5;
  var script = document.currentScript;
  var scriptOrigin = script ? new URL(script.src, location.href).origin : location.origin;

  /* A minimal observable that Web Chat can subscribe to (object or function observers). With
   * `replay`, a new subscriber first gets the latest value, as a BehaviorSubject does; without
   * it, values are buffered until the first subscriber arrives. */
  function subject(replay) {
    var observers = [];
    var buffer = [];
    var hasValue = false;
    var latest;
    return {
      next: function (value) {
        hasValue = true;
        latest = value;
        if (!replay && observers.length === 0) { buffer.push(value); return; }
        observers.slice().forEach(function (o) { if (o.next) o.next(value); });
      },
      subscribe: function (next, error, complete) {
        var observer = typeof next === 'function' ? { next: next, error: error, complete: complete } : (next || {});
        observers.push(observer);
        var subscription = {
          closed: false,
          unsubscribe: function () {
            subscription.closed = true;
            observers = observers.filter(function (o) { return o !== observer; });
          },
        };
        if (replay && hasValue && observer.next) observer.next(latest);
        if (!replay && buffer.length) {
          var queued = buffer;
          buffer = [];
          queued.forEach(function (value) { if (observer.next) observer.next(value); });
        }
        return subscription;
      },
      get value() { return latest; },
    };
  }

  /* A promise as a one-value observable (what Web Chat expects from postActivity). */
  function single(promise) {
    return {
      subscribe: function (next, error, complete) {
        var observer = typeof next === 'function' ? { next: next, error: error, complete: complete } : (next || {});
        var subscription = { closed: false, unsubscribe: function () { subscription.closed = true; } };
        promise.then(function (value) {
          if (subscription.closed) return;
          if (observer.next) observer.next(value);
          if (observer.complete) observer.complete();
        }, function (err) {
          if (!subscription.closed && observer.error) observer.error(err);
        });
        return subscription;
      },
    };
  }

  /* The first value of an rxjs observable, as a promise. */
  function first(observable) {
    return new Promise(function (resolve, reject) {
      var done = false;
      var subscription = observable.subscribe(function (value) {
        if (done) return;
        done = true;
        resolve(value);
        if (subscription) subscription.unsubscribe();
      }, reject);
    });
  }

  function sleep(ms) { return new Promise(function (ok) { setTimeout(ok, ms); }); }

  function loadWebChat(origin) {
    if (window.WebChat) return Promise.resolve(window.WebChat);
    return new Promise(function (resolve, reject) {
      var tag = document.createElement('script');
      tag.src = origin + '/static/webchat.js';
      tag.onload = function () { resolve(window.WebChat); };
      tag.onerror = function () { reject(new Error('cannot load ' + tag.src)); };
      document.head.appendChild(tag);
    });
  }

  /* Whether a failed request means "the network or the service is away" (try again later)
   * rather than "this request is wrong". */
  function transient(status) { return !status || status >= 500 || status === 429; }

  /* The conversation as Web Chat sees it: one stable DirectLine-shaped object, with real
   * DirectLine instances behind it that are replaced when they die. */
  function Conversation(options, WebChat) {
    var self = this;
    var storageKey = 'botrun-chat:' + options.domain;
    var saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(storageKey) || 'null'); } catch (e) { saved = null; }
    var session = saved && saved.token && saved.conversationId ? saved : null;
    var resumed = Boolean(session);
    var current = null;
    var everOnline = false;
    var failures = 0;
    var seen = new Set();
    var agent = null;
    var phase = 'talking to the bot';
    var online = false;
    var started = false;

    this.activity$ = subject(false);
    this.connectionStatus$ = subject(true);
    this.connectionStatus$.next(UNINITIALIZED);

    function save() {
      if (!current || !current.conversationId || !current.token) return;
      session = { token: current.token, conversationId: current.conversationId };
      try { sessionStorage.setItem(storageKey, JSON.stringify(session)); } catch (e) { /* private mode */ }
    }

    function forget() {
      session = null;
      try { sessionStorage.removeItem(storageKey); } catch (e) { /* private mode */ }
    }

    function report() {
      var state = online ? phase : (everOnline ? 'reconnecting' : 'connecting');
      var text = state;
      if (state === 'talking to an agent' && agent) text = agent + ' (a person) is answering';
      if (state === 'reconnecting') text = 'connection lost, reconnecting…';
      if (options.onStatus) options.onStatus({ state: state, text: text, agent: agent });
    }

    /* Web Chat hears "online" once and never "connecting" again: it would refuse input while
     * reconnecting, but the snippet holds what the customer sends and delivers it once the new
     * DirectLine is up. The page's status line tells the customer what is going on. */
    function setOnline(value) {
      if (online === value) return;
      online = value;
      if (value && self.connectionStatus$.value !== ONLINE) self.connectionStatus$.next(ONLINE);
      report();
    }

    /* A line between the messages, e.g. "Grace joined the conversation". */
    function line(about, text) {
      self.activity$.next({
        type: 'message',
        id: about.id + ':line',
        timestamp: about.timestamp,
        from: { id: 'botrun-status', name: '', role: 'bot' },
        text: '_' + text + '_',
        channelData: { botrunLine: true },
      });
    }

    function deliver(activity) {
      if (activity.id && seen.has(activity.id)) return;
      if (activity.id) seen.add(activity.id);
      var fromUser = activity.from && activity.from.role === 'user';
      var fromAgent = !fromUser && activity.from && String(activity.from.id).indexOf('agent-') === 0;
      if (activity.type === 'event') {
        if (activity.name === 'botrun.handoff') {
          phase = 'waiting for a person';
          line(activity, 'Waiting for a person to join…');
        } else if (activity.name === 'botrun.handback') {
          if (agent) line(activity, agent + ' left the conversation');
          agent = null;
          phase = 'talking to the bot';
        }
        report();
        return;
      }
      if (activity.type === 'endOfConversation') {
        if (fromUser) return;
        if (agent) line(activity, agent + ' left the conversation');
        agent = null;
        phase = 'conversation ended';
        report();
        return;
      }
      if (activity.type === 'typing') { self.activity$.next(activity); return; }
      if (activity.type !== 'message') return;
      if (fromAgent) {
        var name = activity.from.name || 'An agent';
        if (agent !== name) line(activity, name + ' joined the conversation');
        agent = name;
        phase = 'talking to an agent';
        activity = Object.assign({}, activity, { text: '**' + name + '**\n\n' + (activity.text || '') });
      } else if (phase === 'conversation ended') {
        phase = 'talking to the bot';
      }
      report();
      self.activity$.next(activity);
    }

    function retire(dl) {
      try { dl.end(); } catch (e) { /* already ended */ }
    }

    /* The DirectLine `dl` stopped working: replace it by a new one from its watermark. */
    function replace(dl) {
      if (dl !== current) return;
      current = null;
      var watermark = dl.watermark;
      retire(dl);
      setOnline(false);
      failures += 1;
      sleep(Math.min(5000, 250 * Math.pow(2, failures - 1))).then(function () { open(watermark); });
    }

    /* Watches a DirectLine's requests and sockets, because a dead poller says nothing: a read
     * or a start that failed because the network or the service is away, or a closed stream,
     * hands the conversation to a new DirectLine. `dl.lastFailure` keeps the last HTTP status. */
    function watch(dl) {
      var ajax = dl.services && dl.services.ajax;
      if (ajax) {
        dl.services.ajax = Object.assign(function (request) {
          return ajax(request)['do'](function () {}, function (error) {
            var status = error && error.status;
            dl.lastFailure = status || 0;
            var method = (request.method || 'GET').toUpperCase();
            var isSend = /\/(activities|upload)(\?|$)/.test(request.url || '') && method === 'POST';
            if (!isSend && transient(status)) replace(dl);
          });
        }, ajax);
      }
      var Socket = dl.services && dl.services.WebSocket;
      if (Socket) {
        dl.services.WebSocket = function (url) {
          var socket = new Socket(url);
          socket.addEventListener('close', function () { replace(dl); });
          return socket;
        };
      }
    }

    function open(watermark) {
      var dl = WebChat.createDirectLine({
        domain: options.domain,
        token: session ? session.token : options.token,
        conversationId: session ? session.conversationId : undefined,
        watermark: watermark || undefined,
        webSocket: options.mode !== 'polling',
        pollingInterval: options.pollingInterval || 1000,
        // The page's language goes with the start: a multilingual bot answers in it.
        conversationStartProperties: { locale: options.locale || navigator.language },
      });
      current = dl;
      watch(dl);
      dl.connectionStatus$.subscribe(function (status) {
        if (dl !== current) return;
        if (status === ONLINE) {
          failures = 0;
          everOnline = true;
          save();
          setOnline(true);
          if (!started) {
            started = true;
            if (options.onStarted) options.onStarted({ resumed: resumed, conversationId: dl.conversationId });
          }
        } else if (status === FAILED || status === ENDED || status === EXPIRED_TOKEN) {
          // The service answered that the saved conversation is gone (unknown, ended, or its
          // token expired): start a new one rather than retrying forever.
          current = null;
          retire(dl);
          forget();
          resumed = false;
          setOnline(false);
          begin().catch(fail);
        }
      });
      dl.activity$.subscribe({
        next: function (activity) {
          if (dl !== current) return;
          save();
          deliver(activity);
        },
        error: function () { replace(dl); },
      });
    }

    function fail(error) {
      if (options.onError) options.onError(error);
    }

    /* A token for a new conversation: from the site's backend, or none (anonymous start). */
    function begin() {
      if (!options.tokenUrl) { open(); return Promise.resolve(); }
      return fetch(options.tokenUrl, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(options.tokenBody || {}),
      }).then(function (response) {
        if (!response.ok) throw new Error('the token request failed: ' + response.status);
        return response.json();
      }).then(function (body) {
        session = null;
        options.token = body.token;
        open();
      });
    }

    /* Sends one at a time, in the order they were given: the contact event the page sends first
       is stored before the customer's first message, and two quick messages keep their order. */
    var tail = Promise.resolve();
    function send(activity) {
      var run = function () { return sendNow(activity); };
      var result = tail.then(run, run);
      tail = result.catch(function () { /* the next send goes ahead */ });
      return result;
    }

    /* Sends with the same client id until the service took it (it stores a repeat once). */
    function sendNow(activity) {
      var deadline = Date.now() + 60000;
      function attempt() {
        var dl = current;
        if (!dl || !online) {
          if (Date.now() > deadline) return Promise.reject(new Error('offline'));
          return sleep(250).then(attempt);
        }
        return first(dl.postActivity(activity)).then(function (id) {
          if (id !== 'retry') return id;
          return sleep(500).then(attempt);
        }, function (error) {
          if (!transient(error && error.status) || Date.now() > deadline) throw error;
          return sleep(500).then(attempt);
        });
      }
      return attempt();
    }

    this.postActivity = function (activity) {
      if (activity.type === 'message' && phase === 'conversation ended') {
        phase = 'talking to the bot';
        report();
      }
      return single(send(activity));
    };
    this.end = function () { if (current) retire(current); current = null; };
    this.contactSent = resumed;
    this.send = send;

    if (session) open(); else begin().catch(fail);
    report();
  }

  function start(options) {
    options = Object.assign({
      domain: scriptOrigin + '/v3/directline',
      mode: 'websocket',
    }, options || {});
    options.domain = options.domain.replace(/\/+$/, '');
    var target = typeof options.target === 'string' ? document.getElementById(options.target) : options.target;
    if (!target) {
      target = document.createElement('div');
      target.style.height = '560px';
      if (script && script.parentNode) script.parentNode.insertBefore(target, script.nextSibling);
      else document.body.appendChild(target);
    }
    return loadWebChat(scriptOrigin).then(function (WebChat) {
      var conversation = new Conversation(options, WebChat);
      if (options.contact && !conversation.contactSent) {
        conversation.send({ type: 'event', name: 'botrun.contact', value: options.contact, from: { id: 'customer' } })
          .catch(function () { /* the contact is a courtesy; the chat works without it */ });
      }
      WebChat.renderWebChat({
        directLine: conversation,
        locale: options.locale || navigator.language,
        store: WebChat.createStore(),
        styleOptions: Object.assign({
          hideUploadButton: !SERVER.uploads,
          // Re-sending after a blip takes longer than Web Chat's default 20 s allows.
          sendTimeout: 60000,
        }, options.styleOptions || {}),
      }, target);
      window.BotrunChat.conversation = conversation;
      return conversation;
    });
  }

  window.BotrunChat = { start: start, server: SERVER };
  if (script && script.dataset.start !== 'manual') {
    var data = script.dataset;
    start({
      tokenUrl: data.tokenUrl,
      target: data.target,
      mode: data.mode,
      domain: data.domain || undefined,
    }).catch(function (error) { console.error('botrun-chat: ' + error.message); });
  }
})();
