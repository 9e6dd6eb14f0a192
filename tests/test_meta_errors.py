"""The one table mapping Meta error codes to failure categories (whatsapp/tools/meta_errors.py)."""

import re
from pathlib import Path

import pytest
from _whatsapp_tools.graph_errors import WhatsAppApiError
from _whatsapp_tools.meta_errors import (
    CATEGORIES,
    META_ERRORS,
    RETRY_CLASSES,
    classify,
    hint,
    lookup,
    min_retry_seconds,
    reason,
)

# code, subcode, http_status, expected category, expected retry
TABLE = [
    # authentication / permissions / account: never retried
    (0, None, 400, "auth", "never"),
    (190, None, 401, "auth", "never"),
    (190, 463, 401, "auth", "never"),
    (190, 999, 401, "auth", "never"),  # unknown subcode falls back to the code
    (3, None, 400, "permission", "never"),
    (10, None, 403, "permission", "never"),
    (200, None, 403, "permission", "never"),
    (250, None, 403, "permission", "never"),
    (299, None, 403, "permission", "never"),
    (131005, None, 403, "permission", "never"),
    (368, None, 400, "account", "never"),
    (131031, None, 400, "account", "never"),
    (130497, None, 400, "account", "never"),
    (131037, None, 400, "account", "never"),
    (131042, None, 400, "account", "never"),
    (131045, None, 400, "account", "never"),
    (133000, None, 400, "account", "never"),
    (133010, None, 400, "account", "never"),
    # rate limits
    (4, None, 400, "rate_limit", "later"),
    (80007, None, 400, "rate_limit", "later"),
    (80008, None, 400, "rate_limit", "later"),
    (130429, None, 400, "rate_limit", "now"),
    (131048, None, 400, "rate_limit", "later"),
    (131056, None, 400, "rate_limit", "now"),
    (133016, None, 400, "rate_limit", "later"),
    # transient
    (1, None, 500, "transient", "now"),
    (2, None, 503, "transient", "now"),
    (131000, None, 500, "transient", "now"),
    (131016, None, 503, "transient", "now"),
    (131057, None, 400, "transient", "now"),
    (133004, None, 503, "transient", "now"),
    # window, recipient, opt-out
    (131047, None, 400, "window", "never"),
    (470, None, 400, "window", "never"),
    (131021, None, 400, "recipient", "never"),
    (131026, None, 400, "recipient", "never"),
    (131030, None, 400, "recipient", "never"),
    (131049, None, 400, "recipient", "later"),
    (131062, None, 400, "recipient", "never"),
    (137000, None, 400, "recipient", "never"),
    (131050, None, 400, "opt_out", "never"),
    # templates
    (132000, None, 400, "template", "never"),
    (132001, None, 404, "template", "never"),
    (132005, None, 400, "template", "never"),
    (132007, None, 400, "template", "never"),
    (132012, None, 400, "template", "never"),
    (132015, None, 400, "template", "later"),
    (132016, None, 400, "template", "never"),
    # parameters, media
    (100, None, 400, "param", "never"),
    (131008, None, 400, "param", "never"),
    (131009, None, 400, "param", "never"),
    (131051, None, 400, "param", "never"),
    (131052, None, 400, "media", "never"),
    (131053, None, 400, "media", "never"),
    # the code wins over the HTTP status
    (131047, None, 500, "window", "never"),
    (2, None, 400, "transient", "now"),
    # codes as strings (webhook payloads, sloppy proxies)
    ("131026", None, 400, "recipient", "never"),
    ("190", "463", 401, "auth", "never"),
    # not in the table: the HTTP status decides
    (424242, None, 500, "transient", "now"),
    (424242, None, 502, "transient", "now"),
    (424242, None, 429, "rate_limit", "now"),
    (424242, None, 401, "auth", "never"),
    (424242, None, 403, "permission", "never"),
    (424242, None, 400, "unknown", "never"),
    (None, None, 503, "transient", "now"),
    (None, None, None, "unknown", "never"),
    ("not-a-number", None, None, "unknown", "never"),
]


