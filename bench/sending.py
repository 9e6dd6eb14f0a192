#!/usr/bin/env python3
"""Sending and status-ingest figures of issue 4, side by side in one run.

1. Bulk send of 200 recipients, sandbox answering in 100 ms, account rate 80 msg/s (target >= 80, never above).
2. Bulk send of 1,000 recipients, sandbox answering at once, account rate 1,000 msg/s (target >= 300 msg/s).
3. 1,000 status events posted to the webhook by 4 concurrent clients, one status per payload
   (target >= 600 events/s, p99 <= 40 ms).

Sends run in this process through the real queue (``whatsapp.message._process_queue``, commits included)
against an in-process Meta sandbox (schema validation off, so that the sandbox costs little CPU). Statuses
go to an Odoo HTTP server this script starts (``odoo-bin --workers 0``) on ``--http-port``.

    python3 bench/sending.py -d DB [--http-port 18103] [--db_host ... --db_port ... --db_user ...]

``DB`` has ``whatsapp`` installed. The bench creates its own account, template and partners and removes
them at the end. Not a test: figures.
"""

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ODOO = os.environ.get("ODOO_PATH", "/opt/odoo/18.0")


def _args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--http-port", type=int, default=18103)
    parser.add_argument("--db_host", default=os.environ.get("PGHOST", os.path.join(REPO, ".local/pg/run")))
    parser.add_argument("--db_port", default=os.environ.get("PGPORT", "54320"))
    parser.add_argument("--db_user", default=os.environ.get("PGUSER", "odoo"))
    return parser.parse_args(argv)


def _odoo(args):
    sys.path[:0] = [ODOO, REPO]
    import odoo  # noqa: PLC0415

    odoo.tools.config.parse_config(
        [f"--addons-path={ODOO}/odoo/addons,{REPO}", f"--db_host={args.db_host}", f"--db_port={args.db_port}",
         f"--db_user={args.db_user}", "--log-level=warn"]
    )
    return odoo


