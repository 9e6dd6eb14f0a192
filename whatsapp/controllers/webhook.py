"""Receiving Meta's webhook POSTs, whatever serves the request.

:func:`receive` is the whole POST: verify the signature, store every change durably, commit, dispatch. It
takes an environment and a werkzeug request and returns an HTTP status; it is called by the controller
(``main.py``, Odoo's regular dispatch) and by the fast lane (``fast_lane.py``), which serves the same POST
before Odoo's routing machinery.
"""

import hashlib
import hmac
import json
import logging
import re

from odoo import SUPERUSER_ID

_logger = logging.getLogger(__name__)

PATH = "/whatsapp/webhook"
MAX_BODY_BYTES = 3 * 1024 * 1024 + 64 * 1024  # Meta caps payloads at 3 MB; a small margin for the envelope
SIGNATURE_RE = re.compile(r"sha256=([0-9a-fA-F]{64})")
# Short fixed bodies: nothing internal ever leaves the server.
REPLIES = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


def reply(request, status):
    """The answer for ``status``: its short fixed text (:data:`REPLIES`), as plain text."""
    return request.make_response(REPLIES[status], headers=[("Content-Type", "text/plain")], status=status)


class InvalidPayload(ValueError):
    """The body is not a WhatsApp webhook envelope."""


def parse_envelope(body):
    """Decode and validate a webhook body.

    :param bytes body: the raw request body
    :return: list of ``(entry, change)`` dict pairs, ``change`` having a str ``field`` and a dict ``value``
    :raise InvalidPayload: when the body is not JSON or not a ``whatsapp_business_account`` envelope
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload("not JSON") from exc
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise InvalidPayload("wrong object")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise InvalidPayload("no entry list")
    pairs = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str | int):
            raise InvalidPayload("bad entry")
        changes = entry.get("changes")
        if not isinstance(changes, list):
            raise InvalidPayload("no changes list")
        for change in changes:
            if (
                not isinstance(change, dict)
                or not isinstance(change.get("field"), str)
                or not isinstance(change.get("value"), dict)
            ):
                raise InvalidPayload("bad change")
            pairs.append((entry, change))
    return pairs


def phone_number_id(change):
    """The phone number a ``messages``-like change is about (``value.metadata.phone_number_id``), or None."""
    metadata = change["value"].get("metadata")
    pnid = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    return str(pnid) if isinstance(pnid, str | int) else None


def receive(env, httprequest):
    """Verify the signature, store every change durably, commit, then dispatch.

    :param env: an environment on the request's own cursor (committed or rolled back here)
    :param httprequest: the werkzeug request (body and ``X-Hub-Signature-256`` header)
    :return: the HTTP status to answer (a key of :data:`REPLIES`)
    """
    if (httprequest.content_length or 0) > MAX_BODY_BYTES:
        return 413
    body = httprequest.get_data()
    if len(body) > MAX_BODY_BYTES:
        return 413
    match = SIGNATURE_RE.fullmatch(httprequest.headers.get("X-Hub-Signature-256", ""))
    if not match:
        _logger.warning("WhatsApp webhook: missing or malformed signature header")
        return 403
    signature = match.group(1).lower()
    try:
        pairs = parse_envelope(body)
    except InvalidPayload as exc:
        _logger.warning("WhatsApp webhook: invalid payload (%s)", exc)
        return 400

    # the webhook acts as superuser, like its handlers: Meta is authenticated by the signature checked
    # below (nothing is written before), not by an Odoo session
    env = env(user=SUPERUSER_ID)
    accounts = _accounts(env, pairs)
    digests = {}  # app secret -> expected hex digest, computed once per secret

    def signed_by(account):
        secret = account["app_secret"] or ""
        if secret not in digests:
            digests[secret] = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return bool(secret) and hmac.compare_digest(digests[secret], signature)

    changes = []
    for entry, change in pairs:
        entry_uid = str(entry["id"])
        pnid = phone_number_id(change) if change["field"] == "messages" else None
        owners = [
            acc
            for acc in accounts
            if (
                acc["phone_uid"] == pnid if change["field"] == "messages" else acc["account_uid"] == entry_uid
            )
        ]
        if not owners:
            _logger.warning(
                "WhatsApp webhook: %s change for unknown account (WABA %s, phone number %s) skipped",
                change["field"],
                entry_uid,
                pnid,
            )
            continue
        signers = [acc for acc in owners if signed_by(acc)]
        if not signers:
            _logger.warning("WhatsApp webhook: wrong signature for WABA %s, payload refused", entry_uid)
            return 403
        changes.extend(
            (acc["id"], change["field"], change["value"], entry_uid, entry.get("time")) for acc in signers
        )
    if not changes:
        return 200

    Event = env["whatsapp.webhook.event"]
    cr = env.cr
    try:
        # fast path: the events and their handlers' effects are committed at once (no savepoint)
        Event._store_changes(changes, dispatch=True)
        cr.commit()
        return 200
    except Exception:  # noqa: BLE001 - a handler failed: take the durable path, which records it
        _logger.debug("WhatsApp webhook: one-transaction dispatch failed, storing first", exc_info=True)
        cr.rollback()
    event_ids = Event._store_changes(changes)
    cr.commit()  # durable before anything else may fail
    if event_ids:
        try:
            Event.browse(event_ids)._process()
            cr.commit()
        except Exception:
            # stored and committed: the cron retries it; Meta must not resend it
            _logger.exception("WhatsApp webhook: dispatch of events %s failed", event_ids)
            cr.rollback()
    return 200


def _accounts(env, pairs):
    """Active accounts that may own the changes, with their app secret (cached: no query, hot path)."""
    pnids = {pnid for _entry, change in pairs if (pnid := phone_number_id(change))}
    wabas = {str(entry["id"]) for entry, _change in pairs}
    table = env["whatsapp.account"]._webhook_signing_accounts()
    return [
        {"id": account_id, "phone_uid": phone_uid, "account_uid": account_uid, "app_secret": app_secret}
        for account_id, phone_uid, account_uid, app_secret in table
        if phone_uid in pnids or account_uid in wabas
    ]
