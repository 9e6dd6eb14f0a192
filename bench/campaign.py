#!/usr/bin/env python3
"""A campaign at full speed, the way it really runs (issue 13, item 2): 10,000 recipients from the composer.

* An operator (an internal user with a browser-equivalent session: JSON-RPC with its session cookie, and
  the bus's ``/websocket`` subscribed as the web client does) selects ``--recipients`` partners and clicks
  *Send* in the WhatsApp composer: the web client's ``get_views``, ``onchange`` (opening, then choosing the
  template), ``web_save`` and ``action_send_whatsapp`` over HTTP.
* Odoo runs as production would: ``odoo-bin`` prefork, ``--workers 2``, Odoo's default two cron workers
  (``--cron-workers``: the queue runners and the status applier), ``-d DB``; the account's cap is 80 msg/s
  (Meta's default).
* The Meta sandbox (``python3 -m meta_sandbox``, its own process) answers every call in 100 ms, then posts
  back ``sent``, ``delivered`` and ``read`` for every message, each a random 0.5-3 s after the previous one
  (``--spread``), and a reply from 5 % of the recipients after their ``read`` (a reply to the template),
  ``--webhook-workers`` webhooks at a time.
* The operator's websocket sees the chatter ticks move and the replies arrive in Discuss (the chats are
  routed to the template's sender); on ``discuss.channel/joined`` it subscribes again, as the web client.

Printed: click -> all sent (ideal: recipients / cap), the sustained send rate and the most calls Meta got
in any second, the status lag (Meta's emission -> the message's state committed in Odoo, by a deferred
trigger of this benchmark on ``whatsapp_message``, dropped at the end) p50/p99, the webhook
acknowledgement seen by Meta p50/p99, reply -> visible in Discuss (on the operator's websocket) p99, what
was lost (must be 0), and the CPU each process spent per recipient (this client, the sandbox, Odoo,
PostgreSQL). Path: the chatter path (every message has its chatter message and notification).

    python3 bench/campaign.py -d DB [--recipients 10000] [--http-port 18103] [--workers 2]
        [--rate 80] [--latency 0.1] [--spread 0.5,3] [--reply-ratio 0.05] [--webhook-workers 8]
        [--before REV [--runs 2]]

With ``--before REV``, the campaign runs ``--runs`` times on each version, interleaved (REV's addons exported
by ``git archive``, then the working tree's, and again), and a table puts every run side by side: on a shared
machine the host's speed moves a campaign by tens of percent within an hour, so a change is judged by runs
side by side only. Both versions run on the same database (the change must not alter its schema).

Not a test: figures. Targets: click -> all sent <= 1.1 x ideal; status lag p99 <= 5 s; ack p99 <= 40 ms;
nothing lost.
"""

import argparse
import bisect
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts
import composer_queue
import requests

REPO = benchlib.ROOT
SECRET = "bench-campaign-secret"
TOKEN = "bench-campaign-token"
PASSWORD = "bench-campaign-operator"
RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 4, "replied": 5}  # as tools/meta_status ranks them
REPLY_RE = re.compile(r"\[reply (\d+)\]")


