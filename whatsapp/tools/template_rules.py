"""Meta's rules for message templates, as pure checks (no ORM, unit-tested with pytest).

Everything Meta would reject is detected here and reported as :class:`Issue` tuples (field, code, params):
the ORM layer turns codes into translated messages naming the field, so the rules live in one place and
can be tested without a database. Callers import these names from ``template_tools``.
"""

import re
from collections import namedtuple

import phonenumbers

# ---------------------------------------------------------------------------------------------------------
# Constants (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates)
# ---------------------------------------------------------------------------------------------------------

NAME_MAX = 512
BODY_MAX = 1024
HEADER_TEXT_MAX = 60
FOOTER_MAX = 60
BUTTONS_MAX = 10
URL_BUTTONS_MAX = 2
PHONE_BUTTONS_MAX = 1
BUTTON_TEXT_MAX = 25
URL_MAX = 2000

#: header type -> (Meta format, allowed mimetypes, max bytes)
HEADER_MEDIA_RULES = {
    "image": ("IMAGE", ("image/jpeg", "image/png"), 5 * 1024 * 1024),
    "video": ("VIDEO", ("video/mp4", "video/3gpp"), 16 * 1024 * 1024),
    "document": (
        "DOCUMENT",
        (
            "application/pdf",
            "text/plain",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        100 * 1024 * 1024,
    ),
}
LOCATION_PARTS = ("name", "address", "latitude", "longitude")

PLACEHOLDER_RE = re.compile(r"\{\{(\d+)\}\}")
# anything that looks like a placeholder: "{{ 1 }}", "{{name}}", "{{}}"
LOOSE_PLACEHOLDER_RE = re.compile(r"\{\{[^{}]*\}\}")
ADJACENT_RE = re.compile(r"\{\{\d+\}\}\s*\{\{\d+\}\}")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

Issue = namedtuple("Issue", ["field", "code", "params"])


def _issue(field, code, **params):
    return Issue(field, code, params)


# ---------------------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------------------


def check_name(name):
    if not name:
        return [_issue("template_name", "name_required")]
    if len(name) > NAME_MAX:
        return [_issue("template_name", "name_too_long", max=NAME_MAX)]
    if not NAME_RE.match(name):
        return [_issue("template_name", "name_format", name=name)]
    return []


# ---------------------------------------------------------------------------------------------------------
# Placeholders
# ---------------------------------------------------------------------------------------------------------


def parse_placeholders(text):
    """Placeholder numbers in order of appearance (``"Hi {{1}}, {{2}}"`` -> ``[1, 2]``)."""
    return [int(n) for n in PLACEHOLDER_RE.findall(text or "")]


def check_placeholders(text, field, max_count=None, edges_allowed=True):
    """Numbering from 1 without gaps nor repetition, well-formed, not adjacent, not at the edges."""
    issues = []
    text = text or ""
    malformed = [m for m in LOOSE_PLACEHOLDER_RE.findall(text) if not PLACEHOLDER_RE.fullmatch(m)]
    if malformed:
        issues.append(_issue(field, "placeholder_malformed", placeholder=malformed[0]))
    numbers = parse_placeholders(text)
    if not numbers:
        return issues
    if max_count is not None and len(numbers) > max_count:
        issues.append(_issue(field, "placeholder_too_many", max=max_count))
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        issues.append(_issue(field, "placeholder_repeated", placeholder=f"{{{{{duplicates[0]}}}}}"))
    expected = list(range(1, len(set(numbers)) + 1))
    if sorted(set(numbers)) != expected:
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        issues.append(
            _issue(
                field,
                "placeholder_gap",
                placeholder=f"{{{{{missing[0] if missing else min(numbers)}}}}}",
                found=", ".join(f"{{{{{n}}}}}" for n in sorted(set(numbers))),
            )
        )
    if ADJACENT_RE.search(text):
        issues.append(
            _issue(
                field,
                "placeholder_adjacent",
                placeholder=ADJACENT_RE.search(text).group(0),
            )
        )
    if not edges_allowed:
        stripped = text.strip()
        if PLACEHOLDER_RE.match(stripped):
            issues.append(_issue(field, "placeholder_at_start"))
        if re.search(r"\{\{\d+\}\}[\s.!?]*$", stripped):
            issues.append(_issue(field, "placeholder_at_end"))
    return issues


def check_texts(header_type, header_text, body, footer):
    """All the text rules of a template (header text, body, footer)."""
    issues = []
    if not (body or "").strip():
        issues.append(_issue("body", "body_required"))
    elif len(body) > BODY_MAX:
        issues.append(_issue("body", "too_long", max=BODY_MAX, length=len(body)))
    issues += check_placeholders(body, "body", edges_allowed=False)
    if header_type == "text":
        if not (header_text or "").strip():
            issues.append(_issue("header_text", "header_text_required"))
        elif len(header_text) > HEADER_TEXT_MAX:
            issues.append(
                _issue(
                    "header_text",
                    "too_long",
                    max=HEADER_TEXT_MAX,
                    length=len(header_text),
                )
            )
        if "\n" in (header_text or ""):
            issues.append(_issue("header_text", "header_newline"))
        issues += check_placeholders(header_text, "header_text", max_count=1)
    if footer:
        if len(footer) > FOOTER_MAX:
            issues.append(_issue("footer", "too_long", max=FOOTER_MAX, length=len(footer)))
        if LOOSE_PLACEHOLDER_RE.search(footer):
            issues.append(_issue("footer", "footer_placeholder"))
    return issues


def check_header_media(header_type, mimetype, size):
    """Media type and size of a header sample file (Meta's supported media types and sizes)."""
    rule = HEADER_MEDIA_RULES.get(header_type)
    if not rule:
        return []
    _fmt, mimetypes, max_size = rule
    issues = []
    if mimetype not in mimetypes:
        issues.append(
            _issue(
                "header_attachment_ids",
                "media_type",
                mimetype=mimetype,
                allowed=", ".join(mimetypes),
            )
        )
    if size > max_size:
        issues.append(_issue("header_attachment_ids", "media_size", max_mb=max_size // (1024 * 1024)))
    return issues


# ---------------------------------------------------------------------------------------------------------
# Buttons
# ---------------------------------------------------------------------------------------------------------


def normalize_phone(number):
    """E.164 form of an international number (``+32 470 12 34 56`` -> ``+32470123456``) or None."""
    try:
        parsed = phonenumbers.parse(number or "", None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_buttons(buttons):
    """Meta's button rules. ``buttons`` is an ordered list of dicts with keys ``name`` (text),
    ``button_type`` (quick_reply|url|phone_number), ``url_type``, ``website_url``, ``call_number``."""
    issues = []
    if len(buttons) > BUTTONS_MAX:
        issues.append(_issue("button_ids", "buttons_too_many", max=BUTTONS_MAX))
    kinds = [b["button_type"] for b in buttons]
    if kinds.count("url") > URL_BUTTONS_MAX:
        issues.append(_issue("button_ids", "buttons_url_too_many", max=URL_BUTTONS_MAX))
    if kinds.count("phone_number") > PHONE_BUTTONS_MAX:
        issues.append(_issue("button_ids", "buttons_phone_too_many", max=PHONE_BUTTONS_MAX))
    # quick replies grouped together: the sequence of kinds, with CTAs folded, has one quick-reply block
    blocks = [
        k == "quick_reply"
        for i, k in enumerate(kinds)
        if i == 0 or (k == "quick_reply") != (kinds[i - 1] == "quick_reply")
    ]
    if blocks.count(True) > 1:
        issues.append(_issue("button_ids", "buttons_quick_reply_grouped"))
    seen = set()
    for button in buttons:
        text = button.get("name") or ""
        if not text.strip():
            issues.append(_issue("button_ids", "button_text_required"))
        elif len(text) > BUTTON_TEXT_MAX:
            issues.append(_issue("button_ids", "button_text_too_long", name=text, max=BUTTON_TEXT_MAX))
        if text in seen:
            issues.append(_issue("button_ids", "button_text_duplicate", name=text))
        seen.add(text)
        if button["button_type"] == "phone_number" and not normalize_phone(button.get("call_number")):
            issues.append(
                _issue(
                    "button_ids",
                    "button_phone_invalid",
                    name=text,
                    number=button.get("call_number") or "",
                )
            )
        if button["button_type"] == "url":
            issues += _check_url_button(button, text)
    return issues


def _check_url_button(button, text):
    url = button.get("website_url") or ""
    if not re.match(r"^https?://[^\s/]+", url):
        return [_issue("button_ids", "button_url_invalid", name=text, url=url)]
    if len(url) > URL_MAX:
        return [_issue("button_ids", "button_url_too_long", name=text, max=URL_MAX)]
    numbers = parse_placeholders(url)
    if button.get("url_type") == "dynamic":
        if numbers and (numbers != [1] or not url.endswith("{{1}}")):
            return [_issue("button_ids", "button_url_dynamic", name=text)]
    elif LOOSE_PLACEHOLDER_RE.search(url):
        return [_issue("button_ids", "button_url_static_placeholder", name=text)]
    return []
