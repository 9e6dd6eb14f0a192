"""The phone emulator: page and assets, its control endpoints, the webhooks of each customer action, and one
real-browser run (headless Chromium driven through the DevTools protocol)."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from meta_sandbox import sign
from meta_sandbox.spec import validate_webhook

PHONE = "33612345678"
BUSINESS = "15550000001"  # the demo account's display number, digits only
PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 64
STATIC = Path(__file__).resolve().parents[2] / "meta_sandbox" / "emulator"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def api(sb, method, name, body=None, **params):
    headers = {"X-Sandbox-Token": sb.control_token}
    return requests.request(
        method, f"{sb.url}/_sandbox/{name}", json=body, params=params, headers=headers, timeout=10
    )


def graph_send(sb, body, to=PHONE):
    r = requests.post(
        f"{sb.url}/v23.0/1000001/messages",
        headers={"Authorization": "Bearer sandbox-token"},
        json={"messaging_product": "whatsapp", "to": to, **body},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["messages"][0]["id"]


def order_template(sb):
    """An approved template with every header/footer/button kind the page renders."""
    sb.add_template(
        "2000001",
        "order_ready",
        components=[
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["S1"]}},
            {"type": "BODY", "text": "Hello {{1}}, {{2}} is ready.", "example": {"body_text": [["A", "B"]]}},
            {"type": "FOOTER", "text": "Sandbox Co"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "I'm coming"},
                    {"type": "QUICK_REPLY", "text": "Stop"},
                    {"type": "URL", "text": "View", "url": "https://shop.example.com/o/{{1}}"},
                    {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550000001"},
                ],
            },
        ],
    )
    return graph_send(
        sb,
        {
            "type": "template",
            "template": {
                "name": "order_ready",
                "language": {"code": "en_US"},
                "components": [
                    {"type": "header", "parameters": [{"type": "text", "text": "S42"}]},
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "3 items"}],
                    },
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": "0",
                        "parameters": [{"type": "payload", "payload": "COMING-42"}],
                    },
                    {
                        "type": "button",
                        "sub_type": "url",
                        "index": 2,
                        "parameters": [{"type": "text", "text": "S42"}],
                    },
                ],
            },
        },
    )


def interactive(sb):
    """Open the window (the customer wrote), then send reply buttons and a list. Returns their wamids."""
    sb.inbound_text("1000001", PHONE, "Hi", name="Ana")
    buttons = graph_send(
        sb,
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Bag?"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "bag_yes", "title": "Yes please"}}]},
            },
        },
    )
    rows = [{"id": "am", "title": "Morning", "description": "9-12"}, {"id": "pm", "title": "Afternoon"}]
    listing = graph_send(
        sb,
        {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": "When?"},
                "action": {"button": "Pick a slot", "sections": [{"title": "Today", "rows": rows}]},
            },
        },
    )
    return buttons, listing


def last_inbound(sb, receiver):
    """The customer message of the last webhook, after checking it is signed and spec-valid."""
    assert sb.wait_idle(5)
    raw = [r for r in receiver.received if r["json"]["entry"][0]["changes"][0]["value"].get("messages")][-1]
    assert raw["headers"]["X-Hub-Signature-256"] == sign(raw["body"], "sandbox-secret")
    assert validate_webhook(raw["json"]) == []
    value = raw["json"]["entry"][0]["changes"][0]["value"]
    assert value["contacts"][0]["wa_id"] == PHONE and value["metadata"]["phone_number_id"] == "1000001"
    message = value["messages"][0]
    assert message["from"] == PHONE and message["id"].startswith("wamid.")
    return message


def emulate(sb, **body):
    r = api(sb, "POST", "emulate", {"pnid": "1000001", "phone": PHONE, **body})
    assert r.status_code == 200, r.text
    return r.json()["wamid"]


# page -------------------------------------------------------------------------------------------------------
def test_page_and_assets_are_served(sb):
    for path, ctype, marker in [
        (f"/emulator?phone={PHONE}&pnid=1000001", "text/html", b"o-wa-emu-input"),
        ("/emulator/", "text/html", b"/emulator/emulator.js"),
        ("/emulator/emulator.js", "text/javascript", b".o-wa-emu-quick-reply"),
        ("/emulator/emulator.css", "text/css", b".o-wa-emu-message"),
    ]:
        r = requests.get(sb.url + path, timeout=5)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"].startswith(ctype) and marker in r.content, path
    assert requests.get(sb.url + "/emulator/%2e%2e/emulator.py", timeout=5).status_code == 404
    assert requests.get(sb.url + "/emulator/nope.js", timeout=5).status_code == 404
    # offline machine: no CDN, no external font or script
    for name in ("index.html", "emulator.css", "emulator.js"):
        text = (STATIC / name).read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//|@import|url\(\s*["']?https?:""", text), name


