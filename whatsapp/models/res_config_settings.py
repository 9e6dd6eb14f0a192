from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    whatsapp_account_count = fields.Integer("WhatsApp Accounts", compute="_compute_whatsapp_account_count")

    def _compute_whatsapp_account_count(self):
        count = (
            self.env["whatsapp.account"].search_count([])
            if self.env.user.has_group("whatsapp.group_whatsapp_user")
            else 0
        )
        for settings in self:
            settings.whatsapp_account_count = count
