from odoo.tests import tagged

from .common_discuss import CUSTOMER, WhatsAppDiscussHttpCase


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppReportingTours(WhatsAppDiscussHttpCase):
    """In real Chromium: the Messages list (both directions, customer, record) and Reporting's colours."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template = cls._create_wa_template()
        cls.customers = cls.env["res.partner"].create(
            [
                {"name": "Tour Read", "mobile": f"+{CUSTOMER}"},
                {"name": "Tour Failed", "mobile": "+32 470 11 11 11"},
                {"name": "Tour Delivered", "mobile": "+32 470 22 22 22"},
            ]
        )

    def setUp(self):
        super().setUp()
        with self.mock_wa_send():
            messages = self.customers._whatsapp_send_template(self.template, queue=False)
        for message, state in zip(messages, ("read", "failed", "delivered"), strict=True):
            message.sudo().state = state  # as Meta's statuses would
        self.answer = self.receive_text("Thanks!", name="Tour Read")
        self.assertEqual(self.answer.whatsapp_answered_message_id, messages[0])

    def test_messages_list(self):
        self.start_tour("/odoo/action-whatsapp.whatsapp_message_action", "whatsapp_messages_list_tour",
                        login=self.user_wa_admin.login)  # fmt: skip

    def test_reporting_colours(self):
        self.start_tour("/odoo/action-whatsapp.whatsapp_report_action_messages", "whatsapp_reporting_colours_tour",
                        login=self.user_wa_admin.login)  # fmt: skip
