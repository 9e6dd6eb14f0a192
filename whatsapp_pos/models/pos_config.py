from odoo import api, fields, models
from odoo.exceptions import ValidationError


class PosConfig(models.Model):
    _inherit = "pos.config"

    whatsapp_enabled = fields.Boolean(
        "WhatsApp Receipts", help="Send receipts and invoices by WhatsApp from the receipt screen."
    )
    whatsapp_receipt_template_id = fields.Many2one(
        "whatsapp.template",
        "WhatsApp Receipt Template",
        domain=[("model", "=", "pos.order"), ("header_type", "=", "image")],
        default=lambda self: self.env.ref(
            "whatsapp_pos.whatsapp_template_pos_receipt", raise_if_not_found=False
        ),
        help="Sent with the receipt, as the POS renders it, as image header.",
    )
    whatsapp_invoice_template_id = fields.Many2one(
        "whatsapp.template",
        "WhatsApp Invoice Template",
        domain=[("model", "=", "account.move"), ("header_type", "=", "document")],
        default=lambda self: self.env.ref(
            "whatsapp_pos.whatsapp_template_pos_invoice", raise_if_not_found=False
        ),
        help="Sent with the invoice PDF once the order is invoiced.",
    )

    @api.constrains("whatsapp_enabled", "whatsapp_receipt_template_id", "whatsapp_invoice_template_id")
    def _check_whatsapp_templates(self):
        # sudo: check the configured templates whatever the WhatsApp rights of the user saving the settings
        for config in self.sudo().filtered("whatsapp_enabled"):
            if not config.whatsapp_receipt_template_id:
                raise ValidationError(
                    self.env._(
                        "%(pos)s: choose the WhatsApp receipt template to enable WhatsApp.", pos=config.name
                    )
                )
            if config.whatsapp_receipt_template_id.model != "pos.order":
                raise ValidationError(
                    self.env._("The WhatsApp receipt template must apply to Point of Sale Orders.")
                )
            if (
                config.whatsapp_invoice_template_id
                and config.whatsapp_invoice_template_id.model != "account.move"
            ):
                raise ValidationError(
                    self.env._("The WhatsApp invoice template must apply to Journal Entries.")
                )

    @api.model
    def _whatsapp_enable_demo(self):
        """Demo data: enable WhatsApp with the ready templates on every POS."""
        receipt = self.env.ref("whatsapp_pos.whatsapp_template_pos_receipt", raise_if_not_found=False)
        invoice = self.env.ref("whatsapp_pos.whatsapp_template_pos_invoice", raise_if_not_found=False)
        if receipt:
            self.search([]).write(
                {
                    "whatsapp_enabled": True,
                    "whatsapp_receipt_template_id": receipt.id,
                    "whatsapp_invoice_template_id": invoice.id if invoice else False,
                }
            )
