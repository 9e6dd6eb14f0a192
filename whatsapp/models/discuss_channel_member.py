from odoo import models


class DiscussChannelMember(models.Model):
    _inherit = "discuss.channel.member"

    def _mark_as_read(self, last_message_id, sync=False):
        """An operator reading a WhatsApp chat marks the customer's messages read on WhatsApp."""
        res = super()._mark_as_read(last_message_id, sync=sync)
        channel = self.channel_id
        if (
            channel.channel_type == "whatsapp"
            and self.partner_id
            and self.partner_id != channel.whatsapp_partner_id
        ):
            channel._whatsapp_mark_read(last_message_id)
        return res
