#!/usr/bin/env python3
"""The chaos suite: `botrun serve` attacked and faulted from outside, as separate processes on
loopback only (the built `botrun` binary for the service and for `botrun emulator` as CX).

Every scenario runs customer conversations against an echo bot (`message N` -> `echo N`) while
something goes wrong, then reads every transcript back from the emulator and counts, per
scenario: messages sent, messages CX gave up delivering (its final attempt found botrun down:
CX never offers them again), replies lost (delivered to botrun, never answered), duplicated and
reordered, the time the service took to recover, and the service's peak memory (VmHWM, the
largest over its processes and restarts).
Prints one Markdown table. Bounded in time: every wait has a deadline.

Usage: scripts/chaos [--short] [--binary target/release/botrun] [--only NAME ...]
"""

import argparse
import base64
import datetime
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "c7a1f0e9d8b2c3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0"
TENANT = "dev.cx.localhost"
CLIENT_ID, CLIENT_SECRET = "botrun-dev", "botrun-dev-secret"


def postgres_server():
    """The PostgreSQL server for the replica scenario: $BOTRUN_CHAOS_POSTGRES, else the server
    of $BOTRUN_TEST_POSTGRES_URL (the one scripts/test found or started), else the local one."""
    if os.environ.get("BOTRUN_CHAOS_POSTGRES"):
        return os.environ["BOTRUN_CHAOS_POSTGRES"].rstrip("/")
    if os.environ.get("BOTRUN_TEST_POSTGRES_URL"):
        url = urllib.parse.urlsplit(os.environ["BOTRUN_TEST_POSTGRES_URL"])
        return f"{url.scheme}://{url.netloc}"
    return "postgres://postgres@127.0.0.1:5432"


POSTGRES = postgres_server()
SITE_SECRET = "chaos-site-secret-0123456789abcdef"
WIDGET_KEY = "chaos-widget-key-0123456789abcdef0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    """(status, parsed JSON or text); network errors are status 0."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("content-type", "application/json")
        else:
            data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    except (OSError, urllib.error.URLError):
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_for(what, check, deadline):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    raise SystemExit(f"chaos: timed out waiting for {what}")


class Memory:
    """Samples VmHWM (peak resident set) of the service's processes."""

    def __init__(self):
        self.peak_kib = 0
        self.pids = set()
        self.stop = False
        threading.Thread(target=self.run, daemon=True).start()

    def read(self, pid):
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self):
        while not self.stop:
            for pid in list(self.pids):
                self.peak_kib = max(self.peak_kib, self.read(pid))
            time.sleep(0.1)


class Emulator:
    def __init__(self, binary, workdir, retry_spacing_ms, keep_pending=False):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        log = open(os.path.join(workdir, "emulator.log"), "w")
        args = [binary, "emulator", "--listen", f"127.0.0.1:{self.port}",
                "--retry-spacing-ms", str(retry_spacing_ms)]
        if keep_pending:
            args.append("--keep-pending-on-bot-failure")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for("the emulator", lambda: http("GET", f"{self.base}/_control/state")[0] == 200, 30)
        credentials = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        status, answer = http(
            "POST", f"{self.base}/oauth/token",
            "grant_type=client_credentials&scope=cx.digital-interactions",
            {"authorization": f"Basic {credentials}",
             "content-type": "application/x-www-form-urlencoded"})
        assert status == 200, answer
        self.token = answer["access_token"]

    def api(self, path, body):
        body = dict(body, tenant_domain=TENANT)
        status, answer = http(
            "POST", f"{self.base}/cx/api/v1/digital-interactions/{path}", body,
            {"authorization": f"Bearer {self.token}"})
        assert status == 200, (path, status, answer)
        return answer

    def route_to(self, url, inbox=2):
        """CX delivers the inbox's events to `url` (an agent bot)."""
        bot = self.api("agents-bot/", {"name": "chaos", "description": "chaos",
                                      "outgoing_url": url})
        self.api("agents-bot/assign/", {"inbox_id": inbox, "agent_bot_id": bot["id"]})

    def also_webhook(self, url):
        self.api("webhooks/", {"url": url,
                               "subscriptions": ["message_created", "conversation_created"]})

    def control(self, method, path, body=None):
        status, answer = http(method, f"{self.base}/_control/{path}", body)
        assert status in (200, 201), (path, status, answer)
        return answer

    def start(self, name):
        return self.control("POST", "conversations", {"inbox_id": 2, "name": name})["id"]

    def says(self, conversation, text):
        self.control("POST", f"conversations/{conversation}/incoming", {"content": text})

    def messages(self, conversation):
        return self.control("GET", f"conversations/{conversation}")["messages"]

    def replies(self, conversation):
        return [m["content"] for m in self.messages(conversation)
                if m["message_type"] in ("outgoing", 1) and not m.get("private")]

    def deliveries(self):
        """message id -> (final delivery records of its `message_created`, any delivered)."""
        seen = {}
        for record in self.control("GET", "deliveries")["deliveries"]:
            if record["event"] != "message_created" or record.get("replayed"):
                continue
            count, delivered = seen.get(record["message_id"], (0, False))
            seen[record["message_id"]] = (count + 1, delivered or record["delivered"])
        return seen

    def stop(self):
        self.process.kill()
        self.process.wait()