def _args(argv):
    args = benchlib.parse_args(argv, __doc__.splitlines()[0], 10000, 1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=10000)
    parser.add_argument("--http-port", type=int, default=18103)
    parser.add_argument("--sandbox-port", type=int, default=None, help="default: --http-port + 4")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cron-workers", type=int, default=2, help="Odoo's --max-cron-threads (default 2)")
    parser.add_argument("--rate", type=int, default=80, help="the account's cap, msg/s")
    parser.add_argument("--latency", type=float, default=0.1, help="Meta's answer time, s")
    parser.add_argument("--spread", default="0.5,3", help="min,max seconds between a message's statuses")
    parser.add_argument("--reply-ratio", type=float, default=0.05)
    parser.add_argument("--webhook-workers", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the campaign's records (to inspect them)")
    parser.add_argument("--timeout", type=float, default=0, help="give up after (default: 3 x ideal + 120 s)")
    parser.add_argument(
        "--before", default=None, help="a git revision: campaigns on it and on the working tree"
    )
    parser.add_argument(
        "--runs", type=int, default=2, help="with --before: campaigns per version, interleaved"
    )
    parser.parse_known_args(argv, namespace=args)  # bench/run.py passes its arguments to every bench
    args.sandbox_port = args.sandbox_port or args.http_port + 4
    args.spread = [float(x) for x in args.spread.split(",")]
    return args


# -- setup ---------------------------------------------------------------------------------------------
TRIGGER_SQL = """
CREATE UNLOGGED TABLE bench_campaign_state_log (message_id int, state varchar, at double precision);
CREATE FUNCTION bench_campaign_log_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_campaign_state_log VALUES (NEW.id, NEW.state, extract(epoch FROM clock_timestamp()));
    RETURN NULL;
END $$;
-- deferred: fires at commit, so "at" is when the state became visible to everyone
CREATE CONSTRAINT TRIGGER bench_campaign_log_state AFTER INSERT OR UPDATE OF state ON whatsapp_message
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.account_id = %(account)s AND NEW.direction = 'outbound')
    EXECUTE FUNCTION bench_campaign_log_state();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS bench_campaign_log_state ON whatsapp_message;
DROP FUNCTION IF EXISTS bench_campaign_log_state();
DROP TABLE IF EXISTS bench_campaign_state_log;
"""


def setup(odoo, registry, args, run, sandbox_url):
    """The operator, the account (cap ``--rate``, on the sandbox), an approved template, the partners,
    and the state log trigger."""
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        cr.execute(DROP_SQL)
        operator = env["res.users"].create(
            {
                "name": f"Bench Operator {run}",
                "login": f"bench_campaign_{run}",
                "password": PASSWORD,
                "groups_id": [
                    (6, 0, [env.ref("base.group_user").id, env.ref("whatsapp.group_whatsapp_user").id])
                ],
            }
        )
        account = env["whatsapp.account"].create(
            {
                "name": f"Bench campaign {run}",
                "phone_uid": f"77{run[:6]}",
                "account_uid": f"78{run[:6]}",
                "app_uid": f"79{run[:6]}",
                "token": TOKEN,
                "app_secret": SECRET,
                "api_base_url": sandbox_url,
                "rate_limit": args.rate,
                "allowed_company_ids": [(6, 0, env.ref("base.main_company").ids)],
            }
        )
        template = env["whatsapp.template"].create(
            {
                "name": f"bench campaign {run}",
                "body": "Hello {{1}}, our new season starts today!",
                "account_id": account.id,
                "model_id": env["ir.model"]._get_id("res.partner"),
                "phone_field": "mobile",
                "lang_code": "en_US",
                "category": "marketing",
            }
        )
        template.variable_ids.filtered(lambda v: v.key == "body-1").write(
            {"field_type": "field", "field_name": "name"}
        )
        template.status = "approved"
        partners = env["res.partner"].create(
            [
                {
                    "name": f"Campaign {run} {i}",
                    "mobile": f"+33 6 {10 + i // 10000:02d} {i // 100 % 100:02d} {i % 100:02d} 00",
                }
                for i in range(args.recipients)
            ]
        )
        cr.execute("SELECT COALESCE(MAX(id), 0) FROM bus_bus")
        last_bus = cr.fetchone()[0]
        cr.execute(TRIGGER_SQL, {"account": account.id})
        return {
            "operator": (operator.id, operator.login),
            "account": (account.id, account.phone_uid, account.account_uid, account.app_uid),
            "template": (template.id, template.template_name, template.body),
            "partners": partners.ids,
            "last_bus": last_bus,
        }


def _channel_account_field(env):
    """The chat's account field on ``discuss.channel`` (its prefix is being renamed: issue 11)."""
    fields_ = env["discuss.channel"]._fields
    return next(name for name in ("whatsapp_account_id", "wa_account_id") if name in fields_)


def teardown(odoo, registry, state):
    """Remove what the campaign created (best effort: ``./dev bench`` drops its database anyway)."""
    with registry.cursor() as cr:
        cr.execute(DROP_SQL)
        cr.commit()
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        account = env["whatsapp.account"].browse(state["account"][0])
        try:
            channels = (
                env["discuss.channel"]
                .with_context(active_test=False)
                .search([(_channel_account_field(env), "=", account.id)])
            )
            messages = env["whatsapp.message"].search([("account_id", "=", account.id)])
            mail_messages = messages.mail_message_id
            env["whatsapp.bulk.send"].search([("template_id", "=", state["template"][0])]).unlink()
            messages.unlink()
            mail_messages.unlink()
            channels.unlink()
            env["whatsapp.webhook.event"].search([("account_id", "=", account.id)]).unlink()
            env["whatsapp.status.pending"].search([("account_id", "=", account.id)]).unlink()
            env["res.partner"].browse(state["partners"]).unlink()
            env["whatsapp.template"].browse(state["template"][0]).unlink()
            account.unlink()
            env["res.users"].browse(state["operator"][0]).action_archive()
            cr.commit()
        except Exception as exc:  # noqa: BLE001 - a bench database: report and go on
            cr.rollback()
            print(f"campaign: cleanup incomplete ({exc})", file=sys.stderr)


# -- the sandbox ---------------------------------------------------------------------------------------
class Sandbox:
    """``python3 -m meta_sandbox`` in a subprocess, driven through its control API."""

    def __init__(self, args, callback):
        self.url = f"http://127.0.0.1:{args.sandbox_port}"
        self.session = requests.Session()
        token = secrets.token_urlsafe(24)  # the sandbox's control API needs it (X-Sandbox-Token)
        self.session.headers["X-Sandbox-Token"] = token
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "meta_sandbox", "--port", str(args.sandbox_port), "--no-validate",
                "--callback", callback, "--webhook-workers", str(args.webhook_workers),
            ],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, META_SANDBOX_CONTROL_TOKEN=token),
        )  # fmt: skip
        for _ in range(100):
            try:
                self.get("state")
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the sandbox did not start")

    def get(self, name, **params):
        response = self.session.get(f"{self.url}/_sandbox/{name}", params=params, timeout=120)
        response.raise_for_status()
        return response.json()

    def post(self, name, data):
        response = self.session.post(f"{self.url}/_sandbox/{name}", json=data, timeout=60)
        response.raise_for_status()
        return response.json()

    def configure(self, args, state):
        _account_id, pnid, waba, app = state["account"]
        self.post("accounts", {"phone_number_id": pnid, "waba_id": waba, "app_id": app, "token": TOKEN,
                               "app_secret": SECRET, "latency": args.latency})  # fmt: skip
        self.post("templates", {"waba_id": waba, "name": state["template"][1], "language": "en_US",
                                "category": "MARKETING", "status": "APPROVED",
                                "components": [{"type": "BODY", "text": state["template"][2]}]})  # fmt: skip
        self.post(
            "status_flow",
            {"statuses": ["sent", "delivered", "read"], "delay": args.spread, "reply_ratio": args.reply_ratio,
             "reply_text": "Thanks, tell me more [reply {n}]"},
        )  # fmt: skip

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


