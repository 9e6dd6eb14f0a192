#!/usr/bin/env python3
"""The per-number cap held by two real ``odoo-bin`` servers on one database (issue 13, item 4), at Meta's cap.

Two servers (threaded, one cron thread each), a Meta sandbox answering at once in a third process; the account
at ``--cap`` (80 msg/s: Meta's default); ``--count`` partners selected in the composer and *Send* clicked
(XML-RPC on the second server); the queue cron runs on whichever server's cron thread takes it. Printed: its
path, the most calls Meta (the sandbox, on their arrival) received in any 1-second window from both servers
together, the sustained rate, duplicates (same message, same recipient), what is left queued, the queue cron
runs per server, each server's log, and the CPU each side spent per message. The scenario is the one
``./dev test`` checks at cap 50 (``scripts/devtools/two_servers.py``).

    python3 bench/two_servers.py -d DB [--count 2000] [--cap 80] [--http-port 18123]

``DB`` has ``whatsapp`` installed (and the ``admin`` / ``admin`` login). The bench's account, template, partners
and messages stay in the database (``./dev bench`` drops it). Not a test: figures.
"""

import argparse
import os
import sys

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts

sys.path.insert(0, os.path.join(benchlib.ROOT, "scripts"))
from devtools import two_servers  # noqa: E402 - the scenario shared with ./dev test
from devtools.common import free_port  # noqa: E402


def _args(argv):
    args = benchlib.parse_args(argv, __doc__.splitlines()[0], 2000, 1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--cap", type=int, default=80)
    parser.add_argument("--http-port", type=int, default=18123)
    parser.parse_known_args(argv, namespace=args)  # bench/run.py passes its arguments to every bench
    return args


def main(argv=None):
    args = _args(sys.argv[1:] if argv is None else argv)
    odoo_cmd = [
        sys.executable, f"{args.odoo}/odoo-bin", f"--addons-path={args.odoo}/odoo/addons,{benchlib.ROOT}",
        f"--db_host={args.db_host}", f"--db_port={args.db_port}", f"--db_user={args.db_user}", "-d", args.database,
    ]  # fmt: skip
    port = free_port(
        args.http_port + 20
    )  # away from the other benchmarks' servers; the next ones free after it
    scenario = two_servers.TwoServers(
        odoo_cmd, dict(os.environ), sys.executable, args.database, os.path.join(benchlib.ROOT, ".local", "logs"),
        prefix="bench-two-servers", count=args.count, cap=args.cap, ports=(port, None, None),
    )  # fmt: skip
    try:
        scenario.start()
        scenario.setup()
        others = {"sandbox": [scenario.sandbox_pid]}
        before = benchlib.cpu_seconds(args.database, scenario.odoo_pids, others)
        scenario.click()
        scenario.wait_drained()
        after = benchlib.cpu_seconds(args.database, scenario.odoo_pids, others)
        outcome = scenario.collect()
    finally:
        scenario.stop()
    print()
    print(f"two odoo-bin servers, one database: machine {benchlib.machine()}")
    for line in outcome.lines():
        print(f"  {line}")
    cpu = benchlib.cpu_per_event(before, after, args.count)
    print(f"  CPU per message (click -> nothing left queued): {benchlib.format_cpu(cpu)}")
    problems = outcome.sent_once_problems()
    print(f"  every message sent exactly once: {'yes' if not problems else 'NO: ' + '; '.join(problems)}")
    cap_problems = outcome.cap_problems()
    print(
        f"  cap held as ./dev test checks it (windows of {1 - two_servers.JITTER:g} s, whole send's rate): "
        f"{'yes' if not cap_problems else 'NO: ' + '; '.join(cap_problems)}"
    )
    print(f"  logs: {', '.join(str(log) for log in scenario.logs)}")
    return 1 if problems or cap_problems else 0


if __name__ == "__main__":
    sys.exit(main())
