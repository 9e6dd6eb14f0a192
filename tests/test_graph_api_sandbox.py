"""Graph API client against the project's Meta sandbox (``meta_sandbox.Sandbox``), in process.

Skipped only while ``meta_sandbox`` cannot be imported.
"""

import hashlib
import pathlib
import sys

import pytest
from _whatsapp_tools.graph_api import GraphClient
from _whatsapp_tools.graph_errors import WhatsAppApiError

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
try:
    from meta_sandbox import Sandbox
except ImportError as exc:
    pytest.skip(f"meta_sandbox is not importable yet: {exc}", allow_module_level=True)

PNID, WABA, APP, TOKEN = "1000001", "2000001", "3000001", "sandbox-token"


@pytest.fixture
def sb():
    sandbox = Sandbox()
    sandbox.start()
    sandbox.add_account(
        phone_number_id=PNID,
        waba_id=WABA,
        app_id=APP,
        token=TOKEN,
        app_secret="sandbox-secret",
        display_phone_number="+1 555 000 0001",
        verified_name="Sandbox Co",
    )
    sandbox.set_webhook(callback_url=None, app_secret="sandbox-secret")
    yield sandbox
    sandbox.stop()


@pytest.fixture
def client(sb):
    return make_client(sb)


def make_client(sb, **kwargs):
    values = {
        "base_url": sb.url,
        "version": "v23.0",
        "token": TOKEN,
        "phone_number_id": PNID,
        "waba_id": WABA,
        "app_id": APP,
        "timeout": (2, 5),
        "only_loopback": True,
    }
    return GraphClient(**{**values, **kwargs})


def template_payload(name):
    return {
        "name": name,
        "language": "en_US",
        "category": "UTILITY",
        "components": [
            {
                "type": "BODY",
                "text": "Hello {{1}}, your order {{2}} has shipped.",
                "example": {"body_text": [["Ana", "4711"]]},
            }
        ],
    }


def test_phone_numbers(client):
    info = client.phone_number_info()
    assert info["verified_name"] == "Sandbox Co"
    assert info["id"] == PNID
    assert PNID in {str(number["id"]) for number in client.list_phone_numbers()}
    assert str(client.waba_info()["id"]) == WABA
    assert "data" in client.subscribed_apps()


def test_send_text(sb, client):
    answer = client.send_message({"to": "33612345678", "type": "text", "text": {"body": "Hello"}})
    wamid = answer["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert answer["contacts"][0]["wa_id"] == "33612345678"
    assert any(wamid in str(message) for message in sb.sent_messages)


def test_mark_read_of_an_unknown_message(client):
    with pytest.raises(WhatsAppApiError) as info:
        client.mark_read("wamid.DOES-NOT-EXIST")
    assert (info.value.code, info.value.category, info.value.retryable) == (131009, "param", False)


def test_media_round_trip(client):
    data = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 100
    media_id = client.upload_media(data, "image/jpeg", "photo.jpg")
    info = client.get_media(media_id)
    assert info["mime_type"] == "image/jpeg"
    assert int(info["file_size"]) == len(data)
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert client.download_media(info["url"]) == data
    assert client.delete_media(media_id) == {"success": True}
    with pytest.raises(WhatsAppApiError):
        client.get_media(media_id)


def test_resumable_upload_gives_a_handle(client):
    handle = client.resumable_upload(b"%PDF-1.4 menu", "application/pdf", "menu.pdf")
    assert isinstance(handle, str) and handle


def test_templates_crud_and_paging(sb, client):
    created = [client.create_template(template_payload(f"order_shipped_{n}")) for n in range(5)]
    assert all(c["id"] and c["status"] for c in created)
    listed = client.list_templates(page_size=2)
    assert {t["id"] for t in created} <= {t["id"] for t in listed}
    pages = [r for r in sb.requests if r["path"].endswith("/message_templates") and r["method"] == "GET"]
    assert len(pages) >= 3, "five templates by two per page are three pages"
    one = client.get_template(created[0]["id"])
    assert one["name"] == "order_shipped_0"
    with pytest.raises(WhatsAppApiError) as pending:
        client.update_template(created[0]["id"], {"components": template_payload("x")["components"]})
    assert pending.value.category == "param"  # a template in review cannot be edited
    sb.template_decision(created[0]["id"], "REJECTED", reason="INVALID_FORMAT")
    client.update_template(created[0]["id"], {"components": template_payload("x")["components"]})
    client.delete_template(name="order_shipped_4")
    remaining = {t["name"] for t in client.list_templates()}
    assert "order_shipped_4" not in remaining
    assert "order_shipped_0" in remaining


@pytest.mark.parametrize(
    "kind, code, category, retryable",
    [
        ("131047", 131047, "window", False),
        ("190", 190, "auth", False),
        ("429", 130429, "rate_limit", True),
        ("5xx", None, "transient", True),
    ],
)
def test_faults_are_classified(sb, client, kind, code, category, retryable):
    sb.set_fault("messages", kind=kind, count=1)
    with pytest.raises(WhatsAppApiError) as info:
        client.send_message({"to": "33612345678", "type": "text", "text": {"body": "x"}})
    err = info.value
    assert (err.category, err.retryable) == (category, retryable)
    if code is not None:
        assert err.code == code
    assert TOKEN not in str(err)
    # the fault is consumed: the next send goes through
    assert client.send_message({"to": "33612345678", "type": "text", "text": {"body": "x"}})["messages"]


def test_timeout_fault(sb):
    sb.set_fault("messages", kind="timeout", count=1, delay=1.0)
    client = make_client(sb, timeout=(1, 0.2))
    with pytest.raises(WhatsAppApiError) as info:
        client.send_message({"to": "33612345678", "type": "text", "text": {"body": "x"}})
    assert (info.value.category, info.value.retryable, info.value.http_status) == ("transient", True, None)


def test_wrong_token(sb):
    with pytest.raises(WhatsAppApiError) as info:
        make_client(sb, token="not-the-token").phone_number_info()
    assert (info.value.code, info.value.category) == (190, "auth")
    assert "not-the-token" not in str(info.value)
