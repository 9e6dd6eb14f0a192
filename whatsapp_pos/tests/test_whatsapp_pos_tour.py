from odoo.tests import tagged

from .common import WhatsAppPosCase


@tagged("post_install", "-at_install", "whatsapp", "whatsapp_pos")
class TestWhatsAppPosTour(WhatsAppPosCase):
    """The receipt screen in real Chromium, down to the Meta sandbox."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_sandbox()
        # the sandbox knows the receipt template once submitted and approved by its reviewer
        template = cls.template_receipt.sudo()
        template.with_context(whatsapp_template_sync=True).write({"status": "draft", "meta_uid": False})
        template.button_submit_template()
        cls.sandbox.template_decision(template.meta_uid, "APPROVED")
        template.with_context(whatsapp_template_sync=True).write({"status": "approved"})

    def test_receipt_tour(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("WhatsAppReceiptTour", login="pos_user")
        orders = self.env["pos.order"].search(
            [("session_id", "=", self.main_pos_config.current_session_id.id)]
        )
        self.assertEqual(len(orders), 2)
        messages = self._messages(orders)
        self.assertEqual(messages.mapped("number"), ["+32470123456", "+32470998877"])
        self.assertEqual(set(messages.mapped("header_type")), {"image"})
        self.assertTrue(
            all(m.header_attachment_id.raw.startswith(b"\xff\xd8") for m in messages), "JPEG receipts"
        )
        # the offline order was synced first, then its receipt sent
        self.assertEqual(messages[1].res_id, orders.filtered(lambda o: o.mobile == "+32470998877").id)
        messages.send()
        self.assertEqual(messages.mapped("state"), ["sent", "sent"], messages.mapped("failure_reason"))
        self.assertEqual(sorted(m["to"] for m in self.sandbox.sent_messages), ["32470123456", "32470998877"])
        header = self.sandbox.sent_messages[0]["payload"]["template"]["components"][0]
        self.assertEqual(header["parameters"][0]["type"], "image")
