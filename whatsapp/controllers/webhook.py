"""Receiving Meta's webhook POSTs, whatever serves the request.

:func:`receive` is the whole POST: read the body within the size limit, verify the signature over the raw
bytes, parse (``tools/webhook_envelope.py``), store every change durably, commit. Delivery statuses
(a change carrying only ``statuses``, nearly every POST of a campaign) are only stored, ``queued``, and
acknowledged: the applier cron applies them in batches (``whatsapp.webhook.event._cron_apply_statuses``); the
other changes (an inbound message...) are dispatched once the answer is sent (:func:`dispatch_after`). It
takes an environment and a werkzeug request and returns an HTTP status and the events to dispatch; it is called
by the controller
(``main.py``, Odoo's regular dispatch) and by the fast lane (``fast_lane.py``), which serves the same POST
at Odoo's WSGI entry.
"""

import collections
import hashlib
import hmac
import logging
import re
import threading

from odoo import SUPERUSER_ID, api
from odoo.http import Response
from werkzeug.exceptions import RequestEntityTooLarge

from ..tools import webhook_envelope
from ..tools.runtime import in_tests

_logger = logging.getLogger(__name__)

PATH = "/whatsapp/webhook"
MAX_BODY_BYTES = 3 * 1024 * 1024 + 64 * 1024  # Meta caps payloads at 3 MB; a small margin for the envelope
READ_CHUNK = 64 * 1024
SIGNATURE_RE = re.compile(r"sha256=([0-9a-fA-F]{64})")
# Short fixed bodies: nothing internal ever leaves the server.
REPLIES = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


def reply(status):
    """The answer for ``status``: its short fixed text (:data:`REPLIES`), as plain text."""
    return Response(REPLIES[status], headers=[("Content-Type", "text/plain")], status=status)


