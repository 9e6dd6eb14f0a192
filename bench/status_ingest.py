#!/usr/bin/env python3
"""Status ingestion: status webhooks posted by 4 concurrent clients, one status per payload, on two paths
side by side (target >= 600 events/s, p99 <= 40 ms), and their application (status lag p99 <= 5 s).

* **chatter** (what users have): statuses of messages created the way the composer creates them
  (``_whatsapp_send_template`` on partners: a chatter ``mail.message``, the ``whatsapp.message`` and its
  ``mail.notification``), sent by an internal user; each status moves the chatter ticks (notification
  updated, pushed on the bus to the author);
* **no chatter** (a path users do not have, kept to tell the chatter's share apart): statuses of bare
  ``whatsapp.message`` rows with no record and no chatter message.

Both paths are posted in the same run, interleaved in rounds (no chatter, chatter, no chatter, ...), so
that the machine's load (other processes on a shared machine) weighs on both alike; the figures of each
path are the sum of its rounds, with their ratio.

The webhook acknowledges a status once stored (``queued``); the applier cron applies them in batches. Each
round posts its statuses, then waits until the applier has applied them all, so that the CPU of a round is its
statuses' whole cost (acknowledging and applying). Printed per path: the acknowledgement (events/s while
posting, latency p50/p99), the application (events/s from the round's first post to its last status applied,
and the lag of each status from its POST, Meta's emission, to its event marked applied, p50/p99).

Odoo runs as production would: ``odoo-bin`` in prefork (``--workers 2`` by default, one per core of the
reference machine, and one cron worker for the applier), ``-d DB`` without ``--db-filter`` (with a filter, Odoo 18 lists the databases on a new
PostgreSQL connection for every request without a session cookie, which Meta's never have). The benchmark
creates an account and ``--count`` sent messages per path, so that every status is applied (one
``delivered`` each), and removes them at the end. The server's log is checked for tracebacks and errors
(e.g. a gevent process respawned in a loop): a figure measured beside them is flagged.

The clients are plain ``http.client`` connections in 4 threads of this process, one connection per request
(Odoo's prefork workers close each connection after its answer): on a 2-core machine the load generator
competes with Odoo for the CPU, so it is kept lean. The CPU time each side spent per request is printed
next to the figures (this process, the Odoo processes, the PostgreSQL processes), to tell the cost of
Odoo's HTTP plumbing, of the webhook's own work and of the database apart.

    python3 bench/status_ingest.py -d DB [--http-port 18103] [--workers 2] [--count 1000] [--rounds 4]
        [--paths nochatter,chatter] [--applier cron|after] [--db_host ... --db_port ...]

``--applier after`` splits the cost: the server runs no cron worker, each round is posted (the
acknowledgement alone), then applied by the applier in this process (its CPU counted as Odoo's), so that
the CPU per event of each side and the rate of one applier alone are printed apart; the lag is then not a
user's figure (nothing is applied while posting).

The same client then GETs ``/web/health`` as many times (an empty route through Odoo's dispatch): Odoo's
own floor on this server and machine, printed beside the figures (the webhook's POST is served before that
dispatch, at Odoo's WSGI entry, by its fast lane).

Not a test: figures.
"""

import argparse
import calendar
import hashlib
import hmac
import http.client
import json
import statistics
import sys
import threading
import time
import uuid

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts

SECRET = b"bench-status-secret"
TARGET_RATE, TARGET_P99_MS, TARGET_LAG_P99_S = 600, 40, 5
DRAIN_TIMEOUT = 120  # seconds a round waits for the applier
PATHS = {
    "nochatter": "no chatter (bare whatsapp.message, not a user path)",
    "chatter": "chatter (composer-made: record + mail.message + notification)",
}


