#!/usr/bin/env python3
"""Sending figures of issue 4, side by side in one run (status ingestion: ``status_ingest.py``).

1. Bulk send of 200 recipients, sandbox answering in 100 ms, account rate 80 msg/s (target >= 80, never above).
2. Bulk send of 1,000 recipients, sandbox answering at once, account rate 1,000 msg/s (target >= 300 msg/s).

Sends run in this process through the real queue (``whatsapp.message._process_queue``, commits included)
against a Meta sandbox running in a *subprocess* (``python3 -m meta_sandbox``, schema validation off): in
this process it would compete with the sender's threads for the GIL. The cap is checked on the calls as the
sender starts them (the rate limiter's grants; also shown when ``GraphClient.send_message`` is entered, a
GIL switch later): the most calls started in any 1-second window ``[t, t + 1)``. The "sustained rate" is the calls' rate over their span
(``(n - 1) / (last start - first start)``); the send phase adds the claim, the payloads and the writes.

    python3 bench/sending.py -d DB [--http-port 18103] [--db_host ... --db_port ... --db_user ...]

``DB`` has ``whatsapp`` installed. The bench creates its own account, template and partners and removes
them at the end. Not a test: figures.
"""

import argparse
import os
import secrets
import subprocess
import sys
import time
import uuid

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _args(argv):
    """The shared benchmark arguments (``benchlib``) and the sandbox's port."""
    args = benchlib.parse_args(argv, __doc__.splitlines()[0], 1000, 1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-port", type=int, default=18103)
    parser.add_argument("--sandbox-port", type=int, default=None, help="default: --http-port + 1")
    parser.parse_known_args(argv, namespace=args)  # bench/run.py passes its arguments to every bench
    args.sandbox_port = args.sandbox_port or args.http_port + 1
    return args


class SandboxProcess:
    """``python3 -m meta_sandbox`` in a subprocess, driven through its control API."""

    def __init__(self, port):
        import requests  # noqa: PLC0415

        self.url = f"http://127.0.0.1:{port}"
        token = secrets.token_urlsafe(24)  # the sandbox's control API needs it (X-Sandbox-Token)
        self.session = requests.Session()
        self.session.headers["X-Sandbox-Token"] = token
        self.process = subprocess.Popen(
            [sys.executable, "-m", "meta_sandbox", "--port", str(port), "--no-validate"],
            cwd=REPO,
            env=dict(os.environ, META_SANDBOX_CONTROL_TOKEN=token),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                self.session.get(f"{self.url}/_sandbox/state", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the sandbox did not start")

    def post(self, name, data):
        response = self.session.post(f"{self.url}/_sandbox/{name}", json=data, timeout=10)
        response.raise_for_status()
        return response.json()

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


def _record_call_starts():
    """Record when each call is granted by the rate limiter and when it enters ``send_message``."""
    from odoo.addons.whatsapp.tools import graph_api, sender  # noqa: PLC0415

    starts = {"granted": [], "entered": []}
    acquires = {cls: cls.acquire for cls in (sender.RateLimiter, sender.SharedRateLimiter)}
    send_message = graph_api.GraphClient.send_message

    def recording_acquire(limiter):
        granted = acquires[type(limiter)](limiter)
        starts["granted"].append(granted)
        return granted

    def recording_send_message(client, payload):
        starts["entered"].append(time.monotonic())
        return send_message(client, payload)

    sender.RateLimiter.acquire = sender.SharedRateLimiter.acquire = recording_acquire
    graph_api.GraphClient.send_message = recording_send_message
    return starts


def bench_send(odoo, db, sandbox, starts, n, latency, rate, tag):
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    registry = odoo.modules.registry.Registry(db)
    pnid = f"10{tag:0>5}"  # one sandbox account per run, with its own latency
    sandbox.post(
        "accounts",
        {
            "phone_number_id": pnid,
            "waba_id": "2000009",
            "app_id": "3000009",
            "token": "sandbox-token",
            "app_secret": "sandbox-secret",
            "latency": latency,
        },
    )
    for times in starts.values():
        times.clear()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account = env["whatsapp.account"].create(
            {
                "name": f"Bench {tag}",
                "phone_uid": pnid,
                "account_uid": "2000009",
                "app_uid": "3000009",
                "token": "sandbox-token",
                "app_secret": "sandbox-secret",
                "api_base_url": sandbox.url,
                "rate_limit": rate,
            }
        )
        template = benchlib.approved_template(
            env, account, f"bench {tag} {uuid.uuid4().hex[:6]}", sandbox, "2000009"
        )
        partners = env["res.partner"].create(
            [
                {
                    "name": f"Bench {i}",
                    "mobile": f"+33 6 {80 + i // 10000:02d} {i // 100 % 100:02d} {i % 100:02d} 00",
                }
                for i in range(n)
            ]
        )
        t0 = time.perf_counter()
        messages = partners._whatsapp_send_template(template, queue=True)
        cr.commit()
        t_queue = time.perf_counter() - t0
        t1 = time.perf_counter()
        env["whatsapp.message"]._process_queue(account_ids=account.ids, auto_commit=True)
        t_send = time.perf_counter() - t1
        states = messages.mapped("state")
        granted = starts["granted"]
        span = max(granted) - min(granted) if len(granted) > 1 else 0.0
        result = {
            "n": n,
            "queue_s": t_queue,
            "send_s": t_send,
            "rate": n / t_send,
            "cap": rate,
            "max_1s": benchlib.max_per_second(granted),
            "max_1s_entered": benchlib.max_per_second(starts["entered"]),
            "sent": states.count("sent"),
            "sustained": (len(granted) - 1) / span if span else 0.0,
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


def main(argv=None):
    args = _args(argv if argv is not None else sys.argv[1:])
    odoo, _registry = benchlib.registry(args)
    sandbox = SandboxProcess(args.sandbox_port)
    starts = _record_call_starts()
    try:
        a = bench_send(odoo, args.database, sandbox, starts, 200, 0.1, 80, "200")
        b = bench_send(odoo, args.database, sandbox, starts, 1000, 0.0, 1000, "1000")
    finally:
        sandbox.stop()
    print()
    print(f"machine load (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'figure':<58} {'result':>22} {'target':>20}")
    print(
        f"{'Bulk send 200, Meta 100 ms, cap 80 msg/s (sustained)':<58} {a['sustained']:>14.1f} msg/s {'>= 80, <= cap':>20}"
    )
    print(
        f"{'  max calls started in any 1 s window (limiter grants)':<58} {a['max_1s']:>18d} / s {'<= 80':>20}"
    )
    print(f"{'  same, measured when entering send_message':<58} {a['max_1s_entered']:>18d} / s {'':>20}")
    print(f"{'  send phase (claim, calls, writes)':<58} {a['rate']:>14.1f} msg/s {'':>20}")
    print(
        f"{'  sent / queueing time / end to end':<58} {a['sent']:>5d} {a['queue_s']:>6.2f}s {a['overall']:>6.1f}/s {'':>20}"
    )
    print(
        f"{'Bulk send 1,000, Meta instant, cap 1,000 (send phase)':<58} {b['rate']:>14.1f} msg/s {'>= 300':>20}"
    )
    print(
        f"{'  sustained call rate / max in any 1 s window':<58} {b['sustained']:>8.1f} {b['max_1s']:>8d} / s {'':>20}"
    )
    print(
        f"{'  sent / queueing time / end to end':<58} {b['sent']:>5d} {b['queue_s']:>6.2f}s {b['overall']:>6.1f}/s {'':>20}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
