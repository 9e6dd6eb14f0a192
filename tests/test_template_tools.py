"""Unit tests of whatsapp/tools/template_tools.py (no Odoo)."""

import pytest
from _whatsapp_tools import template_payloads, template_rules
from _whatsapp_tools import template_tools as tt


def codes(issues):
    return [(i.field, i.code) for i in issues]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Order Shipped", "order_shipped"),
        ("Réduction été 2024!", "reduction_ete_2024"),
        ("2024 promo", "promo"),
        ("  __Hello--World__ ", "hello_world"),
        ("", ""),
        ("x" * 600, "x" * 512),
    ],
)
def test_meta_name_slug(name, slug):
    assert tt.meta_name_slug(name) == slug
    if slug:
        assert template_rules.check_name(slug) == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", "name_required"),
        ("Hello", "name_format"),
        ("1abc", "name_format"),
        ("a-b", "name_format"),
        ("a" * 513, "name_too_long"),
        ("ok_name_1", None),
    ],
)
def test_check_name(name, code):
    assert [i.code for i in template_rules.check_name(name)] == ([code] if code else [])


@pytest.mark.parametrize(
    ("lang", "code"),
    [
        ("fr_FR", "fr"),
        ("pt_BR", "pt_BR"),
        ("en_US", "en_US"),
        ("xx_YY", "en_US"),
        (False, "en_US"),
    ],
)
def test_meta_lang_from_odoo(lang, code):
    assert tt.meta_lang_from_odoo(lang) == code


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hello {{1}}, your order {{2}} is ready.", []),
        ("Hello {{1}}, your order {{3}} is ready.", ["placeholder_gap"]),
        ("Hello {{2}}, ready.", ["placeholder_gap"]),
        ("Hello {{1}} {{2}} ready.", ["placeholder_adjacent"]),
        ("Hello {{1}}{{2}} ready.", ["placeholder_adjacent"]),
        ("{{1}} is your code.", ["placeholder_at_start"]),
        ("Your code is {{1}}", ["placeholder_at_end"]),
        ("Your code is {{1}}.", ["placeholder_at_end"]),
        ("Hello {{ 1 }}, ok.", ["placeholder_malformed"]),
        ("Hello {{name}}, ok.", ["placeholder_malformed"]),
        ("Hi {{1}}, again {{1}} ok.", ["placeholder_repeated"]),
        ("No placeholder", []),
    ],
)
def test_check_placeholders_body(body, expected):
    assert [i.code for i in template_rules.check_placeholders(body, "body", edges_allowed=False)] == expected


def test_check_texts():
    assert codes(template_rules.check_texts("none", False, "", False)) == [("body", "body_required")]
    assert codes(template_rules.check_texts("none", False, "a" * 1025, False)) == [("body", "too_long")]
    assert codes(template_rules.check_texts("text", "", "ok", False)) == [
        ("header_text", "header_text_required")
    ]
    assert codes(template_rules.check_texts("text", "h" * 61, "ok", False)) == [("header_text", "too_long")]
    assert codes(template_rules.check_texts("text", "Order {{1}} {{2}}", "ok", False)) == [
        ("header_text", "placeholder_too_many"),
        ("header_text", "placeholder_adjacent"),
    ]
    assert codes(template_rules.check_texts("text", "Order {{2}}", "ok", False)) == [
        ("header_text", "placeholder_gap")
    ]
    assert codes(template_rules.check_texts("text", "Order\nnow", "ok", False)) == [
        ("header_text", "header_newline")
    ]
    assert codes(template_rules.check_texts("none", False, "ok", "f" * 61)) == [("footer", "too_long")]
    assert codes(template_rules.check_texts("none", False, "ok", "Hi {{1}}")) == [
        ("footer", "footer_placeholder")
    ]
    assert template_rules.check_texts("text", "Order {{1}}", "Hi {{1}}, bye.", "Thanks") == []


@pytest.mark.parametrize(
    ("htype", "mimetype", "size", "expected"),
    [
        ("image", "image/png", 1000, []),
        ("image", "image/gif", 1000, ["media_type"]),
        ("image", "image/jpeg", 6 * 1024 * 1024, ["media_size"]),
        ("video", "video/mp4", 1000, []),
        ("video", "video/quicktime", 1000, ["media_type"]),
        ("document", "application/pdf", 1000, []),
        ("document", "image/png", 1000, ["media_type"]),
        ("text", "image/png", 1000, []),
    ],
)
def test_check_header_media(htype, mimetype, size, expected):
    assert [i.code for i in template_rules.check_header_media(htype, mimetype, size)] == expected


