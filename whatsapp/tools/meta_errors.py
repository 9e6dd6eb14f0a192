"""Meta error codes -> failure categories: the one table of the addon.

Source: Meta's error codes, https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes.
Classification is keyed on Meta's ``code`` (and optionally ``error_subcode``), never on the
title or the HTTP status: Meta answers most errors with HTTP 400 whatever the cause. The HTTP
status is only a fallback for codes missing from the table (or bodies that carry no code).

This module imports nothing from Odoo so it can be used (and tested) without a database.
"""


def _lt(hint):
    """A hint, marked for Odoo's term extractor (it reads ``_lt("...")``): translated where it is shown
    (:func:`reason`'s ``translate``)."""
    return hint


#: Failure categories a caller may branch on.
CATEGORIES = (
    "auth",  # token invalid / expired: an admin must replace it
    "permission",  # token or app lacks a permission / asset
    "account",  # business account, number or billing problem
    "rate_limit",  # too many calls or messages: back off
    "transient",  # Meta or network hiccup: retry with backoff
    "window",  # 24 h customer-service window closed: send a template instead
    "recipient",  # this recipient cannot receive this message
    "template",  # template missing, paused, disabled or badly filled
    "opt_out",  # the user stopped (marketing) messages
    "param",  # invalid request: fix the payload
    "media",  # media upload / download problem
    "unknown",
)

#: Retry classes: "now" = retry with backoff, "later" = schedule minutes-hours later, "never".
RETRY_CLASSES = ("now", "later", "never")

_PERMISSION_NOT_GRANTED = (
    "permission",
    "never",
    _lt("An API permission was not granted or was removed: check the app's permissions."),
)

#: ``code`` or ``(code, subcode)`` -> ``(category, retry, short English hint)``; the hints are translated where
#: they are shown.
#: A ``(code, subcode)`` entry wins over the plain ``code`` entry.
META_ERRORS = {
    # -- authentication, permissions, account ------------------------------------------------
    0: ("auth", "never", _lt("The access token is invalid, expired or revoked: generate a new one.")),
    190: ("auth", "never", _lt("The access token has expired: use a permanent System User token.")),
    (190, 463): ("auth", "never", _lt("The access token has expired: use a permanent System User token.")),
    (190, 460): (
        "auth",
        "never",
        _lt("The access token was invalidated by a password change: make a new one."),
    ),
    3: ("permission", "never", _lt("The app lacks the capability for this call: check its permissions.")),
    10: ("permission", "never", _lt("Permission denied: the token lacks a permission or the asset.")),
    **{code: _PERMISSION_NOT_GRANTED for code in range(200, 300)},
    131005: ("permission", "never", _lt("Access denied: check the token's permissions on this account.")),
    368: (
        "account",
        "never",
        _lt("Account temporarily blocked for policy violations: see WhatsApp Manager."),
    ),
    131031: ("account", "never", _lt("The business account is locked or restricted (or the PIN is wrong).")),
    130497: ("account", "never", _lt("The business cannot message users in this country.")),
    131037: ("account", "never", _lt("The display name of this number is not approved yet.")),
    131042: ("account", "never", _lt("Payment issue on the business account: fix the billing settings.")),
    131045: ("account", "never", _lt("Phone number registration error: register the number again.")),
    133000: (
        "account",
        "never",
        _lt("A previous deregistration of this number did not complete: try again."),
    ),
    133005: ("account", "never", _lt("The two-step verification PIN does not match.")),
    133006: ("account", "never", _lt("The phone number must be verified again before registration.")),
    133008: ("account", "later", _lt("Too many two-step verification PIN guesses: wait before retrying.")),
    133009: (
        "account",
        "later",
        _lt("The two-step verification PIN was entered too fast: wait before retrying."),
    ),
    133010: ("account", "never", _lt("The phone number is not registered on the Cloud API: register it.")),
    133016: ("rate_limit", "later", _lt("Too many registration attempts: wait out the 72 h window.")),
    # -- rate limits ---------------------------------------------------------------------------
    4: ("rate_limit", "later", _lt("Too many API calls from this app: back off and retry later.")),
    80007: ("rate_limit", "later", _lt("The WhatsApp Business Account reached its rate limit: retry later.")),
    80008: ("rate_limit", "later", _lt("Too many calls to this WhatsApp Business Account: retry later.")),
    130429: ("rate_limit", "now", _lt("Throughput limit of the number reached: slow down and retry.")),
    131048: (
        "rate_limit",
        "later",
        _lt("Spam rate limit hit: stop bulk sends and check the quality rating."),
    ),
    131056: ("rate_limit", "now", _lt("Too many messages to this recipient: wait at least 6 seconds.")),
    # -- transient -----------------------------------------------------------------------------
    1: ("transient", "now", _lt("Unknown error at Meta: retry shortly.")),
    2: ("transient", "now", _lt("Meta's service is temporarily unavailable: retry shortly.")),
    131000: ("transient", "now", _lt("Something went wrong at Meta: retry a few times, then give up.")),
    131016: ("transient", "now", _lt("Meta's service is overloaded: retry shortly.")),
    131057: ("transient", "now", _lt("The account is in maintenance mode: retry in a few minutes.")),
    133004: ("transient", "now", _lt("Meta's server is temporarily unavailable: retry shortly.")),
    # -- conversation window -------------------------------------------------------------------
    131047: (
        "window",
        "never",
        _lt("More than 24 hours since the customer's last message: send a template."),
    ),
    470: ("window", "never", _lt("More than 24 hours since the customer's last message: send a template.")),
    # -- recipient -----------------------------------------------------------------------------
    131021: ("recipient", "never", _lt("The recipient is the sender's own number.")),
    131026: ("recipient", "never", _lt("Message undeliverable: the number may not be on WhatsApp.")),
    131030: ("recipient", "never", _lt("The recipient is not in the allowed list of this test number.")),
    131049: (
        "recipient",
        "later",
        _lt("Not delivered to keep engagement healthy: retry after 24 h or more."),
    ),
    131062: (
        "recipient",
        "never",
        _lt("This message cannot go to a username (BSUID): use the phone number."),
    ),
    137000: ("recipient", "never", _lt("The recipient's identity changed: the message was not delivered.")),
    # -- opt-out -------------------------------------------------------------------------------
    131050: ("opt_out", "never", _lt("The user stopped receiving marketing messages from this business.")),
    # -- templates -----------------------------------------------------------------------------
    132000: ("template", "never", _lt("The number of template parameters does not match the template.")),
    132001: ("template", "never", _lt("The template does not exist in this language or is not approved.")),
    132005: ("template", "never", _lt("The filled-in template text is too long: shorten the parameters.")),
    132007: ("template", "never", _lt("The template content violates a format or character policy.")),
    132012: ("template", "never", _lt("A template parameter has the wrong format.")),
    132015: ("template", "later", _lt("The template is paused for low quality: retry once it is unpaused.")),
    132016: ("template", "never", _lt("The template is disabled: create a new one.")),
    132068: ("template", "never", _lt("The flow is blocked.")),
    132069: ("template", "later", _lt("The flow is throttled: retry later.")),
    # -- parameters ----------------------------------------------------------------------------
    100: ("param", "never", _lt("Invalid parameter: fix the request.")),
    131008: ("param", "never", _lt("A required parameter is missing.")),
    131009: ("param", "never", _lt("A parameter value is not valid.")),
    131051: ("param", "never", _lt("Unsupported message type.")),
    # -- media ---------------------------------------------------------------------------------
    131052: ("media", "never", _lt("The media could not be downloaded: ask the user to send it again.")),
    131053: ("media", "never", _lt("The media could not be uploaded: check its type, size and link.")),
}


