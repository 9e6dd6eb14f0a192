"""Bulk sends: a selection sent from the composer, expanded into messages by the queue cron.

Queueing 1,000 recipients in the sender's request would create 3,000 records there (chatter messages,
WhatsApp messages, notifications). Like ``mailing.mailing`` in mass mailing, the composer only checks what
the sender may send and stores one job; the queue cron (``whatsapp.message._process_queue``) expands it
chunk by chunk through the thread API, with the sender's rights, then sends the messages as usual.

A chunk's messages and the job's progress are written in the same transaction (committed together by the
cron, never under tests): a worker dying mid-expansion neither duplicates nor loses a recipient, the next
run goes on from the committed progress.
"""

import logging
import time
from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

#: system parameter: records expanded per transaction (one ``_whatsapp_send_template`` call)
CHUNK_SIZE_PARAM = "whatsapp.bulk_send_chunk_size"
DEFAULT_CHUNK_SIZE = 500
#: message states counted as "sent", "not sent" in a job's outcome (the others are pending)
SENT_STATES = ("sent", "delivered", "read", "replied")
NOT_SENT_STATES = ("failed", "bounced", "cancelled")


class WhatsAppBulkSend(models.Model):
    _name = "whatsapp.bulk.send"
    _description = "WhatsApp Bulk Send"
    _order = "id desc"

    # what the sender queued (checked by the composer, checked again at expansion with the sender's rights)
    template_id = fields.Many2one("whatsapp.template", "Template", readonly=True, ondelete="set null")
    account_id = fields.Many2one("whatsapp.account", "Account", readonly=True, index=True, ondelete="cascade")
    res_model = fields.Char("Document Model", required=True, readonly=True)
    res_model_description = fields.Char("Document Type", compute="_compute_res_model_description")
    res_ids = fields.Json(
        "Document IDs", readonly=True, help="Ids of the records, in the order they are sent."
    )
    free_text = fields.Json(
        "Free Text Values", readonly=True, help="Values typed in the composer, by template variable id."
    )
    number_field_name = fields.Char(
        "Number Field", readonly=True, help="Field of the records holding the number to use instead of the "
        "template's phone field.",
    )  # fmt: skip
    attachment_id = fields.Many2one("ir.attachment", "Header File", readonly=True, ondelete="set null")
    company_id = fields.Many2one(
        "res.company", "Company", readonly=True, help="The sender's current company when queued."
    )
    company_ids = fields.Many2many(
        "res.company", string="Companies", readonly=True, help="The sender's allowed companies when queued."
    )
    # progress
    state = fields.Selection(
        [
            ("queued", "Queued"),
            ("in_progress", "In Progress"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="queued",
        readonly=True,
        index=True,
    )
    record_count = fields.Integer("Records", readonly=True)
    done_count = fields.Integer("Records Done", readonly=True)
    progress = fields.Float("Progress", compute="_compute_progress")
    message_count = fields.Integer("Messages", readonly=True, help="Messages created (one per record).")
    failed_count = fields.Integer(
        "Failed When Created",
        readonly=True,
        help="Messages failed when created: invalid, missing or opted-out numbers.",
    )
    error = fields.Text(readonly=True)
    date_done = fields.Datetime("Expanded On", readonly=True)
    message_ids = fields.One2many("whatsapp.message", "bulk_send_id", "WhatsApp Messages")
    # outcome, from the messages' current states (a message may still fail once handed to Meta)
    not_sent_message_ids = fields.One2many(
        "whatsapp.message",
        "bulk_send_id",
        "Messages Not Sent",
        domain=[("state", "in", NOT_SENT_STATES)],
        readonly=True,
    )
    sent_count = fields.Integer("Sent", compute="_compute_outcome", help="Messages accepted by Meta.")
    pending_count = fields.Integer("Pending", compute="_compute_outcome", help="Messages still queued.")
    not_sent_count = fields.Integer(
        "Not Sent", compute="_compute_outcome", help="Messages failed, bounced or cancelled."
    )
    skipped_count = fields.Integer(
        "Skipped", compute="_compute_outcome", help="Records deleted before their message was created."
    )
    has_failures = fields.Boolean(compute="_compute_outcome")
    outcome_summary = fields.Char("Outcome", compute="_compute_outcome")

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends("template_id", "record_count")
    def _compute_display_name(self):
        for job in self:
            job.display_name = self.env._(
                "%(template)s to %(count)s records",
                template=job.template_id.name or self.env._("Deleted template"),
                count=job.record_count,
            )

    @api.depends("res_model")
    def _compute_res_model_description(self):
        self.res_model_description = False
        for job in self.filtered(lambda j: j.res_model in self.env):
            job.res_model_description = self.env["ir.model"]._get(job.res_model).display_name

    @api.depends("done_count", "message_count", "message_ids.state")
    def _compute_outcome(self):
        counts = defaultdict(int)
        if self.ids:
            # sudo: counting the job's messages, which its reader may see (the job's counters are public)
            groups = (
                self.env["whatsapp.message"]
                .sudo()
                ._read_group([("bulk_send_id", "in", self.ids)], ["bulk_send_id", "state"], ["__count"])
            )
            for job, state, count in groups:
                counts[job.id, state] += count
        for job in self:
            job.sent_count = sum(counts[job.id, state] for state in SENT_STATES)
            job.not_sent_count = sum(counts[job.id, state] for state in NOT_SENT_STATES)
            job.pending_count = counts[job.id, "queued"] + counts[job.id, "sending"]
            job.skipped_count = max(0, job.done_count - job.message_count)
            job.has_failures = bool(job.not_sent_count or job.skipped_count)
            job.outcome_summary = self.env._(
                "%(sent)s sent, %(not_sent)s not sent, %(skipped)s skipped, %(pending)s pending",
                sent=job.sent_count,
                not_sent=job.not_sent_count,
                skipped=job.skipped_count,
                pending=job.pending_count,
            )

    @api.depends("done_count", "record_count")
    def _compute_progress(self):
        for job in self:
            job.progress = 100.0 * job.done_count / job.record_count if job.record_count else 0.0

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_cancel(self):
        """Stop queued or in-progress bulk sends; their messages still queued are cancelled too."""
        self.env.cr.execute(
            SQL("SELECT id FROM whatsapp_bulk_send WHERE id IN %s FOR UPDATE", tuple(self.ids) or (0,))
        )  # wait for a chunk being expanded: its messages are cancelled with the others
        self.invalidate_recordset(["state"])
        to_cancel = self.filtered(lambda j: j.state in ("queued", "in_progress"))
        if not to_cancel:
            raise UserError(self.env._("Only queued or in-progress bulk sends can be cancelled."))
        # sudo: senders read their jobs (checked by the filter above) but never write them
        to_cancel.sudo().write({"state": "cancelled"})
        # sudo: the sender may cancel what their own jobs queued (the jobs' access is checked above); plain
        # users never write messages themselves
        queued = to_cancel.sudo().message_ids.filtered(lambda m: m.state == "queued")
        if queued:
            queued.action_cancel()
        return True

    def action_retry(self):
        """Queue failed bulk sends again once their cause is fixed: the expansion goes on from the records
        left (the chunk that failed was rolled back, the messages of the chunks before it stay)."""
        failed = self.filtered(lambda j: j.state == "failed")
        if not failed or failed != self:
            raise UserError(self.env._("Only failed bulk sends can be retried."))
        # sudo: senders read their jobs (checked by the filter above) but never write them
        failed.sudo().write({"state": "in_progress" if any(failed.mapped("done_count")) else "queued",
                             "error": False})  # fmt: skip
        self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        return True

    def action_view_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("whatsapp.whatsapp_message_action")
        action["domain"] = [("bulk_send_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    def action_view_not_sent(self):
        """The job's messages not sent, with their reason (one click to each record from there)."""
        action = self.action_view_messages()
        action["domain"] = [("bulk_send_id", "=", self.id), ("state", "in", NOT_SENT_STATES)]
        action["name"] = self.env._("Not Sent")
        return action

    # ------------------------------------------------------------
    # QUEUE (composer)
    # ------------------------------------------------------------

    @api.model
    def _queue(self, template, records, free_text=None, number_field_name=False, attachment=None):
        """Store a bulk send of ``template`` to ``records`` and trigger the queue cron.

        The caller checked that the sender may send it (``whatsapp.composer._check_can_send``); nothing is
        rendered here. The sender is the current user, with the current companies.

        :param dict free_text: ``{variable id: value}`` of the free-text variables
        :param str number_field_name: field of the records to read the number from (else the template's)
        :param attachment: an ``ir.attachment`` replacing the template's header file (copied to the job)
        :return: the new ``whatsapp.bulk.send``
        """
        # sudo: jobs are created here only, after the composer's checks; senders only read theirs
        job = (
            self.sudo()
            .create(
                {
                    "template_id": template.id,
                    "account_id": template.account_id.id,
                    "res_model": records._name,
                    "res_ids": records.ids,
                    "record_count": len(records),
                    "free_text": {str(key): value for key, value in (free_text or {}).items()},
                    "number_field_name": number_field_name or False,
                    "company_id": self.env.company.id,
                    "company_ids": [fields.Command.set(self.env.companies.ids)],
                }
            )
            .with_env(self.env)
        )
        if attachment:
            # sudo: the sender's own file (read by the composer's checks), copied onto their job so that it
            # outlives the wizard and is readable by whoever may read the job
            job.sudo().attachment_id = attachment.sudo().copy({"res_model": self._name, "res_id": job.id})
        self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        return job

    # ------------------------------------------------------------
    # EXPANSION (queue cron)
    # ------------------------------------------------------------

    @api.model
    def _expand_queued(self, account_ids=None, auto_commit=False, deadline=None, chunk_size=None):
        """Expand due jobs into messages, one chunk per transaction, until none is left or ``deadline``.

        :param account_ids: only the jobs of these accounts (default: all)
        :param auto_commit: commit after each chunk (the caller turns it off under tests)
        :param float deadline: ``time.monotonic()`` value after which no new chunk is started (0: one chunk)
        :param int chunk_size: records per chunk, at most the ``whatsapp.bulk_send_chunk_size`` parameter
        :return: True when every due job was expanded, False when stopped by the deadline, None when the next
            job is being expanded by another worker
        """
        # sudo: the queue expands every sender's jobs; each chunk is rendered with its sender's rights
        jobs = self.sudo()
        chunk_size = min(chunk_size, jobs._chunk_size()) if chunk_size else jobs._chunk_size()
        while True:
            job = jobs._lock_next(account_ids)
            if job is None:  # another worker expands it now: not done here, the caller comes back later
                return None
            if not job:
                return True
            job._expand_chunk(chunk_size)
            if auto_commit:
                self.env.cr.commit()  # the chunk's messages and the job's progress, together
            if deadline is not None and time.monotonic() > deadline:
                return False

    @api.model
    def _lock_next(self, account_ids=None):
        """The oldest due job, locked until the end of the transaction (jobs locked by another worker are
        skipped), with its progress read fresh from the database; empty when no job is due; None when every due
        job is being expanded by another worker, or another worker updated it since this transaction's snapshot
        (REPEATABLE READ: the caller tries again on a fresh one)."""
        self.flush_model()
        due = SQL(
            "state IN ('queued', 'in_progress') %s",
            SQL("AND account_id IN %s", tuple(account_ids)) if account_ids else SQL(),
        )
        try:
            with self.env.cr.savepoint(flush=False):
                # skipped is not done: a job another worker holds is still to expand (by it, or by us later)
                self.env.cr.execute(
                    SQL(
                        """WITH locked AS (SELECT id FROM whatsapp_bulk_send WHERE %(due)s
                                          ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                           SELECT (SELECT id FROM locked), EXISTS (SELECT 1 FROM whatsapp_bulk_send WHERE %(due)s)""",
                        due=due,
                    ),
                    log_exceptions=False,
                )
                job_id, due_exists = self.env.cr.fetchone()
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            return None
        if not job_id and due_exists:
            return None
        job = self.browse(job_id or ())
        job.invalidate_recordset()
        return job

    def _expand_chunk(self, chunk_size):
        """Create the messages of the next ``chunk_size`` records and write the progress.

        An error (the sender lost access, the template is no longer approved...) rolls the chunk back and
        fails the job with the error; the messages of the previous chunks stay queued.
        """
        self.ensure_one()
        all_ids = self.res_ids or []
        start = self.done_count
        ids = all_ids[start : start + chunk_size]
        try:
            with self.env.cr.savepoint():
                messages = self._send_chunk(ids)
                finished = start + len(ids) >= len(all_ids)
                failed = messages.filtered(lambda m: m.state in ("failed", "bounced"))
                self.write(
                    {
                        "state": "done" if finished else "in_progress",
                        "done_count": start + len(ids),
                        "message_count": self.message_count + len(messages),
                        "failed_count": self.failed_count + len(failed),
                        "date_done": fields.Datetime.now() if finished else False,
                    }
                )
        except Exception as error:  # noqa: BLE001 - any error fails this job only, never the queue
            self._fail(error, start)

    def _send_chunk(self, ids):
        """Send the template to the records ``ids`` through the thread API, as the sender; link the messages.

        :return: the new ``whatsapp.message`` records
        """
        if not ids:
            return self.env["whatsapp.message"]
        if not self.template_id:
            raise UserError(self.env._("The template of this bulk send was deleted."))
        if self.res_model not in self.env:
            raise UserError(self.env._("The model %(model)s is no longer installed.", model=self.res_model))
        env = self._sender_env()
        template = self.template_id.with_env(env)
        records = env[self.res_model].browse(ids).exists()  # records deleted since: nothing to send
        if template not in env["whatsapp.template"]._find_available(self.res_model):
            raise AccessError(
                self.env._(
                    "%(user)s may no longer send the template “%(name)s”: it is not approved anymore, or "
                    "restricted to other users or companies.",
                    user=env.user.name,
                    name=self.template_id.name,
                )
            )
        # the same checks as the composer, now: the sender may read the records and every value
        env["whatsapp.composer"]._check_values_access(template, records)
        messages = records._whatsapp_send_composed(
            template,
            free_text=self.free_text or {},
            queue=True,
            number_field=self.number_field_name,
            header=self.attachment_id,
        )
        messages = messages.with_env(self.env)
        messages.write({"bulk_send_id": self.id})
        return messages

    def _sender_env(self):
        """The sender's environment as when they queued the job (user, companies, language)."""
        sender = self.create_uid
        if not sender.active:
            raise AccessError(self.env._("The sender %(user)s is archived.", user=sender.name))
        lost = self.company_ids - sender.company_ids
        if lost:
            raise AccessError(
                self.env._(
                    "%(user)s no longer has access to %(companies)s.",
                    user=sender.name,
                    companies=", ".join(lost.mapped("name")),
                )
            )
        company_ids = (self.company_id | self.company_ids).ids
        return api.Environment(
            self.env.cr,
            sender.id,
            {"lang": sender.lang, "tz": sender.tz, "allowed_company_ids": company_ids},
        )

    def _fail(self, error, start):
        if not isinstance(error, UserError):
            _logger.exception("WhatsApp bulk send %s: expansion failed", self.id)
        reason = error.args[0] if isinstance(error, UserError) and error.args else repr(error)
        self.write(
            {
                "state": "failed",
                "error": self.env._(
                    "Stopped after %(done)s of %(total)s records: %(reason)s",
                    done=start,
                    total=self.record_count,
                    reason=reason,
                ),
            }
        )

    @api.model
    def _chunk_size(self):
        # sudo: a technical tuning parameter
        value = self.env["ir.config_parameter"].sudo().get_param(CHUNK_SIZE_PARAM)
        try:
            return max(1, int(value)) if value else DEFAULT_CHUNK_SIZE
        except ValueError:
            return DEFAULT_CHUNK_SIZE
