"""Fault and latency injection."""

import time

import pytest
import requests

from meta_sandbox import Sandbox

PN = "/1000001/messages"


def text(to="33612345678"):
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "x"}}


@pytest.fixture
def opened(sb):
    sb.enforce_window = False
    return sb


@pytest.mark.parametrize(
    "kind, kwargs, status, code",
    [
        ("5xx", {}, 500, 131000),
        ("5xx", {"http_status": 503}, 503, 2),
        ("429", {}, 429, 130429),
        ("131047", {}, 400, 131047),
        ("190", {}, 401, 190),
        ("error", {"code": 131056, "http_status": 400}, 400, 131056),
    ],
)
def test_error_faults_hit_count_requests(opened, graph, kind, kwargs, status, code):
    opened.set_fault("messages", kind, count=2, **kwargs)
    for _ in range(2):
        r = graph.post(PN, json=text())
        assert r.status_code == status
        err = r.json()["error"]
        assert err["code"] == code and err["type"] == "OAuthException" and err["fbtrace_id"]
    assert graph.post(PN, json=text()).status_code == 200
    assert len(opened.sent_messages) == 1


def test_fault_is_per_endpoint_and_star(opened, graph):
    opened.set_fault("templates", "5xx")
    assert graph.post(PN, json=text()).status_code == 200
    assert graph.get("/2000001/message_templates").status_code == 500
    assert graph.get("/1000001").status_code == 200
    opened.clear_faults()
    opened.set_fault("*", "429", count=1)
    assert graph.get("/1000001").status_code == 429
    assert graph.get("/1000001").status_code == 200
    with pytest.raises(ValueError):
        opened.set_fault("nope", "5xx")
    with pytest.raises(ValueError):
        opened.set_fault("messages", "boom")


def test_delay_fixed_and_random(opened, graph):
    opened.set_fault("messages", "delay", count=1, delay=0.3)
    t = time.monotonic()
    assert graph.post(PN, json=text()).status_code == 200
    assert time.monotonic() - t >= 0.3
    opened.set_fault("messages", "delay", count=1, delay=(0.1, 0.2))
    t = time.monotonic()
    assert graph.post(PN, json=text()).status_code == 200
    assert time.monotonic() - t >= 0.1
    t = time.monotonic()
    graph.post(PN, json=text())
    assert time.monotonic() - t < 0.1


def test_timeout_sleeps_past_the_client_timeout(opened, graph):
    opened.set_fault("messages", "timeout", count=1, delay=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(
            graph.url + PN, json=text(), headers={"Authorization": "Bearer sandbox-token"}, timeout=0.3
        )
    assert graph.post(PN, json=text()).status_code == 200
    # Meta goes on with a call its client gave up on: that message is sent too (a blind retry would send it twice).
    # Waited for here, or it lands in whichever test runs a second later.
    deadline = time.monotonic() + 5
    while len(opened.sent_messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(opened.sent_messages) == 2


def test_timeout_drop_closes_the_connection(opened, graph):
    opened.set_fault("messages", "timeout", count=1, drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(
            graph.url + PN, json=text(), headers={"Authorization": "Bearer sandbox-token"}, timeout=5
        )
    assert graph.post(PN, json=text()).status_code == 200


def test_account_latency(opened, graph):
    opened.set_latency("1000001", 0.2)
    t = time.monotonic()
    assert graph.get("/1000001").status_code == 200
    assert time.monotonic() - t >= 0.2


def test_stop_does_not_hang_on_a_pending_timeout():
    sb = Sandbox().start()
    sb.add_account("1", "2", "3", token="t", app_secret="s")
    sb.set_fault("phone", "timeout", delay=60)
    import threading

    def call():
        try:
            requests.get(sb.url + "/v23.0/1", headers={"Authorization": "Bearer t"}, timeout=30)
        except requests.RequestException:
            pass

    th = threading.Thread(target=call)
    th.start()
    time.sleep(0.2)
    t = time.monotonic()
    sb.stop()
    th.join(5)
    assert time.monotonic() - t < 5 and not th.is_alive()