def _btn(kind, name="Btn", **kw):
    return {"button_type": kind, "name": name, **kw}


@pytest.mark.parametrize(
    ("buttons", "expected"),
    [
        ([_btn("quick_reply", "Yes"), _btn("quick_reply", "No")], []),
        ([_btn("quick_reply", f"Q{i}") for i in range(11)], ["buttons_too_many"]),
        (
            [_btn("url", f"U{i}", url_type="static", website_url="https://a.be") for i in range(3)],
            ["buttons_url_too_many"],
        ),
        (
            [_btn("phone_number", f"P{i}", call_number="+32470123456") for i in range(2)],
            ["buttons_phone_too_many"],
        ),
        (
            [
                _btn("quick_reply", "A"),
                _btn("url", "U", url_type="static", website_url="https://a.be"),
                _btn("quick_reply", "B"),
            ],
            ["buttons_quick_reply_grouped"],
        ),
        (
            [
                _btn("url", "U", url_type="static", website_url="https://a.be"),
                _btn("quick_reply", "A"),
                _btn("quick_reply", "B"),
            ],
            [],
        ),
        ([_btn("quick_reply", "")], ["button_text_required"]),
        ([_btn("quick_reply", "x" * 26)], ["button_text_too_long"]),
        (
            [_btn("quick_reply", "A"), _btn("quick_reply", "A")],
            ["button_text_duplicate"],
        ),
        ([_btn("phone_number", "Call", call_number="12345")], ["button_phone_invalid"]),
        ([_btn("phone_number", "Call", call_number="+32 470 12 34 56")], []),
        (
            [_btn("url", "U", url_type="static", website_url="ftp://a.be")],
            ["button_url_invalid"],
        ),
        (
            [
                _btn(
                    "url",
                    "U",
                    url_type="static",
                    website_url="https://a.be/" + "x" * 2000,
                )
            ],
            ["button_url_too_long"],
        ),
        (
            [_btn("url", "U", url_type="static", website_url="https://a.be/{{1}}")],
            ["button_url_static_placeholder"],
        ),
        (
            [_btn("url", "U", url_type="dynamic", website_url="https://a.be/{{1}}/x")],
            ["button_url_dynamic"],
        ),
        (
            [_btn("url", "U", url_type="dynamic", website_url="https://a.be/{{2}}")],
            ["button_url_dynamic"],
        ),
        ([_btn("url", "U", url_type="dynamic", website_url="https://a.be/o/")], []),
        (
            [_btn("url", "U", url_type="dynamic", website_url="https://a.be/o/{{1}}")],
            [],
        ),
    ],
)
def test_check_buttons(buttons, expected):
    assert [i.code for i in template_rules.check_buttons(buttons)] == expected


def test_normalize_phone():
    assert template_rules.normalize_phone("+32 470 12 34 56") == "+32470123456"
    assert template_rules.normalize_phone("0470123456") is None
    assert template_rules.normalize_phone(False) is None


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*bold*", "<b>bold</b>"),
        ("_it_ and ~st~", "<i>it</i> and <s>st</s>"),
        ("```code *x*```", "<code>code *x*</code>"),  # WhatsApp shows monospace as typed
        ("*a _b* c_", "<b>a _b</b> c_"),
        ("a <b>tag</b> & co", "a &lt;b&gt;tag&lt;/b&gt; &amp; co"),
        ("line1\nline2", "line1<br/>line2"),
        ("snake_case_name", "snake_case_name"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("*not\nbold*", "*not<br/>bold*"),
    ],
)
def test_markup_to_html(text, html):
    assert tt.markup_to_html(text) == html


def test_fill_placeholders():
    assert tt.fill_placeholders("Hi {{1}}, {{2}} {{3}}", {1: "Ana", 2: 3}) == "Hi Ana, 3 {{3}}"


