"""Graph API client against a tiny Meta-like HTTP server (stdlib, threads); no Odoo, no network."""

import json
import logging
import socket
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3
from _whatsapp_tools import graph_api, graph_transport, sender
from _whatsapp_tools.graph_api import GraphClient
from _whatsapp_tools.graph_errors import LoopbackOnlyError, WhatsAppApiError

TOKEN = "EAAG-secret-token-0123456789"
PNID, WABA, APP = "1000001", "2000001", "3000001"


# ------------------------------------------------------------------------------------------------
# A Meta-like server
# ------------------------------------------------------------------------------------------------


class FakeMeta(ThreadingHTTPServer):
    """Records every request; ``respond(req)`` returns ``(status, body, headers)``.

    ``body`` may be a dict (sent as JSON), bytes or str. ``connections`` counts TCP connections.
    """

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        self.respond = lambda req: (200, {}, {})

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_port}"

    def handle_error(self, request, client_address):
        pass  # a client that hangs up early (size-capped download, timeout) is expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def _serve(self):
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        req = {
            "method": self.command,
            "path": split.path,
            "query": {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": self.rfile.read(length) if length else b"",
        }
        with self.server.lock:
            self.server.requests.append(req)
        status, body, headers = self.server.respond(req)
        if isinstance(body, dict | list):
            body, content_type = json.dumps(body).encode(), "application/json"
        else:
            body = body.encode() if isinstance(body, str) else body
            content_type = "text/html"
        headers = {"Content-Type": content_type, **headers}
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            if headers.get("Connection") == "close":
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, *args):
        pass


@pytest.fixture
def meta():
    server = FakeMeta()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(meta):
    return make_client(meta)


def make_client(meta, **kwargs):
    values = {
        "base_url": meta.url,
        "version": "v23.0",
        "token": TOKEN,
        "phone_number_id": PNID,
        "waba_id": WABA,
        "app_id": APP,
        "timeout": (2, 5),
        "only_loopback": True,
    }
    return GraphClient(**{**values, **kwargs})


def meta_error(code, message="boom", status=400, **extra):
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf", **extra}
    return lambda req: (status, {"error": error}, {})


def multipart(req):
    raw = b"Content-Type: " + req["headers"]["content-type"].encode() + b"\r\n\r\n" + req["body"]
    message = BytesParser(policy=HTTP).parsebytes(raw)
    return {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}


# ------------------------------------------------------------------------------------------------
# Construction and the shared session
# ------------------------------------------------------------------------------------------------


def test_clients_share_one_pooled_session():
    one, two = GraphClient(token="a"), GraphClient(token="b", base_url="http://127.0.0.1:1")
    assert one.session is two.session is graph_transport.get_session()
    adapter = one.session.get_adapter("https://graph.facebook.com")
    assert adapter._pool_maxsize >= 64
    assert adapter.max_retries.total == 0
    assert one.session.cookies.set_policy  # cookies refused: no shared state written per request


def test_constructor_normalises_values():
    client = GraphClient(base_url="http://127.0.0.1:9/", version="23.0", token="t", timeout=7)
    assert client.base_url == "http://127.0.0.1:9"
    assert client.version == "v23.0"
    assert client.timeout == (7, 7)
    assert not client.only_loopback
    assert GraphClient().base_url == "https://graph.facebook.com"


