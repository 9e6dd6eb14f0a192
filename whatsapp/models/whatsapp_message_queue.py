"""The sending queue: claim, send concurrently, write results in batches, reconcile.

No message is ever sent twice, and none is lost
-----------------------------------------------
Meta has no idempotency key: a POST that reached Meta cannot be told apart from one that did not,
except by what Meta later says about it. So:

1. **Claim and commit before calling Meta.** A batch of ``queued`` messages of one account is locked
   with ``FOR UPDATE SKIP LOCKED`` (concurrent runners skip each other's rows), written ``sending``
   with ``attempts + 1``, ``sending_since`` and a lease (``next_attempt = now + lease``), and
   committed. Only then are the HTTP calls made. A message is therefore never posted while its row
   still says ``queued``, and no other runner can pick it up again.
2. **Each send carries our uuid** in ``biz_opaque_callback_data``; Meta echoes it in every status
   webhook of that message. A status can thus be matched to its message even when we never learned
   the wamid (worker killed between Meta's answer and our commit, or a read timeout).
3. **Results are written in one UPDATE** and committed. A row found in a later state (a webhook got
   there first) keeps its state and only gains its wamid.
4. **Outcome unknown = never resent blindly.** Rows still ``sending`` after their lease (a dead
   worker), and messages whose call was sent but not answered (read timeout, connection dropped after
   the request) are reconciled by :meth:`_reconcile_unknown_outcomes`, in this order:

   a. a status webhook carrying their uuid arrived -> Meta accepted them: take its wamid and state;
   b. the account received statuses for messages claimed *after* them (``status_watermark``) at least
      ``whatsapp.status_margin_seconds`` later, yet none for them -> Meta's status stream is flowing
      and never mentioned them, so Meta did not accept them: requeue them (the attempt counts);
   c. no evidence either way after ``whatsapp.unknown_outcome_minutes`` -> ``failed`` with failure
      type ``unknown_outcome`` and an explanation; the user decides (Retry). A status arriving later
      still settles it (``meta_status.current_rank`` lets any Meta status override it).

   Only errors that prove the request never reached Meta (connection refused, connect timeout) or
   that Meta answered with an error (4xx/5xx with a body: Meta did not accept the message) are
   retried directly with backoff.

Under tests nothing is committed (``auto_commit`` is ignored, like ``sms``); the crash window is
tested by running the claim and the calls, dropping the results, then running the queue again.

This file holds the entry points, the claim, the calls and the scheduling; the outcomes (retry, failure),
the batch UPDATE of rule 3 and the reconciliation of rule 4 are in ``whatsapp_message_outcome.py``.
"""

import threading
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.sender import send_all

DEFAULTS = {
    "whatsapp.send_batch_size": 500,
    "whatsapp.send_max_attempts": 5,
    "whatsapp.send_lease_minutes": 15,
    "whatsapp.send_timeout_grace_seconds": 120,
    "whatsapp.status_margin_seconds": 60,
    "whatsapp.unknown_outcome_minutes": 60,
    "whatsapp.send_workers": 0,  # 0 = automatic (from the account's rate)
}


def _testing():
    return getattr(threading.current_thread(), "testing", False)


