from odoo import models
from odoo.tools import create_index


class WhatsAppMessage(models.Model):
    """Index of the template analytics (``whatsapp_template_stats.py``) and the reporting views."""

    _inherit = "whatsapp.message"

    def init(self):
        res = super().init()
        # the template panel: "outbound messages of these templates since <date>" grouped by state and failure
        # type, answered from the index
        create_index(
            self.env.cr,
            "whatsapp_message_template_stats_idx",
            self._table,
            ["template_id", "create_date", "state", "failure_type"],
            where="template_id IS NOT NULL AND direction = 'outbound'",
        )
        return res
