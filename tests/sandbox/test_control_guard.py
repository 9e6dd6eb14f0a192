"""The control API answers only the tests, the launcher and the emulator page: never another web page.

See ``meta_sandbox.control.refuse``: a token (printed at start, embedded in the emulator page), no request from
another origin, only host names the sandbox serves, no CORS; file names are escaped where the sandbox serves them.
"""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from .test_emulator import CHROMIUM, PHONE, Browser, order_template

ENDPOINTS = [
    ("GET", "state", None),
    ("GET", "messages", None),
    ("GET", "webhooks", None),
    ("POST", "reset", {}),
    ("POST", "webhook", {"callback_url": "http://attacker.example/hook"}),
    (
        "POST",
        "accounts",
        {"phone_number_id": "9", "waba_id": "9", "app_id": "9", "token": "t", "app_secret": "s"},
    ),
    ("GET", "conversations", None),
    ("GET", "chat", None),
    ("POST", "emulate", {"phone": PHONE, "kind": "text", "text": "forged"}),
    ("POST", "read", {"phone": PHONE}),
    ("POST", "upload", None),
    ("GET", "media/1", None),
]


def call(sb, method, name, body=None, headers=None, **kw):
    return requests.request(
        method, f"{sb.url}/_sandbox/{name}", json=body, headers=headers or {}, timeout=5, **kw
    )


def untouched(sb, receiver):
    assert sb.wait_idle(5)
    assert list(sb.state.accounts) == ["1000001"] and sb.callback_url == receiver.url
    assert sb.templates, "reset was refused"
    assert not [m for c in sb.messages() for m in c["messages"] if m["direction"] == "in"], (
        "no forged inbound"
    )


@pytest.mark.parametrize("token", [None, "", "wrong", "sandbox-token"])
def test_every_control_endpoint_needs_the_token(sb, receiver, token):
    order_template(sb)
    headers = {} if token is None else {"X-Sandbox-Token": token}
    for method, name, body in ENDPOINTS:
        r = call(sb, method, name, body, headers=headers)
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert "X-Sandbox-Token" in r.json()["error"]["message"]
    untouched(sb, receiver)
    ok = call(sb, "GET", "state", headers={"X-Sandbox-Token": sb.control_token})
    assert ok.status_code == 200 and ok.json()["templates"]


