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


def statuses_of(receiver):
    out = []
    for p in receiver.payloads("messages"):
        out += p["entry"][0]["changes"][0]["value"].get("statuses", [])
    return out


MEDIA = {"id": "1234567890"}
LINK = {"link": "https://example.com/f.pdf"}
BODIES = {
    "image_id": {"type": "image", "image": {**MEDIA, "caption": "c"}},
    "image_link": {"type": "image", "image": {"link": "https://example.com/a.jpg"}},
    "document": {"type": "document", "document": {**LINK, "filename": "q.pdf", "caption": "Quote"}},
    "audio": {"type": "audio", "audio": MEDIA},
    "video": {"type": "video", "video": {**MEDIA, "caption": "v"}},
    "sticker": {"type": "sticker", "sticker": MEDIA},
    "location": {
        "type": "location",
        "location": {"latitude": 48.85, "longitude": 2.35, "name": "Paris", "address": "x"},
    },
    "contacts": {
        "type": "contacts",
        "contacts": [
            {
                "name": {"formatted_name": "Ana B", "first_name": "Ana"},
                "phones": [{"phone": "+33 6", "type": "CELL"}],
            }
        ],
    },
    "buttons": {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Pick"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]},
        },
    },
    "list": {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Pick"},
            "action": {
                "button": "Open",
                "sections": [{"title": "S", "rows": [{"id": "r1", "title": "Row"}]}],
            },
        },
    },
    "reaction": {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}},
    "reply_text": {"type": "text", "text": {"body": "re"}, "context": {"message_id": "wamid.X"}},
}


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_every_free_form_type_is_accepted(sb, graph, receiver, kind):
    open_window(sb)
    payload = {"messaging_product": "whatsapp", "to": TO, **BODIES[kind]}
    r = graph.post(PN, json=payload)
    assert r.status_code == 200, r.text
    wamid = r.json()["messages"][0]["id"]
    assert sb.sent_messages[-1]["payload"] == payload and sb.sent_messages[-1]["type"] == payload["type"]
    sb.wait_idle(5)
    # Meta sends only ``sent`` for a reaction
    expected = ["sent"] if kind == "reaction" else ["sent", "delivered", "read"]
    assert [s["status"] for s in statuses_of(receiver) if s["id"] == wamid] == expected
    assert all(validate_webhook(p) == [] for p in receiver.payloads())


@pytest.mark.parametrize(
    "payload, code, needle",
    [
        (
            {"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}},
            131008,
            "'to' is a required",
        ),
        ({"messaging_product": "whatsapp", "to": TO, "type": "text", "txt": {"body": "x"}}, 131008, "txt"),
        (
            {"messaging_product": "whatsapp", "to": TO, "type": "image", "image": {"id": "1", "link": "x"}},
            131009,
            "image",
        ),
        ({"messaging_product": "whatsapp", "to": TO, "type": "selfie", "selfie": {}}, 131009, "selfie"),
        (
            {
                "messaging_product": "whatsapp",
                "to": TO,
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "b"},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "x" * 21}}]},
                },
            },
            131009,
            "interactive.action",
        ),
    ],
)
def test_invalid_bodies_get_meta_errors(sb, graph, payload, code, needle):
    open_window(sb)
    r = graph.post(PN, json=payload)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == code and err["type"] == "OAuthException" and err["fbtrace_id"]
    assert needle in err["error_data"]["details"]
    assert sb.sent_messages == []


