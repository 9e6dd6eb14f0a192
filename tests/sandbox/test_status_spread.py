"""Status flows spread like Meta's (a random delay per step, order kept) and replies from some recipients."""

import time

import requests

PN = "/1000001/messages"


def text(to):
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "Hello"}}


def wait_for(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_spread_statuses_keep_their_order_and_record_emission_and_answer_time(sb, graph):
    sb.enforce_window = False
    sb.set_status_flow(["sent", "delivered", "read"], delay=[0.01, 0.05])
    wamids = [graph.post(PN, json=text(f"3361234560{i}")).json()["messages"][0]["id"] for i in range(4)]
    assert sb.wait_idle(5)
    for wamid in wamids:
        records = [
            r
            for r in sb.webhooks
            if r["payload"]["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] == wamid
        ]
        statuses = [r["payload"]["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] for r in records]
        assert statuses == ["sent", "delivered", "read"]
        dues = [r["due"] for r in records]
        gaps = [later - earlier for earlier, later in zip(dues, dues[1:], strict=False)]
        assert all(0.01 <= gap <= 0.05 + 0.04 for gap in gaps), gaps  # + the time between two enqueues
        assert all(r["status"] == 200 and 0 <= r["elapsed"] < 5 for r in records)


def test_a_fraction_of_recipients_replies_after_the_last_status(sb, graph, receiver):
    sb.enforce_window = False
    sb.set_status_flow(["sent", "read"], delay=0.01, reply_ratio=0.5, reply_text="Merci ({n})")
    wamids = [graph.post(PN, json=text(f"3361234561{i}")).json()["messages"][0]["id"] for i in range(4)]

    def replies():
        return [
            m
            for p in receiver.payloads("messages")
            for m in p["entry"][0]["changes"][0]["value"].get("messages", [])
        ]

    assert wait_for(lambda: len(replies()) == 2)
    assert sb.wait_idle(5)
    assert [(m["text"]["body"], m["context"]["id"]) for m in replies()] == [
        ("Merci (1)", wamids[1]),
        ("Merci (2)", wamids[3]),
    ]
    read_at = {
        r["payload"]["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]: r["due"]
        for r in sb.webhooks
        if r["payload"]["entry"][0]["changes"][0]["value"].get("statuses", [{}])[0].get("status") == "read"
    }
    reply_due = [
        r["due"] for r in sb.webhooks if r["payload"]["entry"][0]["changes"][0]["value"].get("messages")
    ]
    assert reply_due[0] > read_at[wamids[1]] and reply_due[1] > read_at[wamids[3]]
    time.sleep(0.1)
    assert len(replies()) == 2  # one in two, no more


def test_control_api_checks_the_spread_and_ratio(sb):
    def flow(data):
        headers = {"X-Sandbox-Token": sb.control_token}
        return requests.post(
            f"{sb.url}/_sandbox/status_flow", json=data, headers=headers, timeout=5
        ).status_code

    assert flow({"statuses": ["sent"], "delay": [0.5, 2], "reply_ratio": 0.05}) == 200
    assert flow({"statuses": ["sent"], "delay": [2, 0.5]}) == 400
    assert flow({"statuses": ["sent"], "reply_ratio": 1.5}) == 400
