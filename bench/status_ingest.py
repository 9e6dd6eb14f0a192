#!/usr/bin/env python3
"""Status ingestion: status webhooks posted by 4 concurrent clients, one status per payload, on two paths
side by side (target >= 600 events/s, p99 <= 40 ms).

* **chatter** (what users have): statuses of messages created the way the composer creates them
  (``_whatsapp_send_template`` on partners: a chatter ``mail.message``, the ``whatsapp.message`` and its
  ``mail.notification``), sent by an internal user; each status moves the chatter ticks (notification
  updated, pushed on the bus to the author);
* **no chatter** (a path users do not have, kept to tell the chatter's share apart): statuses of bare
  ``whatsapp.message`` rows with no record and no chatter message.

Both paths are posted in the same run, interleaved in rounds (no chatter, chatter, no chatter, ...), so
that the machine's load (other processes on a shared machine) weighs on both alike; the figures of each
path are the sum of its rounds, with their ratio.

Odoo runs as production would: ``odoo-bin`` in prefork (``--workers 2`` by default, one per core of the
reference machine), ``-d DB`` without ``--db-filter`` (with a filter, Odoo 18 lists the databases on a new
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
        [--paths nochatter,chatter] [--db_host ... --db_port ...]

Not a test: figures.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import statistics
import sys
import threading
import time
import uuid

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts

SECRET = b"bench-status-secret"
TARGET_RATE, TARGET_P99_MS = 600, 40
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
    """Signed one-status (``delivered``) webhook bodies, one per wamid."""
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
        result.append((body, "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()))
    return result


def post_all(port, bodies_, clients):
    """Post ``bodies_`` from ``clients`` threads; return (latencies, non-200 count, elapsed seconds)."""
    latencies, failures, lock = [], [], threading.Lock()

    def client(part):
        for body, signature in part:
            started = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request(
                "POST",
                "/whatsapp/webhook",
                body=body,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
            )
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


class Tally:
    """One side's figures summed over its rounds: latencies, elapsed time, CPU per side, non-200."""

    def __init__(self, label):
        self.label, self.latencies, self.elapsed, self.non_200 = label, [], 0.0, 0
        self.cpu = {"bench client": 0.0, "odoo": 0.0, "postgresql": 0.0}
        self.rates = []
        self.sessions = {}  # PostgreSQL connections opened, per database

    def run(self, port, bodies_, clients, server, sessions=None):
        opened = sessions.read() if sessions else {}
        before = server.cpu_seconds()
        latencies, non_200, elapsed = post_all(port, bodies_, clients)
        after = server.cpu_seconds()
        for kind in self.cpu:
            self.cpu[kind] += after[kind] - before[kind]
        if sessions:
            time.sleep(0.2)  # a backend's session is counted when it ends
            for db, count in sessions.read().items():
                self.sessions[db] = self.sessions.get(db, 0) + count - opened[db]
        self.latencies += latencies
        self.elapsed += elapsed
        self.non_200 += non_200
        self.rates.append(len(latencies) / elapsed)

    def result(self):
        latencies, n = sorted(self.latencies), len(self.latencies)
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
        }


def interleave(sides, rounds, clients, sessions=None):
    """Post each side's bodies in ``rounds`` chunks, sides alternating within each round.

    :param sides: ``[(tally, server, bodies)]``; the order of the sides rotates from round to round
    """
    for index in range(rounds):
        order = sides[index % len(sides) :] + sides[: index % len(sides)]
        for tally, server, bodies_ in order:
            tally.run(server.port, bodies_[index::rounds], clients, server, sessions)


def print_results(name, results, problems=None, extra=""):
    """One line per side, then their ratio and the CPU per event of each side."""
    for result in results:
        print(
            f"{name}: {result['path']}: {result['events']} events, {result['rate']:.0f} events/s "
            f"(rounds {' / '.join(f'{rate:.0f}' for rate in result['round_rates'])}; target >= {TARGET_RATE}), "
            f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms (target <= {TARGET_P99_MS}), "
            f"{result.get('applied', '-')} applied, non-200 {result['non_200']}{extra}"
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
    print(f"{name}: machine load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", end="")
    print(f"; server log: {benchlib.log_verdict(problems)}" if problems is not None else "")


def main(argv=None):
    args = _args(sys.argv[1:] if argv is None else argv)
    odoo, registry = benchlib.registry(args)
    run = uuid.uuid4().hex[:8]
    warm = 5 * args.workers
    state = setup(odoo, registry, args.count, run, args.paths, warm=warm)
    _account_id, phone_uid, waba_uid = state["account"]
    server = benchlib.OdooServer(args, args.http_port, workers=args.workers, name="status-ingest")
    tallies = {path: Tally(PATHS[path]) for path in args.paths}
    try:
        server.wait()
        # warm-up, not measured: a few statuses of each path per worker
        for path in args.paths:
            warm_wamids = [wamid(run, path, i) for i in range(args.count, args.count + warm)]
            post_all(args.http_port, bodies(phone_uid, waba_uid, warm_wamids), args.clients)
        sides = [
            (
                tallies[path],
                server,
                bodies(phone_uid, waba_uid, [wamid(run, path, i) for i in range(args.count)]),
            )
            for path in args.paths
        ]
        sessions = benchlib.SessionCounter(args)
        interleave(sides, args.rounds, args.clients, sessions)
        sessions.close()
    finally:
        server.stop()
    applied = teardown(odoo, registry, state)
    results = []
    for path in args.paths:
        result = tallies[path].result()
        result["applied"] = applied[path]
        results.append(result)
    print(
        f"status_ingest: {args.clients} clients, prefork --workers {args.workers}, {args.rounds} interleaved rounds per path"
    )
    print_results("status_ingest", results, server.problems())
    return {"name": "status_ingest", "results": results}


if __name__ == "__main__":
    main()
