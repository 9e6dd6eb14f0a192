from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import SANDBOX_PHONE_UID
from .common_discuss import WhatsAppDiscussHttpCase


@tagged("whatsapp", "post_install", "-at_install")
class TestDiscussTours(WhatsAppDiscussHttpCase):
    """In real Chromium: the operator's answer, the closed window, the answer to a template."""

    def test_operator_receives_and_answers(self):
        self.receive_text("Hello from WhatsApp", name="Ana")
        with self.mock_wa_send() as calls:  # reading the chat sends a read receipt
            self.start_tour(
                "/odoo/action-mail.action_discuss",
                "whatsapp_discuss_operator_tour",
                login=self.user_wa_admin.login,
            )
        self.assertTrue([c for c in calls if (c.get("json") or {}).get("status") == "read"])
        answer = self.env["whatsapp.message"].sudo().search([("direction", "=", "outbound")])
        self.assertEqual(answer.body, "Hi Ana, how can I help?")
        with self.mock_wa_send():
            answer.send()
        self.assertEqual(self.wa_sent[0]["text"]["body"], "Hi Ana, how can I help?")

    def test_window_closed(self):
        self.receive_text("Hello", name="Ana")
        self.chat().sudo().wa_last_inbound = fields.Datetime.now() - timedelta(hours=25)
        with self.mock_wa_send():
            self.start_tour(
                "/odoo/action-mail.action_discuss",
                "whatsapp_discuss_window_closed_tour",
                login=self.user_wa_admin.login,
            )

    def test_template_answer_opens_chat_for_sender(self):
        template = self._create_wa_template()
        partner = self.env["res.partner"].create({"name": "Tour Customer", "mobile": "+32 470 55 55 55"})
        with self.mock_wa_send():
            partner.with_user(self.user_wa)._whatsapp_send_template(
                template.with_user(self.user_wa), queue=False
            )
        value = self._wa_inbound_value("32470555555", "Yes, I am interested")
        value["metadata"]["phone_number_id"] = SANDBOX_PHONE_UID
        value["messages"][0]["timestamp"] = self._now_ts()
        response = self._post_webhook(self._make_payload("messages", value))
        self.assertEqual(response.status_code, 200)
        chat = self.chat("+32470555555")
        self.assertEqual(self.member_users(chat), self.user_wa)
        with self.mock_wa_send():
            self.start_tour(
                "/odoo/action-mail.action_discuss", "whatsapp_discuss_answer_tour", login=self.user_wa.login
            )
