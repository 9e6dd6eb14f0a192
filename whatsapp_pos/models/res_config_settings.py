from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    pos_whatsapp_enabled = fields.Boolean(related="pos_config_id.whatsapp_enabled", readonly=False)
    pos_whatsapp_receipt_template_id = fields.Many2one(
        related="pos_config_id.whatsapp_receipt_template_id", readonly=False
    )
    pos_whatsapp_invoice_template_id = fields.Many2one(
        related="pos_config_id.whatsapp_invoice_template_id", readonly=False
    )
