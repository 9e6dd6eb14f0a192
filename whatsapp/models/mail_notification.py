from odoo import fields, models


class MailNotification(models.Model):
    _inherit = "mail.notification"

    notification_type = fields.Selection(
        selection_add=[("whatsapp", "WhatsApp")], ondelete={"whatsapp": "cascade"}
    )
    whatsapp_message_id = fields.Many2one(
        "whatsapp.message", "WhatsApp Message", index="btree_not_null", ondelete="cascade"
    )
