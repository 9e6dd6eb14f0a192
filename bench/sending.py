#!/usr/bin/env python3
"""Sending figures of issue 13 (items 3 and 5), side by side in one run.

Path measured: **the queue's send phase** (claim, payloads, calls, result writes, chatter status icons) of
**messages with chatter**, made by the thread API as the composer makes them (record, chatter message,
notification, WhatsApp message), in Odoo processes that run the real queue (``whatsapp.message._process_queue``,
commits included) as two ``odoo-bin`` servers' cron threads would; the Meta sandbox runs in its own process
(``python3 -m meta_sandbox``, schema validation off). The messages are queued first; each server process loads its
registry, then all start together.

1. **Sending cost and servers**: one account, cap 1,000 msg/s, Meta answering at once, ``--count`` messages
   (default 4,000) sent by 1 server, then by 2 (target >= 600 msg/s with one; the ratio shows the scaling).
   CPU per message: the sender processes (Odoo) and the database's backends (PostgreSQL), and the sandbox.
2. **Two accounts at once**: two accounts, cap 80 each, Meta answering in 100 ms, ``--campaign`` messages each
   (default 5,000), one server: each account's sustained rate (target >= 76 msg/s, both at the same time) and
   the most calls started in any 1-second window ``[t, t + 1)`` (target <= 80), counted on the limiter's grants.

"Sustained rate" is ``(n - 1) / (last start - first start)`` of an account's calls; "msg/s" is the messages over
the wall time from the start signal to the last server's exit (claims, writes and commits included).

    python3 bench/sending.py -d DB [--count 4000] [--campaign 5000] [--http-port 18103] [--db_host ...]

``DB`` has ``whatsapp`` installed. The bench creates its own accounts, templates and partners and removes them at
the end. Not a test: figures.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.abspath(__file__)
PATH = "queue send phase, composer-made messages with chatter (thread API: record, chatter message, notification)"


def _args(argv):
    """The shared benchmark arguments (``benchlib``), the sandbox's port and the child mode."""
    args = benchlib.parse_args(argv, __doc__.splitlines()[0], 4000, 1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-port", type=int, default=18103)
    parser.add_argument("--sandbox-port", type=int, default=None, help="default: --http-port + 1")
    parser.add_argument(
        "--campaign", type=int, default=5000, help="messages per account, two accounts at once"
    )
    parser.add_argument(
        "--child", default=None, help="internal: run the queue, write what it saw to this file"
    )
    parser.add_argument("--accounts", default="", help="internal: the accounts the child sends for")
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


def child(args):
    """One "server": load the registry, say ready, wait for the start line, run the queue; write the limiter's
    grants per account and this process's CPU time."""
    odoo, registry = benchlib.registry(args)
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415
    from odoo.addons.whatsapp.tools import sender  # noqa: PLC0415

    grants, lane_of = [], {}
    # the limiter's method the pool calls ("acquire" on revisions before 36a8110, for --before comparisons)
    method = "take" if hasattr(sender.SharedRateLimiter, "take") else "acquire"
    acquire = getattr(sender.SharedRateLimiter, method)

    def recording_add_lane(pool, key, *a, **kw):
        add_lane(pool, key, *a, **kw)
        lane_of[id(pool._lanes[key].limiter)] = key

    def recording_acquire(limiter):
        permit = acquire(limiter)
        grants.append((permit[0] if isinstance(permit, tuple) else permit, lane_of.get(id(limiter))))
        return permit

    setattr(sender.SharedRateLimiter, method, recording_acquire)
    if hasattr(sender, "SenderPool"):
        add_lane = sender.SenderPool.add_lane
        sender.SenderPool.add_lane = recording_add_lane
    else:  # a revision before the pool (comparisons): one account at a time, its batch's limiter made in _send_call
        from odoo.addons.whatsapp.models.whatsapp_message import WhatsAppMessage  # noqa: PLC0415

        send_call, init = WhatsAppMessage._send_call, sender.SharedRateLimiter.__init__
        current = [None]

        def recording_send_call(messages, jobs):
            current[0] = messages.account_id.id
            return send_call(messages, jobs)

        def recording_init(limiter, *a, **kw):
            init(limiter, *a, **kw)
            lane_of[id(limiter)] = current[0]

        WhatsAppMessage._send_call = recording_send_call
        sender.SharedRateLimiter.__init__ = recording_init
    account_ids = [int(i) for i in args.accounts.split(",")]
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["whatsapp.account"].browse(account_ids).mapped("name")  # warm
        cr.commit()
        print("ready", flush=True)
        sys.stdin.readline()
        cpu = time.process_time()
        for _run in range(
            100
        ):  # a run stops at its time budget; the cron runs again at once while some are due
            env["whatsapp.message"]._process_queue(account_ids=account_ids, auto_commit=True)
            cr.execute(
                "SELECT 1 FROM whatsapp_message WHERE account_id IN %s AND state = 'queued' LIMIT 1",
                [tuple(account_ids)],
            )
            if not cr.fetchone():
                break
        cpu = time.process_time() - cpu
    with open(args.child, "w") as out:
        json.dump({"grants": grants, "cpu": cpu}, out)
    return 0


def run_servers(argv, database, account_ids, servers, sandbox):
    """Start ``servers`` sender processes, wait until they are ready, start them together; their figures."""
    with tempfile.TemporaryDirectory() as tmp:
        outs = [os.path.join(tmp, f"server{i}.json") for i in range(servers)]
        base = [sys.executable, HERE, *argv, "--accounts", ",".join(map(str, account_ids)), "--child"]
        procs = [
            subprocess.Popen([*base, out], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for out in outs
        ]
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a sender process did not start")
        pids = [proc.pid for proc in procs]
        cpu_before = benchlib.cpu_seconds(database, pids, {"sandbox": [sandbox.process.pid]})
        t0 = time.monotonic()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        cpu_after = None
        while any(proc.poll() is None for proc in procs):
            # read before the processes end: the CPU of a process that exited is gone
            cpu_after = benchlib.cpu_seconds(database, pids, {"sandbox": [sandbox.process.pid]})
            time.sleep(0.2)
        wall = time.monotonic() - t0
        children = []
        for out in outs:
            with open(out) as f:
                children.append(json.load(f))
    cpu = {key: cpu_after[key] - cpu_before[key] for key in ("postgresql", "sandbox")}
    cpu["odoo"] = sum(c["cpu"] for c in children)  # the processes' own count, to their last instruction
    grants = [tuple(g) for c in children for g in c["grants"]]
    return {
        "wall": wall,
        "t0": t0,
        "cpu": cpu,
        "grants": grants,
        "codes": [proc.returncode for proc in procs],
    }


def lane_figures(grants, account_id):
    starts = sorted(t for t, lane in grants if lane == account_id)
    span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
    return {
        "calls": len(starts),
        "sustained": (len(starts) - 1) / span if span else 0.0,
        "max_1s": benchlib.max_per_second(starts),
        "first": starts[0] if starts else 0.0,
        "last": starts[-1] if starts else 0.0,
    }


class Bench:
    """The accounts, templates and partners of the run (in the sandbox too), and the queueing of messages."""

    def __init__(self, args, sandbox):
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415

        self.args, self.sandbox = args, sandbox
        self.odoo, self.registry = benchlib.registry(args)
        self.cr = self.registry.cursor()
        self.env = api.Environment(self.cr, SUPERUSER_ID, {})
        self.accounts, self.templates, self.messages = [], [], self.env["whatsapp.message"]
        count = max(args.count, args.campaign)
        self.partners = self.env["res.partner"].create(
            [
                {
                    "name": f"Bench {i}",
                    "mobile": f"+33 6 {80 + i // 10000:02d} {i // 100 % 100:02d} {i % 100:02d} 00",
                }
                for i in range(count)
            ]
        )
        self.cr.commit()

    def account(self, tag, rate, latency):
        pnid, waba = f"10{tag:0>5}", f"20{tag:0>5}"
        self.sandbox.post(
            "accounts",
            {
                "phone_number_id": pnid,
                "waba_id": waba,
                "app_id": "3000009",
                "token": "sandbox-token",
                "app_secret": "sandbox-secret",
                "latency": latency,
            },
        )
        account = self.env["whatsapp.account"].create(
            {
                "name": f"Bench {tag}",
                "phone_uid": pnid,
                "account_uid": waba,
                "app_uid": "3000009",
                "token": "sandbox-token",
                "app_secret": "sandbox-secret",
                "api_base_url": self.sandbox.url,
                "rate_limit": rate,
            }
        )
        template = benchlib.approved_template(
            self.env, account, f"bench {tag} {uuid.uuid4().hex[:6]}", self.sandbox, waba
        )
        self.accounts.append(account)
        self.templates.append(template)
        self.cr.commit()
        return account, template

    def queue(self, template, count):
        """Queue ``count`` messages from the partners with the thread API (what the composer calls)."""
        t0 = time.perf_counter()
        messages = self.partners[:count]._whatsapp_send_template(template, queue=True)
        self.cr.commit()
        self.messages |= messages
        return messages, time.perf_counter() - t0

    def sent(self, messages):
        self.cr.execute("SELECT 1")  # the servers committed: a fresh snapshot
        messages.invalidate_recordset()
        return messages.mapped("state").count("sent")

    def close(self):
        env = self.env
        mail_messages = self.messages.mail_message_id
        self.messages.unlink()
        mail_messages.unlink()
        self.partners.unlink()
        for template in self.templates:
            template.unlink()
        for account in self.accounts:
            env["whatsapp.account"].browse(account.id).unlink()
        self.cr.commit()
        self.cr.close()


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    args = _args(argv)
    if args.child:
        return child(args)
    sandbox = SandboxProcess(args.sandbox_port)
    bench = None
    try:
        bench = Bench(args, sandbox)
        n = args.count
        scaling = {}
        for servers in (1, 2):
            account, template = bench.account(f"{servers}{n}", 1000, 0.0)
            messages, queue_s = bench.queue(template, n)
            run = run_servers(argv, args.database, account.ids, servers, sandbox)
            scaling[servers] = {
                **run,
                "rate": n / run["wall"],
                "sent": bench.sent(messages),
                "queue_s": queue_s,
            }
        m = args.campaign
        pair = [bench.account(f"8{i}{m}", 80, 0.1) for i in (1, 2)]
        queue_s = 0.0
        campaign = []
        for _account, template in pair:
            messages, seconds = bench.queue(template, m)
            campaign.append(messages)
            queue_s += seconds
        together = run_servers(argv, args.database, [a.id for a, _t in pair], 1, sandbox)
        lanes = [lane_figures(together["grants"], account.id) for account, _t in pair]
        sent = [bench.sent(messages) for messages in campaign]
    finally:
        if bench is not None:
            bench.close()
        sandbox.stop()
    print()
    print(f"machine: {benchlib.machine()}")
    print(f"path: {PATH}")
    print(f"{'figure':<62} {'result':>24} {'target':>12}")
    one, two = scaling[1], scaling[2]
    print(f"1. one account, cap 1,000, Meta answering at once, {n} messages")
    print(
        f"{'  msg/s, 1 server | 2 servers (ratio)':<62} "
        f"{one['rate']:>7.1f} | {two['rate']:>6.1f} ({two['rate'] / one['rate']:.2f}x) {'>= 600':>12}"
    )
    for servers, run in scaling.items():
        cpu = {side: run["cpu"][side] / n * 1000 for side in ("odoo", "postgresql", "sandbox")}
        print(
            f"{f'  {servers} server(s): CPU ms/message Odoo / PostgreSQL / sandbox':<62} "
            f"{cpu['odoo']:>6.2f} / {cpu['postgresql']:.2f} / {cpu['sandbox']:.2f}"
        )
        print(
            f"{'    sent / most calls in 1 s / queueing (thread API)':<62} "
            f"{run['sent']:>6d} / {benchlib.max_per_second([t for t, _l in run['grants']]):>4d} / "
            f"{run['queue_s']:.1f} s   exit {run['codes']}"
        )
        starts = sorted(t - run["t0"] for t, _l in run["grants"])
        if starts:  # the clocks are one (CLOCK_MONOTONIC is the machine's)
            print(
                f"{'    start -> first call / first -> last call / -> all done':<62} "
                f"{starts[0]:>6.2f} / {starts[-1] - starts[0]:.2f} / {run['wall'] - starts[-1]:.2f} s "
                f"({(len(starts) - 1) / (starts[-1] - starts[0] or 1):.0f} calls/s between)"
            )
    print(f"2. two accounts at once, cap 80 each, Meta answering in 100 ms, {m} messages each, 1 server")
    for i, (lane, count) in enumerate(zip(lanes, sent, strict=True), 1):
        print(
            f"{f'  account {i}: sustained msg/s / most calls in 1 s / sent':<62} "
            f"{lane['sustained']:>6.1f} / {lane['max_1s']:>3d} / {count:>5d} {'>= 76 / <= 80':>12}"
        )
    overlap = min(lane["last"] for lane in lanes) - max(lane["first"] for lane in lanes)
    longest = max(lane["last"] - lane["first"] for lane in lanes)
    print(
        f"{'  both sending at once (overlap of their spans) / wall':<62} "
        f"{max(0.0, overlap) / longest * 100 if longest else 0:>5.0f} % / {together['wall']:.1f} s"
    )
    cpu = {side: together["cpu"][side] / (2 * m) * 1000 for side in ("odoo", "postgresql", "sandbox")}
    print(
        f"{'  CPU ms/message Odoo / PostgreSQL / sandbox':<62} "
        f"{cpu['odoo']:>6.2f} / {cpu['postgresql']:.2f} / {cpu['sandbox']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
