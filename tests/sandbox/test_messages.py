"""Messages endpoint: every type, wamids, status webhooks, validation errors, the 24-hour window."""

import hashlib
import hmac

import pytest

from meta_sandbox.spec import validate_webhook

PN = "/1000001/messages"
TO = "33612345678"


def text(body="Hello", to=TO):
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
    }


def open_window(sb, to=TO):
    sb.inbound_text("1000001", from_=to, text="Hi", name="Ana")


def test_text_message_gets_wamid_and_status_webhooks(sb, graph, receiver):
    open_window(sb)
    r = graph.post(PN, json=text())
    assert r.status_code == 200, r.text
    data = r.json()
    wamid = data["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert data["contacts"] == [{"input": TO, "wa_id": TO}]
    assert sb.wait_idle(5)
    statuses = [
        p["entry"][0]["changes"][0]["value"]["statuses"][0]
        for p in receiver.payloads("messages")
        if "statuses" in p["entry"][0]["changes"][0]["value"]
    ]
    assert [(s["id"], s["status"]) for s in statuses] == [
        (wamid, "sent"),
        (wamid, "delivered"),
        (wamid, "read"),
    ]
    assert all(isinstance(s["timestamp"], str) for s in statuses)
    for rec in receiver.received:
        assert validate_webhook(rec["json"]) == []
        expected = "sha256=" + hmac.new(b"sandbox-secret", rec["body"], hashlib.sha256).hexdigest()
        assert rec["headers"]["X-Hub-Signature-256"] == expected
    assert all(w["status"] == 200 for w in sb.webhooks)
    assert sb.sent_messages[-1]["wamid"] == wamid


@pytest.mark.parametrize("token", [None, "Bearer wrong", "Bearer "])
def test_bad_token(sb, graph, token):
    import requests

    headers = {"Authorization": token} if token else {}
    r = requests.post(graph.url + PN, json=text(), headers=headers, timeout=5)
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["code"] == 190 and err["type"] == "OAuthException" and err["fbtrace_id"]
    assert sb.sent_messages == []
