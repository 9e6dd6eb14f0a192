from collections import defaultdict

from odoo import fields, models
from odoo.addons.mail.tools.discuss import Store

from ..tools.inbound_parser import parse_contacts

#: WhatsApp tick shown in Discuss for an outbound message state (the lowest part of a post wins)
TICK_BY_STATE = {
    "queued": "pending",
    "sending": "pending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "replied": "read",
    "failed": "failed",
    "bounced": "failed",
    "cancelled": "failed",
}
TICK_ORDER = ["failed", "pending", "sent", "delivered", "read"]


class MailMessage(models.Model):
    """WhatsApp messages in the chatter (``message_type``) and in WhatsApp chats: ticks of the operators'
    posts, contact cards shared by customers, operators' reactions sent to WhatsApp."""

    _inherit = "mail.message"

    message_type = fields.Selection(
        selection_add=[("whatsapp_message", "WhatsApp")],
        ondelete={"whatsapp_message": lambda recs: recs.write({"message_type": "comment"})},
    )

    def _to_store(self, store: Store, /, **kwargs):  # pylint: disable=missing-return
        super()._to_store(store, **kwargs)
        for message, values in self._whatsapp_status_values().items():
            store.add(message, values)
        for message, values in self._whatsapp_contact_values().items():
            store.add(message, values)

    def _whatsapp_contact_values(self):
        """``{mail.message: {"whatsapp_contacts": [{"index", "name"}], "whatsapp_inbound_id"}}`` for the
        contact cards shared by customers in WhatsApp chats (each card gets an "Add to contacts" button)."""
        channel_messages = self.filtered(
            lambda m: m.model == "discuss.channel" and m.res_id and m.message_type == "whatsapp_message"
        )
        if not channel_messages:
            return {}
        # sudo: which chat messages are shared contact cards is no secret for who reads the chat
        inbound = (
            self.env["whatsapp.message"]
            .sudo()
            .search(
                [
                    ("mail_message_id", "in", channel_messages.ids),
                    ("direction", "=", "inbound"),
                    ("whatsapp_kind", "=", "contacts"),
                ]
            )
        )
        result = {}
        for wa_message in inbound:
            cards = parse_contacts((wa_message.payload or {}).get("contacts"))
            result[wa_message.mail_message_id.with_env(self.env)] = {
                "whatsapp_contacts": [
                    {"index": index, "name": card.get("name") or self.env._("Contact")}
                    for index, card in enumerate(cards)
                ],
                "whatsapp_inbound_id": wa_message.id,
            }
        return result

    def _whatsapp_status_values(self):
        """``{mail.message: {"whatsapp_status", "whatsapp_status_date", "whatsapp_failure",
        "whatsapp_message_ids"}}``: the WhatsApp ticks of the messages sent by WhatsApp, the operators' posts in
        WhatsApp chats and the templates logged in a record's chatter (customers' messages: nothing)."""
        wa_messages_posts = self.filtered(
            lambda m: m.res_id and (m.model == "discuss.channel" or m.message_type == "whatsapp_message")
        )
        if not wa_messages_posts:
            return {}
        # sudo: the status of the messages a user can read is no secret; whatsapp.message may not be readable
        wa_messages = (
            self.env["whatsapp.message"]
            .sudo()
            .search(
                [("mail_message_id", "in", wa_messages_posts.ids), ("direction", "=", "outbound")], order="id"
            )
        )
        result = {}
        for message, group in wa_messages.grouped("mail_message_id").items():
            ticks = [TICK_BY_STATE.get(m.state, "pending") for m in group]
            status = min(ticks, key=TICK_ORDER.index)
            failed = group.filtered(lambda m: m.state in ("failed", "bounced", "cancelled"))
            dates = [d for d in group.mapped("status_date") if d]
            result[message.with_env(self.env)] = {
                "whatsapp_status": status,
                "whatsapp_status_date": fields.Datetime.to_string(max(dates)) if dates else False,
                "whatsapp_failure": "\n".join(filter(None, failed.mapped("failure_reason"))) or False,
                "whatsapp_message_ids": failed.ids if failed else group.ids,
            }
        return result

    def _whatsapp_bus_send_status(self):
        """Push the ticks of these messages to their chats: one bus message per chat, whatever the number of
        its messages (a batch of statuses moves many ticks of one chat at once)."""
        by_channel = defaultdict(Store)
        for message, vals in self._whatsapp_status_values().items():
            by_channel[message.res_id].add(message, vals)
        for channel_id, store in by_channel.items():
            channel = self.env["discuss.channel"].browse(channel_id).sudo()  # sudo: bus target only
            channel._bus_send_store(store)

    def _message_reaction(self, content, action, partner, guest, store: Store = None):
        """An operator's reaction in a WhatsApp chat is sent to WhatsApp (an empty emoji removes it)."""
        channel = self.model == "discuss.channel" and self.env["discuss.channel"].browse(self.res_id)
        is_operator_reaction = (
            channel
            and not self.env.context.get("whatsapp_inbound")
            and channel.sudo().channel_type == "whatsapp"  # sudo: type of the message's chat
            and partner
            and partner != channel.sudo().whatsapp_partner_id  # sudo: see above
        )
        if is_operator_reaction:
            channel.sudo()._whatsapp_check_window()  # sudo: see above; refused before anything changes
        res = super()._message_reaction(content, action, partner, guest, store=store)
        if is_operator_reaction:
            channel.sudo()._whatsapp_send_reaction(
                self, content if action == "add" else ""
            )  # sudo: see above
        return res
