"""Client of Meta's Graph API for the WhatsApp Cloud API: the addon's only seam to Meta.

No ORM here: the client is built from plain values (``whatsapp.account._get_client()`` does that)
and is testable without a database. Every HTTP call goes through :meth:`GraphClient._request`,
on one pooled :class:`requests.Session` per process shared by all clients and threads.

This module names Meta's endpoints; the transport (session pool, loopback guard, ``_request`` and
response handling) lives in ``graph_transport.py``, the errors in ``graph_errors.py``.
"""

from .graph_errors import WhatsAppApiError
from .graph_transport import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    DEFAULT_VERSION,
    MAX_DOWNLOAD_BYTES,
    GraphTransport,
)

PHONE_NUMBER_FIELDS = (
    "verified_name,display_phone_number,quality_rating,code_verification_status,name_status,"
    "platform_type,throughput,is_official_business_account,account_mode,"
    # the messaging limit for account health (messaging_limit_tier is deprecated)
    "whatsapp_business_manager_messaging_limit"
)
TEMPLATE_FIELDS = "id,name,language,status,category,components,parameter_format,quality_score,rejected_reason"


class GraphClient(GraphTransport):
    """Graph API client bound to one WhatsApp account (phone number, WABA, app).

    Cheap to build (one per send batch): it holds plain values and uses the shared pooled
    session. Safe to use from several threads at once.

    :param base_url: Graph root, ``https://graph.facebook.com`` or a sandbox's URL
    :param version: Graph version, ``"v23.0"`` (a bare ``"23.0"`` is accepted)
    :param token: System User access token; never logged nor put in error messages
    :param phone_number_id: Phone Number ID (messages, media)
    :param waba_id: WhatsApp Business Account ID (templates, phone numbers)
    :param app_id: App ID (resumable uploads)
    :param timeout: ``(connect, read)`` seconds (a number sets both)
    :param only_loopback: refuse, before opening any socket, any host but loopback (tests)
    :param max_download_bytes: largest media body :meth:`download_media` accepts
    :param session: a :class:`requests.Session` to use instead of the shared pooled one
    """

    def __init__(
        self,
        base_url=DEFAULT_BASE_URL,
        version=DEFAULT_VERSION,
        token="",
        phone_number_id="",
        waba_id="",
        app_id="",
        timeout=DEFAULT_TIMEOUT,
        only_loopback=False,
        max_download_bytes=MAX_DOWNLOAD_BYTES,
        session=None,
    ):
        super().__init__(base_url, version, token, timeout, only_loopback, max_download_bytes, session)
        self.phone_number_id = str(phone_number_id or "")
        self.waba_id = str(waba_id or "")
        self.app_id = str(app_id or "")

    def __repr__(self):
        return (
            f"GraphClient(base_url={self.base_url!r}, version={self.version!r}, "
            f"phone_number_id={self.phone_number_id!r}, waba_id={self.waba_id!r}, token='***')"
        )

    # ----------------------------------------------------------------------------------------
    # Phone numbers and account
    # ----------------------------------------------------------------------------------------

    def phone_number_info(self, fields=None):
        """``GET /{phone-number-id}?fields=...``: name, number, quality, throughput..."""
        return self._request("GET", self._pnid(), params={"fields": _fields(fields or PHONE_NUMBER_FIELDS)})

    def list_phone_numbers(self, fields=None):
        """``GET /{waba-id}/phone_numbers``, every page."""
        params = {"fields": _fields(fields)} if fields else {}
        return self._get_all_pages(f"{self._waba()}/phone_numbers", params)

    def waba_info(self, fields=None):
        """``GET /{waba-id}``."""
        return self._request("GET", self._waba(), params={"fields": _fields(fields)} if fields else None)

    def subscribed_apps(self):
        """``GET /{waba-id}/subscribed_apps``: apps receiving this WABA's webhooks."""
        return self._request("GET", f"{self._waba()}/subscribed_apps")

    # ----------------------------------------------------------------------------------------
    # Messages
    # ----------------------------------------------------------------------------------------

    def send_message(self, payload):
        """``POST /{phone-number-id}/messages``; returns Meta's JSON (``messages[0].id`` = wamid).

        Adds ``messaging_product`` and, when absent, ``recipient_type: individual``.
        HTTP 200 only means "accepted": delivery failures arrive later by webhook.
        """
        body = {"messaging_product": "whatsapp", **payload}
        body.setdefault("recipient_type", "individual")
        return self._request("POST", f"{self._pnid()}/messages", json=body)

    def mark_read(self, wamid, typing=False):
        """Mark an inbound message (and all earlier ones) read; ``typing`` also shows "typing..."."""
        body = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        if typing:
            body["typing_indicator"] = {"type": "text"}
        return self._request("POST", f"{self._pnid()}/messages", json=body)

    # ----------------------------------------------------------------------------------------
    # Media
    # ----------------------------------------------------------------------------------------

    def upload_media(self, data, mimetype, filename):
        """``POST /{phone-number-id}/media`` (multipart); returns the media id (valid 30 days)."""
        result = self._request(
            "POST",
            f"{self._pnid()}/media",
            data={"messaging_product": "whatsapp", "type": mimetype},
            files={"file": (filename, data, mimetype)},
            timeout=self.transfer_timeout,
        )
        return self._require(result, "id", "media upload")

    def get_media(self, media_id):
        """``GET /{media-id}``: ``url`` (valid ~5 minutes), ``mime_type``, ``sha256``, ``file_size``."""
        return self._request("GET", _media_id(media_id), params=self._pnid_param())

    def download_media(self, url):
        """Download the bytes behind a :meth:`get_media` URL (Meta wants the Bearer header).

        Bodies above ``max_download_bytes`` are refused without being read entirely.
        """
        return self._request("GET", url, raw=True, timeout=self.transfer_timeout)

    def delete_media(self, media_id):
        """``DELETE /{media-id}``."""
        return self._request("DELETE", _media_id(media_id), params=self._pnid_param())

    def resumable_upload(self, data, mimetype, filename):
        """Upload a file with the Resumable Upload API; returns the handle ``h``.

        The handle goes into a template's ``example.header_handle`` (or a profile picture).
        """
        session = self._request(
            "POST",
            f"{self._app()}/uploads",
            params={"file_name": filename, "file_length": len(data), "file_type": mimetype},
        )
        upload_id = self._require(session, "id", "upload session")
        result = self._request(
            "POST",
            upload_id,
            data=data,
            headers={"file_offset": "0"},
            auth="oauth",
            timeout=self.transfer_timeout,
        )
        return self._require(result, "h", "resumable upload")

    # ----------------------------------------------------------------------------------------
    # Templates
    # ----------------------------------------------------------------------------------------

    def list_templates(self, fields=None, page_size=100, **filters):
        """``GET /{waba-id}/message_templates``, every page; ``filters``: name, status, category, language."""
        params = {"fields": _fields(fields or TEMPLATE_FIELDS), "limit": page_size}
        params.update({key: value for key, value in filters.items() if value})
        return self._get_all_pages(f"{self._waba()}/message_templates", params)

    def get_template(self, template_id, fields=None):
        """``GET /{template-id}``."""
        return self._request("GET", str(template_id), params={"fields": _fields(fields or TEMPLATE_FIELDS)})

    def create_template(self, payload):
        """``POST /{waba-id}/message_templates``; returns ``{"id", "status", "category"}``."""
        return self._request("POST", f"{self._waba()}/message_templates", json=payload)

    def update_template(self, template_id, payload):
        """``POST /{template-id}`` (approved templates: 1 edit per 24 h, 10 per 30 days)."""
        return self._request("POST", str(template_id), json=payload)

    def delete_template(self, name=None, hsm_id=None):
        """``DELETE /{waba-id}/message_templates``: by ``name`` (all languages) or ``hsm_id`` (one)."""
        if not (name or hsm_id):
            raise WhatsAppApiError(
                "A template name or id is required to delete a template.", category="param"
            )
        params = {key: value for key, value in (("name", name), ("hsm_id", hsm_id)) if value}
        return self._request("DELETE", f"{self._waba()}/message_templates", params=params)

    # ----------------------------------------------------------------------------------------
    # Helpers
    # ----------------------------------------------------------------------------------------

    def _require(self, result, key, what):
        value = result.get(key) if isinstance(result, dict) else None
        if not value:
            raise WhatsAppApiError(f"Meta's answer to the {what} has no {key!r}.", category="unknown")
        return value

    def _pnid(self):
        return self._id(self.phone_number_id, "Phone Number ID")

    def _pnid_param(self):
        return {"phone_number_id": self.phone_number_id} if self.phone_number_id else None

    def _waba(self):
        return self._id(self.waba_id, "WhatsApp Business Account ID")

    def _app(self):
        return self._id(self.app_id, "App ID")

    def _id(self, value, label):
        if not value:
            raise WhatsAppApiError(f"The {label} of the WhatsApp account is not set.", category="param")
        return value


def _fields(fields):
    return fields if isinstance(fields, str) else ",".join(fields)


def _media_id(media_id):
    """``media_id`` when it is a Meta id (digits), else raise: it comes from webhooks, and a path or a URL in its
    place would send the token elsewhere."""
    text = str(media_id or "")
    if not (text.isascii() and text.isdigit() and len(text) <= 64):
        raise WhatsAppApiError("Not a Meta media id.", category="param", retryable=False)
    return text
