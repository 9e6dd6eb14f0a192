"""Templates: create, list with cursor paging, get, edit limits, delete, decisions, template sends."""

import pytest
import requests

from meta_sandbox.spec import validate_request, validate_webhook

WABA = "/2000001/message_templates"
BODY = {"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped.", "example": {"body_text": [["Ana", "4711"]]}}


def create_payload(name="order_shipped", **kw):
    return {"name": name, "language": "en_US", "category": "UTILITY", "components": [BODY], **kw}


def test_create_get_and_decision_webhooks(sb, graph, receiver):
    payload = create_payload(
        components=[
            {"type": "HEADER", "format": "TEXT", "text": "Order"},
            BODY,
            {"type": "FOOTER", "text": "Thanks"},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Track"}]},
        ]
    )
    assert validate_request("POST", "/{Version}/{WABA-ID}/message_templates", payload) == []
    r = graph.post(WABA, json=payload)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["status"] == "PENDING" and created["category"] == "UTILITY"
    tid = created["id"]
    got = graph.get(f"/{tid}").json()
    assert (
        got["name"] == "order_shipped"
        and got["status"] == "PENDING"
        and got["components"] == payload["components"]
    )
    assert graph.get(f"/{tid}", params={"fields": "name"}).json() == {"name": "order_shipped", "id": tid}
    for decision, reason in (
        ("REJECTED", "INVALID_FORMAT"),
        ("APPROVED", None),
        ("PAUSED", None),
        ("DISABLED", None),
    ):
        sb.template_decision(tid, decision, reason=reason)
        assert graph.get(f"/{tid}").json()["status"] == decision
    sb.wait_idle(5)
    payloads = receiver.payloads("message_template_status_update")
    assert [p["entry"][0]["changes"][0]["value"]["event"] for p in payloads] == [
        "REJECTED",
        "APPROVED",
        "PAUSED",
        "DISABLED",
    ]
    first = payloads[0]["entry"][0]["changes"][0]["value"]
    assert first["reason"] == "INVALID_FORMAT" and first["message_template_id"] == int(tid)
    assert "other_info" in payloads[2]["entry"][0]["changes"][0]["value"]
    assert all(validate_webhook(p) == [] for p in payloads)


def test_auto_approve(sb, graph, receiver):
    sb.auto_approve = True
    tid = graph.post(WABA, json=create_payload()).json()["id"]
    sb.wait_idle(5)
    assert graph.get(f"/{tid}").json()["status"] == "APPROVED"
    assert (
        receiver.payloads("message_template_status_update")[-1]["entry"][0]["changes"][0]["value"]["event"]
        == "APPROVED"
    )


@pytest.mark.parametrize(
    "payload, needle",
    [
        (create_payload(name="Bad Name"), "Bad Name"),
        (create_payload(category="PROMO"), "PROMO"),
        (create_payload(components=[{"type": "HEADER", "format": "TEXT", "text": "x"}]), "BODY"),
        (create_payload(components=[{"type": "BODY", "text": "Hi {{1}}"}]), "example"),
        (
            create_payload(
                components=[
                    {"type": "BODY", "text": "Hi {{1}} {{3}}", "example": {"body_text": [["a", "b"]]}}
                ]
            ),
            "sequential",
        ),
        (create_payload(name=5), "name"),
    ],
)
def test_create_rejects_invalid(sb, graph, payload, needle):
    r = graph.post(WABA, json=payload)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == 100 and needle in (err.get("error_user_msg", "") + err["error_data"]["details"])
    assert sb.templates == []


def test_duplicate_language(sb, graph):
    assert graph.post(WABA, json=create_payload()).status_code == 200
    r = graph.post(WABA, json=create_payload())
    assert r.status_code == 400 and r.json()["error"]["error_subcode"] == 2388024
    assert graph.post(WABA, json=create_payload(language="fr")).status_code == 200


