"""Unit tests of whatsapp/tools/inbound_parser.py, outbound_split.py and message_payloads.py (no Odoo).

Every ``messages`` example of the spec's webhook endpoint (``POST /whatsapp/webhooks``) is parsed and
checked; synthetic payloads cover the kinds the spec gives no example of.
"""

import pytest
from _whatsapp_tools import inbound_parser as ip
from _whatsapp_tools import message_payloads
from _whatsapp_tools import outbound_split as osp


def spec_examples():
    spec = pytest.importorskip("meta_sandbox.spec")
    doc = spec.load_document()
    examples = doc["paths"]["/whatsapp/webhooks"]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    result = {}
    for name, example in examples.items():
        for entry in example["value"]["entry"]:
            for change in entry["changes"]:
                if change["field"] == "messages" and change["value"].get("messages"):
                    result[name] = change["value"]
    return result


SPEC = spec_examples()

EXPECTED = {
    "Text Message": ("text", "Does it come in another color?"),
    "Text Message with Context (Product Inquiry)": ("text", "Is this still available?"),
    "Text Message from Click to WhatsApp Ad": ("text", "Hello! Can I get more info on this?"),
    "Reaction Message": ("reaction", ""),
    "Image Message": ("image", "Taj Mahal"),
    "Location Message": ("location", "Philz Coffee"),
    "Contact Sharing Message": ("contacts", "Lucía Gómez"),
    "Unsupported Message": ("unsupported", ""),
    "Button Message": ("button", "Unsubscribe"),
    "Interactive List Reply Message": ("interactive", "Priority Mail Express (Next Day to 2 Days)"),
    "Interactive Button Reply Message": ("interactive", "Cancel"),
    "Order Message": ("order", ""),
    "System Message": ("system", "User Sheena Nelson changed from 16505551234 to 12195555358"),
}


def test_every_spec_example_is_covered():
    assert SPEC, "the spec's webhook examples could not be loaded"
    assert set(SPEC) == set(EXPECTED), "a new spec example needs an expectation here"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_examples(name):
    value = SPEC[name]
    message = value["messages"][0]
    parsed = ip.parse_message(message, value.get("contacts"))
    kind, text = EXPECTED[name]
    assert parsed.kind == kind
    assert parsed.text == text
    assert parsed.wamid == message["id"]
    assert parsed.wa_id == "16505551234"
    assert parsed.timestamp == int(message["timestamp"])
    if value.get("contacts"):
        assert parsed.profile_name == "Sheena Nelson"


def test_spec_details():
    react = ip.parse_message(SPEC["Reaction Message"]["messages"][0])
    assert react.target_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA"
    assert react.emoji == "👍"
    image = ip.parse_message(SPEC["Image Message"]["messages"][0])
    assert image.is_media and image.media["id"] == "1003383421387256"
    assert image.media["mime_type"] == "image/jpeg"
    loc = ip.parse_message(SPEC["Location Message"]["messages"][0]).location
    assert loc["address"] == "101 Forest Ave, Palo Alto, CA 94301"
    assert "mlat=37.44221496582" in loc["map_url"] and "mlon=-122.16165924072" in loc["map_url"]
    card = ip.parse_message(SPEC["Contact Sharing Message"]["messages"][0]).contacts[0]
    assert card == {
        "name": "Lucía Gómez",
        "org": "Google",
        "phones": [{"phone": "+1 (983) 555-2319", "wa_id": "19835552319", "type": "MOBILE"}],
        "emails": [],
        "urls": [],
    }
    unsupported = ip.parse_message(SPEC["Unsupported Message"]["messages"][0])
    assert unsupported.error == {
        "code": 131051,
        "title": "Message type unknown",
        "details": "Message type is currently not supported.",
    }
    button = ip.parse_message(SPEC["Button Message"]["messages"][0])
    assert button.context_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJFNjk2OTMwNEZCQjhGMzUyQUYA"
    assert button.reply_id == "Unsubscribe"
    listed = ip.parse_message(SPEC["Interactive List Reply Message"]["messages"][0])
    assert listed.reply_id == "priority_express"
    order = ip.parse_message(SPEC["Order Message"]["messages"][0]).order
    assert [i["product"] for i in order["items"]] == ["di9ozbzfi4", "nqryix03ez"]
    assert order["totals"] == {"USD": 85.0}
    system = ip.parse_message(SPEC["System Message"]["messages"][0]).system
    assert system["type"] == "user_changed_number" and system["new_wa_id"] == "12195555358"
    ad = ip.parse_message(SPEC["Text Message from Click to WhatsApp Ad"]["messages"][0])
    assert ad.referral["source_type"] == "ad"
    product = ip.parse_message(SPEC["Text Message with Context (Product Inquiry)"]["messages"][0])
    assert product.context_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGA9wcm9kdWN0X2lucXVpcnkA"


