import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.addons.mail.tools.discuss import Store
from odoo.exceptions import UserError
from odoo.tools import html2plaintext

from ..tools import outbound_split
from ..tools.graph_api import WhatsAppApiError

_logger = logging.getLogger(__name__)

#: Meta's customer-service window (cloud-api-facts.md §8)
WINDOW = timedelta(hours=24)


class DiscussChannel(models.Model):
    """WhatsApp chats: one channel per customer number and account (``channel_type = "whatsapp"``).

    Members are the customer's partner and the operators the conversation was routed to (see
    ``whatsapp_account_discuss.py``). What an operator posts is sent to WhatsApp through the message queue,
    only inside the 24-hour window opened by the customer's last message: outside it the server refuses the
    post before anything is created or sent.
    """

    _inherit = "discuss.channel"

    channel_type = fields.Selection(
        selection_add=[("whatsapp", "WhatsApp")], ondelete={"whatsapp": "cascade"}
    )
    wa_account_id = fields.Many2one(
        "whatsapp.account", "WhatsApp Account", index="btree_not_null", ondelete="cascade", readonly=True
    )
    wa_number = fields.Char("WhatsApp Number", readonly=True, help="The customer's number, E.164.")
    wa_bsuid = fields.Char("WhatsApp User ID", readonly=True)
    wa_partner_id = fields.Many2one("res.partner", "WhatsApp Customer", readonly=True, ondelete="set null")
    wa_last_inbound = fields.Datetime("Last Customer Message", readonly=True)
    wa_window_end = fields.Datetime("Window Ends", compute="_compute_wa_window_end")
    wa_last_operator_post = fields.Datetime("Last Operator Answer", readonly=True)

    _sql_constraints = [
        (
            "wa_account_required",
            "CHECK(channel_type != 'whatsapp' OR wa_account_id IS NOT NULL)",
            "A WhatsApp chat belongs to a WhatsApp account.",
        ),
    ]

    def init(self):  # pylint: disable=missing-return
        super().init()
        # one chat per customer number and account
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS discuss_channel_wa_number_uniq
                   ON discuss_channel (wa_account_id, wa_number)
                WHERE channel_type = 'whatsapp' AND wa_number IS NOT NULL"""
        )

    @api.depends("wa_last_inbound")
    def _compute_wa_window_end(self):
        for channel in self:
            channel.wa_window_end = channel.wa_last_inbound and channel.wa_last_inbound + WINDOW

    def _wa_window_open(self):
        self.ensure_one()
        return bool(self.wa_window_end and fields.Datetime.now() < self.wa_window_end)

    def _wa_check_window(self):
        """:raise UserError: the 24-hour window is closed (nothing may be sent but a template)."""
        for channel in self.filtered(lambda c: c.channel_type == "whatsapp"):
            if not channel._wa_window_open():
                raise UserError(
                    self.env._(
                        "The customer's last message is more than 24 hours old: WhatsApp only delivers "
                        'templates now. Use "Send a template" to reopen the conversation with %(name)s.',
                        name=channel.wa_partner_id.display_name or channel.wa_number or channel.name,
                    )
                )

    # ------------------------------------------------------------
    # STORE (what the web client knows)
    # ------------------------------------------------------------

    def _to_store(self, store: Store):  # pylint: disable=missing-return
        super()._to_store(store)
        for channel in self.filtered(lambda c: c.channel_type == "whatsapp"):
            store.add(channel, channel._wa_store_values())

    def _wa_store_values(self):
        self.ensure_one()
        return {
            "whatsapp_number": self.wa_number or False,
            "whatsapp_window_end": fields.Datetime.to_string(self.wa_window_end)
            if self.wa_window_end
            else False,
            "whatsapp_partner": Store.one(self.wa_partner_id, fields=["name"]),
            "whatsapp_account_name": self.wa_account_id.sudo().name,  # sudo: name of the chat's account
        }

    def _wa_bus_send_window(self):
        for channel in self:
            channel._bus_send_store(channel, channel._wa_store_values())

    # ------------------------------------------------------------
    # POSTING
    # ------------------------------------------------------------

    @api.returns("mail.message", lambda value: value.id)
    def message_post(self, *, message_type="notification", **kwargs):
        if self.channel_type != "whatsapp" or self.env.context.get("wa_inbound") or message_type != "comment":
            return super().message_post(message_type=message_type, **kwargs)
        # refused before anything is created: no message in the chat, nothing queued for Meta
        self._wa_check_window()
        message = super().message_post(message_type=message_type, **kwargs)
        self._wa_send_post(message)
        return message

    def _wa_send_post(self, message):
        """Queue the WhatsApp messages of an operator's post: text, files (split), quoted reply."""
        self.ensure_one()
        # sudo: operators post in the chat; the queue and its technical fields are the sending engine's
        Message = self.env["whatsapp.message"].sudo()
        attachments = message.attachment_ids.sorted("id")
        text = html2plaintext(message.body or "").strip() if message.body else ""
        parts = outbound_split.split_post(
            text,
            [(att, att.mimetype, att.name) for att in attachments.sudo()],  # sudo: file metadata
        )
        context_wamid = (
            message.parent_id
            and Message.search(
                [("mail_message_id", "=", message.parent_id.id), ("wamid", "!=", False)], limit=1
            ).wamid
        )
        vals_list = []
        for index, part in enumerate(parts):
            vals = {
                "account_id": self.wa_account_id.id,
                "number": self.wa_number,
                "mail_message_id": message.id,
                "model": self._name,
                "res_id": self.id,
            }
            if part["type"] == "text":
                vals["body"] = part["text"]
                vals["payload"] = {"type": "text", "text": {"body": part["text"], "preview_url": False}}
            else:
                attachment = part["file"]
                kind = part["type"]
                vals.update(
                    body=part["caption"] or attachment.name,
                    header_type=kind,
                    header_attachment_id=attachment.id,
                    header_cache_key=f"attachment:{attachment.sudo().checksum}:{attachment.mimetype}",
                    payload={
                        "type": kind,
                        kind: outbound_split.media_object(kind, None, part["filename"], part["caption"]),
                    },
                )
                vals["payload"][kind].pop("id")
            if index == 0 and context_wamid:
                vals["payload"]["context"] = {"message_id": context_wamid}
            vals_list.append(vals)
        if not vals_list:
            return Message
        messages = Message.create(vals_list)
        self.sudo().wa_last_operator_post = fields.Datetime.now()  # sudo: technical routing date
        self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        message._wa_bus_send_status()
        return messages

    def _wa_send_reaction(self, message, emoji):
        """Send (or remove, with ``""``) the business's reaction to a message of this chat."""
        self.ensure_one()
        # sudo: see _wa_send_post
        target = (
            self.env["whatsapp.message"]
            .sudo()
            .search([("mail_message_id", "=", message.id), ("wamid", "!=", False)], order="id", limit=1)
        )
        if not target:
            return False
        self._wa_check_window()
        reaction = (
            self.env["whatsapp.message"]
            .sudo()
            .create(
                {
                    "account_id": self.wa_account_id.id,
                    "number": self.wa_number,
                    "body": emoji,
                    "model": self._name,
                    "res_id": self.id,
                    "payload": {"type": "reaction", "reaction": {"message_id": target.wamid, "emoji": emoji}},
                }
            )
        )
        self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        return reaction

    def _wa_mark_read(self, last_message_id):
        """Tell WhatsApp the customer's messages up to ``last_message_id`` were read (blue ticks).

        Meta marks every earlier message read with the latest one: one call per read.
        """
        self.ensure_one()
        # sudo: the reader is an operator; read receipts are technical fields of inbound messages
        unread = (
            self.env["whatsapp.message"]
            .sudo()
            .search(
                [
                    ("model", "=", self._name),
                    ("res_id", "=", self.id),
                    ("direction", "=", "inbound"),
                    ("wa_read_sent", "=", False),
                    ("wamid", "!=", False),
                    ("mail_message_id", "<=", last_message_id),
                ],
                order="id desc",
            )
        )
        if not unread:
            return
        try:
            self.wa_account_id._get_client().mark_read(unread[0].wamid)
        except WhatsAppApiError as error:
            _logger.warning("WhatsApp chat %s: mark as read failed: %s", self.id, error)
            return
        unread.write({"wa_read_sent": True})
