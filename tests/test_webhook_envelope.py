"""Unit tests of whatsapp/tools/webhook_envelope.py (no Odoo): a signed body never makes the parser raise."""

import json

import pytest
from _whatsapp_tools import webhook_envelope as we


def envelope(*changes, entry_id="2000001", time=1700000000):
    entry = {"id": entry_id, "time": time, "changes": list(changes)}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def test_well_formed():
    body = envelope({"field": "account_update", "value": {"event": "X"}})
    assert we.parse(body) == we.Envelope(
        [we.Change("2000001", 1700000000, "account_update", {"event": "X"})], []
    )


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("a\x00b", "ab"),
        ("\ud800", "\ufffd"),
        ("x\udfffy\ud83d", "x\ufffdy\ufffd"),
        ("\ud83d\ude00", "\ufffd\ufffd"),  # two lone halves in a Python str (json.loads joins real pairs)
        ("😀 ok", "😀 ok"),
    ],
)
def test_clean_text(text, cleaned):
    assert we.clean_text(text) == cleaned
    cleaned.encode("utf-8")  # storable


def test_json_surrogate_pair_kept():
    body = envelope({"field": "f", "value": {"t": "\ud83d\ude00", "u": "\ud800", "\x00k": "a\x00"}})
    assert b"\\ud83d\\ude00" in body
    (change,) = we.parse(body).changes
    assert change.value == {"t": "😀", "u": "\ufffd", "k": "a"}


def test_non_finite_numbers():
    change = b'{"field": "f", "value": {"n": NaN, "i": -Infinity}}'
    body = b'{"object": "whatsapp_business_account", "entry": [{"id": 1, "changes": [' + change + b"]}]}"
    (change,) = we.parse(body).changes
    assert change.value == {"n": None, "i": None}
    assert change.entry_uid == "1"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'"\\ud800"',
        b"1" * 5000,  # an integer too long to convert
        b"[" * 100000 + b"]" * 100000,
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account"}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
    ],
)
def test_unparseable_bodies(body):
    result = we.parse(body)
    assert result.changes == []
    assert result.problems
    text = we.body_text(body)
    text.encode("utf-8")
    assert "\x00" not in text


def test_bad_parts_reported_good_parts_kept():
    good = {"field": "account_update", "value": {"event": "X"}}
    deep = {"field": "f", "value": json.loads('{"a": ' * 100 + "1" + "}" * 100)}
    data = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [good, "x", {"field": 3, "value": {}}, {"field": "f", "value": "s"}, deep],
            },
            "garbage",
            {"id": {"x": 1}, "changes": []},
            {"id": True, "changes": []},
            {"id": "2", "changes": {}},
        ],
    }
    result = we.parse(json.dumps(data).encode())
    assert [change.field for change in result.changes] == ["account_update"]
    assert len(result.problems) == 8, result.problems


def test_body_text_keeps_bytes_apart():
    assert we.body_text(b"\xff") != we.body_text(b"\xfe")
    assert we.body_text(b"a\x00b") == "a\\x00b"


def test_phone_number_id():
    assert we.phone_number_id({"metadata": {"phone_number_id": 1000001}}) == "1000001"
    for value in (
        {},
        {"metadata": "x"},
        {"metadata": {"phone_number_id": True}},
        {"metadata": {"phone_number_id": {}}},
    ):
        assert we.phone_number_id(value) is None