def test_existing_control_endpoints_still_answer(sb):
    assert api(sb, "GET", "state").status_code == 200
    assert api(sb, "GET", "messages", phone=PHONE).json() == {"conversations": []}
    assert api(sb, "GET", "emulate").status_code == 405


# reading ----------------------------------------------------------------------------------------------------
def test_conversations_and_incremental_chat(sb):
    template = order_template(sb)
    sb.inbound_text("1000001", "33698765432", "Open on Sunday?", name="Bob")
    data = api(sb, "GET", "conversations").json()
    assert data["accounts"] == [
        {"id": "1000001", "display_phone_number": "+1 555 000 0001", "name": "Sandbox Co"}
    ]
    assert [(c["wa_id"], c["last"]["direction"]) for c in data["conversations"]] == [
        ("33698765432", "in"),
        (PHONE, "out"),
    ]
    assert data["conversations"][0]["name"] == "Bob" and data["conversations"][1]["last"]["preview"] == (
        "Hello Ana, 3 items is ready."
    )
    assert api(sb, "GET", "conversations", pnid="1000009").json()["conversations"] == []

    first = api(sb, "GET", "chat", pnid="1000001", phone="+33 6 12 34 56 78", since="0:").json()
    assert first["reset"] is False and first["cursor"] == f"1:{template}"
    (bubble,) = first["messages"]
    assert bubble["header"] == {"type": "text", "text": "Order S42"}
    assert (bubble["text"], bubble["footer"]) == ("Hello Ana, 3 items is ready.", "Sandbox Co")
    assert [(b["type"], b.get("payload"), b.get("url"), b.get("phone")) for b in bubble["buttons"]] == [
        ("quick_reply", "COMING-42", None, None),
        ("quick_reply", "Stop", None, None),  # no payload at send time: Meta sends the button text
        ("url", None, "https://shop.example.com/o/S42", None),
        ("phone_number", None, None, "+15550000001"),
    ]
    assert first["updates"][template]["status"] == "read"  # the default flow reads at once

    again = api(sb, "GET", "chat", phone=PHONE, since=first["cursor"]).json()
    assert (again["messages"], again["reset"], again["cursor"]) == ([], False, first["cursor"])
    mine = emulate(sb, kind="reaction", wamid=template, emoji="👍")
    text = emulate(sb, kind="text", text="On my way", context=template)
    step = api(sb, "GET", "chat", phone=PHONE, since=first["cursor"]).json()
    assert [m["wamid"] for m in step["messages"]] == [text]  # the reaction is folded, not a bubble
    assert step["messages"][0]["context"] == template and step["messages"][0]["status"] == "received"
    assert step["updates"][template]["reactions"] == {"in": "👍"} and mine not in step["updates"]
    stale = api(sb, "GET", "chat", phone=PHONE, since=f"1:{text}").json()
    assert stale["reset"] is True and [m["wamid"] for m in stale["messages"]] == [template, text]
    assert api(sb, "GET", "chat", phone="12").status_code == 400