def _msg(kind, body=None, **extra):
    message = {"from": "33612345678", "id": "wamid.X", "timestamp": "1700000000", "type": kind, **extra}
    if body is not None:
        message[kind] = body
    return message


@pytest.mark.parametrize(
    ("message", "kind", "text", "check"),
    [
        (
            _msg("audio", {"id": "m1", "mime_type": "audio/ogg; codecs=opus", "voice": True}),
            "audio",
            "",
            lambda p: p.media["voice"] and p.media["mime_type"] == "audio/ogg",
        ),
        (
            _msg("video", {"id": "m2", "mime_type": "video/mp4", "caption": "Look"}),
            "video",
            "Look",
            lambda p: p.is_media,
        ),
        (
            _msg("document", {"id": "m3", "mime_type": "application/pdf", "filename": "q.pdf"}),
            "document",
            "",
            lambda p: p.media["filename"] == "q.pdf",
        ),
        (
            _msg("sticker", {"id": "m4", "mime_type": "image/webp", "animated": True}),
            "sticker",
            "",
            lambda p: p.media["animated"],
        ),
        (_msg("reaction", {"message_id": "wamid.OUT"}), "reaction", "", lambda p: p.emoji == ""),
        (
            _msg("interactive", {"type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent"}}),
            "interactive",
            "Sent",
            lambda p: p.reply_id == "flow",
        ),
        (
            _msg("interactive", {"type": "call_permission_reply", "call_permission_reply": {}}),
            "unsupported",
            "",
            lambda p: p.unsupported_type == "interactive/call_permission_reply",
        ),
        (_msg("request_welcome"), "request_welcome", "", lambda p: True),
        (_msg("poll", {"question": "?"}), "unsupported", "", lambda p: p.unsupported_type == "poll"),
        (
            _msg("unknown", errors=[{"code": 131060, "title": "Message unavailable"}]),
            "unsupported",
            "",
            lambda p: p.error["code"] == 131060,
        ),
        (
            _msg("edit", {"original_message_id": "wamid.A", "text": {"body": "fixed"}}),
            "edit",
            "fixed",
            lambda p: p.target_id == "wamid.A",
        ),
        (
            _msg(
                "edit",
                {
                    "original_message_id": "wamid.A",
                    "message": {"type": "text", "text": {"body": "fixed again"}},
                },
            ),
            "edit",
            "fixed again",
            lambda p: p.target_id == "wamid.A",
        ),
        (
            _msg(
                "edit",
                {
                    "original_message_id": "wamid.B",
                    "message": {
                        "type": "image",
                        "image": {"id": "123", "mime_type": "image/jpeg", "caption": "new caption"},
                    },
                },
            ),
            "edit",
            "new caption",
            lambda p: p.target_id == "wamid.B" and p.media is None,
        ),
        (
            _msg("revoke", {"original_message_id": "wamid.A"}),
            "delete",
            "",
            lambda p: p.target_id == "wamid.A",
        ),
        (_msg("revoke", {}), "unsupported", "", lambda p: p.target_id is None),
    ],
)
def test_other_kinds(message, kind, text, check):
    parsed = ip.parse_message(message)
    assert (parsed.kind, parsed.text) == (kind, text)
    assert check(parsed)


def test_bsuid_and_username():
    message = {
        "from_user_id": "US.abc123",
        "id": "wamid.U",
        "timestamp": "1",
        "type": "text",
        "text": {"body": "hi"},
    }
    contacts = [{"profile": {"name": "Ann", "username": "@ann"}, "user_id": "US.abc123"}]
    parsed = ip.parse_message(message, contacts)
    assert (parsed.wa_id, parsed.bsuid, parsed.profile_name, parsed.username) == (
        None,
        "US.abc123",
        "Ann",
        "@ann",
    )
    with_number = ip.parse_message(
        {**message, "from": "1555"}, [{"wa_id": "1555", "user_id": "US.x", "profile": {}}]
    )
    assert (with_number.wa_id, with_number.bsuid) == ("1555", "US.abc123")


