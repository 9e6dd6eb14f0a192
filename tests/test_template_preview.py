"""The template preview is well-formed HTML for every header type and every WhatsApp formatting."""

from html.parser import HTMLParser

import pytest
from _whatsapp_tools import template_preview as tp
from _whatsapp_tools import template_tools as tt

VOID = {"br", "img", "hr", "input", "meta", "link"}


class TagChecker(HTMLParser):
    """Fails on a tag closed out of order, never closed, or self-closed when it is not void."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if tag not in VOID:
            self.errors.append(f"<{tag}/> is not closed in HTML")

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check(html):
    parser = TagChecker()
    parser.feed(str(html))
    parser.close()
    assert not parser.errors, parser.errors
    assert not parser.stack, f"never closed: {parser.stack}"
    return "".join(parser.text)


FORMATTED = "Hi *Ana*, _your_ ~old~ code is ```X *1* _2_``` and *bold _both_*. <script>&"

HEADERS = [
    ("text", {"text": "A gift for *Ana*"}),
    ("image", {"label": "Image"}),
    ("image", {"label": "Photo", "image_url": "/web/image/ir.attachment/1/datas"}),
    ("video", {"label": "Video"}),
    ("document", {"label": "Quotation - S00042.pdf", "detail": "PDF"}),
    ("location", {"label": "Eiffel Tower", "detail": "Champ de Mars, Paris"}),
    ("none", {}),
    (False, {}),
]


@pytest.mark.parametrize(("header_type", "kwargs"), HEADERS)
def test_preview_well_formed_for_every_header(header_type, kwargs):
    header = tp.header_html(header_type, **kwargs)
    html = tp.preview_html(
        header,
        FORMATTED,
        footer="Reply STOP <to> unsubscribe",
        buttons=[("url", "Visit"), ("phone_number", "Call"), ("quick_reply", "Stop"), ("copy_code", "Copy")],
        time_label="12:00",
    )
    text = check(html)
    assert "<script>" not in str(html)
    assert "<script>&" in text  # escaped, shown as typed
    assert "Reply STOP <to> unsubscribe" in text
    if "image_url" in kwargs:
        assert f'src="{kwargs["image_url"]}"' in str(html)
    else:
        for label in kwargs.get("label", ""), kwargs.get("detail", ""):
            assert label in text
    if header_type in ("image", "video", "document", "location") and "image_url" not in kwargs:
        assert tp.HEADER_ICONS[header_type] in str(html)


@pytest.mark.parametrize(
    "body",
    [
        "*bold*",
        "_italic_",
        "~strike~",
        "```mono *not bold*```",
        "*bold _italic_ ~strike~*",
        "*a _b* c_",  # overlapping: closes in order all the same
        "_a *b_ c*",
        "```unclosed",
        "* lonely star",
        "line1\nline2\n\n*x*",
        "",
    ],
)
def test_formatting_well_formed(body):
    check(tp.preview_html(body=body))
    check(tt.markup_to_html(body))


def test_formatting_tags():
    html = str(tp.preview_html(body="*b* _i_ ~s~ ```m```"))
    assert "<b>b</b> <i>i</i> <s>s</s> <code>m</code>" in html


def test_buttons_below_the_bubble():
    html = str(tp.preview_html(body="x", buttons=[("url", "Visit our shop")]))
    bubble_end = html.index('<div class="o_whatsapp_preview_buttons">')
    assert html.index("Visit our shop") > bubble_end
    assert "fa-external-link" in html