def _max_per_second(times):
    """Largest number of calls started in any 1-second window."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def bench_send(odoo, db, sandbox, n, latency, rate, tag):
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    registry = odoo.modules.registry.Registry(db)
    sandbox.reset()
    sandbox.set_latency("1000009", latency)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account = env["whatsapp.account"].create(
            {"name": f"Bench {tag}", "phone_uid": "1000009", "account_uid": "2000009", "app_uid": "3000009",
             "token": "sandbox-token", "app_secret": "sandbox-secret", "api_base_url": sandbox.url,
             "rate_limit": rate}
        )
        template = env["whatsapp.template"].create(
            {"name": f"bench {tag} {uuid.uuid4().hex[:6]}", "body": "Hello from the bench.", "account_id": account.id,
             "model_id": env["ir.model"]._get_id("res.partner"), "phone_field": "mobile", "lang_code": "en_US",
             "category": "utility"}
        )
        template.status = "approved"
        sandbox.add_template("2000009", template.template_name, components=[{"type": "BODY", "text": template.body}])
        partners = env["res.partner"].create(
            [{"name": f"Bench {i}", "mobile": f"+33 6 {80 + i // 10000:02d} {i // 100 % 100:02d} {i % 100:02d} 00"}
             for i in range(n)]
        )
        t0 = time.perf_counter()
        messages = partners._whatsapp_send_template(template, queue=True)
        cr.commit()
        t_queue = time.perf_counter() - t0
        t1 = time.perf_counter()
        env["whatsapp.message"]._process_queue(account_ids=account.ids, auto_commit=True)
        t_send = time.perf_counter() - t1
        states = messages.mapped("state")
        starts = [r["time"] for r in sandbox.requests if r.get("group") == "messages"]
        result = {
            "n": n, "queue_s": t_queue, "send_s": t_send, "rate": n / t_send, "cap": rate,
            "max_1s": _max_per_second(starts), "sent": states.count("sent"),
            "overall": n / (t_queue + t_send),
        }
        mail_messages = messages.mail_message_id
        messages.unlink()
        mail_messages.unlink()
        partners.unlink()
        template.unlink()
        account.unlink()
        cr.commit()
    return result


def bench_status(odoo, args, sandbox):
    """Start Odoo's HTTP server, then 4 clients post 1,000 one-status payloads (messages known to Odoo)."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    import requests  # noqa: PLC0415

    registry = odoo.modules.registry.Registry(args.database)
    run = uuid.uuid4().hex[:8]
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account = env["whatsapp.account"].create(
            {"name": "Bench statuses", "phone_uid": f"9{run[:6]}", "account_uid": f"8{run[:6]}", "app_uid": "3000009",
             "token": "t", "app_secret": "bench-secret", "api_base_url": sandbox.url}
        )
        messages = env["whatsapp.message"].create(
            [{"account_id": account.id, "number": "+33612345678", "state": "sent", "wamid": f"wamid.ST{run}{i:05d}",
              "payload": {"type": "text", "text": {"body": "x"}}} for i in range(1000)]
        )
        cr.commit()
        phone_uid, waba_uid, account_id = account.phone_uid, account.account_uid, account.id
    server = subprocess.Popen(
        [sys.executable, f"{ODOO}/odoo-bin", f"--addons-path={ODOO}/odoo/addons,{REPO}", f"--db_host={args.db_host}",
         f"--db_port={args.db_port}", f"--db_user={args.db_user}", "-d", args.database, "--db-filter", f"^{args.database}$",
         f"--http-port={args.http_port}", "--workers=0", "--max-cron-threads=0", "--log-level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{args.http_port}/whatsapp/webhook"
    try:
        for _ in range(120):
            try:
                requests.get(f"http://127.0.0.1:{args.http_port}/web/login", timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.5)
        bodies = []
        for i in range(1000):
            value = {"messaging_product": "whatsapp",
                     "metadata": {"display_phone_number": "15550000001", "phone_number_id": phone_uid},
                     "statuses": [{"id": f"wamid.ST{run}{i:05d}", "status": "delivered",
                                   "timestamp": str(int(time.time())), "recipient_id": "33612345678"}]}
            payload = {"object": "whatsapp_business_account",
                       "entry": [{"id": waba_uid, "changes": [{"field": "messages", "value": value}]}]}
            body = json.dumps(payload).encode()
            sig = "sha256=" + hmac.new(b"bench-secret", body, hashlib.sha256).hexdigest()
            bodies.append((body, sig))
        # warm-up
        session = requests.Session()
        session.post(url, data=bodies[0][0], headers={"X-Hub-Signature-256": bodies[0][1],
                                                     "Content-Type": "application/json"}, timeout=30)
        latencies, lock = [], threading.Lock()

        def client(part):
            s = requests.Session()
            for body, sig in part:
                t = time.perf_counter()
                s.post(url, data=body, headers={"X-Hub-Signature-256": sig, "Content-Type": "application/json"},
                       timeout=30)
                with lock:
                    latencies.append(time.perf_counter() - t)

        parts = [bodies[1:][i::4] for i in range(4)]
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(p,)) for p in parts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(30)
    latencies.sort()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        msgs = env["whatsapp.message"].browse(messages.ids)
        applied = msgs.mapped("state").count("delivered")
        env["whatsapp.webhook.event"].search([("account_id", "=", account_id)]).unlink()
        msgs.unlink()
        env["whatsapp.account"].browse(account_id).unlink()
        cr.commit()
    return {"n": len(latencies), "rate": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000, "applied": applied}


def main(argv=None):
    args = _args(argv if argv is not None else sys.argv[1:])
    odoo = _odoo(args)
    from meta_sandbox import Sandbox  # noqa: PLC0415

    sandbox = Sandbox(validate=False)
    sandbox.start()
    sandbox.add_account(phone_number_id="1000009", waba_id="2000009", app_id="3000009", token="sandbox-token",
                        app_secret="sandbox-secret")
    try:
        a = bench_send(odoo, args.database, sandbox, 200, 0.1, 80, "200")
        b = bench_send(odoo, args.database, sandbox, 1000, 0.0, 1000, "1000")
        c = bench_status(odoo, args, sandbox)
    finally:
        sandbox.stop()
    print()
    print(f"{'figure':<58} {'result':>22} {'target':>20}")
    print(f"{'Bulk send 200, Meta 100 ms, cap 80 msg/s (send phase)':<58} {a['rate']:>14.1f} msg/s {'>= 80, <= cap':>20}")
    print(f"{'  max calls started in any 1 s window':<58} {a['max_1s']:>18d} / s {'<= 80':>20}")
    print(f"{'  sent / queueing time / end to end':<58} {a['sent']:>5d} {a['queue_s']:>6.2f}s {a['overall']:>6.1f}/s {'':>20}")
    print(f"{'Bulk send 1,000, Meta instant, cap 1,000 (send phase)':<58} {b['rate']:>14.1f} msg/s {'>= 300':>20}")
    print(f"{'  sent / queueing time / end to end':<58} {b['sent']:>5d} {b['queue_s']:>6.2f}s {b['overall']:>6.1f}/s {'':>20}")
    print(f"{'1,000 status webhooks, 4 clients, 1 status each':<58} {c['rate']:>13.1f} ev/s {'>= 600':>20}")
    print(f"{'  p50 / p99 (ms), statuses applied':<58} {c['p50_ms']:>6.1f} {c['p99_ms']:>6.1f} {c['applied']:>6d} {'p99 <= 40':>20}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
