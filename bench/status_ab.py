#!/usr/bin/env python3
"""Status webhooks on two versions of the code, same run: a change's figure before/after, side by side.

The addons of ``--before`` (a git revision, default ``HEAD``) are exported to a temporary directory
(``git archive``) and served by one Odoo server; the working tree by another; both on the same database
(the change must not alter its schema), both prefork ``--workers 2``, posted to in interleaved rounds by
``status_ingest.py``'s load client (chatter path by default). Prints events/s, p50/p99, the CPU per
event of each side for each version, and their ratio.

    python3 bench/status_ab.py -d DB --before REV [--http-port 18103] [--count 1000] [--rounds 6]

Not a test: figures. ``bench/run.py`` skips it unless ``--before`` is given.
"""

import argparse
import subprocess
import sys
import tempfile

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts
import fast_lane


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = fast_lane._args(argv)
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
        return fast_lane.compare(
            args,
            odoo,
            registry,
            lambda: {
                label: benchlib.OdooServer(
                    args, args.http_port, workers=args.workers, name="before", addons=before
                ),
                "after (working tree)": benchlib.OdooServer(
                    args, args.http_port + 2, workers=args.workers, name="after"
                ),
            },
            "status_ab",
        )


if __name__ == "__main__":
    main()