def test_paging_250_templates(sb, graph):
    for i in range(250):
        sb.add_template("2000001", f"tmpl_{i:03d}")
    names, pages, url = [], 0, graph.url + WABA + "?limit=100&fields=name,status"
    while url:
        r = requests.get(url, headers={"Authorization": "Bearer sandbox-token"}, timeout=10)
        assert r.status_code == 200
        data = r.json()
        pages += 1
        names += [t["name"] for t in data["data"]]
        assert set(data["data"][0]) == {"name", "status", "id"}
        url = data["paging"].get("next")
        if url:
            assert data["paging"]["cursors"]["after"] in url
    assert pages == 3 and len(names) == 250 and len(set(names)) == 250
    # the "after" cursor alone works too
    first = graph.get(WABA, params={"limit": 100}).json()
    second = graph.get(WABA, params={"limit": 100, "after": first["paging"]["cursors"]["after"]}).json()
    assert not {t["id"] for t in first["data"]} & {t["id"] for t in second["data"]}
    summary = graph.get(WABA, params={"summary": "total_count", "limit": 1}).json()["summary"]
    assert summary["total_count"] == 250
    assert graph.get(WABA, params={"name": "tmpl_007"}).json()["data"][0]["name"] == "tmpl_007"
    assert graph.get(WABA, params={"after": "garbage!"}).status_code == 400


def test_edit_limits_for_approved_templates(sb, graph):
    now = [1_800_000_000.0]
    sb.state.clock = lambda: now[0]
    try:
        tmpl = sb.add_template("2000001", "promo", components=[{"type": "BODY", "text": "Hello"}])
        edit = {"components": [{"type": "BODY", "text": "Hello again"}]}
        for i in range(10):
            sb.template_decision(tmpl.id, "APPROVED")
            r = graph.post(f"/{tmpl.id}", json=edit)
            assert r.status_code == 200, (i, r.text)
            assert graph.get(f"/{tmpl.id}").json()["status"] == "PENDING"
            sb.template_decision(tmpl.id, "APPROVED")
            r = graph.post(f"/{tmpl.id}", json=edit)  # second edit within 24 h
            assert r.status_code == 400 and "24 hours" in r.json()["error"]["error_user_msg"]
            now[0] += 25 * 3600
        # 10 edits in the last 30 days (10 x 25 h < 30 days): the 11th is refused
        r = graph.post(f"/{tmpl.id}", json=edit)
        assert r.status_code == 400 and "10 times" in r.json()["error"]["error_user_msg"]
        # rejected templates can be edited without limit
        sb.template_decision(tmpl.id, "REJECTED", reason="INVALID_FORMAT")
        assert graph.post(f"/{tmpl.id}", json=edit).status_code == 200
        sb.template_decision(tmpl.id, "REJECTED")
        assert graph.post(f"/{tmpl.id}", json=edit).status_code == 200
    finally:
        sb.state.clock = __import__("time").time


def test_delete(sb, graph):
    a = sb.add_template("2000001", "bye", language="en_US")
    sb.add_template("2000001", "bye", language="fr")
    b = sb.add_template("2000001", "keep")
    r = graph.delete(WABA, params={"name": "bye", "hsm_id": a.id})
    assert r.status_code == 200 and r.json() == {"success": True}
    assert sorted((t["name"], t["language"]) for t in sb.templates) == [("bye", "fr"), ("keep", "en_US")]
    assert graph.delete(WABA, params={"name": "bye"}).status_code == 200
    assert [t["id"] for t in sb.templates] == [b.id]
    assert graph.delete(WABA, params={"name": "nope"}).status_code == 400


def send_template(graph, name="order_shipped", params=("Ana", "4711"), lang="en_US"):
    return graph.post(
        "/1000001/messages",
        json={
            "messaging_product": "whatsapp",
            "to": "33612345678",
            "type": "template",
            "template": {
                "name": name,
                "language": {"code": lang, "policy": "deterministic"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}],
            },
        },
    )


def test_template_send_checks(sb, graph, receiver):
    tmpl = sb.add_template("2000001", "order_shipped", components=[BODY])
    r = send_template(graph)
    assert r.status_code == 200, r.text
    assert r.json()["messages"][0]["message_status"] == "accepted"
    sb.wait_idle(5)  # a template opens no window check: delivered normally
    assert receiver.payloads()[-1]["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] == "read"
    sent = receiver.payloads()[0]["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert sent["pricing"]["category"] == "utility"
    r = send_template(graph, params=("Ana",))
    assert r.status_code == 400 and r.json()["error"]["code"] == 132000
    r = send_template(graph, lang="fr")
    assert r.status_code == 404 and r.json()["error"]["code"] == 132001
    for status, code in (("PAUSED", 132015), ("DISABLED", 132016), ("REJECTED", 132001)):
        sb.template_decision(tmpl.id, status)
        assert send_template(graph).json()["error"]["code"] == code