#: Meta codes that ask for a minimum wait before the retry (seconds), whatever the backoff says.
MIN_RETRY_SECONDS = {
    131056: 6,  # pair rate limit: wait at least 6 s before messaging *that* recipient again
}


def min_retry_seconds(code):
    """Shortest delay Meta asks before retrying after ``code`` (0 when it says nothing)."""
    return MIN_RETRY_SECONDS.get(as_int(code), 0)


def lookup(code, subcode=None):
    """Return the table row ``(category, retry, hint)`` for a Meta code, or ``None``."""
    code = as_int(code)
    if code is None:
        return None
    subcode = as_int(subcode)
    if subcode is not None and (code, subcode) in META_ERRORS:
        return META_ERRORS[(code, subcode)]
    return META_ERRORS.get(code)


def classify(code, http_status=None, subcode=None):
    """Map a Meta error to ``(category, retry)``.

    :param code: Meta's ``error.code`` (int or numeric string), or ``None`` when the body had none
    :param http_status: HTTP status of the response, used only when the code is not in the table
    :param subcode: Meta's ``error.error_subcode`` (optional refinement)
    :return: ``(category, retry)``, category in :data:`CATEGORIES`, retry in :data:`RETRY_CLASSES`
    """
    row = lookup(code, subcode)
    if row:
        return row[0], row[1]
    status = as_int(http_status)
    if status == 429:
        return "rate_limit", "now"
    if status is not None and status >= 500:
        return "transient", "now"
    if status == 401:
        return "auth", "never"
    if status == 403:
        return "permission", "never"
    return "unknown", "never"


def hint(code, subcode=None, translate=None):
    """Short hint on what to do for a Meta code ("" when unknown), English or through ``translate``
    (``hint -> text`` in the reader's language: ``env._``)."""
    row = lookup(code, subcode)
    if not row:
        return ""
    return translate(row[2]) if translate else row[2]


def reason(code, message, subcode=None, translate=None):
    """What a person reads for a failure: ``(code) Meta's message``, then our hint on what to do, unless the
    hint merely repeats Meta's message (Meta's 131026 says "Message undeliverable", our hint "Message
    undeliverable: the number may not be on WhatsApp.": said once).

    :param translate: ``hint -> text`` in the reader's language (``env._``); Meta's message stays as Meta wrote it
    """
    message = (message or "").strip()
    text = f"({code}) {message}" if code else message
    extra = hint(code, subcode)
    if not extra or extra in text:
        return text
    repeats = message and extra.lower().startswith(message.rstrip(".").lower())
    extra = hint(code, subcode, translate)
    if repeats:
        return f"({code}) {extra}" if code else extra
    return f"{text}\n{extra}"


def as_int(value):
    """``int(value)``, or None for a missing or non-numeric value (Meta's codes come as ints or strings)."""
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None