def test_session_calls_survive_odoo_test_harness(meta, client, monkeypatch):
    """Odoo's test cases patch ``Session.send`` and run ``timeout < 10`` (odoo/tests/common.py): the calls that go
    through the session (downloads, uploads, proxies) survive it."""
    original, seen = requests.Session.send, []

    def odoo_like_send(session, request, **kwargs):
        timeout = kwargs.get("timeout")
        if timeout and timeout < 10:
            kwargs["timeout"] = 10
        seen.append(kwargs["timeout"])
        return original(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", odoo_like_send)
    meta.respond = lambda req: (200, b"bytes", {})
    assert (
        client._request("GET", f"{meta.url}/files/a", raw=True, timeout=(2, 5)) == b"bytes"
    )  # raised to 10 s
    assert client.download_media(f"{meta.url}/files/b") == b"bytes"  # (2, 120): left alone
    assert seen == [10, (2, 120)]


def test_json_calls_go_straight_to_the_pooled_connections(meta, client, monkeypatch):
    """A send does not pay for requests' per-call machinery (preparing, cookies, hooks, response wrapping): it
    goes straight to the session's pooled connections, with the session's headers, and keeps its connection."""

    def no_session_send(*args, **kwargs):
        raise AssertionError("a JSON call went through Session.send")

    monkeypatch.setattr(requests.Session, "send", no_session_send)
    meta.respond = lambda req: (200, {"messages": [{"id": "wamid.1"}]}, {})
    for _ in range(3):
        assert client.send_message({"to": "32470000000", "type": "text", "text": {"body": "é"}})
    assert client.list_templates(page_size=5) == []
    assert meta.connections == 1
    sent, listed = meta.requests[0], meta.requests[-1]
    assert json.loads(sent["body"]) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "32470000000",
        "type": "text",
        "text": {"body": "é"},
    }
    assert sent["headers"]["content-type"] == "application/json"
    assert sent["headers"]["user-agent"] == graph_transport.USER_AGENT
    assert sent["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert (listed["method"], listed["path"], listed["query"]["limit"]) == (
        "GET",
        f"/v23.0/{WABA}/message_templates",
        "5",
    )


def test_a_send_tells_the_sender_pool_when_it_left(meta, client):
    """Meta counts a call against the cap when it arrives, not at its slot: the pooled connections tell the sender
    pool when each call's bytes were written (without it, a call counts from its slot)."""
    meta.respond = lambda req: (200, {"messages": [{"id": "wamid.1"}]}, {})
    payload = {"to": "32470000000", "type": "text", "text": {"body": "x"}}
    with sender.SenderPool() as pool:
        pool.add_lane("a", client.send_message, rate=1000, workers=2)
        pool.submit("a", [(i, payload) for i in range(3)])
        results = [result for _lane, result in pool.take_results()]
    assert len(results) == 3 and all(result.response for result in results)
    assert all(result.started < result.written < result.ended for result in results)


def test_a_send_late_for_its_slot_writes_nothing(meta, client, monkeypatch):
    """The pooled connections ask the sender pool before a call's first byte: a call whose slot passed meanwhile
    (its thread waited for a core) is stopped there, nothing reaches Meta, and its job leaves with the next slot
    on a new connection."""
    meta.respond = lambda req: (200, {"messages": [{"id": "wamid.1"}]}, {})
    take, taken = sender.SharedRateLimiter.take, []

    def take_late_once(limiter):
        granted, latest = take(limiter)
        taken.append(granted)
        return granted, latest - (1.0 if len(taken) == 2 else 0.0)  # the second call: its slot long passed

    monkeypatch.setattr(sender.SharedRateLimiter, "take", take_late_once)
    payload = {"to": "32470000000", "type": "text", "text": {"body": "x"}}
    with sender.SenderPool() as pool:
        pool.add_lane("a", client.send_message, rate=1000, workers=1)
        pool.submit("a", [(i, payload) for i in range(3)])
        results = [result for _lane, result in pool.take_results()]
        given_up = pool.slots()["a"][2]
    assert sorted(result.key for result in results) == [0, 1, 2]
    assert all(result.response and not result.error for result in results)
    assert len(taken) == 4 and given_up == 1
    assert len(meta.requests) == 3, "the late call wrote nothing"


def test_a_request_and_its_body_leave_in_one_write():
    """The sender asks before a call's first write: the body written apart could still leave late."""

    class Socket:
        def __init__(self):
            self.writes = []

        def sendall(self, data):
            self.writes.append(bytes(data))

    connection_class = graph_transport._noting_writes(urllib3.connection.HTTPConnection)
    connection = connection_class("127.0.0.1", 9)
    connection.sock = Socket()
    connection.request("POST", "/v23.0/1/messages", body=b'{"to": "1"}', headers={"X-A": "b"})
    [write] = connection.sock.writes
    assert write.startswith(b"POST /v23.0/1/messages HTTP/1.1\r\n")
    assert b"\r\nX-A: b\r\n" in write and write.endswith(b'\r\n\r\n{"to": "1"}')
    connection = connection_class("127.0.0.1", 9)
    connection.sock = Socket()
    connection.request("GET", "/v23.0/1")
    [write] = connection.sock.writes
    assert write.startswith(b"GET /v23.0/1 HTTP/1.1\r\n") and write.endswith(b"\r\n\r\n")