def read_body(httprequest):
    """The request body, or None when it is larger than :data:`MAX_BODY_BYTES`.

    The announced length is checked before anything is read; a body without one (``Transfer-Encoding:
    chunked``) is read by chunks and given up as soon as it passes the limit, never up to Odoo's own 128 MiB.
    """
    length = httprequest.content_length
    if length is not None and length > MAX_BODY_BYTES:
        return None
    # werkzeug >= 2.3 enforces max_content_length on streams without length too; 2.2 (Debian's) does not,
    # hence the bounded reads below. Odoo's HTTPRequest does not expose the stream: read the wrapped one.
    httprequest.max_content_length = MAX_BODY_BYTES
    stream = getattr(httprequest, "_HTTPRequest__wrapped", httprequest).stream
    chunks, size = [], 0
    try:
        while chunk := stream.read(min(READ_CHUNK, MAX_BODY_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return None
    except RequestEntityTooLarge:
        return None
    return b"".join(chunks)


def receive(env, httprequest):
    """Verify the signature over the raw body, then parse, store every change durably and commit; the
    changes to dispatch are dispatched once Meta has its answer (:func:`dispatch_after`), the status-only ones
    stored ``queued`` for the applier.

    Nothing of the body is decoded before its signature is verified. A signed body is Meta's: it is always
    answered 200 and kept, whatever it contains (cleaned; what cannot be parsed is kept whole in an event
    ``unparsed``, failed, visible in the inbox and reprocessable), so that Meta does not retry it for days.

    :param env: an environment on the request's own cursor (committed or rolled back here)
    :param httprequest: the werkzeug request (body and ``X-Hub-Signature-256`` header)
    :return: ``(status, event_ids)``: the HTTP status to answer (a key of :data:`REPLIES`) and the events to
        dispatch after the answer (committed ``pending``: if nothing dispatches them, the retry cron does)
    """
    body = read_body(httprequest)
    if body is None:
        return 413, []
    match = SIGNATURE_RE.fullmatch(httprequest.headers.get("X-Hub-Signature-256", ""))
    if not match:
        _logger.warning("WhatsApp webhook: missing or malformed signature header")
        return 403, []
    # the webhook acts as superuser, like its handlers: Meta is authenticated by the signature checked
    # below (nothing is written before), not by an Odoo session
    env = env(user=SUPERUSER_ID)
    accounts = env["whatsapp.account"]._webhook_signing_accounts()
    signers = _signers(accounts, body, match.group(1).lower())
    if not signers:
        _logger.warning("WhatsApp webhook: signature matches no account's app secret, payload refused")
        return 403, []

    envelope = webhook_envelope.parse(body)  # the body is Meta's: parse it only now
    Event = env["whatsapp.webhook.event"]
    routed = Event._route(envelope.changes, accounts, signers)
    if routed is None:  # a change of another account, signed by a secret that is not its own
        return 403, []
    changes, unrouted = routed
    for change in unrouted:
        _logger.warning(
            "WhatsApp webhook: %s change for unknown account (WABA %s) kept as ignored",
            change.field[:64],
            change.entry_uid[:64],
        )
    rejects = Event._rejects(body, envelope.problems, unrouted, signers)
    if envelope.problems:
        _logger.warning(
            "WhatsApp webhook: signed payload partly unparseable, kept: %s", envelope.problems[:3]
        )
    if not changes and not rejects:
        return 200, []

    cr = env.cr
    try:
        # one INSERT: status-only changes queued for the applier, the others pending for dispatch_after
        event_ids = Event._store_changes(changes, queue_statuses=True)
        Event._store_rejects(rejects)
        cr.commit()  # durable before Meta has its 200
    except Exception:
        # the changes themselves cannot be stored (a bug): keep the body whole rather than lose it
        _logger.exception("WhatsApp webhook: signed payload could not be stored, kept unparsed")
        cr.rollback()
        Event._store_rejects(Event._rejects(body, ["could not be stored"], [], signers))
        cr.commit()
        return 200, []
    if all(Event._is_queued(account_id, field, value) for account_id, field, value, *_ in changes):
        return 200, []  # statuses only (nearly every POST): queued for the applier, nothing to dispatch
    return 200, event_ids


def dispatch_after(response, registry, event_ids):
    """Dispatch the events ``event_ids`` once ``response`` is sent (a close callback of werkzeug's response,
    run by the server after the answer's last byte), in this process's dispatcher thread (:func:`in_background`):
    Meta has its 200 after one INSERT, and the handlers' work (an inbound message: its chat, members, posts and
    pushes, 80 ms or more) holds up neither this acknowledgement nor the next POSTs the worker serves.

    The events are committed ``pending``: a worker that dies before leaves them to the retry cron; a handler's
    failure is kept on its event (:meth:`whatsapp.webhook.event._process`). Under tests the events are
    dispatched at once, before the answer, so that a test sees their effects when its request returns.

    :return: ``response``
    """
    if not event_ids:
        return response
    dbname = registry.db_name

    def dispatch():
        threading.current_thread().dbname = dbname
        try:
            with registry.cursor() as cr:  # committed on leaving
                api.Environment(cr, SUPERUSER_ID, {})["whatsapp.webhook.event"].browse(event_ids)._process()
            registry.signal_changes()
        except Exception:
            registry.reset_changes()
            # stored and committed: the cron retries them; Meta must not resend them
            _logger.exception("WhatsApp webhook: dispatch of events %s failed", event_ids)

    if in_tests():
        dispatch()
    else:
        response.call_on_close(lambda: in_background(dispatch))
    return response


#: this process's dispatches not started yet, oldest first, and the thread running them (None when idle)
_backlog = collections.deque()
_backlog_lock = threading.Lock()
_dispatcher = None


def in_background(job):
    """Run ``job`` (a callable) in this process's dispatcher thread, after the jobs given before it.

    The request's thread goes back to serving at once: a prefork worker serves one request at a time, so a
    dispatch run in its thread (an inbound message: 80 ms or more) held up every POST that came to it
    meanwhile, and with two workers, half of the campaign's status POSTs waited behind the customers'
    replies. The thread is started when a job comes and ends when none is left; it is not a daemon, so a
    worker that exits (Odoo recycles them) finishes the job in progress first (a worker killed meanwhile
    leaves its events pending for the retry cron).
    """
    global _dispatcher  # noqa: PLW0603 - one dispatcher per process
    with _backlog_lock:
        _backlog.append(job)
        if _dispatcher is None:
            _dispatcher = threading.Thread(target=_drain, name="whatsapp-webhook-dispatch")
            _dispatcher.start()


def _drain():
    global _dispatcher  # noqa: PLW0603 - one dispatcher per process
    while True:
        with _backlog_lock:
            if not _backlog:
                _dispatcher = None
                return
            job = _backlog.popleft()
        try:
            job()
        except Exception:  # a job logs its own failures; a bug here must not stop the next ones
            _logger.exception("WhatsApp webhook: background dispatch failed")


def _signers(accounts, body, signature):
    """Ids of the accounts (active or archived) whose app secret signed ``body``: one HMAC per secret,
    compared in constant time.

    :param accounts: rows ``(id, phone_uid, account_uid, app_secret, active)``
    """
    digests = {}
    for _id, _phone_uid, _account_uid, secret, _active in accounts:
        if secret and secret not in digests:
            expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            digests[secret] = hmac.compare_digest(expected, signature)
    return {account_id for account_id, _p, _a, secret, _active in accounts if secret and digests[secret]}