def test_media_of_the_business_is_shown_from_the_store(sb):
    sb.inbound_text("1000001", PHONE, "Hi")
    item = sb.add_media(PNG, "image/png", "receipt.png")
    pdf = sb.add_media(b"%PDF-1.4", "application/pdf", "INV-1.pdf")
    graph_send(sb, {"type": "image", "image": {"id": item.id, "caption": "Receipt"}})
    graph_send(sb, {"type": "document", "document": {"id": pdf.id, "filename": "INV-1.pdf"}})
    graph_send(sb, {"type": "location", "location": {"latitude": 48.8, "longitude": 2.3, "name": "Shop"}})
    graph_send(
        sb,
        {
            "type": "reaction",
            "reaction": {"message_id": sb.messages(PHONE)[0]["messages"][0]["wamid"], "emoji": "❤️"},
        },
    )
    chat = api(sb, "GET", "chat", phone=PHONE).json()
    hi, image, doc, loc = chat["messages"]
    assert chat["updates"][hi["wamid"]]["reactions"] == {"out": "❤️"}
    assert (image["media"]["url"], image["text"]) == (f"/_sandbox/media/{item.id}", "Receipt")
    assert doc["media"]["filename"] == "INV-1.pdf" and loc["location"]["name"] == "Shop"
    assert loc["location"]["url"].startswith("https://www.openstreetmap.org/?mlat=48.8&mlon=2.3")
    token = {"token": sb.control_token}  # the page passes the token in <img src>
    r = requests.get(sb.url + image["media"]["url"], params=token, timeout=5)
    assert (r.status_code, r.content, r.headers["Content-Type"]) == (200, PNG, "image/png")
    assert requests.get(sb.url + "/_sandbox/media/700", params=token, timeout=5).status_code == 404
    assert requests.get(sb.url + image["media"]["url"], timeout=5).status_code == 401


# acting -----------------------------------------------------------------------------------------------------
def test_each_customer_action_emits_a_signed_spec_valid_webhook(sb, receiver):
    template = order_template(sb)
    buttons, listing = interactive(sb)
    ctx = {"from": BUSINESS, "id": template}
    cases = [
        ({"kind": "text", "text": "Hello"}, {"type": "text", "text": {"body": "Hello"}}),
        (
            {"kind": "text", "text": "About this", "context": template},
            {"type": "text", "text": {"body": "About this"}, "context": ctx},
        ),
        (
            {"kind": "button", "wamid": template, "index": 0},
            {"type": "button", "button": {"payload": "COMING-42", "text": "I'm coming"}, "context": ctx},
        ),
        (
            {"kind": "button", "wamid": template, "index": 1},
            {"type": "button", "button": {"payload": "Stop", "text": "Stop"}, "context": ctx},
        ),
        (
            {"kind": "button_reply", "wamid": buttons, "id": "bag_yes"},
            {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "bag_yes", "title": "Yes please"},
                },
                "context": {"from": BUSINESS, "id": buttons},
            },
        ),
        (
            {"kind": "list_reply", "wamid": listing, "id": "am"},
            {
                "type": "interactive",
                "interactive": {
                    "type": "list_reply",
                    "list_reply": {"id": "am", "title": "Morning", "description": "9-12"},
                },
                "context": {"from": BUSINESS, "id": listing},
            },
        ),
        (
            {"kind": "list_reply", "wamid": listing, "id": "pm"},
            {
                "type": "interactive",
                "interactive": {
                    "type": "list_reply",
                    "list_reply": {"id": "pm", "title": "Afternoon", "description": ""},
                },
                "context": {"from": BUSINESS, "id": listing},
            },
        ),
        (
            {
                "kind": "location",
                "location": {"latitude": "48.8584", "longitude": 2.2945, "name": "Eiffel Tower"},
            },
            {
                "type": "location",
                "location": {"latitude": 48.8584, "longitude": 2.2945, "name": "Eiffel Tower"},
            },
        ),
        (
            {"kind": "reaction", "wamid": template, "emoji": "👍"},
            {"type": "reaction", "reaction": {"message_id": template, "emoji": "👍"}},
        ),
        (
            {"kind": "reaction", "wamid": template, "emoji": ""},
            {"type": "reaction", "reaction": {"message_id": template}},
        ),
    ]
    for body, expected in cases:
        wamid = emulate(sb, **body)
        message = last_inbound(sb, receiver)
        assert message["id"] == wamid
        assert {
            k: v for k, v in message.items() if k not in ("from", "from_user_id", "id", "timestamp")
        } == expected, body


