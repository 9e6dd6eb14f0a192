import json
import logging
import random
import time
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, mute_logger

_logger = logging.getLogger(__name__)

#: a parked status is applied at the latest this long after its park committed (the queue cron's run)
RECHECK_SECONDS = 5
#: tries of the send's own application of the statuses parked for its messages (concurrency conflicts)
APPLY_TRIES = 3
#: database name -> ``time.time()`` of the queue cron run this process last scheduled for parked statuses
_recheck_scheduled = {}


class WhatsAppStatusPending(models.Model):
    """Delivery statuses received before their message could take them.

    Meta may report a status before our send committed its wamid, or while the send that owns the row is
    still running. Such statuses are parked here with their wamid and our uuid (Meta echoes
    ``biz_opaque_callback_data``) and applied as soon as the message is written. They are also the
    evidence the runner uses to settle a send whose outcome it never learned.

    The send and the webhook are two transactions that cannot see each other before they commit, so each
    side looks for the other *after* its own commit; whichever commits last finds the other's rows:

    * the send, once its wamids are committed, applies the statuses parked for its messages
      (:meth:`_apply_pending_after_commit`);
    * the webhook, when it parks, has the queue cron (which starts with :meth:`_apply_pending`) run within
      :data:`RECHECK_SECONDS` of its commit (one trigger per process and period, not one per status).
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
        self._schedule_recheck()

    @api.model
    def _schedule_recheck(self, force=False):
        """Have the queue cron apply parked statuses within :data:`RECHECK_SECONDS`, unless this process
        already scheduled a run that late or later (which will see this park: it commits right away).

        :param bool force: schedule it even so (statuses parked earlier that the scheduled run could not
            apply, their message being sent then)
        """
        now = time.time()
        if not force and _recheck_scheduled.get(self.env.cr.dbname, 0) > now + 1:
            return
        cron = self.env.ref("whatsapp.ir_cron_whatsapp_message_queue", raise_if_not_found=False)
        if cron:
            cron._trigger(at=fields.Datetime.now() + timedelta(seconds=RECHECK_SECONDS))
            _recheck_scheduled[self.env.cr.dbname] = now + RECHECK_SECONDS

    @api.model
    def _apply_pending(self, messages=None, conflict_later=False):
        """Apply parked statuses whose message is now known (and not owned by a running send).

        :param messages: messages just written by the runner (their ``sending`` rows included: the runner
            owns them); default: every parked status whose message now exists and is not ``sending``
        :param bool conflict_later: a concurrent update met while applying them leaves them parked instead of
            failing the transaction (the caller applies them again once it committed)
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
        if not conflict_later:
            return parked._apply_parked()
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                parked._apply_parked()
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            self.env.invalidate_all()

    def _apply_parked(self):
        for account, group in self.grouped("account_id").items():
            self.env["whatsapp.message"]._apply_meta_statuses(
                account, group.mapped("value"), own_sending=True
            )
        self.unlink()

    @api.model
    def _apply_pending_after_commit(self, messages):
        """Once the transaction that wrote ``messages``' wamids commits, apply the statuses parked for them
        meanwhile (by a webhook that could not see the wamids yet), in a transaction of its own."""
        postcommit = self.env.cr.postcommit
        ids = postcommit.data.setdefault("whatsapp.status.pending.message_ids", set())
        if not ids:
            registry, context = self.env.registry, self.env.context

            @postcommit.add
            def apply_parked():
                for attempt in range(APPLY_TRIES):
                    try:
                        with registry.cursor() as cr:
                            env = api.Environment(cr, SUPERUSER_ID, context)
                            messages = env["whatsapp.message"].browse(sorted(ids))
                            env["whatsapp.status.pending"]._apply_pending(messages)
                        return
                    except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                        # a webhook updates the same messages right now: try again, as Odoo retries a request
                        time.sleep(random.uniform(0, 0.1 * 2**attempt))  # noqa: S311 - not crypto
                    except Exception:  # the send is committed: never fail it; the queue cron applies them
                        _logger.exception("WhatsApp: parked statuses of messages %s not applied", sorted(ids))
                        break
                _logger.info("WhatsApp: parked statuses of messages %s left to the queue cron", sorted(ids))
                # the cron applies them, but nothing else may run it soon: the parks scheduled their recheck
                # while these messages were still being sent, and no status of them will be parked again
                with registry.cursor() as cr:
                    api.Environment(cr, SUPERUSER_ID, context)["whatsapp.status.pending"]._schedule_recheck(
                        force=True
                    )

        ids.update(messages.ids)

    @api.autovacuum
    def _gc_orphans(self):
        """Statuses of messages never seen in 30 days will never be applied."""
        limit = fields.Datetime.now() - timedelta(days=30)
        self.sudo().search([("create_date", "<", limit)]).unlink()  # sudo: technical table