class Service:
    """One `botrun serve` process and its restarts."""

    def __init__(self, binary, workdir, name, config, memory, reload=False):
        self.binary, self.workdir, self.name, self.memory = binary, workdir, name, memory
        self.port = config["port"]
        self.path = os.path.join(workdir, f"{name}.yaml")
        with open(self.path, "w") as out:
            out.write(config["text"])
        self.reload = reload
        self.process = None
        self.start()

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self):
        env = dict(os.environ, BOTRUN_WEBHOOK_TOKEN=TOKEN, BOTRUN_CX_CLIENT_ID=CLIENT_ID,
                   BOTRUN_CX_CLIENT_SECRET=CLIENT_SECRET, CHAOS_SITE_SECRET=SITE_SECRET,
                   BOTRUN_WIDGET_TOKEN_KEY=WIDGET_KEY, RUST_LOG="info")
        log = open(os.path.join(self.workdir, f"{self.name}.log"), "a")
        args = [self.binary, "serve", "--config", self.path]
        if not self.reload:
            args.append("--no-reload")
        self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.memory.pids.add(self.process.pid)
        started = time.monotonic()
        wait_for(f"{self.name} to be ready", self.ready, 60)
        return time.monotonic() - started

    def ready(self):
        if self.process.poll() is not None:
            raise SystemExit(f"chaos: {self.name} exited; see {self.workdir}/{self.name}.log")
        return http("GET", self.url("/readyz"), timeout=2)[0] == 200

    def kill9(self):
        self.memory.peak_kib = max(self.memory.peak_kib, self.memory.read(self.process.pid))
        self.process.kill()
        self.process.wait()
        self.memory.pids.discard(self.process.pid)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.kill9()


def serve_config(emulator, workdir, store, bot, extra=""):
    port = free_port()
    text = (f"listen: 127.0.0.1:{port}\npublic_url: http://127.0.0.1:{port}\n"
            f"store: {store}\nbots:\n  - file: {bot}\n"
            f"cx:\n  base_url: {emulator.base}/cx/\n  auth_url: {emulator.base}/oauth/token\n"
            f"  tenant_domain: {TENANT}\n{extra}")
    return {"port": port, "text": text}


