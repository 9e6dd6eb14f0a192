from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _whatsapp_safe_fields(self):
        return super()._whatsapp_safe_fields() + [
            "name",
            "partner_id.name",
            "company_id.name",
            "invoice_date",
            "invoice_date_due",
            "amount_total",
            "amount_residual",
            "currency_id.name",
            "pos_order_ids.name",
        ]
