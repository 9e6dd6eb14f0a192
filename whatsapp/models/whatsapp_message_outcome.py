"""Outcomes of the sending queue: what a send (or its failure) writes on each message, retries with backoff,
the batch UPDATE, and the reconciliation of messages whose outcome is unknown.

The rules (no message is ever sent twice, none is lost) are in the docstring of ``whatsapp_message_queue.py``.
"""

import logging
import random
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import meta_errors

_logger = logging.getLogger(__name__)

#: retry "now": exponential backoff base and cap (seconds); "later": base and cap
BACKOFF_NOW = (2, 300)
BACKOFF_LATER = (300, 6 * 3600)
#: exception names (of the transport error's cause) proving the request never left this server
_NEVER_SENT = ("ConnectTimeout", "NewConnectionError", "Connection refused", "LoopbackOnlyError")


class WhatsAppMessage(models.Model):
    _inherit = "whatsapp.message"

    # ------------------------------------------------------------
    # OUTCOMES
    # ------------------------------------------------------------

    @api.model
    def _outcome_failed(self, failure_type, reason, code=0):
        state = "bounced" if failure_type in self.BOUNCE_FAILURE_TYPES else "failed"
        return {"state": state, "failure_type": failure_type, "failure_reason": reason, "error_code": code}

    def _outcome_from_error(self, message, error, attempts=1, call_sent=True):
        """Values for a message whose call (or media upload) raised ``error``: retry, fail or pause.

        :param call_sent: False when the message itself was not posted (its media upload failed)
        """
        category, retry, failure_type, reason, code = self._failure_from_error(error)
        now = fields.Datetime.now()
        if category in self.ACCOUNT_CATEGORIES:
            # not the message's fault: back to the queue, the attempt does not count
            return {"state": "queued", "uncount": 1, "next_attempt": None, "pause": True}
        if call_sent and getattr(error, "http_status", 1) is None and not self._never_reached_meta(error):
            # sent but not answered: Meta may have accepted it -> reconcile, never resend blindly
            grace = timedelta(seconds=self._param("whatsapp.send_timeout_grace_seconds"))
            return {"state": "sending", "next_attempt": now + grace, "failure_reason": reason}
        max_attempts = self._param("whatsapp.send_max_attempts")
        if retry in ("now", "later") and attempts < max_attempts:
            base, cap = BACKOFF_NOW if retry == "now" else BACKOFF_LATER
            delay = min(cap, base * 2 ** (attempts - 1)) * random.uniform(0.75, 1.25)  # noqa: S311
            delay = max(delay, meta_errors.min_retry_seconds(code))
            return {
                "state": "queued",
                "next_attempt": now + timedelta(seconds=delay),
                "failure_type": failure_type,
                "failure_reason": reason,
                "error_code": code,
            }
        return self._outcome_failed(failure_type, reason, code)

    @api.model
    def _never_reached_meta(self, error):
        cause = error.__cause__
        text = f"{type(cause).__name__} {cause!r} {type(error).__name__}" if cause else type(error).__name__
        return any(marker in text for marker in _NEVER_SENT)

    def _write_outcomes(self, by_id):
        """One ``UPDATE ... FROM (VALUES ...)`` for every outcome of a batch.

        A row no longer ``sending`` (a status webhook matched it by uuid first) keeps its state and
        failure fields; it only gains its wamid.
        """
        if not by_id:
            return
        self.flush_model()
        now = fields.Datetime.now()
        rows = SQL(", ").join(
            SQL(
                "(%s::int, %s::varchar, %s::varchar, %s::timestamp, %s::varchar, %s::text, %s::int, %s::int)",
                mid,
                v["state"],
                v.get("wamid"),
                v.get("next_attempt"),
                v.get("failure_type"),
                v.get("failure_reason"),
                v.get("error_code") or 0,
                v.get("uncount") or 0,
            )
            for mid, v in by_id.items()
        )
        self.env.cr.execute(
            SQL(
                """UPDATE whatsapp_message m
                      SET state = CASE WHEN m.state = 'sending' THEN v.state ELSE m.state END,
                          wamid = COALESCE(m.wamid, v.wamid),
                          next_attempt = CASE WHEN m.state = 'sending' THEN v.next_attempt ELSE NULL END,
                          failure_type = CASE WHEN m.state = 'sending' THEN v.failure_type ELSE m.failure_type END,
                          failure_reason = CASE WHEN m.state = 'sending' THEN v.failure_reason
                                                ELSE m.failure_reason END,
                          error_code = CASE WHEN m.state = 'sending' THEN v.error_code ELSE m.error_code END,
                          attempts = GREATEST(COALESCE(m.attempts, 0) - v.uncount, 0),
                          write_date = %s, write_uid = %s
                     FROM (VALUES %s) AS v(id, state, wamid, next_attempt, failure_type, failure_reason,
                                           error_code, uncount)
                    WHERE m.id = v.id""",
                now,
                self.env.uid,
                rows,
            )
        )
        self.invalidate_model()

    # ------------------------------------------------------------
    # RECONCILIATION
    # ------------------------------------------------------------

    @api.model
    def _reconcile_unknown_outcomes(self, account):
        """Settle messages left ``sending`` past their lease (rule 4 of ``whatsapp_message_queue.py``)."""
        now = fields.Datetime.now()
        stale = self.search(
            [("account_id", "=", account.id), ("state", "=", "sending"), ("next_attempt", "<", now)]
        )
        if not stale:
            return stale
        self.env["whatsapp.status.pending"]._apply_pending(stale)  # a) matched by uuid
        stale = stale.filtered(lambda m: m.state == "sending")
        margin = timedelta(seconds=self._param("whatsapp.status_margin_seconds"))
        give_up = now - timedelta(minutes=self._param("whatsapp.unknown_outcome_minutes"))
        watermark = account.status_watermark
        requeue = stale.filtered(
            lambda m: watermark and m.sending_since and m.sending_since + margin < watermark
        )
        fail = (stale - requeue).filtered(lambda m: not m.sending_since or m.sending_since < give_up)
        extend = stale - requeue - fail
        by_id = {m.id: {"state": "queued", "next_attempt": None} for m in requeue}
        reason = self.env._(
            "The send was interrupted and Meta never reported on this message. It was not resent automatically "
            "to avoid a duplicate: use Retry if the customer did not receive it."
        )
        by_id.update({m.id: self._outcome_failed("unknown_outcome", reason) for m in fail})
        lease = now + timedelta(minutes=self._param("whatsapp.send_lease_minutes"))
        by_id.update({m.id: {"state": "sending", "next_attempt": lease} for m in extend})
        self._write_outcomes(by_id)
        (requeue | fail)._update_notifications()
        if requeue or fail:
            _logger.info(
                "WhatsApp account %s: %s unknown-outcome messages requeued, %s failed",
                account.id,
                len(requeue),
                len(fail),
            )
        return stale