@pytest.mark.parametrize(
    "mime, filename, kind, extra",
    [
        ("image/png", "shot.png", "image", {"caption": "Look"}),
        ("application/pdf", "cv.pdf", "document", {"caption": "My CV", "filename": "cv.pdf"}),
        ("audio/ogg", "voice.ogg", "audio", {"voice": False}),
        ("video/mp4", "clip.mp4", "video", {}),
        ("image/webp", "smile.webp", "sticker", {"animated": False}),
    ],
)
def test_media_from_the_phone_is_downloadable_by_odoo(sb, receiver, mime, filename, kind, extra):
    data = b"DATA-" + filename.encode()
    r = requests.post(
        f"{sb.url}/_sandbox/upload",
        params={"pnid": "1000001", "filename": filename},
        data=data,
        headers={"Content-Type": mime, "X-Sandbox-Token": sb.control_token},
        timeout=5,
    )
    assert r.status_code == 200, r.text
    media_id = r.json()["id"]
    caption = extra.get("caption")
    emulate(
        sb,
        kind="media",
        media_id=media_id,
        caption=caption or "ignored for audio/video/sticker" * (kind != "video"),
    )
    message = last_inbound(sb, receiver)
    assert message["type"] == kind
    obj = message[kind]
    assert (obj["id"], obj["mime_type"]) == (media_id, mime) and len(obj["sha256"]) == 64
    assert {k: obj[k] for k in extra} == extra and ("caption" in obj) == bool(caption)
    # what Odoo does: GET /{media-id} with its token, then download the URL with the token
    auth = {"Authorization": "Bearer sandbox-token"}
    meta = requests.get(f"{sb.url}/v23.0/{media_id}", headers=auth, timeout=5).json()
    assert meta["mime_type"] == mime and meta["sha256"] == obj["sha256"]
    assert requests.get(meta["url"], headers=auth, timeout=5).content == data


def test_refused_actions(sb, receiver):
    template = order_template(sb)
    params = [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]
    header = {"type": "header", "parameters": [{"type": "text", "text": "S1"}]}
    tpl = {"name": "order_ready", "language": {"code": "en_US"}}
    tpl["components"] = [header, {"type": "body", "parameters": params}]
    other = graph_send(sb, {"type": "template", "template": tpl}, to="33698765432")
    assert sb.wait_idle(5)
    receiver.received.clear()
    for body, words in [
        ({"kind": "text", "text": "hi", "phone": "123"}, "6 to 15 digits"),
        ({"kind": "text", "text": "   "}, "empty"),
        ({"kind": "text", "text": "hi", "pnid": "999"}, "unknown phone_number_id"),
        ({"kind": "button", "wamid": template, "index": 2}, "no such quick reply"),  # the URL button
        ({"kind": "button", "wamid": other, "index": 0}, "not in this conversation"),
        ({"kind": "button_reply", "wamid": template, "id": "x"}, "no such reply button"),
        ({"kind": "list_reply", "wamid": template, "id": "x"}, "no such list row"),
        ({"kind": "media", "media_id": "7"}, "upload the file first"),
        ({"kind": "location", "latitude": 91, "longitude": 0}, "latitude"),
        ({"kind": "location", "latitude": ""}, "needs a latitude"),
        ({"kind": "poll"}, "unknown kind"),
    ]:
        r = api(sb, "POST", "emulate", {"pnid": "1000001", "phone": PHONE, **body})
        assert r.status_code == 400 and words in r.json()["error"]["message"], (body, r.text)
    customer = emulate(sb, kind="text", text="mine")
    r = api(sb, "POST", "emulate", {"phone": PHONE, "kind": "button", "wamid": customer, "index": 0})
    assert r.status_code == 400 and "not sent by the business" in r.text
    r = requests.post(
        f"{sb.url}/_sandbox/upload",
        data=b"MZ",
        headers={"Content-Type": "application/x-msdownload", "X-Sandbox-Token": sb.control_token},
        timeout=5,
    )
    assert r.status_code == 400 and "does not accept" in r.text
    headers = {"Content-Type": "image/png", "X-Sandbox-Token": sb.control_token}
    r = requests.post(f"{sb.url}/_sandbox/upload", data=b"", headers=headers, timeout=5)
    assert r.status_code == 400 and "empty" in r.text
    assert sb.wait_idle(5) and len(receiver.payloads("messages")) == 1  # only "mine" went out


