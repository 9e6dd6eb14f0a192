"""Test layer of WhatsApp chats: inbound webhook values fed to the account, chat lookups."""

import itertools
from datetime import UTC

from odoo import fields

from .common import SANDBOX_PHONE_UID, WhatsAppHttpCase
from .common_messages import WhatsAppMessageCase, WhatsAppMessageMixin

_IDS = itertools.count(1)
CUSTOMER = "33612345678"
CUSTOMER_E164 = "+33612345678"


class WhatsAppDiscussMixin:
    """``receive()`` (a ``messages`` webhook value processed by the account) and chat helpers."""

    @staticmethod
    def _now_ts():
        return str(int(fields.Datetime.now().replace(tzinfo=UTC).timestamp()))

    def _inbound(self, kind="text", content=None, from_=CUSTOMER, wamid=None, context_id=None, **extra):
        message = {
            "from": from_,
            "id": wamid or f"wamid.DSC{next(_IDS)}",
            "timestamp": self._now_ts(),
            "type": kind,
        }
        message[kind] = {"body": "Hello"} if content is None and kind == "text" else content
        if message[kind] is None:
            del message[kind]
        if context_id:
            message["context"] = {"from": "15550000001", "id": context_id}
        message.update(extra)
        return message

    def receive(self, *messages, name="Ana", from_=CUSTOMER, contacts=None):
        """Process one ``messages`` webhook value carrying ``messages`` (Meta objects) as the inbox does.

        :return: the ``whatsapp.message`` records created
        """
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": SANDBOX_PHONE_UID},
            "contacts": contacts if contacts is not None else [{"profile": {"name": name}, "wa_id": from_}],
            "messages": list(messages),
        }
        before = self.env["whatsapp.message"].search([]).ids
        account = self.account.sudo()  # the inbox dispatches as superuser
        account._webhook_messages(value, self.env["whatsapp.webhook.event"])
        return (
            self.env["whatsapp.message"]
            .sudo()
            .search([("id", "not in", before), ("direction", "=", "inbound")])
        )

    def receive_text(self, text="Hello", **kwargs):
        return self.receive(self._inbound("text", {"body": text}), **kwargs)

    def chat(self, number=CUSTOMER_E164, account=None):
        return (
            self.env["discuss.channel"]
            .sudo()
            .search(
                [
                    ("channel_type", "=", "whatsapp"),
                    ("whatsapp_number", "=", number),
                    ("whatsapp_account_id", "=", (account or self.account).id),
                ]
            )
        )

    def chat_messages(self, channel):
        return (
            self.env["mail.message"]
            .sudo()
            .search([("model", "=", "discuss.channel"), ("res_id", "=", channel.id)], order="id")
        )

    def member_users(self, channel):
        return channel.sudo().channel_member_ids.partner_id.user_ids


class WhatsAppDiscussCase(WhatsAppDiscussMixin, WhatsAppMessageCase):
    pass


class WhatsAppDiscussHttpCase(WhatsAppDiscussMixin, WhatsAppMessageMixin, WhatsAppHttpCase):
    pass
