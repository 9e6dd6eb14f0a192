#!/usr/bin/env python3
"""Webhook acknowledgement time: POST signed one-status payloads to a running Odoo and print p50/p99.

Each payload is a ``messages`` change carrying one ``statuses`` item (the most frequent webhook) for the
demo account's phone number, with a unique wamid so that every request is stored and dispatched (no
duplicate shortcut). One keep-alive ``requests.Session``, requests sent one after the other.

    python3 bench/webhook_ack.py [--url http://127.0.0.1:8069] [--secret sandbox-secret] [-n 1000]

Target on the reference machine (2 cores, ``--workers 0``): p50 <= 25 ms. Not a test: a figure.
"""

import argparse
import hashlib
import hmac
import json
import statistics
import sys
import time
import uuid

import requests


def payload(phone_number_id, waba_id, index, run_id):
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550000001",
                                "phone_number_id": phone_number_id,
                            },
                            "statuses": [
                                {
                                    "id": f"wamid.BENCH{run_id}{index:06d}",
                                    "status": "delivered",
                                    "timestamp": str(int(time.time())),
                                    "recipient_id": "33612345678",
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def percentile(sorted_values, fraction):
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8069", help="Odoo base URL")
    parser.add_argument("--secret", default="sandbox-secret", help="app secret of the account")
    parser.add_argument("--phone-number-id", default="1000001")
    parser.add_argument("--waba-id", default="2000001")
    parser.add_argument("-n", "--count", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20, help="requests sent first and not measured")
    args = parser.parse_known_args(argv)[0]  # bench/run.py passes its arguments to every bench

    endpoint = args.url.rstrip("/") + "/whatsapp/webhook"
    run_id = uuid.uuid4().hex[:8].upper()
    session = requests.Session()
    timings, failures = [], 0
    for index in range(args.warmup + args.count):
        body = json.dumps(payload(args.phone_number_id, args.waba_id, index, run_id)).encode()
        signature = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        started = time.perf_counter()
        response = session.post(endpoint, data=body, headers=headers, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            failures += 1
            if failures == 1:
                print(f"first failure: HTTP {response.status_code} {response.text[:80]!r}", file=sys.stderr)
        if index >= args.warmup:
            timings.append(elapsed)
    timings.sort()
    print(f"count {len(timings)}  non-200 {failures}")
    print(
        f"p50 {statistics.median(timings):.1f} ms  p99 {percentile(timings, 0.99):.1f} ms  "
        f"max {timings[-1]:.1f} ms  mean {statistics.fmean(timings):.1f} ms"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
