"""Delivery statuses (webhook ``messages`` > ``statuses``): one batched, monotonic, idempotent pass."""

import logging
from datetime import UTC, datetime

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import meta_status
from ..tools.graph_api import WhatsAppApiError

_logger = logging.getLogger(__name__)


class WhatsAppMessage(models.Model):
    _inherit = "whatsapp.message"

    @api.model
    def _apply_meta_statuses(self, account, statuses, own_sending=False):
        """Apply Meta's ``statuses[]`` objects: a few queries whatever their number.

        * matched by wamid, or by our uuid (``biz_opaque_callback_data``) when the wamid is not known yet;
        * applied only when the status ranks above the stored state (``tools/meta_status.py``): a late
          ``delivered`` never lowers ``read``, a duplicate is a no-op;
        * a message still ``sending`` belongs to a running send (its row may be updated by it any moment):
          its statuses are parked in ``whatsapp.status.pending`` and applied once the send wrote its result
          (``own_sending=True`` is the runner itself applying them);
        * statuses of unknown messages are parked the same way (their send has not committed yet).

        :param account: the ``whatsapp.account`` the statuses came for
        :param list statuses: Meta status objects (``id``, ``status``, ``timestamp``, ``errors``...)
        :return: the messages whose state changed
        """
        statuses = [
            s for s in statuses if isinstance(s, dict) and (s.get("id") or s.get("biz_opaque_callback_data"))
        ]
        if not statuses:
            return self.browse()
        self.flush_model()
        wamids = [s["id"] for s in statuses if s.get("id")]
        uuids = [s["biz_opaque_callback_data"] for s in statuses if s.get("biz_opaque_callback_data")]
        self.env.cr.execute(
            SQL(
                """SELECT id, wamid, uuid, state, failure_type, sending_since FROM whatsapp_message
                    WHERE direction = 'outbound' AND (wamid = ANY(%s) OR uuid = ANY(%s))""",
                wamids,
                uuids,
            )
        )
        rows = {}
        by_wamid, by_uuid = {}, {}
        for mid, wamid, uuid, state, failure_type, sending_since in self.env.cr.fetchall():
            rows[mid] = {
                "state": state,
                "failure_type": failure_type,
                "old_state": state,
                "wamid": wamid,
                "sending_since": sending_since,
                "changed": False,
            }
            if wamid:
                by_wamid[wamid] = mid
            by_uuid[uuid] = mid
        pending, watermark = [], None
        for status in statuses:
            mid = by_wamid.get(status.get("id")) or by_uuid.get(status.get("biz_opaque_callback_data"))
            row = rows.get(mid)
            if row is None or (row["old_state"] == "sending" and not own_sending):
                pending.append(status)
                continue
            if row["sending_since"] and (watermark is None or row["sending_since"] > watermark):
                watermark = row["sending_since"]
            self._merge_status(row, status)
        changed = {mid: row for mid, row in rows.items() if row["changed"]}
        messages = self._write_statuses(changed)
        if pending:
            self.env["whatsapp.status.pending"]._park(account, pending)
        if watermark and (not account.status_watermark or watermark > account.status_watermark):
            # sudo: the watermark is technical queue state written from the webhook and the cron
            account.sudo().status_watermark = watermark
        messages._update_notifications()
        return messages

    @api.model
    def _merge_status(self, row, status):
        """Fold one Meta status into the in-memory ``row`` if it moves the message forward."""
        meta = status.get("status")
        if status.get("id") and not row["wamid"]:
            row.update(wamid=status["id"], changed=True)
        rank = meta_status.current_rank(row["state"], row["failure_type"])
        if not meta_status.should_apply(rank, meta):
            return
        values = {
            "state": meta_status.META_STATUS_TO_STATE[meta],
            "failure_type": None,
            "failure_reason": None,
            "error_code": 0,
            "changed": True,
            "status_date": self._status_datetime(status.get("timestamp")),
        }
        if meta == "failed":
            error = (status.get("errors") or [{}])[0]
            _cat, _retry, failure_type, reason, code = self._failure_from_error(
                WhatsAppApiError.from_meta(error)
            )
            values.update(self._outcome_failed(failure_type, reason, code))
        row.update(values)

    #: fields read right after a status update (chatter notifications, marketing stops): returned by the
    #: UPDATE and put in the cache, so that nobody fetches the whole rows again
    STATUS_RETURNED_FIELDS = (
        "state", "failure_type", "failure_reason", "error_code", "mail_message_id", "model", "number",
        "account_id",
    )  # fmt: skip

    def _write_statuses(self, changed):
        """One UPDATE for every changed message; guarded by the state read (concurrent writers).

        :return: the messages actually updated, their :data:`STATUS_RETURNED_FIELDS` in the cache
        """
        if not changed:
            return self.browse()
        rows = SQL(", ").join(
            SQL(
                "(%s::int, %s::varchar, %s::varchar, %s::varchar, %s::varchar, %s::text, %s::int, %s::timestamp)",
                mid,
                row["old_state"],
                row["state"],
                row["wamid"],
                row.get("failure_type"),
                row.get("failure_reason"),
                row.get("error_code") or 0,
                row.get("status_date"),
            )
            for mid, row in changed.items()
        )
        self.env.cr.execute(
            SQL(
                """UPDATE whatsapp_message m
                      SET state = v.state, wamid = COALESCE(m.wamid, v.wamid), next_attempt = NULL,
                          failure_type = CASE WHEN v.state = m.state AND v.failure_type IS NULL
                                              THEN m.failure_type ELSE v.failure_type END,
                          failure_reason = CASE WHEN v.state = m.state AND v.failure_type IS NULL
                                                THEN m.failure_reason ELSE v.failure_reason END,
                          error_code = CASE WHEN v.state = m.state AND v.failure_type IS NULL
                                            THEN m.error_code ELSE v.error_code END,
                          status_date = COALESCE(v.status_date, m.status_date),
                          write_date = %s, write_uid = %s
                     FROM (VALUES %s) AS v(id, old_state, state, wamid, failure_type, failure_reason,
                                           error_code, status_date)
                    WHERE m.id = v.id AND m.state = v.old_state
                RETURNING m.id, %s""",
                fields.Datetime.now(),
                self.env.uid,
                rows,
                SQL(", ").join(SQL.identifier("m", name) for name in self.STATUS_RETURNED_FIELDS),
            )
        )
        returned = self.env.cr.fetchall()
        self.invalidate_model()
        messages = self.browse([row[0] for row in returned])
        for index, name in enumerate(self.STATUS_RETURNED_FIELDS, start=1):
            field = self._fields[name]
            values = [field.convert_to_cache(row[index], messages, validate=False) for row in returned]
            self.env.cache.update(messages, field, values)
        return messages

    @api.model
    def _status_datetime(self, timestamp):
        try:
            return datetime.fromtimestamp(int(timestamp), tz=UTC).replace(tzinfo=None)
        except (TypeError, ValueError, OverflowError, OSError):
            return None
