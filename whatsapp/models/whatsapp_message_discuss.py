"""Discuss side of ``whatsapp.message``: free-form media sends, ticks pushed to chats, inbound media
downloaded by a queue (never inside the webhook's acknowledgement), read receipts."""

import logging
import mimetypes
from datetime import timedelta

from markupsafe import Markup
from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import outbound_split
from ..tools.inbound_parser import MEDIA_KINDS, parse_contacts

_logger = logging.getLogger(__name__)

MEDIA_MAX_ATTEMPTS = 6
MEDIA_BATCH = 50


class WhatsAppMessage(models.Model):
    _inherit = "whatsapp.message"

    queued_date = fields.Datetime(
        "Created On",
        default=fields.Datetime.now,
        readonly=True,
        copy=False,
        help="When the message was created (routing of answers within 15 days).",
    )
    wa_kind = fields.Char("WhatsApp Type", readonly=True, help="Meta's type of an inbound message.")
    wa_read_sent = fields.Boolean("Read Receipt Sent", readonly=True, copy=False)
    wa_answered_message_id = fields.Many2one(
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

    # ------------------------------------------------------------
    # OUTBOUND: free-form media, ticks
    # ------------------------------------------------------------

    def _build_payload(self, media_id=None):
        payload = super()._build_payload(media_id=media_id)
        kind = payload.get("type")
        if media_id and kind in MEDIA_KINDS:
            media = payload.get(kind) or {}
            payload[kind] = {
                **outbound_split.media_object(kind, media_id, media.get("filename"), media.get("caption"))
            }
        return payload

    def _update_notifications(self):
        res = super()._update_notifications()
        self.filtered(lambda m: m.model == "discuss.channel").mail_message_id._wa_bus_send_status()
        return res

    # ------------------------------------------------------------
    # INBOUND MEDIA
    # ------------------------------------------------------------

    @api.model
    def _cron_download_media(self, limit=MEDIA_BATCH):
        """Download due inbound media (oldest first); failures are retried with backoff."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT id FROM whatsapp_message
                    WHERE media_state = 'pending' AND (media_next_attempt IS NULL OR media_next_attempt <= %s)
                 ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
                fields.Datetime.now(),
                limit,
            )
        )
        messages = self.browse([row[0] for row in self.env.cr.fetchall()])
        for message in messages:
            message._wa_download_media()
        self._wa_schedule_media_cron(asap=len(messages) >= limit)
        return messages

    def _wa_download_media(self):
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
                self._wa_media_update_message()
            return False
        mimetype = (info.get("mime_type") or self.media_mimetype or "application/octet-stream").split(";")[0]
        attachment = self.env["ir.attachment"].create(
            {
                "name": self.media_filename or self._wa_media_default_name(mimetype),
                "raw": data,
                "mimetype": mimetype,
                "res_model": "discuss.channel" if self.model == "discuss.channel" else False,
                "res_id": self.res_id if self.model == "discuss.channel" else False,
            }
        )
        self.write(
            {
                "media_state": "done",
                "media_error": False,
                "media_next_attempt": False,
                "media_mimetype": mimetype,
            }
        )
        self._wa_media_update_message(attachment)
        return attachment

    def _wa_media_default_name(self, mimetype):
        extension = mimetypes.guess_extension(mimetype) or ""
        if mimetype == "audio/ogg":
            extension = ".ogg"
        return f"{self.wa_kind or 'file'}-{self.id}{extension}"

    def _wa_media_update_message(self, attachment=None):
        """Replace the chat message's placeholder by the file (or by the failure) and push it."""
        mail_message = self.mail_message_id
        if not mail_message:
            return
        body = self.env["whatsapp.account"]._wa_media_body(self, done=bool(attachment))
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
    def _wa_schedule_media_cron(self, asap=False):
        self._trigger_cron_when_due(
            "whatsapp.ir_cron_whatsapp_media_download",
            SQL("SELECT MIN(media_next_attempt) FROM whatsapp_message WHERE media_state = 'pending'"),
            asap=asap,
        )

    # ------------------------------------------------------------
    # ACTIONS (from the chat)
    # ------------------------------------------------------------

    def action_wa_add_contact(self, index=0):
        """Create a contact from a shared contact card (``contacts`` message) and open it; a contact already
        known by the card's WhatsApp number is opened instead."""
        self.ensure_one()
        cards = parse_contacts((self.payload or {}).get("contacts"))
        if not 0 <= index < len(cards):
            return False
        card = cards[index]
        phones = card.get("phones") or []
        phone = phones[0]["phone"] if phones else False
        wa_number = phones[0].get("wa_id") if phones else False
        number = self._phone_format(number="+" + wa_number) if wa_number else False
        # a contact already known by this number is opened, not duplicated
        partner = number and self.env["res.partner"].search([("phone_sanitized", "=", number)], limit=1)
        partner = partner or self.env["res.partner"].create(
            {
                "name": card.get("name") or phone or self.env._("WhatsApp contact"),
                "mobile": ("+" + wa_number) if wa_number else phone,
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