class Load:
    """`conversations` customers each sending `messages` numbered messages, spread over
    `seconds`, from threads; `sent` counts what the emulator took. `targets` is how many botrun
    endpoints CX delivers each message to (the agent bot, and an account webhook)."""

    def __init__(self, emulator, conversations, messages, seconds, targets=1):
        self.emulator = emulator
        self.targets = targets
        self.ids = [emulator.start(f"chaos-{n}") for n in range(conversations)]
        self.messages = messages
        self.gap = seconds / max(messages, 1)
        self.sent = {cid: 0 for cid in self.ids}
        self.threads = [threading.Thread(target=self.customer, args=(cid,), daemon=True)
                        for cid in self.ids]
        for thread in self.threads:
            thread.start()

    def customer(self, conversation):
        for n in range(self.messages):
            self.emulator.says(conversation, f"message {n}")
            self.sent[conversation] += 1
            time.sleep(self.gap)

    def join(self):
        for thread in self.threads:
            thread.join(timeout=120)

    def outcome(self):
        """Per message: answered, or CX gave up delivering it, or still pending."""
        deliveries = self.emulator.deliveries()
        answered, undelivered, pending, replies = 0, 0, 0, {}
        for conversation in self.ids:
            messages = self.emulator.messages(conversation)
            got = [m["content"] for m in messages
                   if m["message_type"] in ("outgoing", 1) and not m.get("private")
                   and m["content"].startswith("echo ")]
            replies[conversation] = got
            for message in messages:
                if message["message_type"] not in ("incoming", 0):
                    continue
                number = message["content"].split()[1]
                records, delivered = deliveries.get(message["id"], (0, False))
                if f"echo {number}" in got:
                    answered += 1
                elif records >= self.targets and not delivered:
                    undelivered += 1
                else:
                    pending += 1
        return answered, undelivered, pending, replies

    def settle(self, deadline=120):
        """Waits until every message is answered or CX gave up delivering it (or the
        deadline); returns when."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.outcome()[2] == 0:
                break
            time.sleep(0.5)
        time.sleep(1.0)  # late duplicates would show up now
        return time.monotonic()

    def count(self):
        """(messages, not delivered by CX, lost, duplicated, reordered). Lost: delivered to
        botrun (a 2xx) and never answered. Not delivered: CX's final delivery attempt failed
        (botrun was down) — CX never offers the message again."""
        _, undelivered, pending, replies = self.outcome()
        duplicated = reordered = 0
        for got in replies.values():
            duplicated += len(got) - len(set(got))
            firsts = []
            for reply in got:
                if reply not in firsts:
                    firsts.append(reply)
            numbers = [int(r.split()[1]) for r in firsts]
            reordered += sum(1 for a, b in zip(numbers, numbers[1:]) if b < a)
        return sum(self.sent.values()), undelivered, pending, duplicated, reordered


def echo_bot(workdir):
    path = os.path.join(workdir, "echo.bot")
    shutil.copy(os.path.join(HERE, "echo.bot"), path)
    return path


def webhook(service):
    return service.url(f"/webhooks/cx/{TOKEN}")


# ---------------------------------------------------------------- scenarios


def kill_loop_sqlite(ctx):
    emulator = ctx.emulator(retry_spacing_ms=1000)
    bot = echo_bot(ctx.dir)
    store = f"sqlite://{ctx.dir}/botrun.db"
    service = ctx.service("serve", serve_config(emulator, ctx.dir, store, bot))
    emulator.route_to(webhook(service))
    load = Load(emulator, ctx.conversations, ctx.messages, ctx.seconds)
    recoveries = []
    for _ in range(ctx.kills):
        time.sleep(ctx.seconds / (ctx.kills + 1))
        service.kill9()
        recoveries.append(service.start())
    load.join()
    load.settle()
    return load.count() + (max(recoveries),)


def postgres_replicas(ctx):
    """The emulator and two replicas sharing a fresh PostgreSQL database (dropped afterwards).
    Every event reaches both replicas (the agent bot and a webhook): the shared store
    deduplicates, and one replica carries on while the other is down."""
    database = f"chaos_{os.getpid()}_{int(time.time())}"
    subprocess.run(["psql", f"{POSTGRES}/postgres", "-qc", f"CREATE DATABASE {database}"],
                   check=True, capture_output=True)
    ctx.cleanups.append(lambda: subprocess.run(
        ["psql", f"{POSTGRES}/postgres", "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"],
        capture_output=True))
    emulator = ctx.emulator(retry_spacing_ms=1000)
    bot = echo_bot(ctx.dir)
    store = f"{POSTGRES}/{database}"
    first = ctx.service("replica-a", serve_config(emulator, ctx.dir, store, bot))
    second = ctx.service("replica-b", serve_config(emulator, ctx.dir, store, bot))
    emulator.route_to(webhook(first))
    emulator.also_webhook(webhook(second))
    return emulator, first, second


def kill_loop_postgres(ctx):
    emulator, first, second = postgres_replicas(ctx)
    load = Load(emulator, ctx.conversations, ctx.messages, ctx.seconds, targets=2)
    recoveries = []
    for n in range(ctx.kills):
        time.sleep(ctx.seconds / (ctx.kills + 1))
        victim = (first, second)[n % 2]
        victim.kill9()
        recoveries.append(victim.start())
    load.join()
    # A killed replica's leases lapse within 4 s; the survivor then finishes its work.
    load.settle()
    return load.count() + (max(recoveries),)


def seconds_of(stamp):
    """Unix seconds of an ISO 8601 time with any number of fractional digits."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", stamp)
    if not match:
        raise SystemExit(f"chaos: cannot read the time {stamp!r}")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    whole = datetime.datetime.fromisoformat(match.group(1) + zone).timestamp()
    return whole + float(match.group(2) or 0)


