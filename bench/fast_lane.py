#!/usr/bin/env python3
"""The webhook's fast lane, kept or removed (issue 11, item 6): status webhooks with and without it, same run.

Two Odoo servers on the same database, identical but for the off switch (``whatsapp_webhook_fast_lane =
False`` in the second one's configuration file): both run at once (the one not being measured is idle),
and the same load client posts to one then the other, in interleaved rounds whose order alternates, so
the machine's load weighs on both alike. The path is the real one: statuses (``delivered``) of messages
created the way the composer creates them (chatter message, WhatsApp message, notification; ticks pushed
on the bus), one status per POST, 4 clients, ``--workers 2`` each (``status_ingest.py``'s client and
setup). Printed: events/s, p50/p99 and the CPU per event of each side (client, Odoo, PostgreSQL) for
each server, and their ratio.

    python3 bench/fast_lane.py -d DB [--http-port 18103] [--count 1000] [--rounds 6] [--paths chatter]

Not a test: figures.
"""

import argparse
import sys
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
            status_ingest.interleave(sides, args.rounds, args.clients, sessions)
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
    )
    for pair in results.values():
        status_ingest.print_results(name, pair, problems)
    return {"name": name, "results": results}


def main(argv=None):
    args = _args(sys.argv[1:] if argv is None else argv)
    odoo, registry = benchlib.registry(args)
    return compare(
        args,
        odoo,
        registry,
        lambda: {
            "fast lane on": benchlib.OdooServer(args, args.http_port, workers=args.workers, name="lane-on"),
            "fast lane off": benchlib.OdooServer(
                args,
                args.http_port + 2,
                workers=args.workers,
                options={"whatsapp_webhook_fast_lane": "False"},
                name="lane-off",
            ),
        },
        "fast_lane",
    )


if __name__ == "__main__":
    main()
