"""``whatsapp.message``: one WhatsApp message, outbound or inbound.

Sections: actions, the sending queue (claim, send concurrently, write results in batches, reconcile),
outcomes, delivery statuses, marketing stops, inbound media, chatter notifications.

The sending queue

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
   b. the webhook inbox still holds unprocessed (pending or failed) events mentioning their uuid -> wait
      for them (the lease is extended);
   c. the account received statuses for messages claimed *after* them at least
      ``whatsapp.status_margin_seconds`` later, yet none for them -> ``failed`` with failure type
      ``unknown_outcome`` now. Never requeued: after an outage Meta redelivers old status webhooks late,
      so a call that reached Meta may still be reported (a requeue would send it twice). The evidence
      is computed here, from the messages, never written per status on the account row (every status
      batch of the account would serialise on that one row);
   d. no evidence either way after ``whatsapp.unknown_outcome_minutes`` -> ``failed`` with failure
      type ``unknown_outcome`` and an explanation; the user decides (Retry). A status arriving later
      still settles it (``meta_status.current_rank`` lets any Meta status override it).

   Only errors that prove the request never reached Meta (connection refused, connect timeout) or
   that Meta answered with an error (4xx/5xx with a body: Meta did not accept the message) are
   retried directly with backoff.

Runners: every account at once, several processes
--------------------------------------------------
A queue run sends every account that has work at the same time (:meth:`_send_accounts`): one pool of sender
threads with a lane per account, each lane paced by its account's clock shared in PostgreSQL
(``whatsapp_send_clock``), so a campaign of one account never holds another back. The run's thread keeps every
lane fed with claimed batches (rule 1) and writes each batch when its last call is answered (rule 3).

Several runners may send at once: the queue cron and its second runner (duplicate it for more), on the cron
threads of several servers. Each claims its own rows (rule 1), they share each account's cap, one at a time
applies the parked statuses and reconciles (an advisory lock), and a second runner in the same process steps
aside (it would only share the first one's CPU). A runner that claims a full batch wakes the others.

Under tests nothing is committed (``auto_commit`` is ignored, like ``sms``); the crash window is
tested by running the claim and the calls, dropping the results, then running the queue again.
"""

import logging
import mimetypes
import random
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from markupsafe import Markup
from odoo import SUPERUSER_ID, api, fields, models, sql_db
from odoo.addons.mail.tools.discuss import Store
from odoo.exceptions import UserError, ValidationError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, config, create_index, html_escape, mute_logger

from ..tools import message_payloads, meta_errors, meta_status
from ..tools.graph_errors import WhatsAppApiError
from ..tools.inbound_parser import (
    keyword_set,
    normalise_keyword,
    optin_keyword_set,
    parse_contacts,
    parse_message,
    safe_mimetype,
)
from ..tools.runtime import in_tests
from ..tools.sender import CLOCK_TABLE_SQL, SenderPool, reserve_slots

_logger = logging.getLogger(__name__)

DEFAULTS = {
    "whatsapp.send_batch_size": 500,
    "whatsapp.send_max_attempts": 5,
    "whatsapp.send_lease_minutes": 15,
    "whatsapp.send_timeout_grace_seconds": 120,
    "whatsapp.status_margin_seconds": 60,
    "whatsapp.unknown_outcome_minutes": 60,
    "whatsapp.send_workers": 0,  # 0 = automatic (from the account's rate)
    # msg/s: the other runners are woken to help only when the caps of the accounts with more than a batch due
    # add up to more than this (0: whenever a batch is full). One runner sends 400-500 msg/s. Two runners were
    # faster while the expansion held the sends back (each expanded in turn); with the expansion ahead, a campaign
    # at 80 msg/s takes the same time with one runner or two (bench/campaign.py: 156.8 against 152.2-157.0 s): one
    # runner leaves the other cron worker to the status applier
    "whatsapp.runner_help_above": 200,
}

#: retry "now": exponential backoff base and cap (seconds); "later": base and cap
BACKOFF_NOW = (2, 300)
BACKOFF_LATER = (300, 6 * 3600)
#: exception names (of the transport error's cause) proving the request never left this server
_NEVER_SENT = ("ConnectTimeout", "NewConnectionError", "Connection refused", "LoopbackOnlyError")

#: the queue runner: looks at its lanes every WAIT_SECONDS at least while calls are made; claims for a lane holding
#: less than READY_SECONDS of its account's sends (a look at the lanes may come seconds later on a busy machine: the
#: expansion, a status batch, the writes in between); an account found empty looked at again every RECLAIM_SECONDS
#: while others send; claims of at least MIN_CLAIM messages (else two seconds of the account's sends, at most
#: ``whatsapp.send_batch_size``); sender threads of one runner at most; tries of a claim that met a concurrent
#: runner's
WAIT_SECONDS = 0.5
READY_SECONDS = 2.0
RECLAIM_SECONDS = 1.0
MIN_CLAIM = 20
#: recipients of a bulk send expanded between two looks at the lanes (about 0.3 s); slices expanded one after the
#: other, without a look's wait, while less than AHEAD_SECONDS of the accounts' sends are queued; statuses applied
#: that often
EXPAND_SLICE = 100
AHEAD_SECONDS = 5.0
APPLY_STATUSES_EVERY = 0.5
MAX_SENDER_THREADS = 128
CLAIM_TRIES = 3
MAX_TIME_BUDGET = 600  # seconds of a queue run, at most (see queue_time_budget)
TIME_BUDGET_MARGIN = 30  # seconds left to a run's calls in flight and last writes before Odoo's limit
WRITE_TRIES = 5
#: databases a queue runner of this process is running for (a second runner in the same process steps aside)
_runners = set()
_runners_lock = threading.Lock()
#: advisory lock key of the queue's housekeeping (parked statuses, stale sends): one runner at a time
HOUSEKEEPING_LOCK = 0x5741_5155  # "WAQU"

#: the notification statuses the web client shows as failures (a failure icon, an entry of the messaging menu)
FAILURE_NOTIFICATION_STATUSES = ("exception", "bounce")

#: inbound media downloads: attempts before giving up, messages per cron run
MEDIA_MAX_ATTEMPTS = 6
MEDIA_BATCH = 50
#: the user stopped marketing messages (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
OPT_OUT_CODE = 131050


def queue_time_budget():
    """Seconds a queue run may last before it hands over to a new run: 600, or a third of what the real-time
    limit on cron workers leaves after a margin for the calls in flight and the last writes. A prefork cron
    worker is killed after ``limit_time_real_cron`` seconds (``limit_time_real`` when that is -1: 120 s by
    default) counted over every job ready when it looked (both queue runners and the status applier may run
    in one pass): 30 s by default."""
    limit = config["limit_time_real_cron"]
    if limit == -1:
        limit = config["limit_time_real"]
    if not limit or limit <= 0:
        return MAX_TIME_BUDGET
    return max(limit / 6, min(MAX_TIME_BUDGET, (limit - TIME_BUDGET_MARGIN) / 3))


