"""Pure helpers for WhatsApp message templates (no ORM, unit-tested with pytest).

Everything Meta would reject is detected here and reported as :class:`Issue` tuples (field, code, params):
the ORM layer turns codes into translated messages naming the field, so the rules live in one place and
can be tested without a database.
"""

import html
import re
import unicodedata
from collections import namedtuple

import phonenumbers

# ---------------------------------------------------------------------------------------------------------
# Constants (Meta facts, cloud-api-facts.md §4.2, §4.3, §7.5)
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

#: Meta template status (field ``status`` of the API / ``event`` of the status webhook) -> ours.
#: ``None`` = an event that does not change the status (the template stays as it is, the event is posted).
META_STATUS_TO_STATUS = {
    "APPROVED": "approved",
    "PENDING": "pending",
    "IN_REVIEW": "pending",
    "REJECTED": "rejected",
    "PAUSED": "paused",
    "DISABLED": "disabled",
    "IN_APPEAL": "in_appeal",
    "PENDING_DELETION": "pending_deletion",
    "DELETED": "deleted",
    "LIMIT_EXCEEDED": "limit_exceeded",
    "ARCHIVED": "archived",
    "UNARCHIVED": "approved",
    "REINSTATED": "approved",
    "FLAGGED": None,
    "LOCKED": None,
    "UNLOCKED": None,
}
META_QUALITY_TO_QUALITY = {
    "UNKNOWN": "unknown",
    "GREEN": "green",
    "YELLOW": "yellow",
    "RED": "red",
}
META_CATEGORY_TO_CATEGORY = {
    "MARKETING": "marketing",
    "UTILITY": "utility",
    "AUTHENTICATION": "authentication",
}

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

#: Meta's template language codes (a subset of ~80 codes; they do not map 1:1 to Odoo's res.lang codes).
META_LANGUAGES = [
    ("af", "Afrikaans"), ("sq", "Albanian"), ("ar", "Arabic"), ("ar_EG", "Arabic (EGY)"),
    ("ar_AE", "Arabic (UAE)"), ("ar_SA", "Arabic (SAU)"), ("az", "Azerbaijani"), ("bn", "Bengali"),
    ("bg", "Bulgarian"), ("ca", "Catalan"), ("zh_CN", "Chinese (CHN)"), ("zh_HK", "Chinese (HKG)"),
    ("zh_TW", "Chinese (TAI)"), ("hr", "Croatian"), ("cs", "Czech"), ("da", "Danish"), ("nl", "Dutch"),
    ("nl_BE", "Dutch (BEL)"), ("en", "English"), ("en_GB", "English (UK)"), ("en_US", "English (US)"),
    ("en_AU", "English (AUS)"), ("en_CA", "English (CAN)"), ("en_IN", "English (IND)"),
    ("en_IE", "English (IRL)"), ("en_ZA", "English (ZAF)"), ("et", "Estonian"), ("fil", "Filipino"),
    ("fi", "Finnish"), ("fr", "French"), ("fr_BE", "French (BEL)"), ("fr_CA", "French (CAN)"),
    ("fr_CH", "French (CHE)"), ("ka", "Georgian"), ("de", "German"), ("de_AT", "German (AUT)"),
    ("de_CH", "German (CHE)"), ("el", "Greek"), ("gu", "Gujarati"), ("ha", "Hausa"), ("he", "Hebrew"),
    ("hi", "Hindi"), ("hu", "Hungarian"), ("id", "Indonesian"), ("ga", "Irish"), ("it", "Italian"),
    ("ja", "Japanese"), ("kn", "Kannada"), ("kk", "Kazakh"), ("rw_RW", "Kinyarwanda"), ("ko", "Korean"),
    ("ky_KG", "Kyrgyz (Kyrgyzstan)"), ("lo", "Lao"), ("lv", "Latvian"), ("lt", "Lithuanian"),
    ("mk", "Macedonian"), ("ms", "Malay"), ("ml", "Malayalam"), ("mr", "Marathi"),
    ("nb", "Norwegian"), ("fa", "Persian"), ("pl", "Polish"), ("pt_BR", "Portuguese (BR)"),
    ("pt_PT", "Portuguese (POR)"), ("pa", "Punjabi"), ("ro", "Romanian"), ("ru", "Russian"),
    ("sr", "Serbian"), ("sk", "Slovak"), ("sl", "Slovenian"), ("es", "Spanish"),
    ("es_AR", "Spanish (ARG)"), ("es_CL", "Spanish (CHL)"), ("es_CO", "Spanish (COL)"),
    ("es_ES", "Spanish (SPA)"), ("es_MX", "Spanish (MEX)"), ("es_PE", "Spanish (PER)"),
    ("sw", "Swahili"), ("sv", "Swedish"), ("ta", "Tamil"), ("te", "Telugu"), ("th", "Thai"),
    ("tr", "Turkish"), ("uk", "Ukrainian"), ("ur", "Urdu"), ("uz", "Uzbek"), ("vi", "Vietnamese"),
    ("zu", "Zulu"),
]  # fmt: skip
META_LANGUAGE_CODES = frozenset(code for code, _label in META_LANGUAGES)