def test_not_json_and_wrong_product(sb, graph):
    r = graph.post(PN, data=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    r = graph.post(PN, json={**text(), "messaging_product": "sms"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 100


def test_no_validate_flag_lets_invalid_bodies_through(sb, graph):
    open_window(sb)
    sb.validate = False
    r = graph.post(PN, json={"messaging_product": "whatsapp", "to": TO, "type": "text", "txt": {}})
    assert r.status_code == 200


def test_window_closed_free_form_fails_with_131047(sb, graph, receiver):
    r = graph.post(PN, json=text(to="34600000001"))
    assert r.status_code == 200
    wamid = r.json()["messages"][0]["id"]
    sb.wait_idle(5)
    (status,) = [s for s in statuses_of(receiver) if s["id"] == wamid]
    assert status["status"] == "failed" and status["errors"][0]["code"] == 131047
    assert validate_webhook(receiver.payloads()[-1]) == []
    sb.enforce_window = False
    r = graph.post(PN, json=text(to="34600000002"))
    sb.wait_idle(5)
    assert [s["status"] for s in statuses_of(receiver) if s["id"] == r.json()["messages"][0]["id"]][
        -1
    ] == "read"


def test_status_flow_failed_with_code_and_per_phone(sb, graph, receiver):
    open_window(sb)
    open_window(sb, "34600000003")
    sb.set_status_flow(["sent", "failed"], error_code=131026)
    sb.set_status_flow(["sent", "delivered"], phone="+34 600 000 003")
    a = graph.post(PN, json=text()).json()["messages"][0]["id"]
    b = graph.post(PN, json=text(to="34600000003")).json()["messages"][0]["id"]
    sb.wait_idle(5)
    got = statuses_of(receiver)
    assert [s["status"] for s in got if s["id"] == a] == ["sent", "failed"]
    failed = [s for s in got if s["id"] == a][-1]
    assert failed["errors"][0]["code"] == 131026 and failed["errors"][0]["error_data"]["details"]
    assert [s["status"] for s in got if s["id"] == b] == ["sent", "delivered"]
    assert all(validate_webhook(p) == [] for p in receiver.payloads())


def test_status_delay_and_manual_status(sb, graph, receiver):
    open_window(sb)
    sb.set_status_flow(["sent"], delay=0.3)
    wamid = graph.post(PN, json={**text(), "biz_opaque_callback_data": "ref-1"}).json()["messages"][0]["id"]
    assert not [s for s in statuses_of(receiver) if s["id"] == wamid]  # not yet: the answer did not wait
    sb.wait_idle(5)
    (sent,) = [s for s in statuses_of(receiver) if s["id"] == wamid]
    assert sent["biz_opaque_callback_data"] == "ref-1"
    sb.status(wamid, "failed", errors=[131047])
    sb.wait_idle(5)
    last = statuses_of(receiver)[-1]
    assert last["status"] == "failed" and last["errors"][0]["code"] == 131047


def test_callback_answer_is_recorded(sb, graph, receiver):
    receiver.answer = 403
    open_window(sb)
    sb.wait_idle(5)
    assert sb.webhooks[-1]["status"] == 403
    sb.set_webhook(None)
    sb.inbound_text("1000001", from_=TO, text="again")
    sb.wait_idle(5)
    assert sb.webhooks[-1]["status"] is None and "no callback" in sb.webhooks[-1]["error"]


def test_mark_read(sb, graph):
    wamid = sb.inbound_text("1000001", from_=TO, text="Hi")
    r = graph.post(PN, json={"messaging_product": "whatsapp", "status": "read", "message_id": wamid})
    assert r.status_code == 200 and r.json() == {"success": True}
    assert sb.messages(TO)[0]["messages"][0]["status"] == "read"
    r = graph.post(
        PN,
        json={
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": wamid,
            "typing_indicator": {"type": "text"},
        },
    )
    assert r.status_code == 200
    r = graph.post(
        PN, json={"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.unknown"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == 131009


@pytest.mark.parametrize(
    "message",
    [
        {
            "type": "image",
            "image": {"id": "55", "mime_type": "image/jpeg", "sha256": "abc", "caption": "look"},
        },
        {"type": "location", "location": {"latitude": 1.5, "longitude": 2.5, "name": "here"}},
        {
            "type": "button",
            "button": {"payload": "STOP", "text": "Stop"},
            "context": {"from": "15550000001", "id": "wamid.A"},
        },
        {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "a", "title": "A"}},
            "context": {"from": "15550000001", "id": "wamid.A"},
        },
        {"type": "reaction", "reaction": {"message_id": "wamid.A", "emoji": "👍"}},
        {
            "type": "sticker",
            "sticker": {"id": "1", "mime_type": "image/webp", "sha256": "x", "animated": False},
        },
        {
            "type": "document",
            "document": {"id": "1", "mime_type": "application/pdf", "sha256": "x", "filename": "a.pdf"},
        },
    ],
    ids=lambda m: m["type"],
)
def test_inbound_messages_validate(sb, receiver, message):
    wamid = sb.inbound("1000001", {"from": TO, **message}, name="Ana")
    sb.wait_idle(5)
    payload = receiver.payloads("messages")[-1]
    value = payload["entry"][0]["changes"][0]["value"]
    assert value["messages"][0]["id"] == wamid and value["contacts"][0]["profile"]["name"] == "Ana"
    assert value["metadata"] == {"display_phone_number": "15550000001", "phone_number_id": "1000001"}
    assert validate_webhook(payload) == []
    conv = sb.messages(TO)[0]
    assert conv["messages"][-1]["direction"] == "in" and conv["name"] == "Ana"