# -- the operator: the web client's RPC and bus ----------------------------------------------------------
class Operator:
    """One operator's browser-equivalent session: JSON-RPC with a session cookie, and the bus websocket."""

    def __init__(self, args, login, last_bus):
        self.base = f"http://127.0.0.1:{args.http_port}"
        self.ws_url = f"ws://127.0.0.1:{args.http_port + 1}/websocket"
        self.session = requests.Session()
        self.database = args.database
        self.login = login
        self.last = last_bus
        self.seen_replies = {}  # reply number -> time first seen on the bus
        self.notifications = 0
        self.types = {}
        self.resubscribed = 0
        self.reconnected = 0
        self.close_codes = {}  # the server's close code -> count (1013: Odoo's per-connection rate limit)
        self._subscribe_due = None  # the web client debounces its resubscription (300 ms)
        self._ws = None
        self._stop = threading.Event()
        self._thread = None
        self._id = 0

    def rpc(self, route, params):
        self._id += 1
        response = self.session.post(
            self.base + route, json={"jsonrpc": "2.0", "method": "call", "params": params, "id": self._id},
            timeout=600,
        )  # fmt: skip
        response.raise_for_status()
        data = response.json()
        if data.get("error"):
            raise RuntimeError(f"{route}: {data['error'].get('data', {}).get('message') or data['error']}")
        return data["result"]

    def call_kw(self, model, method, args, kwargs=None):
        return self.rpc(f"/web/dataset/call_kw/{model}/{method}",
                        {"model": model, "method": method, "args": args, "kwargs": kwargs or {}})  # fmt: skip

    def authenticate(self):
        result = self.rpc(
            "/web/session/authenticate", {"db": self.database, "login": self.login, "password": PASSWORD}
        )
        self.context = result["user_context"]

    def click_send(self, partner_ids, template_id):
        """The composer opened on a selection, the template chosen, *Send* clicked: the web client's calls."""
        context = dict(self.context, active_model="res.partner", active_ids=partner_ids)
        views = self.call_kw("whatsapp.composer", "get_views", [[[False, "form"]]], {"context": context})
        spec, sent = composer_queue.form_spec(views, "whatsapp.composer")
        values = self.call_kw("whatsapp.composer", "onchange", [[], {}, [], spec], {"context": context})[
            "value"
        ]
        composer_queue.choose_template(
            lambda vals, names, spec: self.call_kw(
                "whatsapp.composer", "onchange", [[], vals, names, spec], {"context": context}
            ),
            values, sent, spec, template_id,
        )  # fmt: skip
        saved = self.call_kw(
            "whatsapp.composer", "web_save", [[], composer_queue.save_values(values, sent)],
            {"context": context, "specification": spec},
        )  # fmt: skip
        return self.rpc(
            "/web/dataset/call_button",
            {"model": "whatsapp.composer", "method": "action_send_whatsapp", "args": [[saved[0]["id"]]],
             "kwargs": {"context": context}},
        )  # fmt: skip

    def listen(self):
        self._connect()
        self._thread = threading.Thread(target=self._run, name="operator-bus", daemon=True)
        self._thread.start()

    def _connect(self):
        import websocket  # noqa: PLC0415 - websocket-client, a dependency of Odoo's bus tests
        from odoo.addons.bus.websocket import WebsocketConnectionHandler  # noqa: PLC0415

        for attempt in range(60):  # prefork starts its gevent process a moment after the workers
            try:
                self._ws = websocket.create_connection(
                    f"{self.ws_url}?version={WebsocketConnectionHandler._VERSION}",
                    cookie=f"session_id={self.session.cookies['session_id']}",
                    timeout=60,  # the gevent process loads the registry on its first request
                )
                self._ws.settimeout(0.1)  # a due resubscription is sent on time
                break
            except ConnectionRefusedError:
                if attempt == 59:
                    raise
                time.sleep(0.5)
        self._subscribe()
        self._subscribe_due = None

    def _subscribe(self):
        self._ws.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": self.last}}))

    def _run(self):
        import websocket  # noqa: PLC0415

        while not self._stop.is_set():
            if self._subscribe_due and time.time() >= self._subscribe_due:
                self._subscribe_due = None
                self.resubscribed += 1
                self._subscribe()
            try:
                opcode, data = self._ws.recv_data()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError):
                if self._stop.is_set():
                    return
                # the web client reconnects and subscribes again from the last notification it got (the bus
                # sends what it missed)
                self.reconnected += 1
                self._connect()
                continue
            now = time.time()
            if opcode == websocket.ABNF.OPCODE_CLOSE:  # the next recv raises: reconnected then
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                self.close_codes[code] = self.close_codes.get(code, 0) + 1
                continue
            frame = data.decode() if isinstance(data, bytes) else data
            if not frame:
                continue
            notifications = json.loads(frame)
            joined = False
            for notification in notifications:
                self.last = max(self.last, notification["id"])
                kind = notification["message"]["type"]
                self.types[kind] = self.types.get(kind, 0) + 1
                joined = joined or kind == "discuss.channel/joined"
            self.notifications += len(notifications)
            for number in REPLY_RE.findall(frame):
                self.seen_replies.setdefault(int(number), now)
            # the web client's store subscribes again to the chats it just joined, debounced by 300 ms
            # (bus/static/src/workers/websocket_worker.js): a subscribe per joined chat would pass Odoo's
            # limit of 10 frames in 2 s at a few replies a second, and the server would close the socket
            if joined and not self._subscribe_due:
                self._subscribe_due = now + 0.3

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        if self._ws:
            self._ws.close()


