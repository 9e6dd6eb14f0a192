from odoo import models


class Base(models.AbstractModel):
    _inherit = "base"

    def _whatsapp_safe_fields(self):
        """Field paths of this model that WhatsApp administrators who are not Settings administrators may use
        as template variables (values are still read with the sender's rights when sending).

        Models extend the list, e.g. ``return super()._whatsapp_safe_fields() + ["partner_id.name"]``.
        """
        return ["display_name"]