def _args(argv):
    """The shared benchmark arguments (``benchlib``) and this benchmark's server and clients."""
    args = benchlib.parse_args(argv, __doc__.splitlines()[0], 1000, 1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-port", type=int, default=18103)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4, help="rounds per path, interleaved")
    parser.add_argument("--paths", default="nochatter,chatter", help=f"among {', '.join(PATHS)}")
    parser.add_argument(
        "--applier",
        default="cron",
        choices=("cron", "after"),
        help="the server's cron worker, or after each round here",
    )
    parser.parse_known_args(argv, namespace=args)  # bench/run.py passes its arguments to every bench
    args.paths = [path for path in args.paths.split(",") if path]
    return args


def wamid(run, path, index):
    return f"wamid.{path[:2].upper()}{run}{index:05d}"


def setup(odoo, registry, count, run, paths, warm=0):
    """An account (on a closed port: nothing is ever sent) and ``count + warm`` sent messages per path
    (the last ``warm`` ones for the warm-up, not counted).

    :return: ``{"account": (id, phone uid, waba uid), "messages": {path: ids}, "cleanup": {...}}``
    """
    count += warm
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        account = env["whatsapp.account"].create(
            {
                "name": "Bench statuses",
                "phone_uid": f"9{run[:6]}",
                "account_uid": f"8{run[:6]}",
                "app_uid": "3000009",
                "token": "t",
                "app_secret": SECRET.decode(),
                "api_base_url": "http://127.0.0.1:9",
            }
        )
        result = {"account": (account.id, account.phone_uid, account.account_uid), "messages": {}}
        cleanup = {"partners": [], "templates": [], "mail_messages": []}
        if "nochatter" in paths:
            messages = env["whatsapp.message"].create(
                [
                    {
                        "account_id": account.id,
                        "number": "+33612345678",
                        "state": "sent",
                        "wamid": wamid(run, "nochatter", i),
                        "payload": {"type": "text", "text": {"body": "x"}},
                    }
                    for i in range(count)
                ]
            )
            result["messages"]["nochatter"] = messages.ids
        if "chatter" in paths:
            messages = composer_messages(env, account, count, run)
            result["messages"]["chatter"] = messages.ids
            cleanup["partners"] = messages.mapped("res_id")
            cleanup["templates"] = messages.template_id.ids
            cleanup["mail_messages"] = messages.mail_message_id.ids
        result["cleanup"] = cleanup
        result["measured"] = count - warm
        return result


def composer_messages(env, account, count, run, user_xmlid="base.user_admin"):
    """``count`` messages sent to partners the way the composer sends them (``_whatsapp_send_template``:
    chatter message, WhatsApp message, notification), by an internal user, then marked ``sent`` with the
    wamids :func:`wamid` gives, as the queue leaves them after Meta's answer."""
    template = benchlib.approved_template(env, account, f"bench statuses {run}")
    partners = env["res.partner"].create(
        [
            {
                "name": f"Bench status {i}",
                "mobile": f"+33 6 {70 + i // 10000:02d} {i // 100 % 100:02d} {i % 100:02d} 00",
            }
            for i in range(count)
        ]
    )
    user = env.ref(user_xmlid)
    messages = partners.with_user(user)._whatsapp_send_template(template.with_user(user), queue=True)
    env.flush_all()
    assert all(messages.mapped("mail_message_id")), "composer messages without chatter message"
    env.cr.execute(
        "UPDATE whatsapp_message AS m SET state = 'sent', wamid = v.wamid FROM unnest(%s, %s) AS v(id, wamid) "
        "WHERE m.id = v.id",
        [messages.ids, [wamid(run, "chatter", i) for i in range(count)]],
    )
    env.cr.execute(
        "UPDATE mail_notification SET notification_status = 'sent' WHERE whatsapp_message_id = ANY(%s)",
        [messages.ids],
    )
    env.invalidate_all()
    return messages.sudo()


def teardown(odoo, registry, state):
    """Remove what :func:`setup` created; return ``{path: messages delivered}``."""
    account_id = state["account"][0]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        applied = {}
        for path, ids in state["messages"].items():
            messages = env["whatsapp.message"].browse(ids)
            applied[path] = messages[: state["measured"]].mapped("state").count("delivered")
            messages.unlink()
        env["whatsapp.webhook.event"].search([("account_id", "=", account_id)]).unlink()
        env["whatsapp.status.pending"].search([("account_id", "=", account_id)]).unlink()
        cleanup = state["cleanup"]
        env["mail.message"].browse(cleanup["mail_messages"]).unlink()
        env["res.partner"].browse(cleanup["partners"]).unlink()
        env["whatsapp.template"].browse(cleanup["templates"]).unlink()
        env["whatsapp.account"].browse(account_id).unlink()
        return applied


def bodies(phone_uid, waba_uid, wamids):
    """Signed one-status (``delivered``) webhook bodies, one per wamid: ``(body, signature, wamid)``."""
    result = []
    for message_uid in wamids:
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": phone_uid},
            "statuses": [
                {
                    "id": message_uid,
                    "status": "delivered",
                    "timestamp": str(int(time.time())),
                    "recipient_id": "33612345678",
                }
            ],
        }
        payload = {
            "object": "whatsapp_business_account",
            "entry": [{"id": waba_uid, "changes": [{"field": "messages", "value": value}]}],
        }
        body = json.dumps(payload).encode()
        result.append((body, "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest(), message_uid))
    return result


def post_all(port, bodies_, clients, sent_at=None, path="/whatsapp/webhook"):
    """Post ``bodies_`` from ``clients`` threads; return (latencies, non-200 count, elapsed seconds).

    :param bodies_: ``(body, signature, wamid)``; a ``None`` body is a GET of ``path``
    :param dict sent_at: filled with ``{wamid: time.time() of its POST}`` (Meta's emission)
    """
    latencies, failures, lock = [], [], threading.Lock()

    def client(part):
        for body, signature, message_uid in part:
            if sent_at is not None:
                sent_at[message_uid] = time.time()
            started = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            if body is None:
                connection.request("GET", path)
            else:
                headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
                connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            connection.close()
            with lock:
                latencies.append(time.perf_counter() - started)
                failures.append(response.status != 200)

    threads = [threading.Thread(target=client, args=(bodies_[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, sum(failures), time.perf_counter() - started


def empty_route(port, count, clients, server):
    """Odoo's floor on this server: ``count`` GETs of ``/web/health`` (an ``auth="none"`` route doing
    nothing, through Odoo's dispatch: registry check, routing, ``ir.http`` hooks) by the same load client
    (:func:`post_all`); return (requests/s, CPU ms per request per side)."""
    before = server.cpu_seconds()
    _latencies, _non_200, elapsed = post_all(port, [(None, None, None)] * count, clients, path="/web/health")
    return count / elapsed, benchlib.cpu_per_event(before, server.cpu_seconds(), count)


class Tally:
    """One side's figures summed over its rounds: latencies, elapsed time, CPU per side, non-200, and the
    application of its statuses (lag per status, rate per round)."""

    def __init__(self, label):
        self.label, self.latencies, self.elapsed, self.non_200 = label, [], 0.0, 0
        self.cpu = {"bench client": 0.0, "odoo": 0.0, "postgresql": 0.0}
        self.rates = []
        self.sessions = {}  # PostgreSQL connections opened, per database
        self.sent_at = {}  # wamid -> time of its POST
        self.rounds = []  # (first POST, wamids) per round, for the applied rate
        self.lags, self.apply_rates, self.drain_timeouts = [], [], 0
        self.cpu_ack = dict.fromkeys(
            self.cpu, 0.0
        )  # while posting (the acknowledgement alone with --applier after)
        self.apply_elapsed = 0.0  # waiting for (or running) the applier after posting

    def run(self, port, bodies_, clients, server, sessions=None, drain=None):
        opened = sessions.read() if sessions else {}
        before = server.cpu_seconds()
        sent_at = {}
        latencies, non_200, elapsed = post_all(port, bodies_, clients, sent_at)
        posted, started = server.cpu_seconds(), time.perf_counter()
        if drain and not drain():
            self.drain_timeouts += 1
        self.apply_elapsed += time.perf_counter() - started
        after = server.cpu_seconds()
        for kind in self.cpu:
            self.cpu[kind] += after[kind] - before[kind]
            self.cpu_ack[kind] += posted[kind] - before[kind]
        if sessions:
            time.sleep(0.2)  # a backend's session is counted when it ends
            for db, count in sessions.read().items():
                self.sessions[db] = self.sessions.get(db, 0) + count - opened[db]
        self.latencies += latencies
        self.elapsed += elapsed
        self.non_200 += non_200
        self.rates.append(len(latencies) / elapsed)
        self.sent_at.update(sent_at)
        self.rounds.append((min(sent_at.values(), default=0.0), list(sent_at)))

    def applied(self, applied_at):
        """Lags and applied rates from ``{wamid: time.time() its event was marked applied}``."""
        for wamid_ in self.sent_at:
            if wamid_ in applied_at:
                self.lags.append(applied_at[wamid_] - self.sent_at[wamid_])
        for first, wamids in self.rounds:
            done = [applied_at[w] for w in wamids if w in applied_at]
            if done:
                self.apply_rates.append(len(done) / max(max(done) - first, 1e-3))

    def result(self):
        latencies, n = sorted(self.latencies), len(self.latencies)
        lags = sorted(self.lags)
        return {
            "path": self.label,
            "events": n,
            "rate": n / self.elapsed if self.elapsed else 0.0,
            "round_rates": self.rates,
            "p50_ms": statistics.median(latencies) * 1000 if n else 0.0,
            "p99_ms": benchlib.percentile(latencies, 0.99) * 1000,
            "non_200": self.non_200,
            "cpu_ms": {kind: seconds / max(n, 1) * 1000 for kind, seconds in self.cpu.items()},
            "sessions": {db: count / max(n, 1) for db, count in self.sessions.items()},
            "applied_events": len(lags),
            "apply_rate": statistics.mean(self.apply_rates) if self.apply_rates else 0.0,
            "lag_p50_s": statistics.median(lags) if lags else 0.0,
            "lag_p99_s": benchlib.percentile(lags, 0.99),
            "drain_timeouts": self.drain_timeouts,
            "cpu_ack_ms": {kind: seconds / max(n, 1) * 1000 for kind, seconds in self.cpu_ack.items()},
            "cpu_apply_ms": {
                kind: (self.cpu[kind] - self.cpu_ack[kind]) / max(n, 1) * 1000 for kind in self.cpu
            },
            "apply_alone_rate": n / self.apply_elapsed if self.apply_elapsed else 0.0,
        }


def drainer(registry, account_id, timeout=DRAIN_TIMEOUT):
    """A function waiting until no status of the account is left to apply (False after ``timeout``)."""

    def drain():
        deadline = time.time() + timeout
        with registry.cursor() as cr:
            while time.time() < deadline:
                cr.execute(
                    "SELECT count(*) FROM whatsapp_webhook_event WHERE account_id = %s AND state = 'queued'",
                    [account_id],
                )
                if not cr.fetchone()[0]:
                    return True
                cr.rollback()  # a fresh snapshot
                time.sleep(0.05)
        return False

    return drain


def applier_here(odoo, registry):
    """A function applying every queued status in this process, batch after batch, each committed, as the
    applier cron does (without its pause and idle wait): ``--applier after``."""

    def apply():
        with registry.cursor() as cr:
            events = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})["whatsapp.webhook.event"]
            while events._apply_queued_statuses():
                cr.commit()
        return True

    return apply


def applied_times(registry, account_id):
    """``{wamid: time.time() its status event was marked applied}`` (the applier stamps ``write_date``
    with PostgreSQL's clock, in UTC)."""
    with registry.cursor() as cr:
        cr.execute(
            """SELECT value::json->'statuses'->0->>'id', write_date FROM whatsapp_webhook_event
                WHERE account_id = %s AND state = 'done' AND field = 'messages'""",
            [account_id],
        )
        return {
            wamid_: calendar.timegm(applied.utctimetuple()) + applied.microsecond / 1e6
            for wamid_, applied in cr.fetchall()
        }


def interleave(sides, rounds, clients, sessions=None, drain=None):
    """Post each side's bodies in ``rounds`` chunks, sides alternating within each round.

    :param sides: ``[(tally, server, bodies)]``; the order of the sides rotates from round to round
    """
    for index in range(rounds):
        order = sides[index % len(sides) :] + sides[: index % len(sides)]
        for tally, server, bodies_ in order:
            tally.run(server.port, bodies_[index::rounds], clients, server, sessions, drain)


def print_results(name, results, problems=None, extra=""):
    """One line per side, then their ratio and the CPU per event of each side."""
    for result in results:
        print(
            f"{name}: {result['path']}: {result['events']} events, {result['rate']:.0f} events/s "
            f"(rounds {' / '.join(f'{rate:.0f}' for rate in result['round_rates'])}; target >= {TARGET_RATE}), "
            f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms (target <= {TARGET_P99_MS}), "
            f"{result.get('applied', '-')} applied, non-200 {result['non_200']}{extra}"
        )
        if result.get("applied_events"):  # status_ab does not time the applier
            print(
                f"{name}:   applied: {result['applied_events']} events, {result['apply_rate']:.0f} events/s "
                f"(first POST to last applied, per round), lag from POST to applied p50 "
                f"{result['lag_p50_s'] * 1000:.0f} ms, p99 {result['lag_p99_s'] * 1000:.0f} ms "
                f"(target <= {TARGET_LAG_P99_S} s), rounds not drained in {DRAIN_TIMEOUT} s: "
                f"{result['drain_timeouts']}"
            )
        if result.get("split"):
            ack, applier = result["cpu_ack_ms"], result["cpu_apply_ms"]
            print(
                f"{name}:   split: acknowledgement CPU per event: {benchlib.format_cpu(ack)}; applier (in the "
                f"bench process) CPU per event: odoo {applier['bench client']:.2f} ms, postgresql "
                f"{applier['postgresql']:.2f} ms; one applier alone: {result['apply_alone_rate']:.0f} events/s"
            )
        opened = ", ".join(f"{db} {count:.2f}" for db, count in result.get("sessions", {}).items())
        print(
            f"{name}:   CPU per event: {benchlib.format_cpu(result['cpu_ms'])}"
            + (
                f"; PostgreSQL connections opened per event: {opened} (their CPU is not counted)"
                if opened
                else ""
            )
        )
    if len(results) == 2 and results[1]["rate"]:
        a, b = results
        print(
            f"{name}: ratio {a['path'].split(' (')[0]} / {b['path'].split(' (')[0]}: rate x{a['rate'] / b['rate']:.2f}, "
            f"p50 x{a['p50_ms'] / b['p50_ms']:.2f}, p99 x{a['p99_ms'] / b['p99_ms']:.2f}, "
            f"Odoo CPU x{a['cpu_ms']['odoo'] / max(b['cpu_ms']['odoo'], 1e-9):.2f}, "
            f"PostgreSQL CPU x{a['cpu_ms']['postgresql'] / max(b['cpu_ms']['postgresql'], 1e-9):.2f}"
        )
    print(f"{name}: machine {benchlib.machine()}", end="")
    print(f"; server log: {benchlib.log_verdict(problems)}" if problems is not None else "")


def main(argv=None):
    args = _args(sys.argv[1:] if argv is None else argv)
    odoo, registry = benchlib.registry(args)
    run = uuid.uuid4().hex[:8]
    warm = 5 * args.workers
    state = setup(odoo, registry, args.count, run, args.paths, warm=warm)
    _account_id, phone_uid, waba_uid = state["account"]
    cron = args.applier == "cron"
    server = benchlib.OdooServer(
        args, args.http_port, workers=args.workers, cron_threads=int(cron), name="status-ingest"
    )
    drain = drainer(registry, state["account"][0]) if cron else applier_here(odoo, registry)
    tallies = {path: Tally(PATHS[path]) for path in args.paths}
    try:
        server.wait()
        # warm-up, not measured: a few statuses of each path per worker
        for path in args.paths:
            warm_wamids = [wamid(run, path, i) for i in range(args.count, args.count + warm)]
            post_all(args.http_port, bodies(phone_uid, waba_uid, warm_wamids), args.clients)
        drain()
        sides = [
            (
                tallies[path],
                server,
                bodies(phone_uid, waba_uid, [wamid(run, path, i) for i in range(args.count)]),
            )
            for path in args.paths
        ]
        sessions = benchlib.SessionCounter(args)
        interleave(sides, args.rounds, args.clients, sessions, drain)
        sessions.close()
        floor = empty_route(args.http_port, args.count, args.clients, server)
    finally:
        server.stop()
    applied_at = applied_times(registry, state["account"][0])
    for tally in tallies.values():
        tally.applied(applied_at)
    applied = teardown(odoo, registry, state)
    results = []
    for path in args.paths:
        result = tallies[path].result()
        result["applied"] = applied[path]
        result["split"] = not cron
        results.append(result)
    print(
        f"status_ingest: {args.clients} clients, prefork --workers {args.workers} + "
        + ("1 cron worker (the applier)" if cron else "no cron worker (applied here after each round)")
        + f", {args.rounds} interleaved rounds per path, each drained before the next"
    )
    print(
        f"status_ingest: Odoo's floor on this server, same client: an empty route (GET /web/health through "
        f"Odoo's dispatch, no work) {floor[0]:.0f} requests/s, CPU per request: {benchlib.format_cpu(floor[1])}"
    )
    print_results("status_ingest", results, server.problems())
    return {"name": "status_ingest", "results": results}


if __name__ == "__main__":
    main()