# -- measuring -----------------------------------------------------------------------------------------
def _state_log(registry):
    """``{message id: {state: first time committed}}`` and ``{wamid: message id}`` of the campaign."""
    with registry.cursor() as cr:
        cr.execute("SELECT message_id, state, at FROM bench_campaign_state_log ORDER BY at")
        log = {}
        for message_id, message_state, at in cr.fetchall():
            log.setdefault(message_id, {}).setdefault(message_state, at)
        return log


def _applied_at(states, status):
    """When the message first reached ``status`` or a later one (None: never)."""
    times = [at for name, at in states.items() if RANK.get(name, 0) >= RANK[status]]
    return min(times) if times else None


def _wait_sent(registry, account_id, count, deadline):
    """Wait until no message of the campaign is queued or sending; return {state: count}."""
    while True:
        with registry.cursor() as cr:
            # the queue's partial index: the whole count (13 ms of PostgreSQL's CPU at 10,000) once nothing is left
            cr.execute(
                "SELECT COUNT(*) FROM whatsapp_message WHERE account_id = %s AND state IN ('queued', 'sending')",
                [account_id],
            )
            if not cr.fetchone()[0] or time.time() > deadline:
                cr.execute(
                    "SELECT state, COUNT(*) FROM whatsapp_message WHERE account_id = %s AND direction = 'outbound' "
                    "GROUP BY state",
                    [account_id],
                )
                states = dict(cr.fetchall())
                pending = sum(states.get(name, 0) for name in ("queued", "sending"))
                if sum(states.values()) >= count and not pending or time.time() > deadline:
                    return states
        time.sleep(1)