def reply_waits(emulator, conversations):
    """(customer message time, seconds until its echo) for every answered message."""
    waits = []
    for conversation in conversations:
        messages = emulator.messages(conversation)
        answered = {}
        for message in messages:
            if message["message_type"] in ("outgoing", 1) and message["content"].startswith("echo "):
                answered.setdefault(message["content"].split()[1], seconds_of(message["created_at"]))
        for message in messages:
            if message["message_type"] in ("incoming", 0):
                number = message["content"].split()[1]
                if number in answered:
                    asked = seconds_of(message["created_at"])
                    waits.append((asked, answered[number] - asked))
    return waits


def failover_postgres(ctx):
    """One of two replicas is killed for good mid-load. The conversations it was working on
    are leased to it; the survivor answers them once the leases lapse (the dead replica's
    heartbeats stop). Time to recover: the longest any customer waited for an answer."""
    emulator, doomed, _survivor = postgres_replicas(ctx)
    # Slow CX replies keep each turn, and so its lease, open for a while: at the kill the doomed
    # replica is in the middle of some conversations, as it would be under real load.
    emulator.control("POST", "faults", {"path": "*/messages*", "share": 1.0, "seed": 1,
                                         "fault": {"type": "latency", "millis": 800}})
    load = Load(emulator, ctx.conversations, ctx.messages, ctx.seconds, targets=2)
    time.sleep(ctx.seconds / 2)
    killed = time.time()
    doomed.kill9()
    emulator.control("DELETE", "faults")
    load.join()
    load.settle()
    waits = reply_waits(emulator, load.ids)
    around = [wait for asked, wait in waits if killed - 10 <= asked <= killed + 1]
    slow = sum(1 for wait in around if wait > 1.0)
    print(f"chaos: failover: {slow} answers waited over 1 s around the kill, longest "
          f"{max(around, default=0):.1f} s", file=sys.stderr)
    return load.count() + (max((wait for _, wait in waits), default=0.0),)


def cx_faults(ctx):
    emulator = ctx.emulator(retry_spacing_ms=1000)
    bot = echo_bot(ctx.dir)
    service = ctx.service("serve", serve_config(
        emulator, ctx.dir, f"sqlite://{ctx.dir}/botrun.db", bot))
    emulator.route_to(webhook(service))
    emulator.control("POST", "faults", {"path": "*/messages*", "share": 0.4, "seed": 7,
                                         "fault": {"type": "server_error", "status": 503}})
    emulator.control("POST", "faults", {"path": "*/messages*", "share": 0.2, "seed": 8,
                                         "fault": {"type": "too_many_requests",
                                                   "retry_after_secs": 1}})
    emulator.control("POST", "faults", {"path": "*/messages*", "share": 0.1, "seed": 9,
                                         "fault": {"type": "latency", "millis": 300}})
    load = Load(emulator, ctx.conversations, ctx.messages, ctx.seconds)
    load.join()
    emulator.control("DELETE", "faults")
    cleared = time.monotonic()
    done = load.settle()
    return load.count() + (done - cleared,)


def cx_down(ctx):
    emulator = ctx.emulator(retry_spacing_ms=1000)
    bot = echo_bot(ctx.dir)
    service = ctx.service("serve", serve_config(
        emulator, ctx.dir, f"sqlite://{ctx.dir}/botrun.db", bot))
    emulator.route_to(webhook(service))
    load = Load(emulator, ctx.conversations, ctx.messages, ctx.seconds)
    time.sleep(ctx.seconds / 4)
    emulator.control("POST", "faults", {"path": "", "fault": {"type": "reset"}})
    time.sleep(ctx.down)
    emulator.control("DELETE", "faults")
    back = time.monotonic()
    load.join()
    done = load.settle(deadline=120)
    return load.count() + (done - back,)


