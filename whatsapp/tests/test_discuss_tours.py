from datetime import timedelta

import odoo
from odoo import fields
from odoo.tests import tagged
from odoo.tests.common import TEST_CURSOR_COOKIE_NAME

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
        self.chat().sudo().whatsapp_last_inbound = fields.Datetime.now() - timedelta(hours=25)
        with self.mock_wa_send():
            self.start_tour(
                "/odoo/action-mail.action_discuss",
                "whatsapp_discuss_window_closed_tour",
                login=self.user_wa_admin.login,
            )

    def test_contact_card_added(self):
        card = {
            "name": {"formatted_name": "Luc Gómez"},
            "phones": [{"phone": "+1 983 555 2319", "wa_id": "19835552319"}],
        }
        self.receive(self._inbound("contacts", [card]), name="Ana")
        self.user_wa_admin.groups_id += self.env.ref("base.group_partner_manager")
        self.assertFalse(self.env["res.partner"].search([("phone_sanitized", "=", "+19835552319")]))
        with self.mock_wa_send():  # reading the chat sends a read receipt
            self.start_tour(
                "/odoo/action-mail.action_discuss",
                "whatsapp_discuss_contact_card_tour",
                login=self.user_wa_admin.login,
            )
        partner = self.env["res.partner"].search([("phone_sanitized", "=", "+19835552319")])
        self.assertEqual(partner.name, "Luc Gómez")

    def test_template_answer_opens_chat_for_sender(self):
        template = self._create_wa_template()
        partner = self.env["res.partner"].create({"name": "Tour Customer", "mobile": "+32 470 55 55 55"})
        with self.mock_wa_send():
            partner.with_user(self.user_wa)._whatsapp_send_template(
                template.with_user(self.user_wa), queue=False
            )
        value = self._whatsapp_inbound_value("32470555555", "Yes, I am interested")
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


#: drives the sandbox's phone emulator as the customer (vanilla page: no tour runner there)
EMULATOR_SCRIPT = """
(async () => {
    const find = (selector, test) =>
        [...document.querySelectorAll(selector)].find((node) => !test || test(node));
    const wait = async (what, selector, test) => {
        for (let i = 0; i < 300; i++) {
            const node = find(selector, test);
            if (node) {
                return node;
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        throw new Error(`emulator: no ${what} (${selector})`);
    };
    const said = (text) => (node) => node.textContent.includes(text);
    await wait("template", ".o-wa-emu-message[data-direction=out]", said("confirm your visit"));
    (await wait("quick reply", ".o-wa-emu-message[data-direction=out] .o-wa-emu-quick-reply")).click();
    await wait("quick reply sent", ".o-wa-emu-message[data-direction=in]", said("Yes, confirmed"));
    const input = await wait("input", ".o-wa-emu-input:enabled");
    input.value = "See you tomorrow at 10";
    input.dispatchEvent(new Event("input", { bubbles: true }));
    (await wait("send button", ".o-wa-emu-send:enabled")).click();
    await wait("answer sent", ".o-wa-emu-message[data-direction=in]", said("See you tomorrow at 10"));
    console.log("test successful");
})().catch((error) => console.error(error.message || String(error)));
"""


@tagged("whatsapp", "post_install", "-at_install")
class TestDiscussEmulatorTour(WhatsAppDiscussHttpCase):
    """The whole path in real Chromium: a user sends a template from a contact, the customer answers it in
    the sandbox's phone emulator (the sandbox calls this Odoo's webhook), the chat opens for that user."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_sandbox()
        template = cls._create_wa_template(
            name="Visit confirmation",
            body="Hello, can we confirm your visit tomorrow?",
            button_ids=[(0, 0, {"sequence": 1, "button_type": "quick_reply", "name": "Yes, confirmed"})],
        ).sudo()  # sudo: fixture; the sandbox's reviewer approves what Odoo submits
        template.with_context(whatsapp_template_sync=True).write({"status": "draft"})
        template.button_submit_template()
        cls.sandbox.template_decision(template.meta_uid, "APPROVED")
        template.with_context(whatsapp_template_sync=True).write({"status": "approved"})
        cls.partner = cls.env["res.partner"].create({"name": "Tour Customer", "mobile": "+32 470 55 55 55"})

    def check_test_cursor(self, operation):
        """Meta (here the sandbox) calls the webhook without the browser's test cookie, also while a browser
        runs: such calls are served in this test like any other request."""
        request = odoo.http.request
        if (
            request
            and odoo.modules.module.current_test is self
            and self.http_request_key
            and request.httprequest.path == "/whatsapp/webhook"
            and not request.httprequest.cookies.get(TEST_CURSOR_COOKIE_NAME)
        ):
            return
        super().check_test_cursor(operation)

    def test_template_answered_in_emulator(self):
        self._sandbox_webhooks_to_odoo()
        # 1. the user sends the template from the contact's chatter
        self.start_tour(
            f"/odoo/res.partner/{self.partner.id}",
            "whatsapp_discuss_send_template_tour",
            login=self.user_wa.login,
        )
        sent = (
            self.env["whatsapp.message"]
            .sudo()
            .search([("model", "=", "res.partner"), ("res_id", "=", self.partner.id)])
        )
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent.create_uid, self.user_wa)
        self.assertTrue(sent.wamid, sent.failure_reason)
        self.assertEqual([m["to"] for m in self.sandbox.sent_messages], ["32470555555"])
        self.assertTrue(self.sandbox.wait_idle())
        # 2. the customer taps the quick reply and types an answer on the phone emulator
        self.browser_js(
            f"{self.sandbox.url}/emulator?phone=32470555555&pnid={SANDBOX_PHONE_UID}",
            EMULATOR_SCRIPT,
            ready="!!document.querySelector('.o-wa-emu-messages')",
        )
        self.assertTrue(self.sandbox.wait_idle())
        self.env.invalidate_all()
        inbound = [
            record
            for record in self.sandbox.webhooks
            if record["payload"]["entry"][0]["changes"][0]["value"].get("messages")
        ]
        self.assertEqual([record["status"] for record in inbound], [200, 200], "delivered to Odoo's webhook")
        chat = self.chat("+32470555555")
        self.assertEqual(self.member_users(chat), self.user_wa, "the chat opens for the sender only")
        answers = self.env["whatsapp.message"].sudo().search([("direction", "=", "inbound")], order="id")
        self.assertEqual(answers.mapped("body"), ["Yes, confirmed", "See you tomorrow at 10"])
        self.assertEqual(answers[0].whatsapp_answered_message_id, sent)
        # 3. back in Odoo, the user finds the chat
        self.start_tour(
            f"/odoo/res.partner/{self.partner.id}",
            "whatsapp_discuss_emulator_answer_tour",
            login=self.user_wa.login,
        )