def test_garbage_never_raises():
    for garbage in (
        None,
        {},
        {"type": 3},
        {"type": "image", "image": "x"},
        {"type": "contacts", "contacts": "x"},
    ):
        assert ip.parse_message(garbage).kind in ip.KNOWN_KINDS


@pytest.mark.parametrize(
    ("mimetype", "kind"),
    [
        ("image/png", "image"),
        ("image/jpeg", "image"),
        ("image/webp", "sticker"),
        ("video/mp4", "video"),
        ("audio/ogg; codecs=opus", "audio"),
        ("audio/mpeg", "audio"),
        ("application/pdf", "document"),
        ("image/gif", "document"),
        (None, "document"),
    ],
)
def test_media_kind(mimetype, kind):
    assert osp.media_kind(mimetype) == kind


def test_split_post():
    png, pdf, ogg = (1, "image/png", "a.png"), (2, "application/pdf", "b.pdf"), (3, "audio/ogg", "c.ogg")
    assert osp.split_post("hello", []) == [{"type": "text", "text": "hello"}]
    assert osp.split_post("look", [png]) == [
        {"type": "image", "file": 1, "filename": "a.png", "caption": "look"}
    ]
    # audio carries no caption: the text goes first
    assert osp.split_post("listen", [ogg]) == [
        {"type": "text", "text": "listen"},
        {"type": "audio", "file": 3, "filename": "c.ogg", "caption": ""},
    ]
    # several files: the text first, then one message per file without caption
    parts = osp.split_post("two files", [png, pdf])
    assert [p["type"] for p in parts] == ["text", "image", "document"]
    assert all(not p.get("caption") for p in parts[1:])
    # a caption longer than 1,024 characters goes as a text
    assert [p["type"] for p in osp.split_post("x" * 1025, [png])] == ["text", "image"]
    assert osp.split_post("", [png, pdf])[0]["type"] == "image"


def test_split_text_and_media_object():
    chunks = osp.split_text(("word " * 2000).strip())
    assert len(chunks) == 3 and all(len(c) <= 4096 for c in chunks)
    assert " ".join(chunks) == ("word " * 2000).strip()
    assert message_payloads.media_object("audio", "9", caption="no") == {"id": "9"}
    assert message_payloads.media_object("document", "9", "f.pdf", "yes") == {
        "id": "9",
        "caption": "yes",
        "filename": "f.pdf",
    }
    # the one builder of outbound bodies, and what the queue sends
    assert message_payloads.text("hi", reply_to="wamid.Q") == {
        "type": "text",
        "text": {"body": "hi", "preview_url": False},
        "context": {"message_id": "wamid.Q"},
    }
    stored = message_payloads.media("document", filename="f.pdf", caption="yes")
    assert stored == {"type": "document", "document": {"caption": "yes", "filename": "f.pdf"}}
    sent = message_payloads.for_send(stored, "+3212", "u1", media_id="m1")
    assert sent == {
        "type": "document",
        "document": {"id": "m1", "caption": "yes", "filename": "f.pdf"},
        "to": "3212",
        "biz_opaque_callback_data": "u1",
    }
    assert "to" not in stored  # the stored payload is left as it is
    assert message_payloads.reaction("wamid.R", "") == {
        "type": "reaction",
        "reaction": {"message_id": "wamid.R", "emoji": ""},
    }
    template = message_payloads.template("promo", "fr", [{"type": "body", "parameters": []}])
    header = message_payloads.for_send(
        template, "+3212", "u2", media_id="m2", header_kind="document", header_filename="q.pdf"
    )
    assert header["template"]["components"][0] == {
        "type": "header",
        "parameters": [{"type": "document", "document": {"id": "m2", "filename": "q.pdf"}}],
    }
    assert header["template"]["components"][1] == {"type": "body", "parameters": []}


def test_optin_keyword_set_ignores_everyday_answers():
    assert ip.optin_keyword_set("START, Yes, ALTA, Démarrer, ok") == {"start", "demarrer"}