def _wait_progress(count, expected, patience):
    """Wait until ``count()`` reaches ``expected``, or stops growing for ``patience`` seconds; return it."""
    last, since = -1, time.time()
    while True:
        value = count()
        if value >= expected:
            return value
        if value != last:
            last, since = value, time.time()
        elif time.time() - since > patience:
            return value
        time.sleep(1)


def _slots(log_path, account_id):
    """The slots reserved, granted and given up by the queue runs of ``account_id``, and the seconds their lanes
    had no job ready, as the runs logged them (zeros from a version that does not log them)."""
    pattern = re.compile(
        rf"WhatsApp account {account_id}: (\d+) slots reserved, (\d+) granted, (\d+) given up, ([\d.]+) s without"
    )
    totals = [0, 0, 0, 0.0]
    with open(log_path, encoding="utf-8", errors="replace") as log:
        for match in pattern.finditer(log.read()):
            for index, value in enumerate(match.groups()):
                totals[index] += float(value) if index == 3 else int(value)
    return totals


def _count_read(registry, account_id):
    with registry.cursor() as cr:
        cr.execute(
            "SELECT COUNT(*) FROM whatsapp_message WHERE account_id = %s AND state IN ('read', 'played', 'replied')",
            [account_id],
        )
        return cr.fetchone()[0]


def _is_reply(record):
    """Whether a delivered webhook carried a customer's message (else statuses)."""
    return bool(record["payload"]["entry"][0]["changes"][0]["value"].get("messages"))


def _ms(values, fraction):
    return benchlib.percentile(sorted(values), fraction) * 1000 if values else float("nan")


