from odoo import fields, models


class EventTypeMail(models.Model):
    _inherit = "event.type.mail"

    notification_type = fields.Selection(selection_add=[("whatsapp", "WhatsApp")])
    template_ref = fields.Reference(
        ondelete={"whatsapp.template": "cascade"}, selection_add=[("whatsapp.template", "WhatsApp")]
    )

    def _compute_notification_type(self):
        result = super()._compute_notification_type()
        self.filtered(
            lambda line: line.template_ref and line.template_ref._name == "whatsapp.template"
        ).notification_type = "whatsapp"
        return result