PLACEHOLDER_RE = re.compile(r"\{\{(\d+)\}\}")
# anything that looks like a placeholder: "{{ 1 }}", "{{name}}", "{{}}"
LOOSE_PLACEHOLDER_RE = re.compile(r"\{\{[^{}]*\}\}")
ADJACENT_RE = re.compile(r"\{\{\d+\}\}\s*\{\{\d+\}\}")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

#: A minimal valid one-page PDF, used as the approval sample of report headers.
SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

Issue = namedtuple("Issue", ["field", "code", "params"])


def _issue(field, code, **params):
    return Issue(field, code, params)


# ---------------------------------------------------------------------------------------------------------
# Names and languages
# ---------------------------------------------------------------------------------------------------------


def meta_name_slug(name):
    """Derive a Meta template name from a display name: lowercase a-z, 0-9 and ``_``, starting with a
    letter, at most 512 characters. Accents are folded (``"Réduction été"`` -> ``"reduction_ete"``)."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    text = re.sub(r"^[^a-z]+", "", text)  # must start with a letter
    return text[:NAME_MAX].rstrip("_")


def meta_lang_from_odoo(lang):
    """Best Meta language code for an Odoo language code (``fr_FR`` -> ``fr``, ``pt_BR`` -> ``pt_BR``)."""
    if not lang:
        return "en_US"
    if lang in META_LANGUAGE_CODES:
        return lang
    short = lang.split("_")[0]
    if short in META_LANGUAGE_CODES:
        return short
    return "en_US"


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
    """Media type and size of a header sample file (Meta: §7.5)."""
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


def button_meta_url(button):
    """URL registered on Meta for a URL button dict (static: as is; dynamic and tracked: ends in ``{{1}}``)."""
    url = button.get("website_url") or ""
    if button.get("url_type") == "tracked":
        return (button.get("tracker_host") or "").rstrip("/") + "/r/{{1}}"
    if button.get("url_type") == "dynamic" and "{{1}}" not in url:
        return url + "{{1}}"
    return url


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


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------


def fill_placeholders(text, values):
    """Replace ``{{n}}`` by ``values[n]`` (missing values leave the placeholder visible)."""
    return PLACEHOLDER_RE.sub(lambda m: str(values.get(int(m.group(1)), m.group(0))), text or "")


_MARKUP = [
    (re.compile(r"```(.+?)```", re.DOTALL), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"<b>\1</b>"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"<i>\1</i>"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"), r"<s>\1</s>"),
]


def markup_to_html(text):
    """WhatsApp markup to safe HTML: *bold* _italic_ ~strike~ ```mono```, newlines kept."""
    result = html.escape(text or "", quote=False)
    for pattern, repl in _MARKUP:
        result = pattern.sub(repl, result)
    return result.replace("\n", "<br/>")


def markup_to_text(text):
    """Plain text of WhatsApp markup (for the chatter)."""
    return text or ""


# ---------------------------------------------------------------------------------------------------------
# Meta payloads
# ---------------------------------------------------------------------------------------------------------


def build_create_payload(
    name,
    language,
    category,
    body,
    body_examples,
    header=None,
    footer=None,
    buttons=(),
    include_name=True,
):
    """Body of ``POST /{WABA}/message_templates`` (or of an update when ``include_name`` is False).

    :param header: None or a dict ``{"type": "text", "text": ..., "example": str|None}``,
        ``{"type": "image"|"video"|"document", "handle": str}`` or ``{"type": "location"}``
    :param body_examples: list of sample values, in placeholder order
    :param buttons: ordered dicts as for :func:`check_buttons`, plus ``example`` for dynamic/tracked URLs
    """
    components = []
    if header:
        if header["type"] == "text":
            comp = {"type": "HEADER", "format": "TEXT", "text": header["text"]}
            if header.get("example") is not None:
                comp["example"] = {"header_text": [header["example"]]}
            components.append(comp)
        elif header["type"] == "location":
            components.append({"type": "HEADER", "format": "LOCATION"})
        else:
            components.append(
                {
                    "type": "HEADER",
                    "format": HEADER_MEDIA_RULES[header["type"]][0],
                    "example": {"header_handle": [header["handle"]]},
                }
            )
    body_comp = {"type": "BODY", "text": body}
    if body_examples:
        body_comp["example"] = {"body_text": [list(body_examples)]}
    components.append(body_comp)
    if footer:
        components.append({"type": "FOOTER", "text": footer})
    if buttons:
        meta_buttons = []
        for button in buttons:
            if button["button_type"] == "quick_reply":
                meta_buttons.append({"type": "QUICK_REPLY", "text": button["name"]})
            elif button["button_type"] == "phone_number":
                meta_buttons.append(
                    {
                        "type": "PHONE_NUMBER",
                        "text": button["name"],
                        "phone_number": button["call_number"],
                    }
                )
            else:
                meta_button = {
                    "type": "URL",
                    "text": button["name"],
                    "url": button_meta_url(button),
                }
                if button.get("url_type") in ("dynamic", "tracked"):
                    meta_button["example"] = [button["example"]]
                meta_buttons.append(meta_button)
        components.append({"type": "BUTTONS", "buttons": meta_buttons})
    payload = {"category": category.upper(), "components": components}
    if include_name:
        payload = {
            "name": name,
            "language": language,
            "parameter_format": "POSITIONAL",
            **payload,
        }
    return payload


def parse_meta_template(data):
    """Plain values of a template as returned by Meta's list/get endpoints (for sync)."""
    values = {
        "meta_uid": str(data.get("id") or ""),
        "template_name": data.get("name") or "",
        "lang_code": data.get("language") or "en_US",
        "meta_status": (data.get("status") or "").upper(),
        "meta_category": (data.get("category") or "").upper(),
        "meta_quality": ((data.get("quality_score") or {}).get("score") or "UNKNOWN").upper(),
        "rejected_reason": data.get("rejected_reason") or "",
        "header_type": "none",
        "header_text": False,
        "body": "",
        "footer": False,
        "buttons": [],
    }
    for comp in data.get("components") or []:
        kind = (comp.get("type") or "").upper()
        if kind == "HEADER":
            fmt = (comp.get("format") or "TEXT").upper()
            values["header_type"] = {
                "IMAGE": "image",
                "VIDEO": "video",
                "DOCUMENT": "document",
            }.get(fmt, "location" if fmt == "LOCATION" else "text")
            if fmt == "TEXT":
                values["header_text"] = comp.get("text") or ""
        elif kind == "BODY":
            values["body"] = comp.get("text") or ""
        elif kind == "FOOTER":
            values["footer"] = comp.get("text") or ""
        elif kind == "BUTTONS":
            values["buttons"] = [parse_meta_button(b) for b in comp.get("buttons") or []]
    return values


def parse_meta_button(button):
    kind = (button.get("type") or "").upper()
    values = {"name": button.get("text") or "", "button_type": "quick_reply"}
    if kind == "URL":
        url = button.get("url") or ""
        values.update(
            button_type="url",
            url_type="dynamic" if "{{1}}" in url else "static",
            website_url=url.replace("{{1}}", ""),
        )
    elif kind == "PHONE_NUMBER":
        values.update(button_type="phone_number", call_number=button.get("phone_number") or "")
    return values
