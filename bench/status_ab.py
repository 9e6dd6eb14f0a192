#!/usr/bin/env python3
"""Status webhooks on two versions of the code, same run: a change's figure before/after, side by side.

The addons of ``--before`` (a git revision, default ``HEAD``) are exported to a temporary directory
(``git archive``) and served by one Odoo server; the working tree by another; both on the same database
(the change must not alter its schema), both prefork ``--workers 2`` (the working tree's with a cron worker,
the status applier's), posted to in interleaved rounds by
``status_ingest.py``'s load client (chatter path by default). Prints events/s, p50/p99, the CPU per
event of each side for each version, and their ratio.

    python3 bench/status_ab.py -d DB --before REV [--http-port 18103] [--count 1000] [--rounds 6] [--paths chatter]
        [--ack-only]

With ``--ack-only`` neither server has a cron worker and no round waits for the applier: the statuses stay
queued (removed at the end) and the figures are the acknowledgement's alone, with no applier's work landing
in one side's round or the other's (the applier cron of the working tree's server, woken by either side's
statuses, otherwise runs during whichever round is posting: on a 2-core machine that moves the rates by
tens of percent from one run to the next).

It measured the webhook's fast lane (a POST served before Odoo's dispatch) against Odoo's regular
dispatch twice: within the noise on the chatter path while statuses were applied in the request (issue 11,
item 6: the lane was removed), then 1.6 times the rate once statuses were acknowledged after one insert
(issue 13: the lane came back), then the lane at Odoo's WSGI entry against the lane after Odoo's request
was built (its session, its database choice): 1.35 times less Odoo CPU per event.

Not a test: figures. ``bench/run.py`` skips it unless ``--before`` is given.
"""

import argparse
import subprocess
import sys
import tempfile
import uuid

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts
import status_ingest


def _args(argv):
    args = benchlib.parse_args(argv, __doc__.splitlines()[0], 1000, 1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-port", type=int, default=18103)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=6, help="rounds per server, interleaved")
    parser.add_argument("--paths", default="chatter", help="chatter (default) and/or nochatter")
    parser.add_argument(
        "--ack-only",
        action="store_true",
        help="no cron worker on either server and no wait for the applier: the acknowledgement alone",
    )
    parser.parse_known_args(argv, namespace=args)  # bench/run.py passes its arguments to every bench
    args.paths = [path for path in args.paths.split(",") if path]
    return args


def compare(args, odoo, registry, make_servers, name):
    """Status webhooks posted to each server of ``make_servers()`` (``{label: OdooServer}``, all on the same
    database), in interleaved rounds, per path of ``args.paths``; print and return the figures."""
    run = uuid.uuid4().hex[:8]
    warm = 5 * args.workers
    servers = make_servers()
    count = len(servers) * (args.count + warm)  # each server gets its own messages
    try:
        state = status_ingest.setup(odoo, registry, count, run, args.paths)
        _account_id, phone_uid, waba_uid = state["account"]
        results = {}
        for server in servers.values():
            server.wait()
        for path in args.paths:
            wamids = [status_ingest.wamid(run, path, i) for i in range(count)]
            sides = []
            for index, (label, server) in enumerate(servers.items()):
                mine = wamids[index :: len(servers)]
                status_ingest.post_all(
                    server.port, status_ingest.bodies(phone_uid, waba_uid, mine[args.count :]), args.clients
                )  # warm-up, not measured
                tally = status_ingest.Tally(f"{label}, {status_ingest.PATHS[path]}")
                sides.append((tally, server, status_ingest.bodies(phone_uid, waba_uid, mine[: args.count])))
            sessions = benchlib.SessionCounter(args)
            # each round waits for the statuses its server left to the applier cron (none when they are
            # applied in the request), so that a round's CPU is its statuses' whole cost
            drain = None if args.ack_only else status_ingest.drainer(registry, state["account"][0])
            status_ingest.interleave(sides, args.rounds, args.clients, sessions, drain)
            sessions.close()
            results[path] = [tally.result() for tally, _server, _bodies in sides]
    finally:
        for server in servers.values():
            server.stop()
    status_ingest.teardown(odoo, registry, state)
    problems = {}
    for label, server in servers.items():
        for key, value in server.problems().items():
            problems[f"{label}: {key}"] = value
    print(
        f"{name}: {args.count} events per server and path, {args.clients} clients, prefork --workers "
        f"{args.workers} each, {args.rounds} interleaved rounds"
        + ("; the acknowledgement alone (no applier on either side)" if args.ack_only else "")
    )
    for pair in results.values():
        status_ingest.print_results(name, pair, problems)
    return {"name": name, "results": results}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = _args(argv)
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default=None, help="git revision to compare the working tree with")
    parser.parse_known_args(argv, namespace=args)
    if not args.before:
        print("status_ab: no --before revision: skipped")
        return None
    odoo, registry = benchlib.registry(args)
    with tempfile.TemporaryDirectory(prefix="bench-before-") as before:
        addons = ["whatsapp", "whatsapp_sale", "whatsapp_pos", "whatsapp_event"]
        archive = subprocess.run(
            ["git", "archive", args.before, *addons], cwd=benchlib.ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", before], input=archive, check=True)
        label = f"before ({args.before})"
        return compare(
            args,
            odoo,
            registry,
            lambda: {
                label: benchlib.OdooServer(
                    args, args.http_port, workers=args.workers, name="before", addons=before
                ),
                "after (working tree)": benchlib.OdooServer(
                    args,
                    args.http_port + 2,
                    workers=args.workers,
                    cron_threads=0 if args.ack_only else 1,
                    name="after",
                ),
            },
            "status_ab",
        )


if __name__ == "__main__":
    main()