def campaign(args, odoo, registry, addons=benchlib.ROOT, label=""):  # noqa: PLR0915 - one scenario, read top to bottom
    """One campaign on a server of ``addons``; print its figures and return them."""
    run = uuid.uuid4().hex[:6]
    n = args.recipients
    ideal = n / args.rate
    deadline_budget = args.timeout or 3 * ideal + 120
    sandbox = Sandbox(args, f"http://127.0.0.1:{args.http_port}/whatsapp/webhook")
    state = setup(odoo, registry, args, run, sandbox.url)
    account_id = state["account"][0]
    server = benchlib.OdooServer(
        args,
        args.http_port,
        workers=args.workers,
        cron_threads=args.cron_workers,
        name="campaign",
        addons=addons,
        options={"log_handler": "odoo.addons.whatsapp.models.whatsapp_message:INFO"},  # the slots' lines
    )
    operator = Operator(args, state["operator"][1], state["last_bus"])
    expected_replies = int(n * args.reply_ratio + 1e-9)
    try:
        sandbox.configure(args, state)
        server.wait()
        operator.authenticate()
        operator.listen()
        cpu_before = benchlib.cpu_seconds(
            args.database, [server.process.pid], {"sandbox": [sandbox.process.pid]}
        )
        clicked = time.time()
        operator.click_send(state["partners"], state["template"][0])
        click_s = time.time() - clicked
        print(
            f"campaign: {n} recipients queued from the composer in {click_s:.2f} s (web client's calls)",
            flush=True,
        )
        states = _wait_sent(registry, account_id, n, clicked + deadline_budget)
        all_sent_at = time.time()
        print(f"campaign: queue drained after {all_sent_at - clicked:.1f} s: {states}", flush=True)
        # every status and reply emitted, delivered and answered (replies come after the last status)
        accepted = sandbox.get("state")["counts"]["sent_messages"]
        _wait_progress(
            lambda: sandbox.get("state")["counts"]["webhooks"], 3 * accepted + expected_replies, 30
        )
        sandbox.post("wait_idle", {"timeout": 30})
        delivered_at = time.time()
        # statuses parked while their message was being sent are applied by the queue a moment later
        read = _wait_progress(lambda: _count_read(registry, account_id), accepted, 90)
        print(
            f"campaign: webhooks delivered {delivered_at - clicked:.1f} s after the click, {read} messages read (or replied) "
            f"{time.time() - clicked:.1f} s after it",
            flush=True,
        )
        time.sleep(2)  # the last replies' bus notifications
        cpu_after = benchlib.cpu_seconds(
            args.database, [server.process.pid], {"sandbox": [sandbox.process.pid]}
        )
        webhooks = sandbox.get("webhooks")["webhooks"]
        conversations = sandbox.get("messages")["conversations"]
        # the sends as they reached the machine (the kernel's stamp of the sandbox's read), as Meta's edge counts
        # them: not delayed by the sandbox's own threads on a loaded machine
        arrivals = [
            r["time"]
            for r in sandbox.get("requests", group="messages")["requests"]
            if f"/{state['account'][1]}/" in r["path"]
        ]
    finally:
        operator.stop()
        server.stop()
        sandbox.stop()
    log = _state_log(registry)
    with registry.cursor() as cr:
        cr.execute("SELECT wamid, id, state FROM whatsapp_message WHERE account_id = %s AND wamid IS NOT NULL",
                   [account_id])  # fmt: skip
        by_wamid = {wamid: (mid, message_state) for wamid, mid, message_state in cr.fetchall()}
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        cr.execute(
            f"""SELECT m.body FROM mail_message m JOIN discuss_channel c ON c.id = m.res_id
                WHERE m.model = 'discuss.channel' AND c.{_channel_account_field(env)} = %s""",  # noqa: S608 - a field name
            [account_id],
        )
        in_discuss = {int(x) for (body,) in cr.fetchall() for x in REPLY_RE.findall(body or "")}
        cr.execute(
            """SELECT failure_reason, COUNT(*) FROM whatsapp_message WHERE account_id = %s AND state = 'failed'
             GROUP BY failure_reason ORDER BY 2 DESC LIMIT 3""",
            [account_id],
        )
        failures = cr.fetchall()
        cr.execute(
            """SELECT (SELECT COUNT(*) FROM whatsapp_status_pending WHERE account_id = %(a)s),
                      (SELECT COUNT(*) FROM whatsapp_webhook_event WHERE account_id = %(a)s AND state != 'done')""",
            {"a": account_id},
        )
        parked, events_left = cr.fetchone()
    problems = server.problems()
    reserved, calls_made, slots_given_up, starved = _slots(server.log_path, account_id)
    if args.keep:
        with registry.cursor() as cr:
            cr.execute(DROP_SQL)
        print(f"campaign: records kept (account {account_id})")
    else:
        teardown(odoo, registry, state)

    # sends: what Meta saw
    pnid = state["account"][1]
    calls = sorted(
        m["time"]
        for c in conversations
        if c["phone_number_id"] == pnid
        for m in c["messages"]
        if m["direction"] == "out"
    )
    first_sent = min((_applied_at(s, "sent") for s in log.values() if _applied_at(s, "sent")), default=None)
    last_sent = max((_applied_at(s, "sent") for s in log.values() if _applied_at(s, "sent")), default=None)
    most_in_1s, busiest, over = benchlib.busiest_second(arrivals, args.rate)
    sustained = (len(calls) - 1) / (calls[-1] - calls[0]) if len(calls) > 1 else 0.0
    # statuses: emission -> committed
    lags, acks, late, non_200, status_lost = [], [], [], 0, 0
    reply_due = {}
    for record in webhooks:
        if record.get("elapsed") is not None:
            acks.append(record["elapsed"])
        if record.get("time") and record.get("due"):
            late.append(max(0.0, record["time"] - record["due"]))
        non_200 += record.get("status") != 200
        value = record["payload"]["entry"][0]["changes"][0]["value"]
        for status in value.get("statuses", []):
            mid = by_wamid.get(status["id"], (None, None))[0]
            applied = _applied_at(log.get(mid, {}), status["status"]) if mid else None
            if applied is None:
                status_lost += 1
                if status_lost <= 3:
                    print(
                        f"  not applied: {status['status']} of message {mid} ({by_wamid.get(status['id'])})"
                    )
            else:
                lags.append(max(0.0, applied - record["due"]))
        for message in value.get("messages", []):
            for number in REPLY_RE.findall(message.get("text", {}).get("body", "")):
                reply_due[int(number)] = record["due"]
    reply_lags = [
        operator.seen_replies[k] - due for k, due in reply_due.items() if k in operator.seen_replies
    ]
    # the status POSTs that started within 0.1 s after a reply's, apart: what a reply's handling does to them
    reply_starts = sorted(r["time"] for r in webhooks if r.get("time") and _is_reply(r))
    near_reply, apart = [], []
    for record in webhooks:
        if record.get("elapsed") is not None and record.get("time") and not _is_reply(record):
            i = bisect.bisect_right(reply_starts, record["time"])
            after_reply = i and record["time"] - reply_starts[i - 1] < 0.1
            (near_reply if after_reply else apart).append(record["elapsed"])
    replies_not_in_discuss = len(set(reply_due) - in_discuss)
    replies_not_seen = len(set(reply_due) - set(operator.seen_replies))
    cpu = benchlib.cpu_per_event(cpu_before, cpu_after, n)
    status_lags = sorted(lags)

    print()
    print(
        f"campaign{label}: {n} recipients, cap {args.rate} msg/s, Meta answering in {args.latency * 1000:.0f} ms, statuses "
        f"{args.spread[0]}-{args.spread[1]} s apart, {args.reply_ratio:.0%} replies, {args.webhook_workers} webhooks "
        f"at a time; Odoo prefork --workers {args.workers} + {args.cron_workers} cron workers; path: chatter (composer-made messages)"
    )
    rows = [
        ("click (composer: get_views, onchange x2, web_save, Send)", f"{click_s:.2f} s", ""),
        ("click -> all sent (last call reached Meta)", f"{calls[-1] - clicked:.1f} s" if calls else "-",
         f"<= {1.1 * ideal:.1f} s (1.1 x {ideal:.1f})"),
        ("  first call reached Meta", f"{calls[0] - clicked:.1f} s" if calls else "-", ""),
        ("  first / last message committed 'sent' in Odoo",
         f"{first_sent - clicked:.1f} / {last_sent - clicked:.1f} s" if last_sent else "-", ""),
        ("sustained send rate (calls Meta got, over their span)", f"{sustained:.1f} msg/s", f"~{args.rate}"),
        ("most calls in any 1 s window (on arrival at Meta's machine)", f"{most_in_1s}", f"<= {args.rate}"),
        ("  1-s windows (from a call) over the cap / the busiest, from the click",
         f"{over} / {busiest - clicked:.1f} s" if arrivals else "-", ""),
        ("  the same, as the sandbox's handler recorded them (its threads late on a busy host)",
         f"{benchlib.max_per_second(calls)}", ""),
        ("status lag (Meta's emission -> committed) p50 / p99",
         f"{_ms(status_lags, 0.5) / 1000:.2f} / {_ms(status_lags, 0.99) / 1000:.2f} s", "p99 <= 5 s"),
        ("webhook ack seen by Meta p50 / p99", f"{_ms(acks, 0.5):.0f} / {_ms(acks, 0.99):.0f} ms", "p99 <= 40 ms"),
        ("  ack p99 of status POSTs within 0.1 s after a reply / the others",
         f"{_ms(near_reply, 0.99):.0f} / {_ms(apart, 0.99):.0f} ms", ""),
        ("  webhooks waiting at Meta (emission -> POST) p50 / p99",
         f"{_ms(late, 0.5) / 1000:.2f} / {_ms(late, 0.99) / 1000:.2f} s", ""),
        ("reply -> visible in Discuss (operator's bus) p50 / p99",
         f"{_ms(reply_lags, 0.5) / 1000:.2f} / {_ms(reply_lags, 0.99) / 1000:.2f} s", ""),
        ("lost: not sent / statuses not applied / webhooks not 200",
         f"{n - len(calls)} / {status_lost} / {non_200}", "0 / 0 / 0"),
        ("lost: replies not in Discuss / not seen on the bus (of emitted)",
         f"{replies_not_in_discuss} / {replies_not_seen} (of {len(reply_due)})", "0 / 0"),
    ]  # fmt: skip
    for label, result, target in rows:
        print(f"  {label:<66} {result:>22}   {target}")
    print(f"  CPU per recipient: {benchlib.format_cpu(cpu)}")
    if calls_made and len(calls) > 1:  # a version that logs them
        # the shared clock's slots over the calls' span, at the spacing the limiter keeps: what was never reserved
        # is time the clock stood idle (no runner had a job ready, a hand-over between runs)
        from odoo.addons.whatsapp.tools.sender import SharedRateLimiter  # noqa: PLC0415

        spacing = SharedRateLimiter(args.rate, reserve=None).spacing
        capacity = (calls[-1] - calls[0]) / spacing
        idle = max(0.0, 1 - reserved / capacity)
        print(
            f"  the limiter's slots (queue runs' log): {calls_made} granted, {slots_given_up} given up "
            f"({slots_given_up / (calls_made + slots_given_up):.1%}: late wake-ups, uncertain reservations), "
            f"{reserved - calls_made - slots_given_up} reserved but unused; "
            f"{idle:.1%} of the clock's {capacity:.0f} slots over the calls' span never reserved; the runners' "
            f"lanes without a job ready {starved:.1f} s in all"
        )
    print(
        f"  operator's bus: {operator.notifications} notifications ({', '.join(f'{k} {v}' for k, v in sorted(operator.types.items(), key=lambda kv: -kv[1])[:4])}), "
        f"subscribed again {operator.resubscribed} times, "
        f"reconnected {operator.reconnected} times (close codes {operator.close_codes or 'none'})"
    )
    print(f"  left: {parked} statuses parked, {events_left} webhook events not done")
    for reason, count in failures:
        print(f"  failed: {count} x {reason}")
    print(f"  machine {benchlib.machine()}; server log: {benchlib.log_verdict(problems)} ({server.log_path})")
    return {
        "name": "campaign",
        "click_to_all_sent": (calls[-1] - clicked) if calls else None,
        "sustained": sustained,
        "most_in_1s": most_in_1s,
        "status_lag_p99": _ms(status_lags, 0.99) / 1000,
        "ack_p50_ms": _ms(acks, 0.5),
        "ack_p99_ms": _ms(acks, 0.99),
        "reply_p99": _ms(reply_lags, 0.99) / 1000,
        "lost": status_lost + non_200 + (n - len(calls)) + replies_not_in_discuss,
        "given_up": slots_given_up / (calls_made + slots_given_up) if calls_made else None,
        "never_reserved": idle if calls_made and len(calls) > 1 else None,
        "cpu": cpu,
    }


