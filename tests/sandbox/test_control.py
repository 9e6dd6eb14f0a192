"""Control HTTP API and the command line."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from meta_sandbox import DEMO_ACCOUNT
from meta_sandbox.spec import validate_webhook

ROOT = Path(__file__).resolve().parents[2]


def ctl(sb, name, body=None, method="POST", **params):
    headers = {"X-Sandbox-Token": sb.control_token}
    return requests.request(
        method, f"{sb.url}/_sandbox/{name}", json=body, params=params, headers=headers, timeout=10
    )


def test_control_api(sb, graph, receiver):
    assert (
        ctl(
            sb,
            "accounts",
            {
                "phone_number_id": "1000009",
                "waba_id": "2000009",
                "app_id": "3000009",
                "token": "t9",
                "app_secret": "s9",
                "verified_name": "Nine",
            },
        ).status_code
        == 200
    )
    state = ctl(sb, "state", method="GET").json()
    assert {a["id"] for a in state["accounts"]} == {"1000001", "1000009"}
    assert ctl(sb, "webhook", {"callback_url": receiver.url, "app_secret": "sandbox-secret"}).json() == {
        "success": True
    }
    assert ctl(sb, "status_flow", {"statuses": ["sent", "failed"], "error_code": 131047}).status_code == 200
    wamid = ctl(
        sb, "inbound", {"phone_number_id": "1000001", "from": "33612345678", "text": "Bonjour", "name": "Ana"}
    ).json()["wamid"]
    ctl(
        sb,
        "inbound",
        {"from": "33612345678", "message": {"type": "location", "location": {"latitude": 1, "longitude": 2}}},
    )
    r = graph.post(
        "/1000001/messages",
        json={
            "messaging_product": "whatsapp",
            "to": "33612345678",
            "type": "text",
            "text": {"body": "Hi"},
            "context": {"message_id": wamid},
        },
    )
    assert r.status_code == 200
    tid = ctl(sb, "templates", {"waba_id": "2000001", "name": "hello", "status": "PENDING"}).json()["id"]
    assert (
        ctl(sb, "template_decision", {"template_id": tid, "status": "REJECTED", "reason": "SCAM"}).status_code
        == 200
    )
    assert (
        ctl(sb, "faults", {"endpoint": "messages", "kind": "429", "count": 1}).json()["faults"]["messages"][
            0
        ]["kind"]
        == "429"
    )
    assert (
        graph.post(
            "/1000001/messages",
            json={"messaging_product": "whatsapp", "to": "3", "type": "text", "text": {"body": "x"}},
        ).status_code
        == 429
    )
    assert ctl(sb, "faults", {"clear": True}).json() == {"faults": {}}
    assert (
        ctl(
            sb, "send_webhook", {"field": "account_update", "value": {"event": "ACCOUNT_DELETED"}}
        ).status_code
        == 200
    )
    assert ctl(sb, "wait_idle", {"timeout": 5}).json() == {"idle": True}
    conv = ctl(sb, "messages", method="GET", phone="+33 6 12 34 56 78").json()["conversations"]
    assert [m["direction"] for m in conv[0]["messages"]] == ["in", "in", "out"]
    assert conv[0]["messages"][-1]["payload"]["context"]["message_id"] == wamid
    hooks = ctl(sb, "webhooks", method="GET").json()["webhooks"]
    assert hooks and all(h["status"] == 200 for h in hooks)
    assert all(validate_webhook(p) == [] for p in receiver.payloads())
    fields = [p["entry"][0]["changes"][0]["field"] for p in receiver.payloads()]
    assert {"messages", "message_template_status_update", "account_update"} <= set(fields)
    failed = [
        s
        for p in receiver.payloads("messages")
        for s in p["entry"][0]["changes"][0]["value"].get("statuses", [])
        if s["status"] == "failed"
    ]
    assert failed and failed[0]["errors"][0]["code"] == 131047
    assert ctl(sb, "nope").status_code == 404
    assert ctl(sb, "status_flow", {"statuses": ["lost"]}).status_code == 400
    assert ctl(sb, "reset", {}).json() == {"success": True}
    assert ctl(sb, "state", method="GET").json()["counts"]["sent_messages"] == 0


def test_requests_lists_the_graph_calls_with_their_arrival_time_never_the_token(sb, graph):
    """What a rate check counts: every call received (refused ones too), when it arrived, without headers."""
    before = time.time()
    ok = graph.post(
        "/1000001/messages",
        json={"messaging_product": "whatsapp", "to": "33612345678", "type": "text", "text": {"body": "Hi"}},
    )
    refused = graph.post("/1000001/messages", json={"messaging_product": "whatsapp", "type": "text"})
    graph.get("/1000001")
    assert (ok.status_code, refused.status_code) == (200, 400)
    sends = ctl(sb, "requests", method="GET", group="messages").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in sends] == [
        ("POST", "/v23.0/1000001/messages", 200),
        ("POST", "/v23.0/1000001/messages", 400),
    ]
    assert before <= sends[0]["time"] <= sends[1]["time"] <= time.time()
    assert sends[0]["body"]["text"] == {"body": "Hi"}
    every = ctl(sb, "requests", method="GET").json()["requests"]
    assert len(every) == 3
    assert DEMO_ACCOUNT["token"] not in json.dumps(every)


def _raw_message(sb):
    """``(address, head, body)`` of a text message's call as bytes on the wire, for a socket of the test's own."""
    body = json.dumps(
        {"messaging_product": "whatsapp", "to": "33612345678", "type": "text", "text": {"body": "Hi"}}
    ).encode()
    head = (
        f"POST /v23.0/1000001/messages HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {DEMO_ACCOUNT['token']}"
        f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    host, port = sb.url.split("//")[1].split(":")
    return (host, int(port)), head, body


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's receive stamps are Linux's")
def test_a_call_counts_when_it_reached_the_machine_not_when_a_thread_read_it(sb):
    """Meta counts a call on arrival: a request whose body comes 0.3 s after its headers (the sandbox's thread
    waits for it, as it would wait for a core on a busy machine) is recorded when its first bytes arrived."""
    address, head, body = _raw_message(sb)
    with socket.create_connection(address, timeout=10) as conn:
        sent = time.time()
        conn.sendall(head)
        time.sleep(0.3)
        conn.sendall(body)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")
    (call,) = ctl(sb, "requests", method="GET", group="messages").json()["requests"]
    assert sent <= call["time"] < sent + 0.15


def test_an_answer_leaves_in_one_write(sb):
    """Meta's answer comes whole: written as headers then body, the body waited for the client's delayed ACK
    (Nagle's algorithm), 40 ms added to every call. The first read has the whole answer."""
    address, head, body = _raw_message(sb)
    with socket.create_connection(address, timeout=10) as conn:
        for _call in range(3):  # and again on the kept connection
            conn.sendall(head + body)
            answer_head, _, answer = conn.recv(65536).partition(b"\r\n\r\n")
            assert answer_head.startswith(b"HTTP/1.1 200")
            length = int(re.search(rb"(?i)content-length: *(\d+)", answer_head).group(1))
            assert len(answer) == length and json.loads(answer)["messages"][0]["id"]


def test_cli_starts_answers_and_stops_cleanly(receiver):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meta_sandbox",
            "--port",
            "0",
            "--callback",
            receiver.url,
            "--auto-approve",
            "--status-delay",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "META_SANDBOX_CONTROL_TOKEN": "launcher-token"},
    )
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, (
            line,
            proc.stderr.read() if proc.poll() is not None else "",
        )
        url = line.split("listening on ")[1].split()[0]
        r = requests.get(url + "/v23.0/1000001", headers={"Authorization": "Bearer sandbox-token"}, timeout=5)
        assert r.json()["verified_name"] == "Sandbox Co"
        r = requests.post(
            url + "/v23.0/2000001/message_templates",
            headers={"Authorization": "Bearer sandbox-token"},
            json={
                "name": "hi",
                "language": "en",
                "category": "UTILITY",
                "components": [{"type": "BODY", "text": "Hi"}],
            },
            timeout=5,
        )
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[1].strip() == "Control API token (header X-Sandbox-Token): launcher-token", lines
        assert requests.post(url + "/_sandbox/wait_idle", json={}, timeout=10).status_code == 401
        token = {"X-Sandbox-Token": "launcher-token"}
        requests.post(url + "/_sandbox/wait_idle", json={}, headers=token, timeout=10).raise_for_status()
        assert (
            requests.get(
                url + "/v23.0/" + r.json()["id"], headers={"Authorization": "Bearer sandbox-token"}, timeout=5
            ).json()["status"]
            == "APPROVED"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