def test_read_receipts_only_for_unread_business_messages(sb, receiver):
    sb.set_status_flow(["sent", "delivered"])
    template = order_template(sb)
    assert api(sb, "POST", "read", {"pnid": "1000001", "phone": PHONE}).json() == {"read": [template]}
    assert api(sb, "POST", "read", {"phone": PHONE}).json() == {"read": []}
    assert sb.wait_idle(5)
    statuses = [
        s["status"]
        for p in receiver.payloads("messages")
        for s in p["entry"][0]["changes"][0]["value"].get("statuses", [])
    ]
    assert statuses == ["sent", "delivered", "read"]
    assert all(validate_webhook(p) == [] for p in receiver.payloads())


# real browser -------------------------------------------------------------------------------------------------
class Browser:
    """Headless Chromium and one DevTools websocket to its first page."""

    def __init__(self, url):
        import websocket  # noqa: PLC0415 - only this test needs it

        self.profile = tempfile.mkdtemp(prefix="emu-chromium-")
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--window-size=1200,900",
                f"--user-data-dir={self.profile}",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = Path(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        while time.monotonic() < deadline:
            pages = [
                t
                for t in requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
                if t["type"] == "page"
            ]
            if pages:
                break
            time.sleep(0.05)
        self.ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=10, suppress_origin=True
        )
        self._id = 0

    def call(self, method, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                assert "error" not in msg, msg
                return msg["result"]

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_js(self, expression, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value is not None and value is not False:  # a DOM node comes back as {}
                return value
            time.sleep(0.1)
        state = self.js("document.body.innerText.slice(0, 300)")
        raise AssertionError(f"timed out waiting for {expression}; page: {state}")

    def click(self, selector):
        box = self.wait_js(
            f"(() => {{ const n = document.querySelector({json.dumps(selector)}); if (!n) return null;"
            " n.scrollIntoView({block: 'center'}); const r = n.getBoundingClientRect();"
            " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1
            )

    def close(self):
        try:
            self.ws.close()
        finally:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="needs Chromium")
def test_browser_quick_reply_click_reaches_odoo_as_button_webhook(sb, receiver):
    pytest.importorskip("websocket")
    sb.set_status_flow(["sent", "delivered"])  # the page sends the read receipt itself
    template = order_template(sb)
    browser = Browser(f"{sb.url}/emulator?phone={PHONE}&pnid=1000001")
    try:
        browser.wait_js(
            f"document.querySelector('.o-wa-emu-message[data-wamid=\"{template}\"] .o-wa-emu-header')"
        )
        assert browser.js("document.querySelector('.o-wa-emu-message .o-wa-emu-text').textContent") == (
            "Hello Ana, 3 items is ready."
        )
        assert (
            browser.js("document.querySelector('.o-wa-emu-conversation.o-wa-emu-active').dataset.phone")
            == PHONE
        )
        browser.click('.o-wa-emu-quick-reply[data-index="0"]')
        browser.wait_js(
            'document.querySelector(\'.o-wa-emu-message[data-direction="in"][data-type="button"]\')'
        )
        browser.wait_js(f"document.querySelector('[data-wamid=\"{template}\"]').dataset.status === 'read'")
    finally:
        browser.close()
    message = last_inbound(sb, receiver)
    assert message["type"] == "button" and message["button"] == {"payload": "COMING-42", "text": "I'm coming"}
    assert message["context"] == {"from": BUSINESS, "id": template}
    statuses = [
        s["status"]
        for p in receiver.payloads("messages")
        for s in p["entry"][0]["changes"][0]["value"].get("statuses", [])
    ]
    assert statuses.count("read") == 1


def test_template_rendering_named_params_media_and_location_headers(sb):
    from meta_sandbox.emulator_view import render_template  # noqa: PLC0415

    named = sb.add_template(
        "2000001",
        "coupon",
        parameter_format="NAMED",
        components=[
            {"type": "HEADER", "format": "DOCUMENT"},
            {"type": "BODY", "text": "{{name}}, you owe {{amount}} by {{due}}."},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "COPY_CODE", "example": "X"}, {"type": "FLOW", "text": "Go"}],
            },
        ],
    )
    body = [
        {"type": "text", "parameter_name": "name", "text": "Ana"},
        {
            "type": "currency",
            "parameter_name": "amount",
            "currency": {"fallback_value": "€12.50", "code": "EUR"},
        },
        {"type": "date_time", "parameter_name": "due", "date_time": {"fallback_value": "May 1"}},
    ]
    header = {
        "type": "header",
        "parameters": [{"type": "document", "document": {"id": "77", "filename": "a.pdf"}}],
    }
    code = {"type": "coupon_code", "coupon_code": "SAVE20"}
    button = {"type": "button", "sub_type": "copy_code", "index": 0, "parameters": [code]}
    sent = {"name": "coupon", "components": [header, {"type": "body", "parameters": body}, button]}
    view = render_template(named, sent)
    assert view["header"] == {
        "type": "document",
        "url": "/_sandbox/media/77",
        "filename": "a.pdf",
        "mime_type": None,
    }
    assert view["text"] == "Ana, you owe €12.50 by May 1."
    assert [(b["type"], b.get("code")) for b in view["buttons"]] == [("copy_code", "SAVE20"), ("flow", None)]
    located = sb.add_template(
        "2000001",
        "where",
        components=[{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "Here"}],
    )
    loc = {"latitude": 1.5, "longitude": 2.5, "name": "Shop", "address": "Main St"}
    view = render_template(
        located, {"components": [{"type": "header", "parameters": [{"type": "location", "location": loc}]}]}
    )
    assert (
        view["header"]["type"] == "location"
        and view["header"]["name"] == "Shop"
        and "mlat=1.5" in view["header"]["url"]
    )
    assert render_template(None, {"name": "gone"})["text"] == "[template gone]"


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="needs Chromium")
def test_browser_location_keeps_the_customer_name(sb, receiver):
    """The location form's "Name" is the place's: it must not rename the customer (it did)."""
    pytest.importorskip("websocket")
    order_template(sb)
    browser = Browser(f"{sb.url}/emulator?phone={PHONE}&pnid=1000001&name=Ana")
    try:
        browser.wait_js("document.querySelector('.o-wa-emu-input:enabled')")
        browser.click(".o-wa-emu-loc-toggle")
        browser.click(".o-wa-emu-loc-send")
        browser.wait_js(
            'document.querySelector(\'.o-wa-emu-message[data-direction="in"][data-type="location"]\')'
        )
    finally:
        browser.close()
    assert sb.wait_idle(5)
    value = receiver.payloads("messages")[-1]["entry"][0]["changes"][0]["value"]
    assert value["messages"][0]["location"] == {
        "latitude": 48.8584,
        "longitude": 2.2945,
        "name": "Eiffel Tower",
        "address": "Champ de Mars, Paris",
    }
    assert value["contacts"][0]["profile"]["name"] == "Ana"
    assert sb.messages(PHONE)[0]["name"] == "Ana"


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="needs Chromium")
def test_browser_shows_file_names_as_text_and_links_no_script(sb, receiver):
    """What the business sends is shown as text in the page that holds the control token: a file name with
    markup stays text, a javascript: link gets no href."""
    pytest.importorskip("websocket")
    sb.inbound_text("1000001", PHONE, "Hi", name="Ana")
    evil = '<img src=x onerror="window.PWNED=1">.pdf'
    graph_send(sb, {"type": "document", "document": {"link": "https://example.com/q.pdf", "filename": evil}})
    cta = {"name": "cta_url", "parameters": {"display_text": "Open", "url": "javascript:window.PWNED=2"}}
    graph_send(
        sb, {"type": "interactive", "interactive": {"type": "cta_url", "body": {"text": "Go"}, "action": cta}}
    )
    browser = Browser(f"{sb.url}/emulator?phone={PHONE}&pnid=1000001")
    try:
        browser.wait_js("document.querySelector('.o-wa-emu-url-button')")
        assert browser.js("document.querySelector('.o-wa-emu-file-name').textContent") == evil
        assert browser.js("document.querySelectorAll('.o-wa-emu-messages img').length") == 0
        assert browser.js("document.querySelector('.o-wa-emu-url-button').hasAttribute('href')") is False
        browser.click(".o-wa-emu-url-button")
        assert browser.js("window.PWNED === undefined") is True
    finally:
        browser.close()