def disk_full(ctx):
    emulator = ctx.emulator(retry_spacing_ms=3000)
    bot = echo_bot(ctx.dir)
    path = os.path.join(ctx.dir, "botrun.db")
    # The disk: a store capped at 8 MB, most of it taken by another table (other files).
    service = ctx.service("serve", serve_config(
        emulator, ctx.dir, f"sqlite://{path}", bot, "limits:\n  store_max_mb: 8\n"))
    emulator.route_to(webhook(service))
    side = sqlite3.connect(path, timeout=30)
    side.execute("PRAGMA max_page_count = 2048")  # the same 8 MB disk
    side.execute("CREATE TABLE filler (bytes BLOB)")
    side.commit()
    try:
        for _ in range(100):  # 20 MB at most: more than the disk holds
            side.executemany("INSERT INTO filler VALUES (zeroblob(4000))", [()] * 50)
            side.commit()
    except sqlite3.OperationalError:
        side.rollback()  # nearly full: top it up row by row, to the last page
        try:
            for _ in range(100):
                side.execute("INSERT INTO filler VALUES (zeroblob(4000))")
                side.commit()
            for _ in range(4000):
                side.execute("INSERT INTO filler VALUES (zeroblob(100))")
                side.commit()
        except sqlite3.OperationalError:
            side.rollback()  # full: exactly the point
    load = Load(emulator, ctx.conversations, ctx.messages, ctx.seconds)
    # Wait until the service says it cannot write, keep it full a moment, then free space.
    wait_for("/readyz to report the full disk",
             lambda: http("GET", service.url("/readyz"))[0] == 503, 30)
    time.sleep(1.0)
    side.execute("DELETE FROM filler")
    side.commit()
    side.close()
    freed = time.monotonic()
    wait_for("/readyz to recover", lambda: http("GET", service.url("/readyz"))[0] == 200, 30)
    recovered = time.monotonic() - freed
    load.join()
    load.settle()
    assert service.process.poll() is None, "the service was not restarted"
    return load.count() + (recovered,)


def bad_reload(ctx):
    emulator = ctx.emulator(retry_spacing_ms=1000)
    bot = echo_bot(ctx.dir)
    service = ctx.service("serve", serve_config(
        emulator, ctx.dir, f"sqlite://{ctx.dir}/botrun.db", bot), reload=True)
    emulator.route_to(webhook(service))
    good = open(bot).read()
    load = Load(emulator, ctx.conversations, ctx.messages, ctx.seconds)
    time.sleep(ctx.seconds / 3)
    with open(bot, "w") as out:
        out.write('bot "Broken"\n\non start\n  go nowhere\n')
    time.sleep(ctx.seconds / 3)
    with open(bot, "w") as out:
        out.write(good)
    restored = time.monotonic()
    load.join()
    done = load.settle()
    return load.count() + (done - restored,)


