#!/usr/bin/env python3
"""The per-number cap held by two Odoo processes at once (issue 13, item 4): two senders, one account, one database.

A 2,000-recipient send is queued, then two processes (each its own Odoo registry and connections, as two
``odoo-bin`` servers' cron threads) run the queue of the same account at the same time against a Meta sandbox in
a third process. Each claims its batches (``FOR UPDATE SKIP LOCKED``) and takes its slots from the clock both share
in PostgreSQL. Printed: the most calls started in any 1-second window ``[t, t + 1)`` by both together (recorded
when ``GraphClient.send_message`` is entered, on the machine's monotonic clock shared by the processes), the
sustained rate, and each message sent exactly once.

    python3 bench/two_senders.py -d DB [--count 2000] [--cap 50] [--http-port 18113]

``DB`` has ``whatsapp`` installed. The bench creates its own account, template and partners and removes them at the
end. Not a test: figures.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts
from sending import SandboxProcess

HERE = os.path.abspath(__file__)


def _args(argv):
    args = benchlib.parse_args(argv, __doc__.splitlines()[0], 2000, 1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--cap", type=int, default=50)
    parser.add_argument("--http-port", type=int, default=18113)
    parser.add_argument(
        "--child", default=None, help="internal: run the queue of this account, write calls here"
    )
    parser.add_argument("--account", type=int, default=0)
    parser.parse_known_args(argv, namespace=args)
    return args


def child(args):
    """One "server": run the account's queue, record when each call to Meta starts."""
    odoo, registry = benchlib.registry(args)
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415
    from odoo.addons.whatsapp.tools import graph_api  # noqa: PLC0415

    calls = []
    send_message = graph_api.GraphClient.send_message

    def recording_send_message(client, payload):
        calls.append((time.monotonic(), payload.get("biz_opaque_callback_data")))
        return send_message(client, payload)

    graph_api.GraphClient.send_message = recording_send_message
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["whatsapp.message"]._process_queue(account_ids=[args.account], auto_commit=True)
    with open(args.child, "w") as out:
        json.dump(calls, out)
    return 0


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    args = _args(argv)
    if args.child:
        return child(args)
    odoo, registry = benchlib.registry(args)
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    sandbox = SandboxProcess(args.http_port + 1)
    pnid, n = "1077777", args.count
    sandbox.post(
        "accounts",
        {
            "phone_number_id": pnid,
            "waba_id": "2000077",
            "app_id": "3000077",
            "token": "sandbox-token",
            "app_secret": "sandbox-secret",
            "latency": 0.0,
        },
    )
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            account = env["whatsapp.account"].create(
                {
                    "name": "Bench two senders",
                    "phone_uid": pnid,
                    "account_uid": "2000077",
                    "app_uid": "3000077",
                    "token": "sandbox-token",
                    "app_secret": "sandbox-secret",
                    "api_base_url": sandbox.url,
                    "rate_limit": args.cap,
                }
            )
            template = benchlib.approved_template(
                env, account, f"bench two {uuid.uuid4().hex[:6]}", sandbox, "2000077"
            )
            partners = env["res.partner"].create(
                [
                    {
                        "name": f"Two {i}",
                        "mobile": f"+33 6 {70 + i // 10000:02d} {i // 100 % 100:02d} {i % 100:02d} 00",
                    }
                    for i in range(n)
                ]
            )
            messages = partners._whatsapp_send_template(template, queue=True)
            cr.commit()
            with tempfile.TemporaryDirectory() as tmp:
                outs = [os.path.join(tmp, f"server{i}.json") for i in (1, 2)]
                base = [sys.executable, HERE, *argv, "--account", str(account.id), "--child"]
                t0 = time.monotonic()
                procs = [subprocess.Popen([*base, out]) for out in outs]
                codes = [proc.wait() for proc in procs]
                elapsed = time.monotonic() - t0
                per_server = []
                for out in outs:
                    with open(out) as f:
                        per_server.append(json.load(f))
            calls = [call for server in per_server for call in server]
            cr.execute("SELECT 1")  # a fresh snapshot: the servers committed
            messages.invalidate_recordset()
            states = messages.mapped("state")
            uuids = [u for _t, u in calls]
            starts = sorted(t for t, _u in calls)
            span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
            print()
            print(f"machine: {benchlib.machine()}")
            print(
                "path: queue send phase, messages made by the thread API with chatter (queued from the partners, "
                "no composer), two sender processes calling the queue runner (not odoo-bin servers: "
                "bench/two_servers.py runs those)"
            )
            print(
                f"two sender processes, one account, cap {args.cap} msg/s, {n} recipients, Meta answering at once"
            )
            print(
                f"  exit codes {codes}; calls per process {[len(s) for s in per_server]}; wall {elapsed:.1f} s"
            )
            print(
                f"  most calls started in any 1 s window, both together: {benchlib.max_per_second(starts)} (cap {args.cap})"
            )
            print(f"  sustained rate of the calls: {(len(starts) - 1) / span if span else 0.0:.1f} msg/s")
            print(
                f"  calls {len(uuids)}, distinct messages called {len(set(uuids))}, "
                f"messages sent {states.count('sent')} / {n}"
            )
            mail_messages = messages.mail_message_id
            messages.unlink()
            mail_messages.unlink()
            partners.unlink()
            template.unlink()
            account.unlink()
            cr.commit()
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
