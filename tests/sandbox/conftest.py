"""Fixtures: an in-process sandbox with the demo account and a tiny webhook receiver."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from meta_sandbox import DEMO_ACCOUNT, Sandbox


class Receiver:
    """Records every webhook POST; answers ``self.answer`` (default 200)."""

    def __init__(self):
        self.received = []
        self.answer = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(
                    {"headers": dict(self.headers.items()), "body": body, "json": json.loads(body)}
                )
                self.send_response(receiver.answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/whatsapp/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self, field=None):
        return [
            r["json"]
            for r in self.received
            if field is None or r["json"]["entry"][0]["changes"][0]["field"] == field
        ]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def receiver():
    rec = Receiver()
    yield rec
    rec.stop()


@pytest.fixture(scope="session")
def _sandbox(receiver):
    sb = Sandbox().start()
    yield sb
    sb.stop()


@pytest.fixture
def sb(_sandbox, receiver):
    """The shared sandbox, reset, with the demo account and the receiver as callback."""
    _sandbox.reset()
    _sandbox.state.accounts.clear()
    _sandbox.add_account(**DEMO_ACCOUNT)
    _sandbox.set_webhook(receiver.url)
    _sandbox.auto_approve = False
    _sandbox.enforce_window = True
    _sandbox.validate = True
    receiver.received.clear()
    receiver.answer = 200
    yield _sandbox
    _sandbox.wait_idle(5)


@pytest.fixture
def graph(sb):
    """A requests session bound to the sandbox's Graph base URL with the demo token."""
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + DEMO_ACCOUNT["token"]

    class Graph:
        url = sb.url + "/v23.0"

        def get(self, path, **kw):
            return session.get(self.url + path, timeout=10, **kw)

        def post(self, path, **kw):
            return session.post(self.url + path, timeout=10, **kw)

        def delete(self, path, **kw):
            return session.delete(self.url + path, timeout=10, **kw)

    yield Graph()
    session.close()
