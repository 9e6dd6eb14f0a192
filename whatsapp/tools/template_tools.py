"""Pure helpers for WhatsApp message templates (no ORM, unit-tested with pytest).

Meta's words (statuses, qualities, categories, languages), template names and languages, and the rendering
of WhatsApp markup live here; the content checks in ``template_rules.py`` (reported as ``Issue`` tuples) and
Meta's template JSON in ``template_payloads.py``.
"""

import html
import re
import unicodedata

from .template_rules import NAME_MAX, PLACEHOLDER_RE

# ---------------------------------------------------------------------------------------------------------
# Constants (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates)
# ---------------------------------------------------------------------------------------------------------

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

#: A minimal valid one-page PDF, used as the approval sample of report headers.
SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


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


def lang_rank(meta_code, odoo_lang):
    """How well a template language fits an Odoo language: 0 exact, 1 same language, None otherwise.

    ``("fr", "fr_BE")`` -> 1 (Meta has ``fr_BE``), ``("fr", "fr_FR")`` -> 0 (Meta's code for fr_FR is ``fr``),
    ``("en_US", "fr_FR")`` -> None.
    """
    if not meta_code or not odoo_lang:
        return None
    if meta_code == meta_lang_from_odoo(odoo_lang):
        return 0
    if meta_code.split("_")[0] == odoo_lang.split("_")[0]:
        return 1
    return None


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------


def fill_placeholders(text, values):
    """Replace ``{{n}}`` by ``values[n]`` (missing values leave the placeholder visible)."""
    return PLACEHOLDER_RE.sub(lambda m: str(values.get(int(m.group(1)), m.group(0))), text or "")


#: WhatsApp's formatting: (pattern, tag); monospace first, its content is shown as typed
_MARKUP = [
    (re.compile(r"```(.+?)```", re.DOTALL), "code"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"), "s"),
]


def _format(text):
    """Escape ``text`` and format its earliest styled span, then the rest; inside a span, recursively:
    the tags always nest (``*a _b* c_`` gives ``<b>a _b</b> c_``)."""
    out, pos = [], 0
    while True:
        found = None
        for pattern, tag in _MARKUP:
            match = pattern.search(text, pos)
            if match and (found is None or match.start() < found[0].start()):
                found = (match, tag)
        if not found:
            out.append(html.escape(text[pos:], quote=False))
            return "".join(out)
        match, tag = found
        inner = match.group(1)
        inner = html.escape(inner, quote=False) if tag == "code" else _format(inner)
        out.append(f"{html.escape(text[pos : match.start()], quote=False)}<{tag}>{inner}</{tag}>")
        pos = match.end()


def markup_to_html(text):
    """WhatsApp markup to safe, well-formed HTML: *bold* _italic_ ~strike~ ```mono``` (shown as typed
    inside), newlines kept."""
    return _format(text or "").replace("\n", "<br/>")
