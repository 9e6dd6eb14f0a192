"""Errors of the Graph API client: the one domain exception, and the masking of the access token.

A :class:`WhatsAppApiError` carries Meta's code, subcode, message and trace id, and its retry class from
``meta_errors``' table. Callers import it from ``graph_api``.
"""

from .meta_errors import as_int, classify


class WhatsAppApiError(Exception):
    """A failed Graph API call (or a Meta error received in a webhook).

    Attributes: ``http_status`` (``None`` for network errors), ``code``, ``subcode``, ``title``,
    ``message``, ``fbtrace_id``, ``details`` (``error_data.details``), ``category`` (see
    ``meta_errors.CATEGORIES``), ``retry`` (``"now"``, ``"later"``, ``"never"``), ``retryable``
    (bool) and ``error_type`` (e.g. ``OAuthException``). None of them ever contains the access token. The
    advice for a code is ``meta_errors.hint``, translated where it is shown.
    """

    def __init__(
        self,
        message,
        *,
        http_status=None,
        code=None,
        subcode=None,
        title=None,
        fbtrace_id=None,
        details=None,
        category=None,
        retry=None,
        retryable=None,
        error_type=None,
        user_message=None,
    ):
        self.message = message or ""
        self.http_status = http_status
        self.code = as_int(code)
        self.subcode = as_int(subcode)
        self.title = title or ""
        self.fbtrace_id = fbtrace_id or ""
        self.details = details or ""
        self.error_type = error_type or ""
        self.user_message = user_message or ""
        table_category, table_retry = classify(self.code, http_status, self.subcode)
        self.category = category or table_category
        self.retry = retry or (table_retry if category is None else ("now" if retryable else "never"))
        self.retryable = bool(retryable) if retryable is not None else self.retry != "never"
        super().__init__(self.message)

    @classmethod
    def from_meta(cls, error, http_status=None, token=None):
        """Build from Meta's error object (``body["error"]`` or a webhook ``errors[]`` item)."""
        error = error if isinstance(error, dict) else {}
        error_data = error.get("error_data")
        details = error_data.get("details") if isinstance(error_data, dict) else None
        return cls(
            _mask(error.get("message") or error.get("title") or "Unknown error", token),
            http_status=http_status,
            code=error.get("code"),
            subcode=error.get("error_subcode"),
            title=_mask(error.get("error_user_title") or error.get("title"), token),
            fbtrace_id=error.get("fbtrace_id"),
            details=_mask(details, token),
            error_type=error.get("type"),
            user_message=_mask(error.get("error_user_msg"), token),
        )

    def __str__(self):
        if self.code is None:
            text = self.message
        else:
            code = f"{self.code}/{self.subcode}" if self.subcode is not None else str(self.code)
            title = f" ({self.title})" if self.title and self.title != self.message else ""
            text = f"WhatsApp API error {code}{title}: {self.message}"
        for extra in (self.user_message, self.details):
            if extra and extra not in text:
                text = f"{text.rstrip('.')}. {extra}"
        meta = [f"HTTP {self.http_status}"] if self.http_status else []
        if self.fbtrace_id:
            meta.append(f"fbtrace_id {self.fbtrace_id}")
        return f"{text} [{', '.join(meta)}]" if meta else text

    def __repr__(self):
        return (
            f"WhatsAppApiError(code={self.code!r}, subcode={self.subcode!r}, http_status={self.http_status!r}, "
            f"category={self.category!r}, retry={self.retry!r}, message={self.message!r})"
        )


class LoopbackOnlyError(WhatsAppApiError):
    """Raised before any socket is opened when a loopback-only client targets another host."""


#: longest excerpt of a remote text (Meta's error messages, a body that is not Meta's) kept in an error
MAX_EXCERPT = 300


def _mask(text, token):
    """A short, sanitised excerpt of a remote ``text`` for errors and logs: the token masked, control
    characters and runs of whitespace folded to one space, at most :data:`MAX_EXCERPT` characters."""
    if not text:
        return text
    text = str(text)
    text = text.replace(token, "***") if token and len(token) >= 4 else text
    text = " ".join("".join(char if char.isprintable() else " " for char in text).split())
    return text if len(text) <= MAX_EXCERPT else text[: MAX_EXCERPT - 1] + "…"