# ------------------------------------------------------------------------------------------------
# Request shape of every named operation
# ------------------------------------------------------------------------------------------------


def test_phone_number_info(meta, client):
    meta.respond = lambda req: (200, {"id": PNID, "verified_name": "Sandbox Co"}, {})
    assert client.phone_number_info()["verified_name"] == "Sandbox Co"
    client.phone_number_info(fields=["id", "quality_rating"])
    first, second = meta.requests
    assert (first["method"], first["path"]) == ("GET", f"/v23.0/{PNID}")
    assert first["query"]["fields"] == graph_api.PHONE_NUMBER_FIELDS
    assert first["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert second["query"]["fields"] == "id,quality_rating"


def test_send_message(meta, client):
    answer = {"messaging_product": "whatsapp", "messages": [{"id": "wamid.X"}]}
    meta.respond = lambda req: (200, answer, {})
    payload = {"to": "33612345678", "type": "text", "text": {"body": "Hi"}}
    assert client.send_message(payload) == answer
    client.send_message({**payload, "recipient_type": "group"})
    first, second = meta.requests
    assert (first["method"], first["path"]) == ("POST", f"/v23.0/{PNID}/messages")
    assert first["headers"]["content-type"] == "application/json"
    assert first["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(first["body"]) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **payload,
    }
    assert json.loads(second["body"])["recipient_type"] == "group"
    assert "messaging_product" not in payload  # the caller's dict is not mutated


def test_mark_read(meta, client):
    meta.respond = lambda req: (200, {"success": True}, {})
    assert client.mark_read("wamid.IN") == {"success": True}
    client.mark_read("wamid.IN", typing=True)
    first, second = (json.loads(r["body"]) for r in meta.requests)
    assert meta.requests[0]["path"] == f"/v23.0/{PNID}/messages"
    assert first == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN"}
    assert second["typing_indicator"] == {"type": "text"}


def test_upload_media_multipart(meta, client):
    meta.respond = lambda req: (200, {"id": "media-42"}, {})
    assert client.upload_media(b"\x89PNG-bytes", "image/png", "logo.png") == "media-42"
    (req,) = meta.requests
    assert (req["method"], req["path"]) == ("POST", f"/v23.0/{PNID}/media")
    assert req["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    parts = multipart(req)
    assert parts["messaging_product"].get_content() == "whatsapp"
    assert parts["type"].get_content() == "image/png"
    assert parts["file"].get_filename() == "logo.png"
    assert parts["file"].get_content_type() == "image/png"
    assert parts["file"].get_payload(decode=True) == b"\x89PNG-bytes"


def test_upload_media_without_id_is_an_error(meta, client):
    meta.respond = lambda req: (200, {"unexpected": True}, {})
    with pytest.raises(WhatsAppApiError, match="no 'id'"):
        client.upload_media(b"x", "image/png", "x.png")


def test_get_download_delete_media(meta, client):
    def respond(req):
        if req["path"] == "/files/blob":
            return 200, b"\x00binary\xff", {"Content-Type": "image/jpeg"}
        if req["method"] == "DELETE":
            return 200, {"success": True}, {}
        return 200, {"url": f"{meta.url}/files/blob", "mime_type": "image/jpeg", "file_size": 8}, {}

    meta.respond = respond
    info = client.get_media("7001")
    assert client.download_media(info["url"]) == b"\x00binary\xff"
    assert client.delete_media("7001") == {"success": True}
    get, download, delete = meta.requests
    assert (get["method"], get["path"], get["query"]) == ("GET", "/v23.0/7001", {"phone_number_id": PNID})
    assert (download["method"], download["path"]) == ("GET", "/files/blob")
    assert download["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert (delete["method"], delete["path"], delete["query"]) == (
        "DELETE",
        "/v23.0/7001",
        {"phone_number_id": PNID},
    )


def test_token_goes_only_to_meta(meta, client):
    """Media ids are Meta ids (digits); an absolute URL is fetched only on the Graph host or Meta's media hosts:
    nothing else is contacted, so the token reaches no other host."""
    other = FakeMeta()  # another server on loopback: it must receive nothing
    threading.Thread(target=other.serve_forever, args=(0.05,), daemon=True).start()
    try:
        for media_id in (other.url + "/steal", "../../me", "7001/../../x", "", None, "٣٤"):
            with pytest.raises(WhatsAppApiError, match="Not a Meta media id"):
                client.get_media(media_id)
        for url in (other.url + "/steal", "http://169.254.169.254/latest", "http://lookaside.fbsbx.com/x"):
            with pytest.raises(WhatsAppApiError, match="Refused to contact"):
                client.download_media(url)
        assert other.requests == [] and meta.requests == []
        assert client._allowed_url("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1")
        assert not client._allowed_url("https://lookaside.fbsbx.com.evil.example/x")
    finally:
        other.shutdown()
        other.server_close()


def test_download_media_refuses_large_bodies(meta):
    client = make_client(meta, max_download_bytes=1000)
    meta.respond = lambda req: (200, b"x" * 1001, {})
    with pytest.raises(WhatsAppApiError, match="too large") as declared:
        client.download_media(f"{meta.url}/big")
    # no Content-Length: the body is counted while read
    meta.respond = lambda req: (200, b"x" * 5000, {"Connection": "close"})
    with pytest.raises(WhatsAppApiError, match="too large") as streamed:
        client.download_media(f"{meta.url}/big")
    assert declared.value.category == streamed.value.category == "media"
    assert not streamed.value.retryable
    meta.respond = lambda req: (200, b"x" * 1000, {"Connection": "close"})
    assert client.download_media(f"{meta.url}/ok") == b"x" * 1000


def test_template_operations(meta, client):
    meta.respond = lambda req: (200, {"id": "tpl-1", "status": "PENDING", "category": "UTILITY"}, {})
    payload = {"name": "order_shipped", "language": "en_US", "category": "UTILITY", "components": []}
    assert client.create_template(payload)["id"] == "tpl-1"
    client.get_template("tpl-1")
    client.update_template("tpl-1", {"components": [{"type": "BODY", "text": "Hi"}]})
    client.delete_template(name="order_shipped")
    client.delete_template(name="order_shipped", hsm_id="tpl-1")
    create, get, update, delete_all, delete_one = meta.requests
    assert (create["method"], create["path"]) == ("POST", f"/v23.0/{WABA}/message_templates")
    assert json.loads(create["body"]) == payload
    assert (get["method"], get["path"]) == ("GET", "/v23.0/tpl-1")
    assert get["query"]["fields"] == graph_api.TEMPLATE_FIELDS
    assert (update["method"], update["path"]) == ("POST", "/v23.0/tpl-1")
    assert json.loads(update["body"]) == {"components": [{"type": "BODY", "text": "Hi"}]}
    assert (delete_all["method"], delete_all["path"]) == ("DELETE", f"/v23.0/{WABA}/message_templates")
    assert delete_all["query"] == {"name": "order_shipped"}
    assert delete_one["query"] == {"name": "order_shipped", "hsm_id": "tpl-1"}
    with pytest.raises(WhatsAppApiError) as missing:
        client.delete_template()
    assert missing.value.category == "param"
    assert len(meta.requests) == 5


def test_waba_info_and_subscribed_apps(meta, client):
    meta.respond = lambda req: (200, {"data": []}, {})
    client.waba_info(fields=["id", "name"])
    client.subscribed_apps()
    info, apps = meta.requests
    assert (info["path"], info["query"]) == (f"/v23.0/{WABA}", {"fields": "id,name"})
    assert (apps["method"], apps["path"]) == ("GET", f"/v23.0/{WABA}/subscribed_apps")


def test_resumable_upload(meta, client):
    upload_id = "upload:MTphdHRhY2htZW50?sig=ARZxyz"

    def respond(req):
        if req["path"].endswith("/uploads"):
            return 200, {"id": upload_id}, {}
        return 200, {"h": "4::aGFuZGxl"}, {}

    meta.respond = respond
    data = b"%PDF-1.4 example"
    assert client.resumable_upload(data, "application/pdf", "menu.pdf") == "4::aGFuZGxl"
    start, transfer = meta.requests
    assert (start["method"], start["path"]) == ("POST", f"/v23.0/{APP}/uploads")
    assert start["query"] == {
        "file_name": "menu.pdf",
        "file_length": str(len(data)),
        "file_type": "application/pdf",
    }
    assert start["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert (transfer["method"], transfer["path"]) == ("POST", "/v23.0/upload:MTphdHRhY2htZW50")
    assert transfer["query"] == {"sig": "ARZxyz"}
    assert transfer["headers"]["authorization"] == f"OAuth {TOKEN}"
    assert transfer["headers"]["file_offset"] == "0"
    assert transfer["body"] == data


@pytest.mark.parametrize(
    "kwargs, call",
    [
        ({"phone_number_id": ""}, lambda c: c.send_message({"to": "1"})),
        ({"phone_number_id": ""}, lambda c: c.phone_number_info()),
        ({"waba_id": ""}, lambda c: c.list_templates()),
        ({"waba_id": ""}, lambda c: c.create_template({})),
        ({"app_id": ""}, lambda c: c.resumable_upload(b"x", "image/png", "x.png")),
    ],
)
def test_missing_ids_fail_before_any_request(meta, kwargs, call):
    with pytest.raises(WhatsAppApiError, match="is not set") as err:
        call(make_client(meta, **kwargs))
    assert err.value.category == "param"
    assert not err.value.retryable
    assert meta.requests == []


def test_request_hook_replaces_meta():
    """Other engineers mock Meta by patching the one choke point."""
    calls = []

    def fake_request(self, method, path_or_url, **kwargs):
        calls.append((method, path_or_url, kwargs))
        return {"messages": [{"id": "wamid.fake"}]}

    client = GraphClient(base_url="https://graph.facebook.com", token=TOKEN, phone_number_id=PNID)
    original = GraphClient._request
    GraphClient._request = fake_request
    try:
        result = client.send_message({"to": "33612345678", "type": "text", "text": {"body": "x"}})
    finally:
        GraphClient._request = original
    assert result["messages"][0]["id"] == "wamid.fake"
    ((method, path, kwargs),) = calls
    assert (method, path) == ("POST", f"{PNID}/messages")
    assert kwargs["json"]["messaging_product"] == "whatsapp"


# ------------------------------------------------------------------------------------------------
# Paging
# ------------------------------------------------------------------------------------------------


def _pages(meta, path, cursor_pages, with_token_in_next=True):
    def respond(req):
        index = int(req["query"].get("after", "c0")[1:])
        data, has_next = cursor_pages[index], index + 1 < len(cursor_pages)
        paging = {"cursors": {"before": f"b{index}", "after": f"c{index + 1}"}}
        if has_next:
            token = f"&access_token={TOKEN}" if with_token_in_next else ""
            paging["next"] = f"{meta.url}{path}?limit=2&after=c{index + 1}{token}"
        return 200, {"data": data, "paging": paging}, {}

    return respond


def test_list_templates_follows_three_pages(meta, client):
    pages = [[{"id": "1"}, {"id": "2"}], [{"id": "3"}, {"id": "4"}], [{"id": "5"}]]
    meta.respond = _pages(meta, f"/v23.0/{WABA}/message_templates", pages)
    templates = client.list_templates(page_size=2, status="APPROVED")
    assert [t["id"] for t in templates] == ["1", "2", "3", "4", "5"]
    assert [r["query"].get("after") for r in meta.requests] == [None, "c1", "c2"]
    for req in meta.requests:
        assert req["path"] == f"/v23.0/{WABA}/message_templates"
        assert req["query"]["limit"] == "2"
        assert req["query"]["status"] == "APPROVED"
        assert req["query"]["fields"] == graph_api.TEMPLATE_FIELDS
        assert "access_token" not in req["query"]


def test_list_phone_numbers_follows_three_pages(meta, client):
    pages = [[{"id": "p1"}], [{"id": "p2"}], [{"id": "p3"}]]
    meta.respond = _pages(meta, f"/v23.0/{WABA}/phone_numbers", pages)
    assert [p["id"] for p in client.list_phone_numbers()] == ["p1", "p2", "p3"]
    assert len(meta.requests) == 3


def test_paging_by_next_link_only(meta, client):
    """Without cursors the ``next`` link is followed, minus any access_token it echoes."""

    def respond(req):
        page = int(req["query"].get("page", "0"))
        body = {"data": [{"id": str(page)}]}
        if page < 2:
            body["paging"] = {
                "next": f"{meta.url}/v23.0/{WABA}/message_templates?page={page + 1}&access_token={TOKEN}"
            }
        return 200, body, {}

    meta.respond = respond
    assert [t["id"] for t in client.list_templates()] == ["0", "1", "2"]
    assert [r["query"].get("page") for r in meta.requests] == [None, "1", "2"]
    assert all("access_token" not in r["query"] for r in meta.requests)


@pytest.mark.parametrize("cursor", [True, False], ids=["cursor", "next-link"])
def test_paging_stops_on_a_looping_server(meta, client, cursor):
    def respond(req):
        paging = {"next": f"{meta.url}/v23.0/{WABA}/message_templates?after=same"}
        if cursor:
            paging["cursors"] = {"after": "same"}
        return 200, {"data": [{"id": "x"}], "paging": paging}, {}

    meta.respond = respond
    with pytest.raises(WhatsAppApiError, match="same paging cursor"):
        client.list_templates()
    assert len(meta.requests) == 2


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def test_meta_error_attributes(meta, client):
    meta.respond = meta_error(
        131047,
        message="Re-engagement message",
        error_subcode=2494010,
        error_user_title="Message failed to send",
        error_user_msg="Send a template instead.",
        error_data={"messaging_product": "whatsapp", "details": "More than 24 hours have passed."},
    )
    with pytest.raises(WhatsAppApiError) as info:
        client.send_message({"to": "1", "type": "text", "text": {"body": "x"}})
    err = info.value
    assert err.http_status == 400
    assert (err.code, err.subcode) == (131047, 2494010)
    assert err.title == "Message failed to send"
    assert err.message == "Re-engagement message"
    assert err.details == "More than 24 hours have passed."
    assert err.user_message == "Send a template instead."
    assert err.fbtrace_id == "AbCdEf"
    assert err.error_type == "OAuthException"
    assert (err.category, err.retry, err.retryable) == ("window", "never", False)
    text = str(err)
    for part in ("131047", "Re-engagement message", "More than 24 hours", "HTTP 400", "AbCdEf"):
        assert part in text


@pytest.mark.parametrize(
    "code, status, category, retryable",
    [
        (130429, 400, "rate_limit", True),
        (131056, 400, "rate_limit", True),
        (4, 400, "rate_limit", True),
        (2, 503, "transient", True),
        (131000, 500, "transient", True),
        (190, 401, "auth", False),
        (10, 403, "permission", False),
        (131026, 400, "recipient", False),
        (132015, 400, "template", True),
        (132001, 400, "template", False),
        (131050, 400, "opt_out", False),
        (100, 400, "param", False),
        (131053, 400, "media", False),
        (999999, 400, "unknown", False),
        (999999, 502, "transient", True),
    ],
)
def test_meta_error_categories_over_http(meta, client, code, status, category, retryable):
    meta.respond = meta_error(code, status=status)
    with pytest.raises(WhatsAppApiError) as info:
        client.phone_number_info()
    assert (info.value.code, info.value.http_status) == (code, status)
    assert (info.value.category, info.value.retryable) == (category, retryable)


@pytest.mark.parametrize(
    "status, body, category, retryable",
    [
        (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "transient", True),
        (503, "", "transient", True),
        (500, {"unexpected": "shape"}, "transient", True),
        (429, "Too Many Requests", "rate_limit", True),
        (404, "<html>Not Found</html>", "unknown", False),
    ],
)
def test_http_errors_without_meta_error(meta, client, status, body, category, retryable):
    meta.respond = lambda req: (status, body, {})
    with pytest.raises(WhatsAppApiError) as info:
        client.send_message({"to": "1"})
    err = info.value
    assert (err.http_status, err.code) == (status, None)
    assert (err.category, err.retryable) == (category, retryable)
    assert f"HTTP {status}" in str(err)


def test_html_502_message_is_readable(meta, client):
    meta.respond = lambda req: (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", {})
    with pytest.raises(WhatsAppApiError) as info:
        client.phone_number_info()
    assert "Bad Gateway" in str(info.value)
    assert "\n" not in str(info.value)


def test_success_with_non_json_body(meta, client):
    meta.respond = lambda req: (200, "<html>captive portal</html>", {})
    with pytest.raises(WhatsAppApiError, match="not JSON") as info:
        client.phone_number_info()
    assert info.value.http_status == 200
    assert not info.value.retryable


def test_timeout_is_transient(meta):
    def slow(req):
        time.sleep(1.0)
        return 200, {}, {}

    meta.respond = slow
    client = make_client(meta, timeout=(1, 0.2))
    with pytest.raises(WhatsAppApiError, match="did not answer in time") as info:
        client.send_message({"to": "1"})
    err = info.value
    assert (err.category, err.retryable, err.retry, err.http_status, err.code) == (
        "transient",
        True,
        "now",
        None,
        None,
    )


def test_connection_refused_is_transient():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GraphClient(
        base_url=f"http://127.0.0.1:{port}", token=TOKEN, phone_number_id=PNID, only_loopback=True
    )
    with pytest.raises(WhatsAppApiError, match="Could not reach Meta") as info:
        client.phone_number_info()
    err = info.value
    assert (err.category, err.retryable, err.http_status) == ("transient", True, None)


def test_token_never_in_messages_reprs_or_logs(meta, client, caplog):
    caplog.set_level(logging.DEBUG)
    echo = f"Invalid OAuth access token - Cannot parse access token: {TOKEN}"
    meta.respond = meta_error(
        190,
        message=echo,
        status=401,
        error_user_title=echo,
        error_user_msg=echo,
        error_data={"details": echo},
    )
    with pytest.raises(WhatsAppApiError) as meta_err:
        client.phone_number_info()
    meta.respond = lambda req: (502, f"<html>proxy saw {TOKEN}</html>", {})
    with pytest.raises(WhatsAppApiError) as html_err:
        client.phone_number_info()
    meta.respond = lambda req: (
        200,
        {"data": [], "paging": {"next": f"{meta.url}/x?access_token={TOKEN}"}},
        {},
    )
    with pytest.raises(WhatsAppApiError):
        client.list_templates()  # follows the echoed link (token stripped), then errors on the loop
    for err in (meta_err.value, html_err.value):
        for text in (str(err), repr(err), err.message, err.title, err.details, err.user_message, *err.args):
            assert TOKEN not in text
    assert "***" in str(meta_err.value)
    assert TOKEN not in repr(client)
    assert TOKEN not in caplog.text
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    assert caplog.records, "the failures are logged"


# ------------------------------------------------------------------------------------------------
# Loopback-only mode
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("http://127.0.0.1:8069/x", True),
        ("http://127.8.9.10/x", True),
        ("http://localhost:1/x", True),
        ("http://[::1]:8190/x", True),
        ("https://graph.facebook.com/v23.0/1", False),
        ("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1", False),
        ("http://10.0.0.1/x", False),
        ("http://127.0.0.1.evil.example/x", False),
        ("http://localhost.evil.example/x", False),
    ],
)
def test_is_loopback_url(url, allowed):
    assert graph_transport.is_loopback_url(url) is allowed


def test_only_loopback_refuses_meta_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    client = GraphClient(token=TOKEN, phone_number_id=PNID, waba_id=WABA, app_id=APP, only_loopback=True)
    calls = [
        lambda: client.phone_number_info(),
        lambda: client.send_message({"to": "1"}),
        lambda: client.list_templates(),
        lambda: client.upload_media(b"x", "image/png", "x.png"),
        lambda: client.resumable_upload(b"x", "image/png", "x.png"),
        lambda: client.download_media("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"),
    ]
    for call in calls:
        with pytest.raises(LoopbackOnlyError, match="graph.facebook.com|lookaside") as info:
            call()
        assert not info.value.retryable
        assert TOKEN not in str(info.value)


def test_only_loopback_refuses_a_redirect_to_another_host(meta, client):
    meta.respond = lambda req: (302, b"", {"Location": "https://lookaside.fbsbx.com/elsewhere"})
    with pytest.raises(LoopbackOnlyError):
        client.download_media(f"{meta.url}/files/blob")
    assert len(meta.requests) == 1


def test_redirects_stay_on_allowed_hosts(meta, client):
    """A redirect on the same host keeps the token; one to a host that is neither the Graph host nor one of
    Meta's media hosts is refused before any request reaches it."""
    other = FakeMeta()
    threading.Thread(target=other.serve_forever, args=(0.05,), daemon=True).start()
    try:
        other.respond = lambda req: (200, b"cdn-bytes", {})

        def respond(req):
            if req["path"] == "/first":
                return 302, b"", {"Location": "/second"}
            if req["path"] == "/second":
                return 200, b"same-host-bytes", {}
            return 302, b"", {"Location": f"{other.url}/cdn"}

        meta.respond = respond
        assert client.download_media(f"{meta.url}/first") == b"same-host-bytes"
        assert [r["headers"].get("authorization") for r in meta.requests] == [f"Bearer {TOKEN}"] * 2
        with pytest.raises(WhatsAppApiError, match="Refused to contact"):
            client.download_media(f"{meta.url}/third")
        assert other.requests == []
    finally:
        other.shutdown()
        other.server_close()


# ------------------------------------------------------------------------------------------------
# Concurrency on the pooled session
# ------------------------------------------------------------------------------------------------


def test_sixteen_threads_share_pooled_connections(meta):
    meta.respond = lambda req: (200, {"messages": [{"id": "wamid." + json.loads(req["body"])["to"]}]}, {})
    per_thread, threads, results, errors = 10, 16, [], []

    def worker(index):
        client = make_client(meta)  # one client per batch, as the queue does
        try:
            for n in range(per_thread):
                to = f"{index}-{n}"
                results.append(client.send_message({"to": to, "type": "text", "text": {"body": "x"}}))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(30)
    assert errors == []
    assert len(results) == len(meta.requests) == per_thread * threads
    assert {r["messages"][0]["id"] for r in results} == {
        f"wamid.{i}-{n}" for i in range(threads) for n in range(10)
    }
    assert meta.connections < len(meta.requests)
    assert meta.connections <= threads


def test_environment_proxies_are_read_once_per_host(meta, monkeypatch):
    """The proxy of the environment is honoured (read once per host, not at every call): the call goes to it."""
    monkeypatch.setattr(graph_transport, "_environment", {})
    monkeypatch.setenv("HTTP_PROXY", meta.url)  # the fake server stands for the proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proxied = make_client(
        meta,
        base_url="http://graph.example.test",
        only_loopback=False,
        session=graph_transport._new_session(),
    )
    meta.respond = lambda req: (200, {"messages": [{"id": "wamid.P"}]}, {})
    assert proxied.send_message({"to": "32470000000", "type": "text", "text": {"body": "hi"}})
    assert meta.requests[-1]["headers"]["host"] == "graph.example.test"  # the proxy got the call for the host
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # read once: later calls keep the host's settings
    assert proxied.send_message({"to": "32470000000", "type": "text", "text": {"body": "hi"}})