def test_requests_from_another_origin_are_refused_even_with_the_token(sb, receiver):
    order_template(sb)
    token = {"X-Sandbox-Token": sb.control_token}
    odoo = "http://127.0.0.1:8069"  # same site as the sandbox (another port), still another origin
    for headers in (
        {"Origin": "http://attacker.example"},
        {"Origin": odoo},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        for method, name, body in ENDPOINTS:
            r = call(sb, method, name, body, headers={**token, **headers})
            assert r.status_code == 403, (headers, name, r.status_code)
            assert "Access-Control-Allow-Origin" not in r.headers
    untouched(sb, receiver)
    own = sb.url  # the emulator page's own origin: allowed
    r = call(sb, "GET", "state", headers={**token, "Origin": own, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200


def test_a_rebound_host_name_is_refused_and_never_gets_the_token(sb, receiver):
    """A page whose DNS name is rebound to 127.0.0.1 is "same-origin" for the browser, but sends its Host."""
    for path in ("/emulator", "/_sandbox/state"):
        r = requests.get(sb.url + path, headers={"Host": "attacker.example:8190"}, timeout=5)
        assert r.status_code == 403 and sb.control_token.encode() not in r.content
    for host in ("localhost", f"127.0.0.1:{sb.port}", f"localhost:{sb.port}"):
        r = requests.get(sb.url + "/emulator", headers={"Host": host}, timeout=5)
        assert r.status_code == 200, host


def test_no_cors_and_the_page_is_never_framed(sb):
    r = requests.options(
        sb.url + "/_sandbox/reset",
        headers={"Origin": "http://attacker.example", "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    assert r.status_code >= 400 and not any(h.lower().startswith("access-control-") for h in r.headers)
    page = requests.get(sb.url + "/emulator", timeout=5)
    assert f'content="{sb.control_token}"'.encode() in page.content
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert not any(h.lower().startswith("access-control-") for h in page.headers)


def test_file_names_are_escaped_where_served(sb):
    name = 'inv"oice\r\nSet-Cookie: stolen=1; x=".pdf'
    up = call(
        sb,
        "POST",
        "upload",
        headers={"X-Sandbox-Token": sb.control_token, "Content-Type": "application/pdf"},
        params={"filename": name},
        data=b"%PDF-1.4",
    )
    assert up.status_code == 200, up.text
    r = requests.get(
        f"{sb.url}/_sandbox/media/{up.json()['id']}", params={"token": sb.control_token}, timeout=5
    )
    disposition = r.headers["Content-Disposition"]
    assert (
        "stolen" not in r.headers.get("Set-Cookie", "")
        and "\r" not in disposition
        and "\n" not in disposition
    )
    assert disposition.startswith(
        "inline; filename=\"inv_oice__Set-Cookie: stolen=1_ x=_.pdf\"; filename*=UTF-8''"
    )
    assert "inv%22oice%0D%0ASet-Cookie%3A%20stolen%3D1%3B%20x%3D%22.pdf" in disposition
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    unicode_name = sb.add_media(b"%PDF", "application/pdf", "façture été.pdf")
    r = requests.get(
        f"{sb.url}/_sandbox/media/{unicode_name.id}", params={"token": sb.control_token}, timeout=5
    )
    assert r.headers["Content-Disposition"] == (
        "inline; filename=\"fa_ture _t_.pdf\"; filename*=UTF-8''fa%C3%A7ture%20%C3%A9t%C3%A9.pdf"
    )


class ForeignSite:
    """Another origin (another port of 127.0.0.1) serving a page that attacks the sandbox's control API."""

    def __init__(self, page):
        body = page.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


ATTACK = """<!DOCTYPE html><html><body><script>
const SB = %(sandbox)s;
const tries = {
  reset_simple: fetch(SB + "/_sandbox/reset", {method: "POST", mode: "no-cors", body: "{}"}).then((r) => r.type),
  emulate_simple: fetch(SB + "/_sandbox/emulate", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"},
      body: JSON.stringify({phone: %(phone)s, kind: "text", text: "forged"})}).then((r) => r.type),
  state_read: fetch(SB + "/_sandbox/state").then((r) => r.text()),
  webhook_json: fetch(SB + "/_sandbox/webhook", {method: "POST",
      headers: {"Content-Type": "application/json", "X-Sandbox-Token": "guess"},
      body: JSON.stringify({callback_url: "http://attacker.example/"})}).then((r) => r.status),
  page_read: fetch(SB + "/emulator").then((r) => r.text()),
};
const out = {};
Promise.allSettled(Object.values(tries)).then((results) => {
  Object.keys(tries).forEach((k, i) => {
    out[k] = results[i].status === "fulfilled" ? "read:" + String(results[i].value).slice(0, 80) : "blocked";
  });
  const frame = document.createElement("iframe");
  frame.src = SB + "/emulator";
  frame.onload = () => {
    try { out.frame = frame.contentDocument ? "read" : "blocked"; } catch (e) { out.frame = "blocked"; }
    window.ATTACK = out;
  };
  document.body.append(frame);
  setTimeout(() => { out.frame = out.frame || "blocked"; window.ATTACK = out; }, 3000);
});
</script></body></html>"""


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="needs Chromium")
def test_a_web_page_of_another_origin_cannot_drive_the_sandbox(sb, receiver):
    """In real Chromium: simple (no-cors) POSTs reach the sandbox but are refused without the token; reads
    and preflighted calls are blocked by the browser (no CORS); the emulator page cannot be read or framed."""
    pytest.importorskip("websocket")
    order_template(sb)
    site = ForeignSite(ATTACK % {"sandbox": json.dumps(sb.url), "phone": json.dumps(PHONE)})
    browser = Browser(site.url)
    try:
        result = browser.wait_js("window.ATTACK", timeout=15)
    finally:
        browser.close()
        site.stop()
    assert result == {
        "reset_simple": "read:opaque",  # sent, answer unreadable, and refused by the sandbox (see below)
        "emulate_simple": "read:opaque",
        "state_read": "blocked",
        "webhook_json": "blocked",
        "page_read": "blocked",
        "frame": "blocked",
    }
    untouched(sb, receiver)