def test_build_create_payload_all_components():
    payload = template_payloads.build_create_payload(
        "order_shipped",
        "en_US",
        "utility",
        "Hi {{1}}, order {{2}} shipped.",
        ["Ana", "S001"],
        header={"type": "text", "text": "Order {{1}}", "example": "S001"},
        footer="Thanks",
        buttons=[
            {
                "button_type": "url",
                "name": "Track",
                "url_type": "dynamic",
                "website_url": "https://x.be/o/",
                "example": "https://x.be/o/S001",
            },
            {
                "button_type": "url",
                "name": "Shop",
                "url_type": "tracked",
                "website_url": "https://x.be",
                "tracker_host": "https://odoo.be",
                "example": "https://odoo.be/r/abc",
            },
            {
                "button_type": "phone_number",
                "name": "Call",
                "call_number": "+32470123456",
            },
            {"button_type": "quick_reply", "name": "Stop"},
        ],
    )
    assert payload["name"] == "order_shipped"
    assert payload["category"] == "UTILITY"
    assert payload["parameter_format"] == "POSITIONAL"
    header, body, footer, buttons = payload["components"]
    assert header == {
        "type": "HEADER",
        "format": "TEXT",
        "text": "Order {{1}}",
        "example": {"header_text": ["S001"]},
    }
    assert body["example"] == {"body_text": [["Ana", "S001"]]}
    assert footer == {"type": "FOOTER", "text": "Thanks"}
    assert buttons["buttons"] == [
        {
            "type": "URL",
            "text": "Track",
            "url": "https://x.be/o/{{1}}",
            "example": ["https://x.be/o/S001"],
        },
        {
            "type": "URL",
            "text": "Shop",
            "url": "https://odoo.be/r/{{1}}",
            "example": ["https://odoo.be/r/abc"],
        },
        {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+32470123456"},
        {"type": "QUICK_REPLY", "text": "Stop"},
    ]


@pytest.mark.parametrize("htype", ["image", "video", "document"])
def test_build_create_payload_media(htype):
    payload = template_payloads.build_create_payload(
        "n", "en", "marketing", "Hello", [], header={"type": htype, "handle": "4::aW"}
    )
    assert payload["components"][0] == {
        "type": "HEADER",
        "format": htype.upper(),
        "example": {"header_handle": ["4::aW"]},
    }
    assert "example" not in payload["components"][1]


def test_build_update_payload_has_no_name():
    payload = template_payloads.build_create_payload(
        "n",
        "en",
        "marketing",
        "Hello",
        [],
        header={"type": "location"},
        include_name=False,
    )
    assert set(payload) == {"category", "components"}
    assert payload["components"][0] == {"type": "HEADER", "format": "LOCATION"}


def test_parse_meta_template():
    values = template_payloads.parse_meta_template(
        {
            "id": "123",
            "name": "promo",
            "language": "fr",
            "status": "APPROVED",
            "category": "MARKETING",
            "quality_score": {"score": "GREEN"},
            "components": [
                {"type": "HEADER", "format": "IMAGE"},
                {"type": "BODY", "text": "Hi {{1}}!"},
                {"type": "FOOTER", "text": "Bye"},
                {
                    "type": "BUTTONS",
                    "buttons": [
                        {"type": "URL", "text": "Go", "url": "https://a.be/{{1}}"},
                        {
                            "type": "PHONE_NUMBER",
                            "text": "Call",
                            "phone_number": "+32470123456",
                        },
                        {"type": "QUICK_REPLY", "text": "Stop"},
                    ],
                },
            ],
        }
    )
    assert values["meta_uid"] == "123"
    assert values["header_type"] == "image"
    assert values["meta_quality"] == "GREEN"
    assert values["buttons"][0] == {
        "name": "Go",
        "button_type": "url",
        "url_type": "dynamic",
        "website_url": "https://a.be/",
    }
    assert values["buttons"][1]["call_number"] == "+32470123456"
    assert values["buttons"][2] == {"name": "Stop", "button_type": "quick_reply"}


def test_status_map_covers_our_statuses():
    ours = {
        "draft",
        "pending",
        "approved",
        "rejected",
        "paused",
        "disabled",
        "in_appeal",
        "pending_deletion",
        "deleted",
        "limit_exceeded",
        "archived",
    }
    assert set(filter(None, tt.META_STATUS_TO_STATUS.values())) <= ours
