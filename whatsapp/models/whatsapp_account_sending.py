import logging
import unicodedata

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import html_escape

_logger = logging.getLogger(__name__)

DEFAULT_OPTOUT_KEYWORDS = (
    "STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, ARRET, ARRÊT, ARRÊTER, ARRETER, STOPP, BAJA, PARAR"
)
DEFAULT_OPTIN_KEYWORDS = "START, UNSTOP, SUBSCRIBE, YES, DEMARRER, DÉMARRER, ALTA"


class WhatsAppAccount(models.Model):
    """Sending side of an account: throughput, queue pause, opt-out keywords, ``messages`` webhooks."""

    _inherit = "whatsapp.account"

    rate_limit = fields.Integer(
        "Messages per Second",
        default=80,
        required=True,
        help="Throughput of this phone number at Meta (80 by default, up to 1,000 once Meta upgraded it). "
        "Sends never exceed it.",
    )
    queue_paused = fields.Boolean(
        "Sending Paused",
        readonly=True,
        copy=False,
        help="Set when Meta refuses the account itself (token, lock, restriction): messages wait in the queue "
        "instead of failing one by one. Cleared by a successful Test Connection or by Resume Sending.",
    )
    queue_pause_reason = fields.Text("Pause Reason", readonly=True, copy=False)
    queue_paused_date = fields.Datetime("Paused On", readonly=True, copy=False)
    optout_keywords = fields.Char(
        "Opt-out Keywords",
        default=DEFAULT_OPTOUT_KEYWORDS,
        help="Comma-separated. An inbound message equal to one of them (case and accents ignored) blacklists "
        "the number.",
    )
    optin_keywords = fields.Char(
        "Opt-in Keywords",
        default=DEFAULT_OPTIN_KEYWORDS,
        help="Comma-separated. Only these remove a number from the blacklist.",
    )
    optout_reply = fields.Char(
        "Opt-out Confirmation",
        translate=True,
        default=lambda self: self.env._(
            "You will no longer receive messages from us. Reply START to subscribe again."
        ),
    )
    optin_reply = fields.Char(
        "Opt-in Confirmation",
        translate=True,
        default=lambda self: self.env._("You are subscribed again. Reply STOP to unsubscribe."),
    )
    status_watermark = fields.Datetime(
        readonly=True,
        copy=False,
        help="Latest send time of a message Meta reported a status for: evidence used to settle sends "
        "whose outcome is unknown.",
    )
    status_error_code = fields.Integer("Last Status Error Code", readonly=True, copy=False)
    status_error = fields.Text("Last Status Error", readonly=True, copy=False)
    status_error_date = fields.Datetime("Last Status Error On", readonly=True, copy=False)

    @api.constrains("rate_limit")
    def _check_rate_limit(self):
        for account in self:
            if not 1 <= account.rate_limit <= 1000:
                raise ValidationError(
                    self.env._("The sending rate must be between 1 and 1,000 messages per second.")
                )

    # ------------------------------------------------------------
    # QUEUE PAUSE / RESUME
    # ------------------------------------------------------------

    def _whatsapp_pause_queue(self, error):
        """Pause sending for an account-level error and tell the administrators (once per pause)."""
        reason = str(error)
        hint = getattr(error, "hint", "")
        for account in self.filtered(lambda a: not a.queue_paused):
            account.write(
                {
                    "queue_paused": True,
                    "queue_pause_reason": reason,
                    "queue_paused_date": fields.Datetime.now(),
                }
            )
            _logger.warning("WhatsApp account %s: sending paused: %s", account.id, reason)
            account.message_post(
                body=self.env._(
                    "Sending is paused: Meta refused the account (%(reason)s). %(hint)s Queued messages wait; "
                    "they leave as soon as Test Connection succeeds or an administrator resumes sending.",
                    reason=reason,
                    hint=hint,
                ),
                partner_ids=account._get_admin_partners().ids,
                subtype_xmlid="mail.mt_comment",
            )

    def action_resume_queue(self):
        """Resume sending (button for administrators), then send what waited."""
        paused = self.filtered("queue_paused")
        paused.write({"queue_paused": False, "queue_pause_reason": False, "queue_paused_date": False})
        for account in paused:
            account.message_post(body=self.env._("Sending resumed."), subtype_xmlid="mail.mt_note")
        if paused:
            self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        return True

    def button_test_connection(self):
        result = super().button_test_connection()  # raises a UserError when the connection fails
        self.action_resume_queue()
        return result

    def _webhook_account_update(self, value, event):
        res = super()._webhook_account_update(value, event)
        if self.meta_status in ("restricted", "banned", "deleted"):
            self._whatsapp_pause_queue(self.meta_last_event or self.meta_status)
        return res

    # ------------------------------------------------------------
    # WEBHOOK: messages
    # ------------------------------------------------------------

    def _webhook_messages(self, value, event):
        """``messages`` changes: statuses, system-level errors and inbound messages.

        :param dict value: the change's value (``metadata``, ``contacts``, ``messages`` | ``statuses`` |
            ``errors``)
        :param event: the ``whatsapp.webhook.event`` being processed
        """
        self.ensure_one()
        if value.get("statuses"):
            self.env["whatsapp.message"]._apply_meta_statuses(self, value["statuses"])
        if value.get("errors"):
            self._whatsapp_record_status_errors(value["errors"])
        if value.get("messages"):
            self._whatsapp_process_inbound(value)

    def _whatsapp_record_status_errors(self, errors):
        """Record ``value.errors[]`` (system-level, e.g. throughput 130429) on the account."""
        error = errors[-1] if isinstance(errors[-1], dict) else {}
        details = (error.get("error_data") or {}).get("details") or ""
        text = " ".join(filter(None, [error.get("title") or error.get("message"), details]))
        self.write(
            {
                "status_error_code": int(error.get("code") or 0),
                "status_error": text,
                "status_error_date": fields.Datetime.now(),
            }
        )
        _logger.info("WhatsApp account %s: Meta reported error %s: %s", self.id, error.get("code"), text)

    def _whatsapp_process_inbound(self, value):
        """Store inbound messages (direction inbound, state received) and apply opt-out / opt-in keywords.

        Hook for the Discuss integration: override, call ``super()`` and use the returned messages.

        :param dict value: the change's value
        :return: the new inbound ``whatsapp.message`` records (duplicates from Meta's retries skipped)
        """
        self.ensure_one()
        Message = self.env["whatsapp.message"]
        items = [m for m in value.get("messages") or [] if isinstance(m, dict) and m.get("id")]
        known = set(Message.search([("wamid", "in", [m["id"] for m in items])]).mapped("wamid"))
        vals_list, seen = [], set()
        for item in items:
            if item["id"] in known or item["id"] in seen:
                continue
            seen.add(item["id"])
            number = self._phone_format(number="+" + item["from"]) if item.get("from") else False
            vals_list.append(
                {
                    "direction": "inbound",
                    "state": "received",
                    "account_id": self.id,
                    "wamid": item["id"],
                    "number": number or item.get("from"),
                    "body": self._inbound_text(item),
                    "status_date": Message._status_datetime(item.get("timestamp")),
                }
            )
        inbound = Message.create(vals_list)
        self._whatsapp_mark_replied(items)
        for message in inbound:
            self._whatsapp_apply_keywords(message)
        return inbound

    @api.model
    def _inbound_text(self, item):
        kind = item.get("type")
        if kind == "text":
            return (item.get("text") or {}).get("body") or ""
        if kind == "button":
            return (item.get("button") or {}).get("text") or ""
        if kind == "interactive":
            inter = item.get("interactive") or {}
            return (inter.get(inter.get("type") or "") or {}).get("title") or ""
        payload = item.get(kind) if isinstance(item.get(kind), dict) else {}
        return payload.get("caption") or payload.get("body") or f"[{kind}]"

    def _whatsapp_mark_replied(self, items):
        """An inbound message quoting one of ours marks it ``replied`` (the highest state)."""
        quoted = [
            i["context"]["id"] for i in items if isinstance(i.get("context"), dict) and i["context"].get("id")
        ]
        if quoted:
            self.env["whatsapp.message"].search(
                [
                    ("wamid", "in", quoted),
                    ("direction", "=", "outbound"),
                    ("state", "in", ("sent", "delivered", "read")),
                ]
            ).write({"state": "replied"})

    @api.model
    def _normalise_keyword(self, text):
        text = unicodedata.normalize("NFKD", (text or "").strip().strip(".!").casefold())
        return "".join(c for c in text if not unicodedata.combining(c))

    def _keyword_set(self, fname):
        return {self._normalise_keyword(k) for k in (self[fname] or "").split(",") if k.strip()}

    def _whatsapp_apply_keywords(self, message):
        """STOP-like keyword -> blacklist + confirmation; START-like -> unblacklist + confirmation.

        Any other message leaves the opt-out as it is (replying is not consenting again).
        """
        word = self._normalise_keyword(message.body)
        if not word or not message.number:
            return
        if word in self._keyword_set("optout_keywords"):
            # sudo: the webhook runs as superuser anyway; phone.blacklist is admin-managed
            self.env["phone.blacklist"].sudo()._add(
                [message.number],
                message=self.env._("Opted out by WhatsApp (%(word)s).", word=html_escape(message.body)),
            )
            reply = self.optout_reply
        elif word in self._keyword_set("optin_keywords"):
            self.env["phone.blacklist"].sudo()._remove(  # sudo: see above
                [message.number],
                message=self.env._("Opted in by WhatsApp (%(word)s).", word=html_escape(message.body)),
            )
            reply = self.optin_reply
        else:
            return
        if reply:
            self.env["whatsapp.message"]._queue_text(self, message.number, reply, ignore_blacklist=True)