class WhatsAppMessage(models.Model):
    _inherit = "whatsapp.message"

    # ------------------------------------------------------------
    # ENTRY POINTS
    # ------------------------------------------------------------

    @api.model
    def _process_queue(self, account_ids=None, auto_commit=True, time_budget=600):
        """Cron entry point: expand the bulk sends into messages, reconcile, then send every due queued
        message, account by account.

        :param account_ids: restrict to these accounts (default: all active, unpaused accounts)
        :param auto_commit: commit claims and results (always off while tests run)
        :param time_budget: seconds after which the run stops and re-triggers itself
        """
        auto_commit = auto_commit and not _testing()
        started = time.monotonic()
        expanded = self.env["whatsapp.bulk.send"]._expand_queued(
            account_ids=account_ids, auto_commit=auto_commit, deadline=started + time_budget
        )
        domain = [("queue_paused", "=", False)]
        if account_ids:
            domain.append(("id", "in", list(account_ids)))
        # sudo: the cron runs for every account; the token never leaves the client
        accounts = self.env["whatsapp.account"].sudo().search(domain)
        self.env["whatsapp.status.pending"]._apply_pending()
        for account in accounts:
            self._reconcile_unknown_outcomes(account)
            while not account.queue_paused:
                batch = self._claim(account, auto_commit=auto_commit)
                if not batch:
                    break
                batch._send(auto_commit=auto_commit)
                if time.monotonic() - started > time_budget:
                    self._schedule_next_run(asap=True)
                    return
        self._schedule_next_run(asap=not expanded)

    def _send_batch_for_account(self, account, auto_commit=False):
        """``send()`` helper: claim these messages (if still queued and due) and send them."""
        auto_commit = auto_commit and not _testing()
        if account.queue_paused:
            return
        batch = self._claim(account, ids=self.ids, auto_commit=auto_commit)
        if batch:
            batch._send(auto_commit=auto_commit)

    # ------------------------------------------------------------
    # CLAIM / SEND / WRITE
    # ------------------------------------------------------------

    @api.model
    def _claim(self, account, ids=None, auto_commit=False):
        """Lock due queued messages of ``account`` (skipping rows locked elsewhere), mark them sending.

        :return: the claimed messages (committed as ``sending`` when ``auto_commit``)
        """
        self.flush_model()
        now = fields.Datetime.now()
        lease = now + timedelta(minutes=self._param("whatsapp.send_lease_minutes"))
        only = SQL("AND id IN %s", tuple(ids)) if ids else SQL()
        self.env.cr.execute(
            SQL(
                """WITH claimed AS (
                       SELECT id FROM whatsapp_message
                        WHERE account_id = %(account)s AND direction = 'outbound' AND state = 'queued'
                          AND (next_attempt IS NULL OR next_attempt <= %(now)s) %(only)s
                     ORDER BY id LIMIT %(limit)s
                          FOR UPDATE SKIP LOCKED)
                   UPDATE whatsapp_message m
                      SET state = 'sending', attempts = COALESCE(m.attempts, 0) + 1, sending_since = %(now)s,
                          next_attempt = %(lease)s, write_date = %(now)s, write_uid = %(uid)s
                     FROM claimed WHERE m.id = claimed.id
                RETURNING m.id""",
                account=account.id,
                now=now,
                only=only,
                lease=lease,
                uid=self.env.uid,
                limit=self._param("whatsapp.send_batch_size"),
            )
        )
        claimed = self.browse(sorted(row[0] for row in self.env.cr.fetchall()))
        if not claimed:
            return claimed
        self.invalidate_model(["state", "attempts", "sending_since", "next_attempt"])
        if auto_commit:
            self.env.cr.commit()  # the no-duplicate rule: "sending" is durable before any call to Meta
        return claimed

    def _send(self, auto_commit=False):
        """Send claimed (``sending``) messages of one account and write the outcomes.

        Split in three steps so that tests can cut the run between Meta's answer and the write.
        """
        if not self:
            return
        jobs, outcomes = self._send_prepare()
        results = self._send_call(jobs) if jobs else []
        self._send_write(results, outcomes)
        if auto_commit:
            self.env.cr.commit()

    def _send_prepare(self):
        """Build the payloads (main thread): blacklist check, media headers, recipient and uuid.

        :return: ``(jobs, outcomes)``: ``jobs`` = ``[(message id, payload)]`` to send; ``outcomes`` =
            ``{message id: values}`` for messages settled without a call (blacklisted, media failure...)
        """
        account = self.account_id.ensure_one()
        outcomes = {}
        blacklisted = self._blacklisted_numbers()
        media_ids = self.env["whatsapp.media.cache"]._get_media_ids(
            account, self.filtered("header_cache_key")
        )
        jobs = []
        for message in self:
            if not message.number:
                outcomes[message.id] = self._outcome_failed("phone_invalid", self.env._("No valid number."))
            elif message.number in blacklisted and not message.ignore_blacklist:
                reason = self.env._("The number %(number)s opted out (blacklisted).", number=message.number)
                outcomes[message.id] = self._outcome_failed("blacklisted", reason)
            elif message.header_cache_key and not isinstance(media_ids.get(message.header_cache_key), str):
                error = media_ids.get(message.header_cache_key)
                outcomes[message.id] = self._outcome_from_error(
                    message, error, message.attempts, call_sent=False
                )
            else:
                jobs.append((message.id, message._build_payload(media_ids.get(message.header_cache_key))))
        return jobs, outcomes

    def _send_call(self, jobs):
        """Make the calls concurrently at the account's rate. HTTP only: no ORM below this line."""
        account = self.account_id.ensure_one()
        rate = account._whatsapp_effective_rate()  # insight hook: throughput level, capped by rate_limit
        workers = self._param("whatsapp.send_workers") or max(4, min(64, rate // 5))
        client = account._get_client()  # thread-safe, one pooled session
        senders = [client.send_message] * min(workers, len(jobs))
        return send_all(
            jobs,
            senders,
            rate,
            stop_on=lambda err: self._failure_from_error(err)[0] in self.ACCOUNT_CATEGORIES,
            on_rate_limited=lambda err: 1.0 if getattr(err, "code", None) == 130429 else 0.0,
        )

    def _send_write(self, results, outcomes):
        """Write every outcome in one UPDATE, mirror it on the chatter, pause the account if needed."""
        by_id = dict(outcomes)
        pause_error = None
        messages = self.browse([r.key for r in results])
        attempts = {m.id: m.attempts for m in messages}
        for result in results:
            if result.skipped:
                by_id[result.key] = {"state": "queued", "uncount": 1, "next_attempt": None}
            elif result.error is None:
                wamid = ((result.response or {}).get("messages") or [{}])[0].get("id")
                by_id[result.key] = {"state": "sent", "wamid": wamid, "next_attempt": None}
            else:
                message = self.browse(result.key)
                values = self._outcome_from_error(message, result.error, attempts=attempts[result.key])
                if values.get("pause"):
                    pause_error = pause_error or result.error
                by_id[result.key] = values
        self._write_outcomes(by_id)
        written = self.browse(list(by_id))
        written._update_notifications()
        sent = written.filtered("wamid")
        if sent:
            self.env["whatsapp.status.pending"]._apply_pending(sent)
            self.env["whatsapp.status.pending"]._apply_pending_after_commit(sent)
        if pause_error is not None:
            self.account_id._whatsapp_pause_queue(pause_error)
        return written

    # ------------------------------------------------------------
    # SCHEDULING
    # ------------------------------------------------------------

    @api.model
    def _schedule_next_run(self, asap=False):
        """Trigger the queue cron at the earliest due retry (or right away)."""
        self._trigger_cron_when_due(
            "whatsapp.ir_cron_whatsapp_message_queue",
            SQL(
                "SELECT MIN(next_attempt) FROM whatsapp_message WHERE state IN ('queued', 'sending') "
                "AND next_attempt IS NOT NULL"
            ),
            asap=asap,
        )

    @api.model
    def _trigger_cron_when_due(self, cron_xmlid, due_query, asap=False):
        """Trigger a WhatsApp cron right away (``asap``), or at the earliest date ``due_query`` selects.

        :param str cron_xmlid: the cron to trigger
        :param SQL due_query: selects one datetime (or NULL: nothing due, no trigger)
        """
        cron = self.env.ref(cron_xmlid, raise_if_not_found=False)
        if not cron:
            return
        if asap:
            cron._trigger()
            return
        self.env.cr.execute(due_query)
        at = self.env.cr.fetchone()[0]
        if at:
            cron._trigger(at=max(at, fields.Datetime.now()))

    @api.model
    def _param(self, key):
        # sudo: technical tuning parameters, readable by the queue whoever runs it
        value = self.env["ir.config_parameter"].sudo().get_param(key)
        try:
            return int(value) if value not in (None, "", False) else DEFAULTS[key]
        except ValueError:
            return DEFAULTS[key]