@pytest.mark.parametrize("code, subcode, status, category, retry", TABLE)
def test_classify(code, subcode, status, category, retry):
    assert classify(code, status, subcode=subcode) == (category, retry)


@pytest.mark.parametrize("code, subcode, status, category, retry", TABLE)
def test_error_from_meta_payload(code, subcode, status, category, retry):
    err = WhatsAppApiError.from_meta(
        {"code": code, "error_subcode": subcode, "message": "x", "title": "Rate limit hit"},
        http_status=status,
    )
    assert (err.category, err.retry, err.retryable) == (category, retry, retry != "never")


def test_rows_are_well_formed():
    for key, row in META_ERRORS.items():
        code = key[0] if isinstance(key, tuple) else key
        assert isinstance(code, int), key
        category, retry, text = row
        assert category in CATEGORIES, key
        assert retry in RETRY_CLASSES, key
        assert text and text.endswith("."), key


def test_every_hint_is_offered_to_translators():
    """The hints are shown in the reader's language: each one is in the addon's .pot (marked ``_lt`` in the table,
    extracted by ``./dev i18n``), and ``reason`` translates the hint, never Meta's own message."""
    pot = (Path(__file__).parent.parent / "whatsapp" / "i18n" / "whatsapp.pot").read_text()
    # a msgid as the .pot writes it: on one line, or wrapped after a space on the following lines
    msgids = {
        "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', block)).replace('\\"', '"')
        for block in re.findall(r'^msgid ((?:".*"\n)+)', pot, re.MULTILINE)
    }
    assert {row[2] for row in META_ERRORS.values()} <= msgids
    assert reason(131047, "Re-engagement message", translate=str.upper) == (
        "(131047) Re-engagement message\nMORE THAN 24 HOURS SINCE THE CUSTOMER'S LAST MESSAGE: SEND A TEMPLATE."
    )


def test_classification_ignores_the_title():
    """A misleading title never changes the category: only the code does."""
    err = WhatsAppApiError.from_meta({"code": 131026, "title": "Rate limit hit", "message": "Temporary"})
    assert (err.category, err.retryable) == ("recipient", False)


def test_webhook_error_item():
    """``statuses[].errors[]`` items have the same keys (``title`` instead of ``error_user_title``)."""
    item = {
        "code": 131047,
        "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {"details": "Message failed to send because more than 24 hours have passed."},
    }
    err = WhatsAppApiError.from_meta(item)
    assert (err.code, err.category, err.http_status) == (131047, "window", None)
    assert err.details.startswith("Message failed")
    assert str(err).startswith("WhatsApp API error 131047: Re-engagement message.")


def test_hint_and_lookup():
    assert hint(131047) == META_ERRORS[131047][2]
    assert hint(424242) == ""
    assert lookup(190, 463) == META_ERRORS[(190, 463)]
    assert lookup(None) is None


def test_explicit_category_overrides_table():
    err = WhatsAppApiError("Network down", category="transient", retryable=True)
    assert (err.category, err.retry, err.retryable, err.http_status, err.code) == (
        "transient",
        "now",
        True,
        None,
        None,
    )
    assert str(err) == "Network down"


def test_min_retry_seconds():
    """Meta asks >= 6 s before messaging the same recipient again after 131056; other codes: no floor."""
    assert min_retry_seconds(131056) == 6
    assert min_retry_seconds("131056") == 6
    assert min_retry_seconds(130429) == 0
    assert min_retry_seconds(None) == 0


def test_reason_says_meta_message_then_what_to_do_once():
    assert reason(131026, "Message undeliverable") == "(131026) " + META_ERRORS[131026][2]
    assert reason(131047, "Re-engagement message") == (
        "(131047) Re-engagement message\n" + META_ERRORS[131047][2]
    )
    assert reason(424242, "Something new") == "(424242) Something new"
    assert reason(None, "Connection refused") == "Connection refused"
    hinted = META_ERRORS[131026][2]
    assert reason(131026, hinted) == f"(131026) {hinted}"
