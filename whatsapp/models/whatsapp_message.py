import copy
import logging
from collections import defaultdict
from uuid import uuid4

from odoo import api, fields, models
from odoo.addons.mail.tools.discuss import Store
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools import meta_errors

_logger = logging.getLogger(__name__)


class WhatsAppMessage(models.Model):
    """One WhatsApp message, outbound (a send to Meta) or inbound (received through the webhook).

    Outbound life cycle (see ``whatsapp_message_queue.py`` for the runner and the no-duplicate rule)::

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

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_retry(self):
        """Queue failed, bounced or cancelled outbound messages again (counters reset)."""
        to_retry = self.filtered(
            lambda m: m.direction == "outbound" and m.state in ("failed", "bounced", "cancelled")
        )
        if not to_retry:
            raise UserError(self.env._("Only failed, bounced or cancelled outgoing messages can be retried."))
        to_retry.write(
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

    def action_cancel(self):
        """Cancel queued messages. A message already being sent cannot be called back."""
        to_cancel = self.filtered(lambda m: m.state == "queued")
        if not to_cancel:
            raise UserError(self.env._("Only queued messages can be cancelled."))
        to_cancel.write({"state": "cancelled", "next_attempt": False})
        to_cancel._update_notifications()
        return True

    def send(self, auto_commit=False):
        """Send these queued outbound messages now, through the same runner as the cron.

        :param auto_commit: commit the claim before calling Meta and the results after it (required
            for the no-duplicate guarantee in production; ignored while tests run, like ``sms``)
        :return: the messages that were processed
        """
        queued = self.filtered(lambda m: m.direction == "outbound" and m.state == "queued")
        for account, messages in queued.grouped("account_id").items():
            messages._send_batch_for_account(account, auto_commit=auto_commit)
        return queued

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    @api.model
    def _failure_from_error(self, error):
        """``(category, retry, failure_type, reason, code)`` from a ``WhatsAppApiError`` (or any error)."""
        code = getattr(error, "code", None)
        category, retry = meta_errors.classify(code, getattr(error, "http_status", None))
        if category == "unknown" and getattr(error, "category", None):
            # no table row (timeouts, connection errors): trust the client's own classification
            category = error.category
            retry = "now" if getattr(error, "retryable", False) else "never"
        failure_type = self.FAILURE_TYPE_BY_CATEGORY.get(category, "unknown")
        message = getattr(error, "message", None) or str(error)
        reason = f"({code}) {message}" if code else message
        return category, retry, failure_type, reason, meta_errors._as_int(code) or 0

    def _update_notifications(self):
        """Mirror message states on their chatter notifications (one UPDATE per state) and push them."""
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
                            WHERE notification_type = 'whatsapp' AND whatsapp_message_id IN %s""",
                        self.NOTIFICATION_STATUS.get(state, "ready"),
                        "unknown" if failed else None,
                        reason or None,
                        tuple(group.ids),
                    )
                )
        self.env["mail.notification"].invalidate_model(
            ["notification_status", "failure_type", "failure_reason"]
        )
        self._notify_chatter()

    def _notify_chatter(self):
        """Push the new status icons to the chatter over the bus (one bus message per author).

        What ``mail.message._notify_message_notification_update`` does, with its per-message checks done
        once: the records' read access per model, the "is a public user" test per author.
        """
        # sudo: the cron and the webhook run without a user who could read every related record
        mail_messages = self.mail_message_id.sudo().filtered(lambda m: m.model and m.res_id)
        shown = []
        for model, group in mail_messages.grouped("model").items():
            if model in self.env:
                records = self.env[model].sudo().browse(set(group.mapped("res_id")))
                # warm the display names in one query (mail reads them one by one)
                records.mapped("display_name")
                readable = set(records._filtered_access("read").ids)
                shown += [message.id for message in group if message.res_id in readable]
        user_partner = None if self.env.user._is_public() else self.env.user.partner_id
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
        for partner, message_ids in by_partner.items():
            store = Store()
            mail_messages.browse(list(message_ids))._message_notifications_to_store(store)
            partner._bus_send_store(store)

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

    def _build_payload(self, media_id=None):
        """Meta's message object for this message: stored payload + recipient + uuid + header media."""
        self.ensure_one()
        payload = copy.deepcopy(self.payload or {})
        payload["to"] = (self.number or "").lstrip("+")
        payload["biz_opaque_callback_data"] = self.uuid
        if media_id and payload.get("type") == "template":
            kind = (self.header_type or "image").lower()
            media = {"id": media_id}
            if kind == "document" and self.header_attachment_id:
                media["filename"] = self.header_attachment_id.sudo().name  # sudo: name of our own header file
            template = payload.setdefault("template", {})
            template["components"] = [
                {"type": "header", "parameters": [{"type": kind, kind: media}]},
                *[c for c in template.get("components") or [] if c.get("type") != "header"],
            ]
        return payload

    @api.model
    def _queue_text(self, account, number, body, ignore_blacklist=False, send=True):
        """Queue a free-form text message (e.g. an opt-out confirmation) and trigger the queue.

        The 24-hour window is the caller's business (a confirmation answers the customer's message).

        :return: the new ``whatsapp.message``
        """
        message = self.create(
            {
                "account_id": account.id,
                "number": number,
                "body": body,
                "ignore_blacklist": ignore_blacklist,
                "payload": {"type": "text", "text": {"body": body, "preview_url": False}},
            }
        )
        if send:
            self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        return message
