#!/usr/bin/env python3
"""Status ingestion: 1,000 status webhooks posted by 4 concurrent clients, one status per payload
(target >= 600 events/s, p99 <= 40 ms).

Odoo runs as production would: ``odoo-bin`` in prefork (``--workers 2`` by default, one per core of the
reference machine), ``-d DB`` without ``--db-filter`` (with a filter, Odoo 18 lists the databases on a new
PostgreSQL connection for every request without a session cookie, which Meta's never have). The benchmark creates an account and 1,000 sent
messages, so that every status is applied (one ``delivered`` each), and removes them at the end.

The clients are plain ``http.client`` connections in 4 threads of this process, one connection per request
(Odoo's prefork workers close each connection after its answer): on a 2-core machine the load generator
competes with Odoo for the CPU, so it is kept lean. The CPU time each side spent per request is printed
next to the figures (this process, the Odoo processes, the PostgreSQL processes), to tell the cost of
Odoo's HTTP plumbing, of the webhook's own work and of the database apart.

    python3 bench/status_ingest.py -d DB [--http-port 18103] [--workers 2] [--db_host ... --db_port ...]

Not a test: figures.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = b"bench-status-secret"
TARGET_RATE, TARGET_P99_MS = 600, 40


def _args(argv):
    """The shared benchmark arguments (``benchlib``) and this benchmark's server and clients."""
    args = benchlib.parse_args(argv, __doc__.splitlines()[0], 1000, 1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-port", type=int, default=18103)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.parse_known_args(argv, namespace=args)  # bench/run.py passes its arguments to every bench
    return args


def _db_args(args):
    return [f"--db_host={args.db_host}", f"--db_port={args.db_port}", f"--db_user={args.db_user}"]


def _setup(odoo, registry, count, run):
    """An account (on a closed port: nothing is ever sent) and ``count`` sent messages."""
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
        messages = env["whatsapp.message"].create(
            [
                {
                    "account_id": account.id,
                    "number": "+33612345678",
                    "state": "sent",
                    "wamid": f"wamid.ST{run}{i:05d}",
                    "payload": {"type": "text", "text": {"body": "x"}},
                }
                for i in range(count)
            ]
        )
        return account.id, account.phone_uid, account.account_uid, messages.ids


def _teardown(odoo, registry, account_id, message_ids):
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        messages = env["whatsapp.message"].browse(message_ids)
        applied = messages.mapped("state").count("delivered")
        env["whatsapp.webhook.event"].search([("account_id", "=", account_id)]).unlink()
        env["whatsapp.status.pending"].search([("account_id", "=", account_id)]).unlink()
        messages.unlink()
        env["whatsapp.account"].browse(account_id).unlink()
        return applied


def _bodies(phone_uid, waba_uid, run, indexes):
    bodies = []
    for i in indexes:
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": phone_uid},
            "statuses": [
                {
                    "id": f"wamid.ST{run}{i:05d}",
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
        bodies.append((body, "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()))
    return bodies


def _cpu_seconds():
    """CPU seconds (user + system) of this process, the Odoo processes and the PostgreSQL processes."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"bench client": 0.0, "odoo": 0.0, "postgresql": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmd:
                fields, cmdline = stat.read().rsplit(")", 1)[1].split(), cmd.read()
        except OSError:
            continue
        kind = (
            "bench client"
            if int(pid) == os.getpid()
            else "postgresql"
            if b"postgres" in cmdline
            else "odoo"
            if b"odoo-bin" in cmdline
            else None
        )
        if kind:
            totals[kind] += (int(fields[11]) + int(fields[12])) / tick
    return totals


def _post_all(port, bodies, clients):
    """Post ``bodies`` from ``clients`` threads; return (latencies, non-200 count, elapsed seconds)."""
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

    threads = [threading.Thread(target=client, args=(bodies[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(latencies), sum(failures), time.perf_counter() - started


def _wait_for(port, server):
    for _ in range(240):
        if server.poll() is not None:
            raise RuntimeError("Odoo stopped while starting")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/web/login")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("Odoo did not start")


def main(argv=None):
    args = _args(sys.argv[1:] if argv is None else argv)
    odoo, registry = benchlib.registry(args)
    run = uuid.uuid4().hex[:8]
    account_id, phone_uid, waba_uid, message_ids = _setup(odoo, registry, args.count, run)
    server = subprocess.Popen(
        [
            sys.executable,
            f"{args.odoo}/odoo-bin",
            f"--addons-path={args.odoo}/odoo/addons,{REPO}",
            *_db_args(args),
            "-d",
            args.database,
            f"--http-port={args.http_port}",
            f"--workers={args.workers}",
            "--max-cron-threads=0",
            "--log-level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(args.http_port, server)
        # warm-up: statuses of unknown messages (parked), a few per worker
        _post_all(
            args.http_port, _bodies(phone_uid, waba_uid, run, range(-5 * args.workers, 0)), args.clients
        )
        bodies = _bodies(phone_uid, waba_uid, run, range(args.count))
        cpu_before = _cpu_seconds()
        latencies, non_200, elapsed = _post_all(args.http_port, bodies, args.clients)
        cpu_after = _cpu_seconds()
    finally:
        server.terminate()
        server.wait(30)
    applied = _teardown(odoo, registry, account_id, message_ids)
    n = len(latencies)
    result = {
        "name": "status_ingest",
        "rate": n / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(n * 0.99) - 1)] * 1000,
        "applied": applied,
        "non_200": non_200,
        "cpu_ms": {kind: (cpu_after[kind] - cpu_before[kind]) / n * 1000 for kind in cpu_after},
    }
    print(
        f"status_ingest: {n} status webhooks, {args.clients} clients, prefork --workers {args.workers}: "
        f"{result['rate']:.0f} events/s (target >= {TARGET_RATE}), p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms (target <= {TARGET_P99_MS}), applied {applied}, non-200 {non_200}"
    )
    print(
        "status_ingest: CPU per request: "
        + ", ".join(f"{kind} {ms:.2f} ms" for kind, ms in result["cpu_ms"].items())
        + f" (machine load {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores)"
    )
    return result


if __name__ == "__main__":
    main()
