import base64
from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import RECEIPT_JPEG, WhatsAppPosCase


@tagged("post_install", "-at_install", "whatsapp", "whatsapp_pos")
class TestWhatsAppPos(WhatsAppPosCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.main_pos_config.with_user(cls.pos_user).open_ui()
        cls.session = cls.main_pos_config.current_session_id
        cls.customer = cls.env["res.partner"].create({"name": "Ana Lopez", "mobile": "+32 470 12 34 56"})

    def _order(self, partner=None, to_invoice=False):
        order = self.env["pos.order"].create(
            {
                "session_id": self.session.id,
                "partner_id": partner.id if partner else False,
                "lines": [
                    (
                        0,
                        0,
                        {
                            "product_id": self.desk_pad.id,
                            "qty": 1,
                            "price_unit": 5.1,
                            "price_subtotal": 5.1,
                            "price_subtotal_incl": 5.1,
                            "tax_ids": [(6, 0, [])],
                        },
                    ),
                ],
                "amount_tax": 0.0,
                "amount_total": 5.1,
                "amount_paid": 0.0,
                "amount_return": 0.0,
                "to_invoice": to_invoice,
                "pos_reference": f"Order 00001-001-{len(self.session.order_ids) + 1:04d}",
            }
        )
        order.add_payment(
            {"pos_order_id": order.id, "amount": 5.1, "payment_method_id": self.bank_payment_method.id}
        )
        order.action_pos_order_paid()
        if to_invoice:
            order.action_pos_order_invoice()
        return order

    def _send(self, order, phone="+32 470 12 34 56"):
        return order.with_user(self.pos_user).action_sent_message_on_whatsapp(
            phone, base64.b64encode(RECEIPT_JPEG).decode(), False
        )

    def test_ready_templates_valid(self):
        for xmlid, header in (
            ("whatsapp_pos.whatsapp_template_pos_receipt", "IMAGE"),
            ("whatsapp_pos.whatsapp_template_pos_invoice", "DOCUMENT"),
        ):
            with self.subTest(template=xmlid):
                self.assertReadyTemplate(self.env.ref(xmlid), header, header_handle="4::cmVjZWlwdA==")

    def test_settings(self):
        """POS settings: enable WhatsApp and choose the templates (the ready ones by default)."""
        config = self.env["pos.config"].create({"name": "Shop 2"})
        self.assertFalse(config.whatsapp_enabled)
        self.assertEqual(config.whatsapp_receipt_template_id, self.template_receipt)
        self.assertEqual(config.whatsapp_invoice_template_id, self.template_invoice)
        settings = self.env["res.config.settings"].create({"pos_config_id": config.id})
        settings.pos_whatsapp_enabled = True
        self.assertTrue(config.whatsapp_enabled)
        arch = settings.get_views([(False, "form")])["views"]["form"]["arch"]
        for field in (
            "pos_whatsapp_enabled",
            "pos_whatsapp_receipt_template_id",
            "pos_whatsapp_invoice_template_id",
        ):
            self.assertIn(f'name="{field}"', arch)
        with self.assertRaisesRegex(ValidationError, "receipt template"):
            config.whatsapp_receipt_template_id = False
        with self.assertRaisesRegex(ValidationError, "Point of Sale Orders"):
            config.whatsapp_receipt_template_id = self.template_invoice
        # the receipt screen gets the settings (pos.config is loaded with all its fields)
        self.assertIn("whatsapp_enabled", config._load_pos_data_fields(config.id) or config._fields)

    def test_receipt_screen_call(self):
        """The receipt screen's RPC: the receipt as the POS rendered it is the image header; queued, never
        sent during the call; the number is normalised and kept on the order."""
        order = self._order()
        result = self._send(order)
        message = self._messages(order)
        self.assertEqual(len(message), 1)
        self.assertEqual(result["number"], "+32470123456")
        self.assertEqual(
            result["messages"], [{"id": message.id, "kind": "receipt", "state": "queued", "error": False}]
        )
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.template_id, self.template_receipt)
        self.assertEqual(message.header_type, "image")
        self.assertEqual(message.header_attachment_id.raw, RECEIPT_JPEG)
        self.assertEqual(message.header_attachment_id.mimetype, "image/jpeg")
        self.assertEqual(
            (message.header_attachment_id.res_model, message.header_attachment_id.res_id),
            ("pos.order", order.id),
        )
        self.assertEqual(order.mobile, "+32470123456")
        self.assertTrue(order.whatsapp_receipt_sent)
        self.assertIn(order.pos_reference, message.body)
        self.assertTrue(order.message_ids.filtered(lambda m: m.message_type == "whatsapp_message"))

    def test_receipt_screen_errors(self):
        order = self._order()
        with self.assertRaisesRegex(UserError, "not a valid phone number"):
            self._send(order, "+999 1234 5678")
        self.assertFalse(self._messages(order))
        self.env["phone.blacklist"].sudo().add("+32470123456")
        with self.assertRaisesRegex(UserError, "could not be sent"):
            self._send(order)
        self.main_pos_config.whatsapp_enabled = False
        with self.assertRaisesRegex(UserError, "not enabled"):
            self._send(order)

    def test_invoice_path(self):
        """An invoiced order: the receipt and the invoice PDF (on the invoice, to the number typed)."""
        order = self._order(self.customer, to_invoice=True)
        self.assertTrue(order.account_move)
        result = self._send(order, "+32 470 99 88 77")
        self.assertEqual([item["kind"] for item in result["messages"]], ["receipt", "invoice"])
        invoice_message = self._messages(order.account_move)
        self.assertEqual(invoice_message.template_id, self.template_invoice)
        self.assertEqual(invoice_message.number, "+32470998877")
        self.assertEqual(invoice_message.header_type, "document")
        self.assertEqual(invoice_message.header_attachment_id.res_model, "account.move")
        body = [p["text"] for p in invoice_message.payload["template"]["components"][0]["parameters"]]
        self.assertEqual(body[:2], ["Ana Lopez", order.account_move.name])
        self.assertIn(f"res_id={order.account_move.id}", body[5])

    def test_invoice_rendered_as_cashier(self):
        """The invoice PDF is rendered with the cashier's rights, not as superuser (the template is read with
        sudo: cashiers are not WhatsApp users)."""
        order = self._order(self.customer, to_invoice=True)
        renders = []
        render = type(self.env["ir.actions.report"])._render

        def spy(reports, report_ref, res_ids, data=None):
            renders.append((reports.env.uid, reports.env.su))
            return render(reports, report_ref, res_ids, data=data)

        with patch.object(type(self.env["ir.actions.report"]), "_render", spy):
            self._send(order, "+32 470 99 88 77")
        self.assertEqual(renders, [(self.pos_user.id, False)])

    def test_invoice_after_receipt(self):
        """Receipt sent, order invoiced later (backend): the invoice follows by WhatsApp, once."""
        order = self._order(self.customer)
        self._send(order)
        self.assertFalse(order.account_move)
        order.action_pos_order_invoice()
        self.assertEqual(len(self._messages(order.account_move)), 1)
        order.action_pos_order_invoice()  # already invoiced: nothing more
        self.assertEqual(len(self._messages(order.account_move)), 1)
        # an order whose receipt was not sent by WhatsApp: no invoice message
        other = self._order(self.customer, to_invoice=True)
        self.assertFalse(self._messages(other.account_move))

    def test_send_again_backend(self):
        """Backend button: refused before the POS rendered the receipt; then the composer action, and the
        stored receipt image is the header of the new message."""
        order = self._order()
        with self.assertRaisesRegex(UserError, "receipt screen"):
            order.action_whatsapp_send_receipt()
        self._send(order)
        action = order.action_whatsapp_send_receipt()
        self.assertEqual(action["res_model"], "whatsapp.composer")
        self.assertEqual(action["target"], "new")
        self.assertEqual(action["context"]["default_res_ids"], order.ids)
        self.assertEqual(action["context"]["default_template_id"], self.template_receipt.id)
        again = order._whatsapp_send_template(self.template_receipt)
        self.assertEqual(again.header_attachment_id.raw, RECEIPT_JPEG)
        self.assertEqual(len(self._messages(order)), 2)

    def test_send_again_composer(self):
        """The backend button through the composer: the receipt the POS rendered is sent again."""
        user = self.env["res.users"].create(
            {
                "name": "Pos Manager WA",
                "login": "pos_manager_wa",
                "company_id": self.company_data["company"].id,
                "company_ids": [(6, 0, self.company_data["company"].ids)],
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            self.env.ref("point_of_sale.group_pos_manager").id,
                            self.env.ref("whatsapp.group_whatsapp_user").id,
                        ],
                    )
                ],
            }
        )
        order = self._order()
        self._send(order)
        action = order.with_user(user).action_whatsapp_send_receipt()
        composer = self.env["whatsapp.composer"].with_user(user).with_context(**action["context"]).create({})
        self.assertEqual(composer.template_id, self.template_receipt)
        composer.action_send_whatsapp()
        messages = self._messages(order)
        self.assertEqual(len(messages), 2)
        self.assertEqual(messages[1].header_attachment_id.raw, RECEIPT_JPEG)
        self.assertEqual(messages[1].number, "+32470123456")

    def test_other_image_template(self):
        """An image template of POS orders that is not the receipt template keeps its own image."""
        promo_image = self.env["ir.attachment"].create(
            {"name": "promo.jpg", "raw": RECEIPT_JPEG[:-2] + b"\x00\xff\xd9", "mimetype": "image/jpeg"}
        )
        promo = self._approve(
            self.env["whatsapp.template"].create(
                {
                    "name": "POS promo",
                    "template_name": "pos_promo",
                    "model_id": self.env["ir.model"]._get_id("pos.order"),
                    "phone_field": "mobile",
                    "header_type": "image",
                    "header_attachment_ids": [(6, 0, promo_image.ids)],
                    "body": "Thank you, here is a coupon for your next visit!",
                }
            )
        )
        order = self._order()
        order.mobile = "+32 470 12 34 56"
        message = order._whatsapp_send_template(promo)
        self.assertEqual(message.header_attachment_id.raw, promo_image.raw)
