from odoo import fields, models


class MailMessage(models.Model):
    _inherit = "mail.message"

    message_type = fields.Selection(
        selection_add=[("whatsapp_message", "WhatsApp")],
        ondelete={"whatsapp_message": lambda recs: recs.write({"message_type": "comment"})},
    )