def held_connections(ctx):
    emulator = ctx.emulator(retry_spacing_ms=1000)
    bot = echo_bot(ctx.dir)
    limits = "limits:\n  header_timeout_ms: 2000\n  connections_per_address: 100000\n"
    service = ctx.service("serve", serve_config(
        emulator, ctx.dir, f"sqlite://{ctx.dir}/botrun.db", bot, limits))
    emulator.route_to(webhook(service))
    load = Load(emulator, ctx.conversations, ctx.messages, ctx.seconds)
    held = []
    for _ in range(ctx.held):
        try:
            held.append(socket.create_connection(("127.0.0.1", service.port), timeout=5))
            held[-1].sendall(b"POST /webhooks/cx/x HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        except OSError:
            break
    opened = time.monotonic()
    closed = 0
    for connection in held:
        connection.settimeout(max(0.1, 10 - (time.monotonic() - opened)))
        try:
            if connection.recv(1) == b"":
                closed += 1
        except OSError:
            pass
        connection.close()
    all_closed = time.monotonic() - opened
    load.join()
    load.settle()
    if closed < len(held):
        raise SystemExit(f"chaos: {len(held) - closed} held connections were never closed")
    return load.count() + (all_closed,)


def websocket_flood(ctx):
    emulator = ctx.emulator(retry_spacing_ms=1000)
    bot = echo_bot(ctx.dir)
    port = free_port()
    widget = (f"widget:\n  bot: {bot}\n  inbox_id: 1\n  limits:\n    streams_total: 100000\n"
              f"  sites:\n    - id: shop\n      secret_env: CHAOS_SITE_SECRET\n"
              f"      origins: [http://127.0.0.1:{port}]\n")
    config = serve_config(emulator, ctx.dir, f"sqlite://{ctx.dir}/botrun.db", bot, widget)
    config["text"] = config["text"].replace(f":{config['port']}", f":{port}")
    config["port"] = port
    service = ctx.service("serve", config)
    emulator.route_to(webhook(service))
    base = service.url("/v3/directline")
    status, minted = http("POST", f"{base}/tokens/generate", {},
                          {"authorization": f"Bearer {SITE_SECRET}"})
    assert status == 200, minted
    token, conversation = minted["token"], minted["conversationId"]
    status, _ = http("POST", f"{base}/conversations", {},
                     {"authorization": f"Bearer {token}"})
    assert status == 201
    load = Load(emulator, ctx.conversations, ctx.messages, ctx.seconds)
    upgraded = refused = 0
    sockets = []
    started = time.monotonic()
    for _ in range(ctx.flood):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall((f"GET /v3/directline/conversations/{conversation}/stream?t={token} "
                       "HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
            head = s.recv(64)
        except OSError:
            break
        if head.startswith(b"HTTP/1.1 101"):
            upgraded += 1
            sockets.append(s)
        else:
            refused += 1
            s.close()
    flooded = time.monotonic() - started
    load.join()
    load.settle()
    for s in sockets:
        s.close()
    if upgraded > 4 or refused == 0:
        raise SystemExit(f"chaos: {upgraded} streams opened on one conversation")
    return load.count() + (flooded,)


SCENARIOS = [
    ("kill -9 loop, SQLite", "kill_sqlite", kill_loop_sqlite),
    ("kill -9 loop, 2 PostgreSQL replicas", "kill_postgres", kill_loop_postgres),
    ("one of 2 PostgreSQL replicas killed for good", "failover", failover_postgres),
    ("CX faults (40% 503, 20% 429, 10% slow)", "cx_faults", cx_faults),
    ("CX down", "cx_down", cx_down),
    ("disk full (SQLite)", "disk_full", disk_full),
    ("bad hot reload under load", "bad_reload", bad_reload),
    ("held connections", "held", held_connections),
    ("WebSocket flood on one conversation", "websocket", websocket_flood),
]


class Context:
    def __init__(self, args, workdir):
        self.binary = args.binary
        self.dir = workdir
        short = args.short
        self.conversations = 20 if short else 100
        self.messages = 8 if short else 20
        self.seconds = 4.0 if short else 12.0
        self.kills = 2 if short else 3
        self.down = 3.0 if short else 10.0
        self.held = 500 if short else 3000
        self.flood = 50 if short else 1000
        self.memory = Memory()
        self.processes = []
        self.cleanups = []

    def emulator(self, retry_spacing_ms):
        # The account keeps a conversation with the bot when a delivery fails for good (CX's
        # `keep_pending_on_bot_failure`): otherwise CX hands it to humans and the bot, rightly,
        # stays silent in it, which would hide what botrun itself does with later messages.
        emulator = Emulator(self.binary, self.dir, retry_spacing_ms, keep_pending=True)
        self.processes.append(emulator)
        return emulator

    def service(self, name, config, reload=False):
        service = Service(self.binary, self.dir, name, config, self.memory, reload)
        self.processes.append(service)
        return service

    def close(self):
        self.memory.stop = True
        for process in reversed(self.processes):
            process.stop()
        for cleanup in self.cleanups:
            cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI version (~2 minutes)")
    parser.add_argument("--binary", default="target/release/botrun")
    parser.add_argument("--only", nargs="*", help="scenario keys: " +
                        " ".join(key for _, key, _ in SCENARIOS))
    args = parser.parse_args()
    rows = []
    failed = False
    for title, key, scenario in SCENARIOS:
        if args.only and key not in args.only:
            continue
        workdir = tempfile.mkdtemp(prefix=f"chaos-{key}-")
        ctx = Context(args, workdir)
        started = time.monotonic()
        try:
            sent, undelivered, lost, duplicated, reordered, recovery = scenario(ctx)
            peak = ctx.memory.peak_kib
        except (SystemExit, AssertionError, subprocess.CalledProcessError) as error:
            print(f"chaos: {title}: {error} (logs in {workdir})", file=sys.stderr)
            failed = True
            ctx.close()
            continue
        ctx.close()
        took = time.monotonic() - started
        failed |= bool(lost or duplicated or reordered)
        rows.append((title, sent, undelivered, lost, duplicated, reordered,
                     f"{recovery:.1f} s", f"{peak / 1024:.0f} MiB"))
        print(f"chaos: {title}: done in {took:.0f} s", file=sys.stderr)
        if not (lost or duplicated or reordered):
            shutil.rmtree(workdir, ignore_errors=True)
    print("| Scenario | Messages | Not delivered by CX | Lost | Duplicated | Reordered "
          "| Time to recover | Peak memory |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
