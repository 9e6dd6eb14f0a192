"""``python3 -m meta_sandbox --port 8190 --callback http://127.0.0.1:8069/whatsapp/webhook``"""

import argparse
import logging
import os
import signal
import threading

from . import DEMO_ACCOUNT, Sandbox


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m meta_sandbox", description="Local WhatsApp Cloud API sandbox"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8190)
    parser.add_argument("--callback", default=None, help="webhook callback URL (Odoo's /whatsapp/webhook)")
    parser.add_argument(
        "--app-secret",
        default=os.environ.get("META_SANDBOX_APP_SECRET") or None,
        help="sign webhooks with this secret (default: $META_SANDBOX_APP_SECRET, else the account's)",
    )
    parser.add_argument(
        "--auto-approve", action="store_true", help="approve new and edited templates at once"
    )
    parser.add_argument("--status-delay", type=float, default=0.0, help="seconds between sent/delivered/read")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every Graph answer")
    parser.add_argument(
        "--webhook-workers", type=int, default=4, help="webhooks delivered concurrently (Meta: many)"
    )
    parser.add_argument("--no-window", action="store_true", help="do not enforce the 24-hour window")
    parser.add_argument("--no-validate", action="store_true", help="debug only: skip spec validation")
    parser.add_argument(
        "--control-token",
        default=os.environ.get("META_SANDBOX_CONTROL_TOKEN") or None,
        help="token the control API (/_sandbox/...) requires in X-Sandbox-Token "
        "(default: $META_SANDBOX_CONTROL_TOKEN, else a random one, printed at start)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer the control API and the emulator on this host name (besides loopback and --host)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )

    sb = Sandbox(
        args.host,
        args.port,
        validate=not args.no_validate,
        auto_approve=args.auto_approve,
        enforce_window=not args.no_window,
        control_token=args.control_token,
        allowed_hosts=args.allow_host,
        webhook_workers=args.webhook_workers,
    )
    sb.add_account(**DEMO_ACCOUNT, latency=args.latency)
    sb.set_webhook(args.callback, args.app_secret)
    sb.set_status_flow(["sent", "delivered", "read"], delay=args.status_delay)
    sb.start()
    print(
        f"Meta sandbox listening on {sb.url} (Graph base URL; phone_number_id {DEMO_ACCOUNT['phone_number_id']}, "
        f"token {DEMO_ACCOUNT['token']}); webhooks -> {args.callback or 'nowhere'}",
        flush=True,
    )
    print(f"Phone emulator (play the customer): {sb.url}/emulator", flush=True)
    print(f"Control API token (header X-Sandbox-Token): {sb.control_token}", flush=True)
    done = threading.Event()
    # Explicit handlers: a background job started by a non-interactive shell inherits SIGINT ignored.
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    finally:
        sb.stop()
        print("Meta sandbox stopped.", flush=True)


if __name__ == "__main__":
    main()
