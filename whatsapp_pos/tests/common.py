from odoo.addons.point_of_sale.tests.test_frontend import TestPointOfSaleHttpCommon
from odoo.addons.whatsapp.tests.common import WhatsAppCommon
from odoo.tools import file_open

with file_open("whatsapp_pos/static/img/receipt_sample.jpg", "rb") as _file:
    RECEIPT_JPEG = _file.read()


class WhatsAppPosCase(WhatsAppCommon, TestPointOfSaleHttpCommon):
    """POS (point_of_sale's own HTTP fixtures) + WhatsApp fixtures: both ready templates approved on the
    fixture account and enabled on the main POS."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the POS fixtures run in their own company: the account serves it too
        cls.account.sudo().allowed_company_ids |= cls.company_data["company"]
        cls.template_receipt = cls._approve(cls.env.ref("whatsapp_pos.whatsapp_template_pos_receipt"))
        cls.template_invoice = cls._approve(cls.env.ref("whatsapp_pos.whatsapp_template_pos_invoice"))
        cls.main_pos_config.write(
            {
                "whatsapp_enabled": True,
                "whatsapp_receipt_template_id": cls.template_receipt.id,
                "whatsapp_invoice_template_id": cls.template_invoice.id,
            }
        )

    @classmethod
    def _approve(cls, template):
        # sudo: fixture; the status comes from Meta (sync context skips the edit rules)
        template.sudo().with_context(whatsapp_template_sync=True).write(
            {"account_id": cls.account.id, "status": "approved", "meta_uid": f"meta-{template.id}"}
        )
        return template

    def _messages(self, records):
        # sudo: assertions on the technical message records
        return (
            self.env["whatsapp.message"]
            .sudo()
            .search([("model", "=", records._name), ("res_id", "in", records.ids)], order="id")
        )