def compare(args, odoo, registry, before):
    """``args.runs`` campaigns on each version, interleaved (before, after, before, ...): the host's speed moves
    by tens of percent within an hour on a shared machine, so only runs side by side compare."""
    with tempfile.TemporaryDirectory(prefix="bench-before-") as directory:
        addons = ["whatsapp", "whatsapp_sale", "whatsapp_pos", "whatsapp_event"]
        archive = subprocess.run(
            ["git", "archive", before, *addons], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
        sides = {f"before ({before})": directory, "after (working tree)": benchlib.ROOT}
        results = {label: [] for label in sides}
        for index in range(args.runs):
            for label, addons_path in sides.items():
                print(f"\ncampaign: run {index + 1} of {args.runs}, {label}", flush=True)
                results[label].append(
                    campaign(args, odoo, registry, addons=addons_path, label=f", {label}, run {index + 1}")
                )
    print(f"\ncampaign A/B: {args.recipients} recipients, runs interleaved in the order below; path: chatter")
    print(
        f"  {'version, run':<34} {'click->all sent':>15} {'msg/s':>6} {'max 1s':>6} {'lag p99':>8} "
        f"{'ack p50/p99':>12} {'reply p99':>9} {'lost':>4} {'given up':>8} {'idle':>6}  CPU per recipient"
    )
    for index in range(args.runs):
        for label, runs in results.items():
            r = runs[index]
            sent = f"{r['click_to_all_sent']:.1f} s" if r["click_to_all_sent"] else "-"
            given = f"{r['given_up']:.1%}" if r["given_up"] is not None else "-"
            idle = f"{r['never_reserved']:.1%}" if r.get("never_reserved") is not None else "-"
            print(
                f"  {label + f', {index + 1}':<34} {sent:>15} {r['sustained']:>6.1f} {r['most_in_1s']:>6} "
                f"{r['status_lag_p99']:>6.2f} s {r['ack_p50_ms']:>4.0f}/{r['ack_p99_ms']:<4.0f} ms "
                f"{r['reply_p99']:>7.2f} s {r['lost']:>4} {given:>8} {idle:>6}  {benchlib.format_cpu(r['cpu'])}"
            )
    return {"name": "campaign_ab", "results": results}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = _args(argv)
    odoo, registry = benchlib.registry(args)
    if args.before:
        return compare(args, odoo, registry, args.before)
    return campaign(args, odoo, registry)


if __name__ == "__main__":
    main()