class WhatsAppMessage(models.Model):
    """One WhatsApp message, outbound (a send to Meta) or inbound (received through the webhook).

    Outbound life cycle (see the module docstring for the runner and the no-duplicate rule)::

        queued --claim+commit--> sending --Meta 200--> sent --statuses--> delivered --> read --> replied
           ^                        |--retryable error--> queued (next_attempt = backoff)
           |                        |--permanent error--> failed / bounced (Meta's code and reason)
           |                        `--account error----> queued, account paused
           `--Retry-- failed / bounced / cancelled              queued --Cancel--> cancelled
    """

    _name = "whatsapp.message"
    _description = "WhatsApp Message"
    _order = "id desc"
    _rec_name = "number"

    #: ``meta_errors`` category -> our failure type. Codes live in ``tools/meta_errors.py`` only.
    FAILURE_TYPE_BY_CATEGORY = {
        "auth": "account",
        "permission": "account",
        "account": "account",
        "rate_limit": "throttled",
        "transient": "server",
        "window": "window",
        "recipient": "recipient",
        "template": "template",
        "opt_out": "opt_out",
        "param": "param",
        "media": "media",
        "unknown": "unknown",
    }
    #: Categories that stop the whole account's queue instead of failing messages one by one.
    ACCOUNT_CATEGORIES = frozenset({"auth", "permission", "account"})
    #: Failure types that mean "this number cannot be reached" (state ``bounced`` rather than ``failed``).
    BOUNCE_FAILURE_TYPES = frozenset({"recipient"})
    #: Our state -> ``mail.notification`` status, for the chatter's status icon.
    NOTIFICATION_STATUS = {
        "queued": "ready",
        "sending": "process",
        "sent": "pending",
        "delivered": "sent",
        "read": "sent",
        "replied": "sent",
        "failed": "exception",
        "bounced": "bounce",
        "cancelled": "canceled",
    }

    uuid = fields.Char(
        "UUID",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: uuid4().hex,  # indexed by its unique constraint
        help="Our id of the message, sent to Meta as biz_opaque_callback_data so that a status can be "
        "matched even before Meta's message id is committed.",
    )
    wamid = fields.Char("Meta Message ID", readonly=True, copy=False)  # indexed by its unique constraint
    direction = fields.Selection(
        [("outbound", "Outbound"), ("inbound", "Inbound")], required=True, default="outbound", readonly=True
    )
    state = fields.Selection(
        [
            ("queued", "Queued"),
            ("sending", "Sending"),
            ("sent", "Sent"),
            ("delivered", "Delivered"),
            ("read", "Read"),
            ("replied", "Replied"),
            ("received", "Received"),
            ("failed", "Failed"),
            ("bounced", "Bounced"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="queued",
        readonly=True,
        copy=False,
        index=True,
    )
    failure_type = fields.Selection(
        [
            ("phone_invalid", "Invalid Number"),
            ("blacklisted", "Blacklisted"),
            ("account", "Account Problem"),
            ("throttled", "Rate Limited"),
            ("server", "Meta Unavailable"),
            ("window", "Outside 24-hour Window"),
            ("recipient", "Undeliverable"),
            ("template", "Template Problem"),
            ("opt_out", "Opted Out at Meta"),
            ("param", "Invalid Request"),
            ("media", "Media Problem"),
            ("unknown_outcome", "Unknown Outcome"),
            ("unknown", "Unknown Error"),
        ],
        readonly=True,
        copy=False,
    )
    failure_reason = fields.Text(readonly=True, copy=False, help="Meta's error code and text.")
    error_code = fields.Integer("Meta Error Code", readonly=True, copy=False)
    # recipient and content
    number = fields.Char(readonly=True, help="E.164 number (+ and digits), normalised by phone_validation.")
    bsuid = fields.Char(
        "WhatsApp User ID",
        readonly=True,
        help="Business-scoped user id of a customer known by a WhatsApp username: the recipient when there is "
        "no number.",
    )
    account_id = fields.Many2one("whatsapp.account", "Account", readonly=True, index=True, ondelete="cascade")
    template_id = fields.Many2one("whatsapp.template", "Template", readonly=True, ondelete="set null")
    body = fields.Text(readonly=True)
    payload = fields.Json(readonly=True, copy=False, help="Meta message object, without recipient.")
    header_type = fields.Char(readonly=True, copy=False)
    header_cache_key = fields.Char(readonly=True, copy=False)
    header_attachment_id = fields.Many2one("ir.attachment", readonly=True, copy=False, ondelete="set null")
    ignore_blacklist = fields.Boolean(
        readonly=True, copy=False, help="Opt-out / opt-in confirmations go to blacklisted numbers."
    )
    # the record it belongs to
    model = fields.Char("Related Model", readonly=True, index=True)
    res_id = fields.Many2oneReference("Related Record", model_field="model", readonly=True)
    res_model_description = fields.Char("Document Type", compute="_compute_record_info")
    record_name = fields.Char("Document", compute="_compute_record_info")
    recipient_name = fields.Char(
        "Recipient",
        compute="_compute_record_info",
        help="Who holds the number, e.g. the customer of an order.",
    )
    # the Messages list: who the customer is and which business record it is about, whatever the direction
    partner_id = fields.Many2one(
        "res.partner",
        "Customer",
        compute="_compute_customer_record",
        help="The customer: who the message was sent to, or who wrote it.",
    )
    record_model = fields.Char("Record Model", compute="_compute_customer_record")
    record_res_id = fields.Many2oneReference(
        "Record",
        model_field="record_model",
        compute="_compute_customer_record",
        help="The record the message was sent from, or the one whose template the customer answers.",
    )
    mail_message_id = fields.Many2one(
        "mail.message", "Chatter Message", readonly=True, index="btree_not_null", ondelete="set null"
    )
    bulk_send_id = fields.Many2one(
        "whatsapp.bulk.send", "Bulk Send", readonly=True, index="btree_not_null", ondelete="set null"
    )
    # queue
    attempts = fields.Integer(readonly=True, copy=False, default=0)
    next_attempt = fields.Datetime(readonly=True, copy=False)
    sending_since = fields.Datetime(readonly=True, copy=False)
    status_date = fields.Datetime("Last Status", readonly=True, copy=False)
    # Discuss: inbound kind, read receipts, answers to templates
    queued_date = fields.Datetime(
        "Created On",
        default=fields.Datetime.now,
        readonly=True,
        copy=False,
        help="When the message was created (routing of answers within 15 days).",
    )
    whatsapp_kind = fields.Char("WhatsApp Type", readonly=True, help="Meta's type of an inbound message.")
    whatsapp_read_sent = fields.Boolean("Read Receipt Sent", readonly=True, copy=False)
    whatsapp_answered_message_id = fields.Many2one(
        "whatsapp.message",
        "Answer To",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The template message this inbound message answers.",
    )
    # inbound media (downloaded by _cron_download_media)
    media_uid = fields.Char("Meta Media ID", readonly=True, copy=False)
    media_mimetype = fields.Char(readonly=True, copy=False)
    media_filename = fields.Char(readonly=True, copy=False)
    media_state = fields.Selection(
        [("pending", "Downloading"), ("done", "Downloaded"), ("failed", "Download Failed")],
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    media_attempts = fields.Integer(readonly=True, copy=False)
    media_next_attempt = fields.Datetime(readonly=True, copy=False)
    media_error = fields.Text(readonly=True, copy=False)

    #: fields read right after a send's outcome or a status is written (chatter notifications and ticks, statuses
    #: parked for later, marketing stops): returned by the UPDATE and put in the cache (:meth:`_update_returning`)
    RETURNED_FIELDS = (
        "state", "failure_type", "failure_reason", "error_code", "mail_message_id", "model", "number",
        "account_id", "wamid", "status_date",
    )  # fmt: skip

    _sql_constraints = [
        ("wamid_unique", "unique(wamid)", "A Meta message id belongs to one message only."),
        ("uuid_unique", "unique(uuid)", "The UUID of a WhatsApp message must be unique."),
    ]

    def init(self):
        # the runner claims "queued messages of an account that are due" and reconciles stale sends
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS whatsapp_message_queue_idx
                   ON whatsapp_message (account_id, next_attempt, id)
                WHERE state IN ('queued', 'sending')"""
        )
        # the per-number cap shared by every process and server (see _send_reserve)
        self.env.cr.execute(CLOCK_TABLE_SQL)
        # the template analytics (whatsapp.template stats panel, reporting views): "outbound messages of these
        # templates since <date>" grouped by state and failure type, answered from the index
        create_index(
            self.env.cr,
            "whatsapp_message_template_stats_idx",
            self._table,
            ["template_id", "create_date", "state", "failure_type"],
            where="template_id IS NOT NULL AND direction = 'outbound'",
        )
        # a customer's message routes their chat by "the latest template sent to this number (or user id) on
        # this account" (discuss.channel._whatsapp_route): without these, every reply read all the account's
        # messages (12 ms at 10,000, growing with the history)
        for key in ("number", "bsuid"):
            create_index(
                self.env.cr,
                f"whatsapp_message_{key}_template_idx",
                self._table,
                ["account_id", key, "queued_date"],
                where=f"template_id IS NOT NULL AND direction = 'outbound' AND {key} IS NOT NULL",
            )

    # ------------------------------------------------------------
    # ACCESS: like mail.message, the record a message belongs to decides
    # ------------------------------------------------------------

    def _whatsapp_reads_all(self):
        """Administrators (and superuser) read every message of their companies."""
        return self.env.su or self.env.user.has_group("whatsapp.group_whatsapp_admin")

    def _check_access(self, operation):
        """Plain users read the messages of the records they may read (a chat: by discuss.channel's own rules,
        its members), as ``mail.message`` does; the access rights keep writes for administrators: users write
        through the thread API, the composer and Discuss, which check and then write with a scoped sudo().
        """
        result = super()._check_access(operation)
        if operation != "read" or not self or self._whatsapp_reads_all():
            return result
        messages = self - result[0] if result else self
        forbidden = messages - messages.browse(messages._whatsapp_readable_ids())
        if not forbidden:
            return result
        if result:
            return (result[0] + forbidden, result[1])
        return (forbidden, lambda: forbidden._make_access_error(operation))

    def _whatsapp_readable_ids(self):
        """Ids of ``self`` whose record (``model``, ``res_id``) the current user may read."""
        if not self.ids:
            return set()
        self.flush_model(["model", "res_id"])
        self.env.cr.execute(
            SQL("SELECT id, model, res_id FROM whatsapp_message WHERE id IN %s", tuple(self.ids))
        )
        by_model = defaultdict(lambda: defaultdict(list))
        for message_id, model, res_id in self.env.cr.fetchall():
            if model and res_id:
                by_model[model][res_id].append(message_id)
        allowed = set()
        for model, by_record in by_model.items():
            if model not in self.env or not self.env[model].has_access("read"):
                continue
            records = self.env[model].with_context(active_test=False).browse(list(by_record)).exists()
            for record_id in records._filtered_access("read").ids:
                allowed.update(by_record[record_id])
        return allowed

    @api.model
    def _search(self, domain, offset=0, limit=None, order=None):
        """What :meth:`_check_access` lets read, for searches (as ``mail.message._search``: the page is filtered
        after the query, so a page may hold fewer rows than ``limit``)."""
        query = super()._search(domain, offset, limit, order)
        if self._whatsapp_reads_all() or query.is_empty():
            return query
        ids = [row[0] for row in self.env.execute_query(query.select(SQL.identifier(self._table, "id")))]
        allowed = self.browse(ids)._whatsapp_readable_ids()
        return self.browse([id_ for id_ in ids if id_ in allowed])._as_query(order)

    @api.constrains("header_attachment_id", "template_id", "model", "res_id")
    def _check_header_attachment(self):
        """A header file belongs to the message's record, chat or template: the queue uploads it to Meta as
        superuser, so a file of anything else (one its sender may not read) is refused."""
        for message in self.filtered("header_attachment_id"):
            attachment = message.header_attachment_id.sudo()  # sudo: compare its owner, readable or not
            owners = {(message.model, message.res_id)}
            if message.template_id:
                owners.add(("whatsapp.template", message.template_id.id))
            if (attachment.res_model, attachment.res_id) not in owners:
                raise ValidationError(
                    self.env._(
                        "The header file of a WhatsApp message must belong to its record, chat or template."
                    )
                )

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends("template_id", "record_name", "recipient_name", "number", "bsuid", "direction")
    def _compute_display_name(self):
        """ "Order Ready → Azure Interior (+32 470…)": the template, the person (or record) and the number."""
        for message in self:
            person = message.recipient_name or message.record_name
            address = message.number or message.bsuid
            who = person or address or self.env._("no number")
            if person and address:
                who = f"{person} ({address})"
            if message.direction == "inbound":
                message.display_name = self.env._("From %(who)s", who=who)
            elif message.template_id:
                message.display_name = f"{message.template_id.name} → {who}"
            else:
                message.display_name = who

    @api.depends("model", "res_id")
    def _compute_record_info(self):
        """The record's type ("Sales Order") and name, as the current user may see them."""
        self.res_model_description = False
        self.record_name = False
        self.recipient_name = False
        for model, messages in self.filtered(lambda m: m.model and m.res_id).grouped("model").items():
            if model not in self.env:
                continue
            messages.res_model_description = self.env["ir.model"]._get(model).display_name
            records = self.env[model].browse(set(messages.mapped("res_id"))).exists()
            readable = records._filtered_access("read")
            names = dict(zip(readable.ids, readable.mapped("display_name"), strict=True))
            for message in messages:
                if message.res_id in names:
                    message.record_name = names[message.res_id]
                    message.recipient_name = message._recipient_name(readable.browse(message.res_id))
                elif message.res_id in records.ids:
                    message.record_name = self.env._("Restricted")
                else:
                    message.record_name = self.env._("Deleted")

    @api.depends("model", "res_id", "direction", "whatsapp_answered_message_id")
    def _compute_customer_record(self):
        """The customer and the business record of each message.

        A message of a record (sent from a quotation...): that record, and whoever holds the number (the
        template's phone field), or the record itself when it is a contact. A message of a chat (an answer, an
        operator's post): the chat's customer, and the record of the template an answer answers.
        """
        self.partner_id = False
        self.record_model = False
        self.record_res_id = False
        Channel = self.env["discuss.channel"]
        for message in self:
            if message.model == "discuss.channel":
                # sudo: the chat's customer of a message the user may read (the chat itself may be one they
                # are no member of)
                message.partner_id = Channel.browse(message.res_id).sudo().whatsapp_partner_id.id
                answered = message.whatsapp_answered_message_id
                if answered.model and answered.res_id and answered.model != "discuss.channel":
                    message.record_model, message.record_res_id = answered.model, answered.res_id
                continue
            if not (message.model and message.res_id and message.model in self.env):
                continue
            message.record_model, message.record_res_id = message.model, message.res_id
            record = self.env[message.model].browse(message.res_id)
            if record._name == "res.partner":
                message.partner_id = record.id
            elif message.template_id.phone_field and record.exists() and record._filtered_access("read"):
                holder, _label = message.template_id._get_recipient_field_info(record)
                if holder._name == "res.partner":
                    message.partner_id = holder.id

    def _recipient_name(self, record):
        """The name of whoever holds the number when it is not ``record`` itself (an order's customer)."""
        if not self.template_id or not self.template_id.phone_field:
            return False
        holder, _label = self.template_id._get_recipient_field_info(record)
        if holder == record or not holder._filtered_access("read"):
            return False
        return holder.display_name

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_open_record(self):
        """Open the record the message was sent from (e.g. to fix the customer's number)."""
        self.ensure_one()
        if (
            not self.model
            or self.model not in self.env
            or not self.env[self.model].browse(self.res_id).exists()
        ):
            raise UserError(self.env._("The record of this message no longer exists."))
        return {
            "type": "ir.actions.act_window",
            "res_model": self.model,
            "res_id": self.res_id,
            "views": [(False, "form")],
            "target": "current",
        }

    def action_retry(self):
        """Queue failed, bounced or cancelled outbound messages again (counters reset): administrators (users
        resend from the chatter's failure dialog, ``whatsapp.resend``, which checks the record)."""
        self.check_access("write")
        return self._retry()

    def _retry(self, numbers=None):
        """Queue these failed, bounced or cancelled outbound messages again, or raise a ``UserError`` saying
        what to fix first when one can only fail again (:meth:`_retry_problem`).

        The template's values are evaluated with the caller's rights; the messages are written as superuser:
        callers checked that their user may retry them (:meth:`action_retry`: administrators; the resend
        wizard: users who may write the records).

        :param dict numbers: ``{message id: E.164 number}`` corrected by the user, sent to instead
        """
        numbers = numbers or {}
        to_retry = self.filtered(
            lambda m: m.direction == "outbound" and m.state in ("failed", "bounced", "cancelled")
        )
        if not to_retry:
            raise UserError(self.env._("Only failed, bounced or cancelled outgoing messages can be retried."))
        problems = [
            problem for message in to_retry if (problem := message._retry_problem(numbers.get(message.id)))
        ]
        if problems:
            raise UserError("\n".join(problems))
        # sudo: see above, the callers checked the rights
        to_retry.sudo().write(
            {
                "state": "queued",
                "attempts": 0,
                "next_attempt": False,
                "failure_type": False,
                "failure_reason": False,
                "error_code": 0,
            }
        )
        to_retry._update_notifications()
        self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        return True

    #: Meta failure types that fail again unless the template was changed since
    TEMPLATE_FAILURE_TYPES = frozenset({"template", "param", "media"})

    def _retry_problem(self, number=None):
        """Why retrying this message can only fail again (what to fix first), or "" when it may succeed.

        A missing or invalid number is read again from the record: when it is valid now, the message takes it.
        The message is written as superuser (see :meth:`_retry`).

        :param str number: an E.164 number the user typed to send to instead (the resend wizard): a new
            number is a new chance, whatever Meta said about the old one (unless it opted out here too)
        """
        self.ensure_one()
        if number and number != self.number:
            self.sudo().write({"number": number})  # sudo: see _retry
        else:
            number = False
        if self.failure_type == "phone_invalid":
            template = self.template_id
            record = self.env[self.model].browse(self.res_id).exists() if self.model in self.env else None
            if not template or not record:
                return self.env._(
                    "%(message)s: its record or template was deleted.", message=self.display_name
                )
            raw = number or template._get_recipient_number(record)
            number = record._phone_format(number=raw) if raw else False
            if not number:
                problem = record._whatsapp_number_problem(template, record, raw)
                return self.env._("%(message)s: %(problem)s", message=self.display_name, problem=problem)
            values = template._get_variable_values_batch(record)[record.id]
            payload = dict(self.payload or {})
            if payload.get("template"):
                components = template._build_send_components(values)
                payload["template"] = dict(payload["template"], components=components)
            self.sudo().write({"number": number, "payload": payload})  # sudo: see _retry
        elif self.failure_type == "blacklisted" and self.number in self._blacklisted_among([self.number]):
            return self.env._(
                "%(message)s: the number %(number)s opted out. It can only receive messages once the customer"
                " opts in again.",
                message=self.display_name,
                number=self.number,
            )
        elif self.failure_type == "opt_out" and not number:
            return self.env._(
                "%(message)s: the customer stopped these messages in WhatsApp (%(reason)s). They can only "
                "receive them once they opt in again.",
                message=self.display_name,
                reason=self.failure_reason or self.failure_type,
            )
        elif self.failure_type in self.TEMPLATE_FAILURE_TYPES and (
            # not edited since the failure (to the second: the ORM's dates carry microseconds, the queue's not)
            not self.template_id
            or self.template_id.write_date.replace(microsecond=0) <= (self.status_date or self.write_date)
        ):
            return self.env._(
                "%(message)s: Meta refused its content (%(reason)s). Fix the template first.",
                message=self.display_name,
                reason=self.failure_reason or self.failure_type,
            )
        return ""

    def action_cancel(self):
        """Cancel queued messages. A message already being sent cannot be called back."""
        to_cancel = self.filtered(lambda m: m.state == "queued")
        if not to_cancel:
            raise UserError(self.env._("Only queued messages can be cancelled."))
        to_cancel.write({"state": "cancelled", "next_attempt": False})
        to_cancel._update_notifications()
        return True

    def send(self, auto_commit=False):
        """Send these queued outbound messages now, through the queue's committed claim.

        Never inside the caller's transaction: a call to Meta made before that transaction commits is made
        again when Odoo re-runs the request after a serialization failure (the customer gets it twice), and a
        rollback after the call loses the record of a message the customer received. So the queue cron is
        triggered at once: it claims the messages and commits, then calls Meta. While tests run nothing is
        committed (like ``sms``): the runner is called directly, on the test's transaction.

        :param auto_commit: used only while tests run (ignored there too, like ``sms``)
        :return: the messages handed to the queue (or processed, in tests)
        """
        # it reaches Meta with the account's token: administrators only (write access); the thread API, the
        # composer and Discuss check what their user may send, create the messages with sudo() and send those
        self.check_access("write")
        queued = self.filtered(lambda m: m.direction == "outbound" and m.state == "queued")
        if not in_tests():
            if queued:
                self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
            return queued
        self._send_accounts(queued.account_id, ids=queued.ids, auto_commit=auto_commit and not in_tests())
        return queued

    def action_whatsapp_add_contact(self, index=0):
        """Create a contact from a shared contact card (``contacts`` message) and open it; a contact already
        known by the card's WhatsApp number is opened instead."""
        self.ensure_one()
        cards = parse_contacts((self.payload or {}).get("contacts"))
        if not 0 <= index < len(cards):
            return False
        card = cards[index]
        phones = card.get("phones") or []
        phone = phones[0]["phone"] if phones else False
        whatsapp_number = phones[0].get("wa_id") if phones else False
        number = self._phone_format(number="+" + whatsapp_number) if whatsapp_number else False
        # a contact already known by this number is opened, not duplicated
        partner = number and self.env["res.partner"].search([("phone_sanitized", "=", number)], limit=1)
        partner = partner or self.env["res.partner"].create(
            {
                "name": card.get("name") or phone or self.env._("WhatsApp contact"),
                "mobile": ("+" + whatsapp_number) if whatsapp_number else phone,
                "email": (card.get("emails") or [False])[0],
                "comment": Markup("<p>%s</p>")
                % self.env._("Shared on WhatsApp by %(name)s", name=self.number or ""),
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.partner",
            "res_id": partner.id,
            "views": [(False, "form")],
            "target": "current",
        }

    # ------------------------------------------------------------
    # QUEUE: entry points
    # ------------------------------------------------------------

    @api.model
    def _queue_text(self, account, number, body, ignore_blacklist=False, send=True, bsuid=None):
        """Queue a free-form text message (e.g. an opt-out confirmation) and trigger the queue.

        The 24-hour window is the caller's business (a confirmation answers the customer's message).

        :param bsuid: the recipient's user id, used when ``number`` is empty (a WhatsApp username)
        :return: the new ``whatsapp.message``
        """
        message = self.create(
            {
                "account_id": account.id,
                "number": number,
                "bsuid": bsuid or False,
                "body": body,
                "ignore_blacklist": ignore_blacklist,
                "payload": message_payloads.text(body),
            }
        )
        if send:
            self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        return message

    @api.model
    def _process_queue(self, account_ids=None, auto_commit=True, time_budget=None):
        """Cron entry point of every queue runner: expand the bulk sends into messages, reconcile, then send
        every due queued message of every account at once (:meth:`_send_accounts`).

        Several runners may run together (the runner crons, on one server's cron threads or on several servers):
        each claims its own batches (``FOR UPDATE SKIP LOCKED``) and they share each account's cap.

        :param account_ids: restrict to these accounts (default: all active, unpaused accounts)
        :param auto_commit: commit claims and results (always off while tests run)
        :param time_budget: seconds after which the run stops and re-triggers itself (default:
            :func:`queue_time_budget`, within the time Odoo gives a cron job)
        """
        auto_commit = auto_commit and not in_tests()
        time_budget = time_budget or queue_time_budget()
        dbname = self.env.cr.dbname
        if not auto_commit:
            self._process_queue_run(account_ids, auto_commit, time_budget)
            return
        with _runners_lock:
            if dbname in _runners:
                return  # a runner of this process sends already: another would only share its CPU
            _runners.add(dbname)
        try:
            self._process_queue_run(account_ids, auto_commit, time_budget)
        finally:
            _runners.discard(dbname)

    @api.model
    def _process_queue_run(self, account_ids, auto_commit, time_budget):
        deadline = time.monotonic() + time_budget
        domain = [("queue_paused", "=", False)]
        if account_ids:
            domain.append(("id", "in", list(account_ids)))
        # sudo: the cron runs for every account; the token never leaves the client
        accounts = self.env["whatsapp.account"].sudo().search(domain)
        self._queue_housekeeping(accounts, auto_commit=auto_commit)
        # the send loop expands the bulk sends between its calls, after its first claims: a run that takes over
        # from another sends at once, a new campaign after its first slice
        finished, expanded = self._send_accounts(
            accounts, auto_commit=auto_commit, deadline=deadline, expanding=True
        )
        self._schedule_next_run(asap=not (expanded and finished))

    @api.model
    def _queue_housekeeping(self, accounts, auto_commit=False):
        """Apply the parked statuses and reconcile the accounts' stale sends, in one runner at a time (the
        others skip it rather than wait for it, or write the same rows twice)."""
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s)", [HOUSEKEEPING_LOCK])
        if not self.env.cr.fetchone()[0]:
            return
        try:
            # a conflict is expected (the applier or a send writing the same messages) and handled below
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                self.env["whatsapp.status.pending"]._apply_pending()
                for account in accounts:
                    self._reconcile_unknown_outcomes(account)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            # left for the next run: the send must not fail for it (the whole cron job would, and the campaign
            # wait for the next trigger)
            _logger.info("WhatsApp queue housekeeping: concurrent update, left to the next run")
            self.env.invalidate_all()
        if auto_commit:
            self.env.cr.commit()  # releases the lock; the claims that follow start on a fresh snapshot

    @api.model
    def _send_accounts(self, accounts, ids=None, auto_commit=False, deadline=None, expanding=False):
        """Send the due queued messages of ``accounts`` at once, each account at its own cap.

        One pool of sender threads (:class:`~..tools.sender.SenderPool`) has a lane per account, paced by the
        account's shared clock. This loop keeps each lane fed with a second of sends or more (claim and commit a
        batch of two seconds of sends, build its payloads, submit them) while the pool sends, and writes each
        batch's results in one go when its last call is answered: the ORM stays in this thread, the calls in the
        pool's. An account whose claim comes back empty is looked at again every :data:`RECLAIM_SECONDS` while
        other accounts still send; the run ends when every account is done (or paused), or at ``deadline`` (the
        jobs not started then go back to the queue).

        While the calls run, this thread also does the queue's other work, so that a long send holds up nothing
        (Odoo runs one job at a time per cron worker, two workers by default: two runners would otherwise keep
        the status applier waiting for the whole campaign): it expands the bulk sends :data:`EXPAND_SLICE`
        records at a time (``expanding``: the recipients of a large selection are sent while the rest are
        being expanded), and applies the statuses Meta sent meanwhile every :data:`APPLY_STATUSES_EVERY`
        seconds (``whatsapp.webhook.event._apply_queued_statuses``, the applier cron's own batch).

        :param ids: only these messages (``send()``)
        :param float deadline: ``time.monotonic()`` value after which no call is started
        :param bool expanding: bulk sends are left to expand
        :return: ``(finished, expanded)``: every due message handled (False when stopped by the deadline),
            every bulk send expanded
        """
        batch_size = self._param("whatsapp.send_batch_size")
        help_above = self._param("whatsapp.runner_help_above")
        busy_rates = {}  # account id -> its rate, for the accounts with more than a batch due
        owner = {}  # message id -> its batch (calls not answered yet)
        ready = []  # batches whose every call is answered
        empty = {}  # account id -> time.monotonic() of its last empty claim
        finished, woke = True, False
        # applied after the first claims, then every APPLY_STATUSES_EVERY while committing (once under tests)
        statuses_applied = None
        fed = False  # the lanes were looked at once
        pool = SenderPool(max_threads=MAX_SENDER_THREADS)
        try:
            while True:
                now = time.monotonic()
                # the other work, between two looks at the lanes: after the first (a run taking over from another
                # sends at once), before the others (what it expands is claimed right after)
                sliced = held = (
                    False  # a slice expanded here and more left; the next job held by another worker
                )
                if fed and expanding and finished and ids is None:
                    if auto_commit:
                        self.env.cr.commit()  # a fresh snapshot: other runners expand the same jobs
                    progress = self.env["whatsapp.bulk.send"]._expand_queued(
                        account_ids=accounts.ids, auto_commit=auto_commit, deadline=0, chunk_size=EXPAND_SLICE
                    )
                    expanding, held = not progress, progress is None
                    # more to expand and less than AHEAD_SECONDS of sends queued: the next slice at once, not after
                    # a look's wait (a slice a look fell behind the sends it fed: the lanes ran dry after each one)
                    sliced = progress is False and self._queued_ahead(accounts, AHEAD_SECONDS)
                    empty.clear()  # new messages (the last slice's too): every account is worth a claim again
                if (
                    fed
                    and ids is None
                    and (
                        statuses_applied is None
                        or (auto_commit and now - statuses_applied >= APPLY_STATUSES_EVERY)
                    )
                ):
                    statuses_applied = now
                    self._send_apply_statuses(auto_commit=auto_commit)
                if finished and deadline is not None and now > deadline:
                    finished = False
                    pool.cancel()  # the jobs not started come back skipped: queued again
                for account in accounts if finished else ():
                    rate = account._whatsapp_effective_rate()
                    if account.queue_paused or pool.waiting(account.id) >= READY_SECONDS * rate:
                        continue
                    if account.id in empty and now - empty[account.id] < RECLAIM_SECONDS:
                        continue
                    limit = min(batch_size, max(MIN_CLAIM, 2 * rate))
                    claimed = self._claim(account, ids=ids, auto_commit=auto_commit, limit=limit)
                    if not claimed:
                        empty[account.id] = now
                        continue
                    empty.pop(account.id, None)
                    if len(claimed) == limit:
                        busy_rates[account.id] = rate
                    if not woke and ids is None and sum(busy_rates.values()) > help_above:
                        woke = self._wake_other_runners()  # more is due than one runner sends: let them help
                    jobs, outcomes = claimed._send_prepare()
                    batch = {"account": account.id, "left": len(jobs), "results": [], "outcomes": outcomes}
                    if not jobs:
                        ready.append(batch)
                        continue
                    owner.update((key, batch) for key, _payload in jobs)
                    if not pool.has_lane(account.id):
                        self._send_open_lane(pool, account)
                    pool.submit(account.id, jobs)
                fed = True
                # while this runner expands, the next slice is its wait: the lanes never get ahead of the expansion
                wait = WAIT_SECONDS if owner and not sliced else 0
                for _lane, result in pool.take_results(timeout=wait):
                    batch = owner.pop(result.key)
                    batch["results"].append(result)
                    batch["left"] -= 1
                    if not batch["left"]:
                        ready.append(batch)
                if ready:
                    self._send_write_batches(ready, pool, auto_commit=auto_commit)
                    ready = []
                elif not owner and (
                    not finished or (not expanding and all(a.queue_paused or a.id in empty for a in accounts))
                ):
                    return finished, not expanding
                elif not owner and held:
                    time.sleep(WAIT_SECONDS)  # another worker expands the next job: look again in a moment
        finally:
            pool.close()
            for account_id, (reserved, granted, given_up, starved) in pool.slots().items():
                _logger.info(
                    "WhatsApp account %s: %s slots reserved, %s granted, %s given up, %.1f s without a job ready",
                    account_id,
                    reserved,
                    granted,
                    given_up,
                    starved,
                )

    @api.model
    def _queued_ahead(self, accounts, seconds):
        """Whether less than ``seconds`` of the sends of ``accounts`` (at their rates) are queued and due."""
        ahead = int(seconds * sum(account._whatsapp_effective_rate() for account in accounts)) or 1
        self.flush_model(["state", "next_attempt"])
        self.env.cr.execute(
            SQL(
                """SELECT count(*) FROM (
                       SELECT 1 FROM whatsapp_message
                        WHERE account_id IN %s AND state = 'queued' AND (next_attempt IS NULL OR next_attempt <= %s)
                        LIMIT %s) AS due""",
                tuple(accounts.ids) or (None,),
                fields.Datetime.now(),
                ahead,
            )
        )
        return self.env.cr.fetchone()[0] < ahead

    def _send_apply_statuses(self, auto_commit=False):
        """Apply one batch of the statuses queued by the webhook (see :meth:`_send_accounts`)."""
        if auto_commit:
            self.env.cr.commit()  # a fresh snapshot: the applier claims rows other appliers update
        try:
            with self.env.cr.savepoint():
                applied = self.env["whatsapp.webhook.event"]._apply_queued_statuses()
        except Exception:  # noqa: BLE001 - the applier cron applies them; the send goes on
            _logger.exception(
                "WhatsApp queue runner: applying queued statuses failed, left to the applier cron"
            )
            return
        if applied and auto_commit:
            self.env.cr.commit()

    def _send_write_batches(self, batches, pool, auto_commit=False):
        """Write each batch's results and outcomes (one ``_send_write`` each), commit, and stop the lanes of the
        accounts that got paused."""
        for batch in batches:
            messages = self.browse([r.key for r in batch["results"]] + list(batch["outcomes"]))
            if auto_commit:
                messages._send_write_committed(batch["results"], batch["outcomes"])
            else:
                messages._send_write(batch["results"], batch["outcomes"])
            if (
                pool.has_lane(batch["account"])
                and self.env["whatsapp.account"].browse(batch["account"]).queue_paused
            ):
                pool.cancel(batch["account"])

    def _send_write_committed(self, results, outcomes):
        """:meth:`_send_write`, committed, on a fresh snapshot, again on a serialization failure.

        The calls are made: their outcomes must be written. In REPEATABLE READ a write meets what other
        transactions committed since its snapshot began (another runner expanding the same bulk send, the
        applier, a second server): it starts on a fresh snapshot (nothing of the runner is pending: claims and
        expansions are committed as they are made) and, on a conflict, is rolled back and written again.
        """
        for attempt in range(1, WRITE_TRIES + 1):
            self.env.cr.commit()  # a fresh snapshot (and nothing pending that a rollback could lose)
            try:
                with mute_logger("odoo.sql_db"):  # a conflict is retried here; a last one is raised, logged
                    self._send_write(results, outcomes)
                self.env.cr.commit()
                return
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                if attempt == WRITE_TRIES:
                    raise
                self.env.cr.rollback()
                self.env.invalidate_all()
                time.sleep(random.uniform(0.02, 0.1) * attempt)

    @api.model
    def _wake_other_runners(self):
        """Trigger the other queue runner crons (every active cron running ``_process_queue`` of this model),
        so that the cron threads of every server send together.

        :return: True
        """
        # sudo: the crons are technical records; the cron user may not read them
        crons = (
            self.env["ir.cron"]
            .sudo()
            .search([("model_id.model", "=", self._name), ("code", "=like", "model._process_queue(%")])
        )
        progress_id = self.env.context.get("ir_cron_progress_id")
        if progress_id:
            crons -= self.env["ir.cron.progress"].sudo().browse(progress_id).cron_id
        for cron in crons:
            cron._trigger()  # one cron at a time (ir.cron's trigger)
        return True

    # ------------------------------------------------------------
    # QUEUE: claim / send / write
    # ------------------------------------------------------------

    @api.model
    def _claim(self, account, ids=None, auto_commit=False, limit=None):
        """Lock due queued messages of ``account`` (skipping rows locked elsewhere), mark them sending.

        :param limit: messages at most (default: ``whatsapp.send_batch_size``)
        :return: the claimed messages (committed as ``sending`` when ``auto_commit``)
        """
        self.flush_model()
        now = fields.Datetime.now()
        lease = now + timedelta(minutes=self._param("whatsapp.send_lease_minutes"))
        only = SQL("AND id IN %s", tuple(ids)) if ids else SQL()
        query = SQL(
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
            limit=limit or self._param("whatsapp.send_batch_size"),
        )
        if auto_commit:
            # the claim starts a transaction: its snapshot is taken now, not when this runner last read
            self.env.cr.commit()
        for attempt in range(1, CLAIM_TRIES + 1):
            try:
                self.env.cr.execute(query, log_exceptions=False)
                break
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                # another runner committed its claim of a row this snapshot still saw queued (REPEATABLE READ):
                # nothing of ours is pending (committed above), start again on a fresh snapshot
                if not auto_commit or attempt == CLAIM_TRIES:
                    raise
                self.env.cr.rollback()
        claimed = self.browse(sorted(row[0] for row in self.env.cr.fetchall()))
        if not claimed:
            return claimed
        self.invalidate_model(["state", "attempts", "sending_since", "next_attempt"])
        if auto_commit:
            self.env.cr.commit()  # the no-duplicate rule: "sending" is durable before any call to Meta
        return claimed

    def _send_prepare(self):
        """Build the payloads (main thread): blacklist check, media headers, recipient and uuid.

        Marketing-template messages to numbers that stopped marketing fail before any call to Meta; the
        other messages (Utility, Authentication, conversations) go through the normal preparation.

        :return: ``(jobs, outcomes)``: ``jobs`` = ``[(message id, payload)]`` to send; ``outcomes`` =
            ``{message id: values}`` for messages settled without a call (blacklisted, media failure...)
        """
        stopped = self._marketing_stopped()
        rest = self - stopped
        jobs, outcomes = [], {}
        if rest:
            account = rest.account_id.ensure_one()
            blacklisted = rest._blacklisted_numbers()
            opted_out_users = self.env["res.partner"]._whatsapp_opted_out_bsuids(
                rest.filtered(lambda m: not m.number).mapped("bsuid")
            )
            media_ids = self.env["whatsapp.media.cache"]._get_media_ids(
                account, rest.filtered("header_cache_key")
            )
            for message in rest:
                if not message.number and not message.bsuid:
                    outcomes[message.id] = self._outcome_failed(
                        "phone_invalid", self.env._("No valid number.")
                    )
                elif not message.number and message.bsuid in opted_out_users and not message.ignore_blacklist:
                    reason = self.env._(
                        "The WhatsApp user %(user)s opted out.", user=message._whatsapp_recipient_label()
                    )
                    outcomes[message.id] = self._outcome_failed("blacklisted", reason)
                elif message.number in blacklisted and not message.ignore_blacklist:
                    reason = self.env._(
                        "The number %(number)s opted out (blacklisted).", number=message.number
                    )
                    outcomes[message.id] = self._outcome_failed("blacklisted", reason)
                elif message.header_cache_key and not isinstance(
                    media_ids.get(message.header_cache_key), str
                ):
                    error = media_ids.get(message.header_cache_key)
                    outcomes[message.id] = self._outcome_from_error(
                        message, error, message.attempts, call_sent=False
                    )
                else:
                    jobs.append((message.id, message._build_payload(media_ids.get(message.header_cache_key))))
        for message in stopped:
            reason = self.env._(
                "%(number)s stopped marketing messages in WhatsApp: Marketing templates are not sent to it "
                "until the customer resumes them.",
                number=message._whatsapp_recipient_label(),
            )
            outcomes[message.id] = self._outcome_failed("opt_out", reason)  # no Meta code: never sent
        return jobs, outcomes

    def _send_call(self, jobs):
        """Make the calls of these claimed messages (one account) concurrently at the account's rate, and wait
        for them all. HTTP only: no ORM below this line. The queue runner feeds a pool instead
        (:meth:`_send_accounts`); this is the same lane, alone."""
        account = self.account_id.ensure_one()
        by_key = {}
        with SenderPool(max_threads=MAX_SENDER_THREADS) as pool:
            self._send_open_lane(pool, account)
            pool.submit(account.id, jobs)
            while len(by_key) < len(jobs):
                by_key.update((result.key, result) for _lane, result in pool.take_results())
        return [by_key[key] for key, _payload in jobs]

    @api.model
    def _send_open_lane(self, pool, account):
        """Open the lane of ``account`` in ``pool``: its client, its rate and concurrency, its shared clock."""
        rate = account._whatsapp_effective_rate()  # insight hook: throughput level, capped by rate_limit
        client = account._get_client()  # thread-safe, one pooled session
        pool.add_lane(
            account.id,
            client.send_message,
            rate,
            self._param("whatsapp.send_workers") or max(4, min(64, rate // 5)),
            reserve=self._send_reserve(account.id),
            stop_on=lambda err: self._failure_category(err)[0] in self.ACCOUNT_CATEGORIES,
            on_rate_limited=lambda err: 1.0 if getattr(err, "code", None) == 130429 else 0.0,
        )

    @api.model
    def _send_reserve(self, account_id):
        """The account's slots on the clock every process and server shares (``tools/sender.py``), so that two
        cron workers, two servers or a composer send beside the cron hold the per-number cap together.

        Each reservation is one short statement on its own connection, committed at once: it never waits on this
        transaction, nor this transaction on it. If the database cannot be reached, this process paces alone.
        Called from the sender's threads: no ORM, no environment.
        """
        dbname = self.env.cr.dbname

        def reserve(count, spacing, delay=0.0):
            try:
                connection = sql_db.db_connect(dbname)  # pooled, like the registry's cursors
                with connection.cursor() as cr:  # committed on leaving: the row is locked for a moment only
                    # READ COMMITTED: a reservation of the same row by another process is waited for and built
                    # upon; in Odoo's REPEATABLE READ it would fail ("could not serialize access") and pace alone
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    sent = time.monotonic()
                    first, now = reserve_slots(cr, account_id, count, spacing, delay)
                    answered = time.monotonic()
                # the statement alone ran between ``sent`` and ``answered`` (not the connection, the transaction and
                # the commit around it): the limiter relates PostgreSQL's clock to this one by it
                return first, now, sent, answered
            except Exception:  # noqa: BLE001 - sending goes on, at this process's pace
                _logger.warning(
                    "WhatsApp: the shared sending clock failed, pacing in this process only", exc_info=True
                )
                return 0.0

        return reserve

    def _send_write(self, results, outcomes):
        """Write every outcome in one UPDATE, mirror it on the chatter, pause the account if needed, record
        the numbers Meta says stopped marketing."""
        by_id = dict(outcomes)
        pause_error = None
        messages = self.browse([r.key for r in results])
        # only them when not in the cache (not the rows' text and JSON); the author's for a failure's language
        messages.fetch(["attempts", "create_uid"])
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
            # a second UPDATE of these rows in this transaction: PostgreSQL checks their foreign keys again, which
            # fails (REPEATABLE READ) when a runner expanding their bulk send has committed its progress since;
            # the statuses are then applied right after the commit, in their own transaction
            self.env["whatsapp.status.pending"]._apply_pending(sent, conflict_later=True)
            self.env["whatsapp.status.pending"]._apply_pending_after_commit(sent)
        if pause_error is not None:
            self.account_id._whatsapp_pause_queue(pause_error)
        written._record_marketing_stops()
        return written

    def _build_payload(self, media_id=None):
        """Meta's message object for this message (:func:`~..tools.message_payloads.for_send`): stored payload
        + recipient + uuid + uploaded media (a template's header, or the file of a free-form media message)."""
        self.ensure_one()
        header_filename = None
        if media_id and (self.header_type or "").lower() == "document" and self.header_attachment_id:
            header_filename = self.header_attachment_id.sudo().name  # sudo: name of our own header file
        return message_payloads.for_send(
            self.payload,
            self.number,
            self.uuid,
            bsuid=self.bsuid,
            media_id=media_id,
            header_kind=self.header_type,
            header_filename=header_filename,
        )

    def _blacklisted_numbers(self):
        """Numbers of these messages that are in ``phone.blacklist`` (one query)."""
        return self._blacklisted_among(self.mapped("number"))

    @api.model
    def _blacklisted_among(self, numbers):
        """The E.164 ``numbers`` that are in ``phone.blacklist`` (one query, no access check: senders may
        send to numbers without reading the blacklist; a search would format every number again)."""
        numbers = list({number for number in numbers if number})
        if not numbers:
            return set()
        self.env["phone.blacklist"].flush_model(["number", "active"])
        self.env.cr.execute("SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s)", [numbers])
        return {row[0] for row in self.env.cr.fetchall()}

    # ------------------------------------------------------------
    # QUEUE: outcomes
    # ------------------------------------------------------------

    @api.model
    def _failure_category(self, error):
        """``(category, retry)`` of a ``WhatsAppApiError`` (or any error). No ORM: the sender threads call it."""
        category, retry = meta_errors.classify(
            getattr(error, "code", None), getattr(error, "http_status", None)
        )
        if category == "unknown" and getattr(error, "category", None):
            # no table row (timeouts, connection errors): trust the client's own classification
            category = error.category
            retry = "now" if getattr(error, "retryable", False) else "never"
        return category, retry

    @api.model
    def _failure_from_error(self, error):
        """``(category, retry, failure_type, reason, code)`` from a ``WhatsAppApiError`` (or any error); the
        reason in the environment's language (see :meth:`_failure_for_author`)."""
        code = getattr(error, "code", None)
        category, retry = self._failure_category(error)
        failure_type = self.FAILURE_TYPE_BY_CATEGORY.get(category, "unknown")
        # Meta's message, then what to do (from our table of Meta's codes)
        reason = meta_errors.reason(
            code,
            getattr(error, "message", None) or str(error),
            getattr(error, "subcode", None),
            translate=self.env._,
        )
        return category, retry, failure_type, reason, meta_errors.as_int(code) or 0

    @api.model
    def _failure_for_author(self, author, error):
        """:meth:`_failure_from_error`, its reason in the language of ``author`` (a ``res.users``: who sent the
        message reads it; a queue run or a webhook has no language of its own)."""
        # sudo: the author's language, whoever applies the failure
        lang = author.sudo().lang or self.env.lang
        return self.with_context(lang=lang)._failure_from_error(error)

    @api.model
    def _outcome_failed(self, failure_type, reason, code=0):
        state = "bounced" if failure_type in self.BOUNCE_FAILURE_TYPES else "failed"
        return {"state": state, "failure_type": failure_type, "failure_reason": reason, "error_code": code}

    def _outcome_from_error(self, message, error, attempts=1, call_sent=True):
        """Values for a message whose call (or media upload) raised ``error``: retry, fail or pause.

        :param call_sent: False when the message itself was not posted (its media upload failed)
        """
        category, retry, failure_type, reason, code = self._failure_for_author(message.create_uid, error)
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
        self._update_returning(
            list(by_id),
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
            ),
        )

    # ------------------------------------------------------------
    # QUEUE: reconciliation, scheduling
    # ------------------------------------------------------------

    @api.model
    def _reconcile_unknown_outcomes(self, account):
        """Settle messages left ``sending`` past their lease (rule 4 of the module docstring)."""
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
        in_inbox = stale._whatsapp_uuids_in_inbox()  # b)
        watermark = self._whatsapp_status_watermark(account, stale - in_inbox)  # c)
        fail = (stale - in_inbox).filtered(
            lambda m: (
                not m.sending_since
                or m.sending_since < give_up
                or (watermark and m.sending_since + margin < watermark)
            )
        )
        extend = stale - fail
        reason = self.env._(
            "The send was interrupted and Meta never reported on this message. It was not resent automatically "
            "to avoid a duplicate: use Retry if the customer did not receive it."
        )
        by_id = {m.id: self._outcome_failed("unknown_outcome", reason) for m in fail}
        lease = now + timedelta(minutes=self._param("whatsapp.send_lease_minutes"))
        by_id.update({m.id: {"state": "sending", "next_attempt": lease} for m in extend})
        self._write_outcomes(by_id)
        fail._update_notifications()
        if fail:
            _logger.info("WhatsApp account %s: %s unknown-outcome messages failed", account.id, len(fail))
        return stale

    def _whatsapp_uuids_in_inbox(self):
        """Those of ``self`` that a webhook event not processed yet (pending, or failed and kept for a retry)
        mentions: their statuses may still come."""
        if not self:
            return self
        Event = self.env["whatsapp.webhook.event"]
        Event.flush_model(["value", "state", "field"])
        found = self.browse()
        for message in self:
            self.env.cr.execute(
                SQL(
                    """SELECT 1 FROM whatsapp_webhook_event
                        WHERE state IN ('pending', 'failed') AND field = 'messages' AND value LIKE %s LIMIT 1""",
                    f"%{message.uuid}%",
                )
            )
            if self.env.cr.fetchone():
                found |= message
        return found

    @api.model
    def _whatsapp_status_watermark(self, account, messages):
        """Latest claim time of a message of ``account`` that Meta reported on, among those claimed after the
        oldest of ``messages`` (evidence that Meta's status stream flows), or None."""
        since = min((m.sending_since for m in messages if m.sending_since), default=None)
        if since is None:
            return None
        self.flush_model(["sending_since", "status_date", "account_id"])
        self.env.cr.execute(
            SQL(
                """SELECT MAX(sending_since) FROM whatsapp_message
                    WHERE account_id = %s AND direction = 'outbound' AND status_date IS NOT NULL
                      AND sending_since > %s""",
                account.id,
                since,
            )
        )
        return self.env.cr.fetchone()[0]

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

    # ------------------------------------------------------------
    # DELIVERY STATUSES (webhook ``messages`` > ``statuses``): one batched, monotonic, idempotent pass
    # ------------------------------------------------------------

    @api.model
    def _apply_meta_statuses(self, account, statuses, own_sending=False):
        """Apply Meta's ``statuses[]`` objects: a few queries whatever their number.

        * matched by wamid, or by our uuid (``biz_opaque_callback_data``) when the wamid is not known yet;
        * applied only when the status ranks above the stored state (``tools/meta_status.py``): a late
          ``delivered`` never lowers ``read``, a duplicate is a no-op;
        * a message still ``sending`` belongs to a running send (its row may be updated by it any moment):
          its statuses are parked in ``whatsapp.status.pending`` and applied once the send wrote its result
          (``own_sending=True`` is the runner itself applying them);
        * statuses of unknown messages are parked the same way (their send has not committed yet);
        * a failure with Meta's code 131050 records that the number stopped marketing messages.

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
                """SELECT id, wamid, uuid, state, failure_type, sending_since, create_uid FROM whatsapp_message
                    WHERE direction = 'outbound' AND account_id = %s AND (wamid = ANY(%s) OR uuid = ANY(%s))""",
                account.id,  # within the receiving account: another company's account never moves them
                [str(wamid) for wamid in wamids],
                [str(uuid) for uuid in uuids],
            )
        )
        rows = {}
        by_wamid, by_uuid = {}, {}
        for mid, wamid, uuid, state, failure_type, sending_since, author in self.env.cr.fetchall():
            rows[mid] = {
                "author": author,
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
        pending = []
        for status in statuses:
            mid = by_wamid.get(status.get("id")) or by_uuid.get(status.get("biz_opaque_callback_data"))
            row = rows.get(mid)
            if row is None or (row["old_state"] == "sending" and not own_sending):
                pending.append(status)
                continue
            self._merge_status(row, status)
        changed = {mid: row for mid, row in rows.items() if row["changed"]}
        messages = self._write_statuses(changed)
        if pending:
            self.env["whatsapp.status.pending"]._park(account, pending)
        messages._update_notifications()
        messages._record_marketing_stops()
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
            _cat, _retry, failure_type, reason, code = self._failure_for_author(
                self.env["res.users"].browse(row["author"]), WhatsAppApiError.from_meta(error)
            )
            values.update(self._outcome_failed(failure_type, reason, code))
        row.update(values)

    def _write_statuses(self, changed):
        """One UPDATE for every changed message; guarded by the state read (concurrent writers).

        :return: the messages actually updated, their :data:`RETURNED_FIELDS` in the cache
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
        return self._update_returning(
            list(changed),
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
                    WHERE m.id = v.id AND m.state = v.old_state""",
                fields.Datetime.now(),
                self.env.uid,
                rows,
            ),
        )

    def _update_returning(self, ids, update):
        """Run ``update``, an ``UPDATE whatsapp_message m ...`` of (some of) the rows ``ids``, returning
        :data:`RETURNED_FIELDS`: the cache of those rows dropped (the others' kept: the runner's next batches are
        in it), the returned values put in it, so that nobody fetches the whole rows again.

        :return: the messages the UPDATE updated
        """
        columns = SQL(", ").join(SQL.identifier("m", name) for name in self.RETURNED_FIELDS)
        self.env.cr.execute(SQL("%s RETURNING m.id, %s", update, columns))
        returned = self.env.cr.fetchall()
        self.browse(ids).invalidate_recordset()
        messages = self.browse([row[0] for row in returned])
        for index, name in enumerate(self.RETURNED_FIELDS, start=1):
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

    # ------------------------------------------------------------
    # MARKETING STOPS: stopped numbers get no Marketing template; Meta's 131050 records a stop
    # ------------------------------------------------------------

    def _marketing_stopped(self):
        """These messages that are Marketing templates to numbers (or user ids) that stopped marketing (one
        query)."""
        marketing = self.filtered(lambda m: (m.number or m.bsuid) and m.template_id.category == "marketing")
        if not marketing:
            return marketing
        stopped = self.env["whatsapp.marketing.preference"]._stopped_numbers(
            marketing.mapped("number"), bsuids=marketing.filtered(lambda m: not m.number).mapped("bsuid")
        )
        return marketing.filtered(lambda m: (m.number or m.bsuid) in stopped)

    def _record_marketing_stops(self):
        """Meta answered 131050 (now or by a failed status): the number stopped marketing messages."""
        Preference = self.env["whatsapp.marketing.preference"]
        for message in self.filtered(lambda m: m.error_code == OPT_OUT_CODE and (m.number or m.bsuid)):
            Preference._set_preference(
                message.number, "stopped", "error", account=message.account_id, bsuid=message.bsuid
            )

    def _whatsapp_recipient_label(self):
        """The recipient as people read it: the number, else the user id (a customer with a username)."""
        self.ensure_one()
        return self.number or self.bsuid or "-"

    # ------------------------------------------------------------
    # CHATTER AND DISCUSS: status icons, ticks
    # ------------------------------------------------------------

    def _update_notifications(self):
        """Mirror message states on their chatter notifications (one UPDATE per state) and push them, with
        the ticks of the messages of WhatsApp chats."""
        with_notif = self.filtered("mail_message_id")
        if not with_notif:
            return
        self.env["mail.notification"].flush_model()
        for state, messages in with_notif.grouped("state").items():
            failed = state in ("failed", "bounced")
            for reason, group in (
                messages.grouped("failure_reason") if failed else {False: messages}
            ).items():
                self.env.cr.execute(
                    SQL(
                        """UPDATE mail_notification
                              SET notification_status = %s, failure_type = %s, failure_reason = %s
                            WHERE notification_type = 'whatsapp' AND whatsapp_message_id IN %s
                              AND NOT (%s AND notification_status = 'canceled')""",
                        self.NOTIFICATION_STATUS.get(state, "ready"),
                        "unknown" if failed else None,
                        reason or None,
                        tuple(group.ids),
                        failed,  # a failure the user ignored stays ignored (a late or repeated failed status)
                    )
                )
        self.env["mail.notification"].invalidate_model(
            ["notification_status", "failure_type", "failure_reason"]
        )
        self._notify_chatter()
        self.filtered(lambda m: m.model == "discuss.channel").mail_message_id._whatsapp_bus_send_status()

    def _notify_chatter(self):
        """Push the new status icons to the chatter over the bus (one bus message per author).

        What ``mail.message._notify_message_notification_update`` does, with its per-message checks done
        once: the records' read access per model, the "is a public user" test per author; and no push to
        the superuser's partner, whom the webhook and the cron run as (half the pushes of a status). Only the
        messages shown failing (a failure icon, an entry of the messaging menu) get mail's whole message
        (body, author, record name); the others, nearly every status of a campaign, get what changed: their
        ticks and their notifications' status.
        """
        # sudo: the cron and the webhook run without a user who could read every related record
        mail_messages = self.mail_message_id.sudo()
        # what is read below (mail's filter of notifications reads the subtype), not the bodies
        mail_messages.fetch(["model", "res_id", "author_id", "message_type", "subtype_id"])
        mail_messages = mail_messages.filtered(lambda m: m.model and m.res_id)
        shown = []
        for model, group in mail_messages.grouped("model").items():
            if model in self.env:
                records = self.env[model].sudo().browse(set(group.mapped("res_id")))
                readable = set(records._filtered_access("read").ids)
                shown += [message.id for message in group if message.res_id in readable]
        # the current user sees their own changes (mail pushes to them too), unless nobody can: the public
        # user, and the superuser the webhook and the cron run as (OdooBot's partner has no session)
        user_partner = (
            None if self.env.uid == SUPERUSER_ID or self.env.user._is_public() else self.env.user.partner_id
        )
        by_partner = defaultdict(dict)  # partner -> {message id: None}: ordered, each message once
        public_author = {}
        for message in mail_messages.browse(shown):
            if user_partner:
                by_partner[user_partner][message.id] = None
            author = message.author_id
            if author and author not in public_author:
                users = author.with_context(active_test=False).user_ids
                public_author[author] = any(u._is_public() for u in users)
            if author and not public_author[author]:
                by_partner[author][message.id] = None
        if not by_partner:
            return
        notifications = mail_messages.browse(shown).notification_ids._filtered_for_web_client()
        failing = notifications.filtered(lambda n: n.notification_status in FAILURE_NOTIFICATION_STATUSES)
        failing_messages = failing.mail_message_id
        if failing_messages:
            failing_messages.mapped("display_name")  # the records' names, in one query per model
        notifications_of = notifications.grouped("mail_message_id")
        ticks = mail_messages.browse(shown)._whatsapp_status_values()
        for partner, message_ids in by_partner.items():
            store = Store()
            messages = mail_messages.browse(list(message_ids))
            (messages & failing_messages)._message_notifications_to_store(store)
            for message in messages - failing_messages:
                mine = notifications_of.get(message, notifications.browse())
                store.add(message, {"notifications": Store.many(mine, only_id=True)})
                for notification in mine:
                    store.add(
                        notification,
                        {
                            "notification_status": notification.notification_status,
                            "failure_type": notification.failure_type,
                            "notification_type": notification.notification_type,
                        },
                    )
            for message in messages:
                if message in ticks:
                    store.add(message, ticks[message])  # the ticks, live
            partner._bus_send_store(store)

    # ------------------------------------------------------------
    # INBOUND MESSAGES (webhook ``messages`` > ``messages``)
    # ------------------------------------------------------------

    @api.model
    def _receive_inbound(self, account, value):
        """Store the inbound messages of a ``messages`` change (direction inbound, state received), each
        parsed once by ``tools/inbound_parser``; mark the messages they quote replied; apply the opt-out /
        opt-in keywords; show each one in its Discuss chat, oldest first (Meta does not guarantee order).

        :param account: the ``whatsapp.account`` the change came for
        :param dict value: the change's value (``metadata``, ``contacts``, ``messages``)
        :return: the new inbound ``whatsapp.message`` records (duplicates from Meta's retries skipped)
        """
        items = [m for m in value.get("messages") or [] if isinstance(m, dict) and m.get("id")]
        known = set(self.search([("wamid", "in", [m["id"] for m in items])]).mapped("wamid"))
        contacts = value.get("contacts") or []
        vals_list, parsed_list, seen = [], [], set()
        for item in items:
            if item["id"] in known or item["id"] in seen:
                continue
            seen.add(item["id"])
            parsed = parse_message(item, contacts)
            number = account._phone_format(number="+" + item["from"]) if item.get("from") else False
            vals = {
                "direction": "inbound",
                "state": "received",
                "account_id": account.id,
                "wamid": item["id"],
                "number": number or item.get("from") or False,
                "bsuid": parsed.bsuid or False,
                "body": parsed.body,
                "status_date": self._status_datetime(item.get("timestamp")),
                "whatsapp_kind": parsed.kind,
                "payload": item,
            }
            if parsed.is_media:
                vals.update(
                    media_uid=parsed.media["id"],
                    media_mimetype=parsed.media["mime_type"],
                    media_filename=parsed.media["filename"],
                    media_state="pending",
                )
            vals_list.append(vals)
            parsed_list.append(parsed)
        inbound = self.create(vals_list)
        self._mark_replied(items)
        for message in inbound:
            message._apply_optout_keywords()
        if not inbound:
            return inbound
        Channel = self.env["discuss.channel"]
        for parsed, message in sorted(
            zip(parsed_list, inbound, strict=True), key=lambda pair: (pair[0].timestamp or 0, pair[1].id)
        ):
            Channel._whatsapp_receive(message, parsed)
        if inbound.filtered(lambda m: m.media_state == "pending"):
            self._whatsapp_schedule_media_cron(asap=True)
        return inbound

    @api.model
    def _mark_replied(self, items):
        """An inbound message quoting one of ours marks it ``replied`` (the highest state).

        :param list items: Meta's message objects
        """
        quoted = [
            i["context"]["id"] for i in items if isinstance(i.get("context"), dict) and i["context"].get("id")
        ]
        if quoted:
            self.search(
                [
                    ("wamid", "in", quoted),
                    ("direction", "=", "outbound"),
                    ("state", "in", ("sent", "delivered", "read")),
                ]
            ).write({"state": "replied"})

    def _apply_optout_keywords(self):
        """An opt-out keyword of the account (STOP...) blacklists the number and confirms; an opt-in keyword
        (START...) removes it from the blacklist and confirms.

        Any other message leaves the opt-out as it is (replying is not consenting again).
        """
        self.ensure_one()
        account = self.account_id
        word = normalise_keyword(self.body)
        if not word or not (self.number or self.bsuid):
            return
        if not self.number:
            return self._apply_optout_keywords_by_user(word)
        if word in keyword_set(account.optout_keywords):
            # sudo: the webhook runs as superuser anyway; phone.blacklist is admin-managed
            self.env["phone.blacklist"].sudo()._add(
                [self.number],
                message=self.env._("Opted out by WhatsApp (%(word)s).", word=html_escape(self.body)),
            )
            reply = account.optout_reply
        elif word in optin_keyword_set(account.optin_keywords):
            if not self._blacklisted_numbers():
                return  # nothing to undo: no confirmation of what did not happen
            self.env["phone.blacklist"].sudo()._remove(  # sudo: see above
                [self.number],
                message=self.env._("Opted in by WhatsApp (%(word)s).", word=html_escape(self.body)),
            )
            reply = account.optin_reply
        else:
            return
        if reply:
            self._queue_text(account, self.number, reply, ignore_blacklist=True)

    def _apply_optout_keywords_by_user(self, word):
        """The keywords of a customer known only by a user id (a WhatsApp username, no number): ``phone.blacklist``
        holds numbers, so the opt-out is kept on the customer's partner (found by user id, moved with it)."""
        account = self.account_id
        # sudo: the webhook runs as superuser anyway; the opt-out flag is the sending engine's
        partner = (
            self.env["res.partner"]
            .sudo()
            ._whatsapp_find_or_create(bsuid=self.bsuid, companies=account.allowed_company_ids)
        )
        if word in keyword_set(account.optout_keywords):
            partner.whatsapp_opt_out = True
            note = self.env._("Opted out by WhatsApp (%(word)s).", word=html_escape(self.body))
            reply = account.optout_reply
        elif word in optin_keyword_set(account.optin_keywords):
            if not partner.whatsapp_opt_out:
                return  # nothing to undo: no confirmation of what did not happen
            partner.whatsapp_opt_out = False
            note = self.env._("Opted in by WhatsApp (%(word)s).", word=html_escape(self.body))
            reply = account.optin_reply
        else:
            return
        partner._message_log(body=note)
        if reply:
            self._queue_text(account, False, reply, ignore_blacklist=True, bsuid=self.bsuid)

    # ------------------------------------------------------------
    # INBOUND MEDIA: downloaded by a queue (never inside the webhook's acknowledgement)
    # ------------------------------------------------------------

    @api.model
    def _cron_download_media(self, limit=MEDIA_BATCH, auto_commit=True):
        """Download due inbound media (oldest first), each in its own transaction: one row locked, fetched,
        stored and committed at a time, so that a killed worker loses one file, not a batch (and another
        worker takes the next rows meanwhile). Failures are retried with backoff."""
        auto_commit = auto_commit and not in_tests()
        messages = self.browse()
        for _index in range(limit):
            self.flush_model()
            self.env.cr.execute(
                SQL(
                    """SELECT id FROM whatsapp_message
                        WHERE media_state = 'pending' AND (media_next_attempt IS NULL OR media_next_attempt <= %s)
                          AND id NOT IN %s
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED""",
                    fields.Datetime.now(),
                    tuple(messages.ids) or (0,),
                )
            )
            row = self.env.cr.fetchone()
            if not row:
                break
            message = self.browse(row[0])
            message._whatsapp_download_media()
            messages |= message
            if auto_commit:
                self.env.cr.commit()
        self._whatsapp_schedule_media_cron(asap=len(messages) >= limit)
        return messages

    def _whatsapp_download_media(self):
        """Fetch the file of one inbound message and attach it to its chat message."""
        self.ensure_one()
        try:
            client = self.account_id._get_client()
            info = client.get_media(self.media_uid)
            data = client.download_media(info["url"])
        except Exception as error:  # noqa: BLE001 - any failure is retried, then shown on the message
            attempts = self.media_attempts + 1
            failed = attempts >= MEDIA_MAX_ATTEMPTS
            _logger.info(
                "WhatsApp media %s of message %s: attempt %s failed: %s",
                self.media_uid,
                self.id,
                attempts,
                error,
            )
            self.write(
                {
                    "media_attempts": attempts,
                    "media_error": str(error),
                    "media_state": "failed" if failed else "pending",
                    "media_next_attempt": False
                    if failed
                    else fields.Datetime.now() + timedelta(minutes=2 ** (attempts - 1)),
                }
            )
            if failed:
                self._whatsapp_media_update_message()
            return False
        # the customer's file type is theirs to choose: what a browser would run inline is stored as a download
        mimetype = safe_mimetype(info.get("mime_type") or self.media_mimetype)
        # attachments_mime_plainxml: ir.attachment guesses the type of an octet-stream from its bytes; markup it
        # recognises is then stored as text/plain even though the cron runs as superuser
        attachment = (
            self.env["ir.attachment"]
            .with_context(attachments_mime_plainxml=True)
            .create(
                {
                    "name": self.media_filename or self._whatsapp_media_default_name(mimetype),
                    "raw": data,
                    "mimetype": mimetype,
                    "res_model": "discuss.channel" if self.model == "discuss.channel" else False,
                    "res_id": self.res_id if self.model == "discuss.channel" else False,
                }
            )
        )
        self.write(
            {
                "media_state": "done",
                "media_error": False,
                "media_next_attempt": False,
                "media_mimetype": mimetype,
            }
        )
        self._whatsapp_media_update_message(attachment)
        return attachment

    def _whatsapp_media_default_name(self, mimetype):
        extension = mimetypes.guess_extension(mimetype) or ""
        if mimetype == "audio/ogg":
            extension = ".ogg"
        return f"{self.whatsapp_kind or 'file'}-{self.id}{extension}"

    def _whatsapp_media_update_message(self, attachment=None):
        """Replace the chat message's placeholder by the file (or by the failure) and push it."""
        mail_message = self.mail_message_id
        if not mail_message:
            return
        body = self.env["discuss.channel"]._whatsapp_media_body(self, done=bool(attachment))
        values = {"body": body}
        if attachment:
            values["attachment_ids"] = [(4, attachment.id)]
        mail_message.write(values)
        channel = self.env["discuss.channel"].browse(mail_message.res_id)
        if mail_message.model == "discuss.channel" and channel.exists():
            channel._bus_send_store(
                mail_message, fields=["body", "attachment_ids"] if attachment else ["body"]
            )

    @api.model
    def _whatsapp_schedule_media_cron(self, asap=False):
        self._trigger_cron_when_due(
            "whatsapp.ir_cron_whatsapp_media_download",
            SQL("SELECT MIN(media_next_attempt) FROM whatsapp_message WHERE media_state = 'pending'"),
            asap=asap,
        )
