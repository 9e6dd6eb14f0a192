import json
import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)


class WhatsAppStatusPending(models.Model):
    """Delivery statuses received before their message could take them.

    Meta may report a status before our send committed its wamid, or while the send that owns the row is
    still running. Such statuses are parked here with their wamid and our uuid (Meta echoes
    ``biz_opaque_callback_data``) and applied by the queue runner as soon as the message is written. They
    are also the evidence the runner uses to settle a send whose outcome it never learned.
    """

    _name = "whatsapp.status.pending"
    _description = "WhatsApp Status Waiting for its Message"
    _order = "id"

    account_id = fields.Many2one("whatsapp.account", required=True, index=True, ondelete="cascade")
    wamid = fields.Char(index=True)
    uuid = fields.Char(index=True)
    status = fields.Char()
    value = fields.Json(help="The status object as Meta sent it.")

    @api.model
    def _park(self, account, statuses):
        """Park ``statuses`` of ``account`` (one INSERT: the webhook's hot path, nothing to compute)."""
        now = fields.Datetime.now()
        rows = SQL(", ").join(
            SQL(
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                account.id,
                s.get("id"),
                s.get("biz_opaque_callback_data"),
                s.get("status"),
                json.dumps(s),
                self.env.uid,
                now,
                self.env.uid,
                now,
            )
            for s in statuses
        )
        # raw SQL, no access check: technical queue table, written by the webhook (as superuser)
        self.env.cr.execute(
            SQL(
                """INSERT INTO whatsapp_status_pending (account_id, wamid, uuid, status, value,
                                                        create_uid, create_date, write_uid, write_date)
                   VALUES %s""",
                rows,
            )
        )

    @api.model
    def _apply_pending(self, messages=None):
        """Apply parked statuses whose message is now known (and not owned by a running send).

        :param messages: messages just written by the runner (their ``sending`` rows included: the runner
            owns them); default: every parked status whose message now exists and is not ``sending``
        """
        self.flush_model()
        self.env["whatsapp.message"].flush_model()
        if messages is not None:
            if not messages:
                return
            restrict = SQL("m.id IN %s", tuple(messages.ids))
        else:
            restrict = SQL("m.state != 'sending'")
        self.env.cr.execute(
            SQL(
                """SELECT p.id FROM whatsapp_status_pending p
                     JOIN whatsapp_message m ON m.wamid = p.wamid WHERE %(r)s
                    UNION
                   SELECT p.id FROM whatsapp_status_pending p
                     JOIN whatsapp_message m ON m.uuid = p.uuid WHERE %(r)s""",
                r=restrict,
            )
        )
        parked = self.sudo().browse(sorted(r[0] for r in self.env.cr.fetchall()))  # sudo: technical table
        if not parked:
            return
        for account, group in parked.grouped("account_id").items():
            self.env["whatsapp.message"]._apply_meta_statuses(
                account, group.mapped("value"), own_sending=True
            )
        parked.unlink()

    @api.autovacuum
    def _gc_orphans(self):
        """Statuses of messages never seen in 30 days will never be applied."""
        limit = fields.Datetime.now() - timedelta(days=30)
        self.sudo().search([("create_date", "<", limit)]).unlink()  # sudo: technical table
