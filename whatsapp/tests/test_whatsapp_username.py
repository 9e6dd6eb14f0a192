"""Customers known by a WhatsApp username: a business-scoped user id (BSUID) and no phone number.

Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/business-scoped-user-ids (webhooks carry
``contacts[].user_id``, ``messages[].from_user_id``, ``statuses[].recipient_user_id`` and may omit the number;
sends take ``recipient`` instead of ``to``; some message types refuse a user id with error 131062).
"""

from odoo.tests import tagged

from .common_discuss import WhatsAppDiscussCase

BSUID = "BR.1502ABCDEF"
NEW_BSUID = "BR.1502ZZZZZZ"


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppUsername(WhatsAppDiscussCase):
    def receive_from_user(self, kind="text", content=None, bsuid=BSUID, number=None, name="Bea", **extra):
        """A message of a username user: ``from_user_id`` and a contact with ``user_id``, a number only if
        given (Meta omits it for username users without a recent interaction)."""
        message = self._inbound(kind, content, from_=number, from_user_id=bsuid, **extra)
        if not number:
            del message["from"]
        contact = {"profile": {"name": name, "username": "@bea"}, "user_id": bsuid}
        if number:
            contact["wa_id"] = number
        return self.receive(message, contacts=[contact])

    def user_chat(self, bsuid=BSUID):
        return (
            self.env["discuss.channel"]
            .sudo()
            .search([("channel_type", "=", "whatsapp"), ("whatsapp_bsuid", "=", bsuid)])
        )

    def run_queue(self, **kwargs):
        with self.mock_wa_send(**kwargs) as calls:
            self.env["whatsapp.message"].sudo()._process_queue(auto_commit=False)
        return calls

    def test_chat_and_operator_answer_by_user_id(self):
        inbound = self.receive_from_user(content={"body": "Hi, is it in stock?"})
        self.assertEqual((inbound.number, inbound.bsuid), (False, BSUID))
        chat = self.user_chat()
        self.assertEqual(len(chat), 1)
        self.assertFalse(chat.whatsapp_number)
        self.assertEqual(chat.whatsapp_partner_id.whatsapp_bsuid, BSUID)
        self.assertEqual(chat.whatsapp_partner_id.name, "Bea")
        self.assertIn("Hi, is it in stock?", str(self.chat_messages(chat)[-1].body))
        chat.with_user(self.user_wa_admin).message_post(body="Yes, it is!", message_type="comment")
        self.run_queue()
        self.assertEqual(len(self.wa_sent), 1)
        payload = self.wa_sent[0]
        self.assertEqual(payload["recipient"], BSUID)
        self.assertNotIn("to", payload, "a user id goes as recipient, never as to")
        self.assertEqual(payload["text"]["body"], "Yes, it is!")
        answer = self.env["whatsapp.message"].sudo().search([("direction", "=", "outbound")])
        self.assertEqual(answer.state, "sent")

    def test_number_given_later_same_chat_and_partner(self):
        self.receive_from_user(content={"body": "first"})
        chat, partner = self.user_chat(), self.user_chat().whatsapp_partner_id
        self.receive_from_user(content={"body": "second"}, number="5511987654321")
        self.assertEqual(self.user_chat(), chat, "one chat for the customer")
        self.assertEqual(chat.whatsapp_number, "+5511987654321")
        self.assertEqual(chat.whatsapp_partner_id, partner)
        self.assertEqual(partner.phone_sanitized, "+5511987654321")
        chat.with_user(self.user_wa_admin).message_post(body="Hello", message_type="comment")
        self.run_queue()
        self.assertEqual(self.wa_sent[0]["to"], "5511987654321", "with a number, Meta gets the number")

    def test_number_known_partner_gets_user_id(self):
        """A partner known by number and a first message by user id only: the user id moves to the partner
        Meta later names with both."""
        known = self.env["res.partner"].create({"name": "Carla", "mobile": "+5511912345678"})
        self.receive_from_user(content={"body": "by user id"}, bsuid="BR.CARLA")
        stranger = self.user_chat("BR.CARLA").whatsapp_partner_id
        self.assertNotEqual(stranger, known)
        self.receive_from_user(content={"body": "both"}, bsuid="BR.CARLA", number="5511912345678")
        self.assertEqual(known.whatsapp_bsuid, "BR.CARLA")
        self.assertFalse(stranger.whatsapp_bsuid)

    def test_template_to_user_id_partner(self):
        partner = self.env["res.partner"].create({"name": "Bea", "whatsapp_bsuid": BSUID})
        with self.mock_wa_send():
            message = partner._whatsapp_send_template(self.template, queue=False)
        self.assertEqual(message.state, "sent")
        self.assertEqual(message.bsuid, BSUID)
        self.assertEqual(self.wa_sent[0]["recipient"], BSUID)
        self.assertEqual(self.wa_sent[0]["type"], "template")
        # the composer counts such a record as reachable
        composer = (
            self.env["whatsapp.composer"]
            .with_user(self.user_wa_admin)
            .create(
                {"res_model": "res.partner", "res_ids": str(partner.ids), "template_id": self.template.id}
            )
        )
        self.assertEqual((composer.recipient_valid_count, composer.recipient_invalid_count), (1, 0))
        self.assertIn(BSUID, composer.recipient_summary)
        # nobody: neither a number nor a user id
        nobody = self.env["res.partner"].create({"name": "Nobody"})
        message = nobody._whatsapp_send_template(self.template, queue=True)
        self.assertEqual((message.state, message.failure_type), ("failed", "phone_invalid"))

    def test_answer_to_template_sent_to_user_id_is_routed(self):
        partner = self.env["res.partner"].create({"name": "Bea", "whatsapp_bsuid": BSUID})
        with self.mock_wa_send():
            sent = partner.with_user(self.user_wa_admin)._whatsapp_send_template(self.template, queue=False)
        self.receive_from_user(
            content={"body": "Thanks"}, context={"from": "15550000001", "id": sent.sudo().wamid}
        )
        chat = self.user_chat()
        self.assertIn(self.user_wa_admin, self.member_users(chat), "the template's sender joins the chat")

    def test_stop_and_start_by_user_id(self):
        self.receive_from_user(content={"body": "START"})
        self.run_queue()
        self.assertFalse(self.wa_sent, "an opt-in of a user who did not opt out confirms nothing")
        self.receive_from_user(content={"body": "STOP"})
        partner = self.user_chat().whatsapp_partner_id
        self.assertTrue(partner.whatsapp_opt_out)
        self.assertEqual(partner.name, "Bea", "the profile name, not the user id")
        self.run_queue()
        confirmation = self.wa_sent[-1]
        self.assertEqual(confirmation["recipient"], BSUID)
        self.assertEqual(confirmation["type"], "text")
        message = partner._whatsapp_send_template(self.template, queue=True)
        self.assertEqual((message.state, message.failure_type), ("failed", "blacklisted"))
        self.assertIn(BSUID, message.failure_reason)
        self.receive_from_user(content={"body": "START"})
        self.assertFalse(partner.whatsapp_opt_out)
        with self.mock_wa_send():
            message = partner._whatsapp_send_template(self.template, queue=False)
        self.assertEqual(message.state, "sent")

    def test_marketing_stop_by_user_id(self):
        self.account.sudo()._webhook_user_preferences(
            {
                "user_preferences": [
                    {"user_id": BSUID, "category": "marketing_messages", "value": "stop", "timestamp": "1"}
                ]
            },
            self.env["whatsapp.webhook.event"],
        )
        preference = self.env["whatsapp.marketing.preference"].sudo().search([("bsuid", "=", BSUID)])
        self.assertEqual(preference.state, "stopped")
        partner = self.env["res.partner"].create({"name": "Bea", "whatsapp_bsuid": BSUID})
        self.assertTrue(partner.whatsapp_marketing_stopped)
        marketing = self._create_wa_template(template_name="promo_user", category="marketing")
        message = partner._whatsapp_send_template(marketing, queue=True)
        self.run_queue()
        self.assertEqual((message.state, message.failure_type), ("failed", "opt_out"))
        self.assertFalse(self.wa_sent)

    def test_new_user_id_on_number_change_keeps_the_chat(self):
        self.receive_from_user(content={"body": "hello"})
        chat = self.user_chat()
        system = self._inbound(
            "system",
            {"body": "User changed their number", "type": "user_changed_number", "user_id": NEW_BSUID},
            from_=None,
            from_user_id=BSUID,
        )
        del system["from"]
        self.receive(system, contacts=[{"profile": {"name": "Bea"}, "user_id": BSUID}])
        self.assertEqual(chat.whatsapp_bsuid, NEW_BSUID)
        self.assertEqual(chat.whatsapp_partner_id.whatsapp_bsuid, NEW_BSUID)
        self.receive_from_user(content={"body": "new me"}, bsuid=NEW_BSUID)
        self.assertEqual(self.user_chat(NEW_BSUID), chat, "the conversation goes on")
        chat.with_user(self.user_wa_admin).message_post(body="Noted", message_type="comment")
        self.run_queue()
        self.assertEqual(self.wa_sent[-1]["recipient"], NEW_BSUID)

    def test_131062_refused_for_user_id(self):
        self.receive_from_user(content={"body": "hi"})
        chat = self.user_chat()
        chat.with_user(self.user_wa_admin).message_post(body="Here you are", message_type="comment")
        self.run_queue(
            errors={BSUID: self.meta_error(131062, message="Business-scoped user ID not supported")}
        )
        answer = self.env["whatsapp.message"].sudo().search([("direction", "=", "outbound")])
        self.assertEqual(answer.state, "bounced", "the recipient cannot get this message")
        self.assertEqual(answer.error_code, 131062)
        self.assertIn("username", answer.failure_reason)
        self.assertIn("phone number", answer.failure_reason, "it says what to do")

    def test_edit_of_a_caption_and_revoke(self):
        image = self.receive_from_user(
            "image", {"id": "1234", "mime_type": "image/jpeg", "sha256": "x", "caption": "old caption"}
        )
        chat = self.user_chat()
        target = image.mail_message_id
        self.receive_from_user(
            "edit",
            {
                "original_message_id": image.wamid,
                "message": {"type": "image", "image": {"id": "1234", "caption": "new caption"}},
            },
        )
        self.assertIn("new caption", str(target.body))
        self.assertNotIn("old caption", str(target.body))
        text = self.receive_from_user(content={"body": "oops"})
        self.receive_from_user("revoke", {"original_message_id": text.wamid})
        self.assertIn("deleted", str(text.mail_message_id.body))
        self.assertEqual(len(self.user_chat()), 1)
        self.assertEqual(chat, self.user_chat())


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppUsernameSandbox(WhatsAppDiscussCase):
    """The operator's answer to a username user reaches the sandbox as Meta would take it (``recipient``)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_sandbox()

    def test_answer_reaches_sandbox_with_recipient(self):
        message = self._inbound("text", {"body": "hello"}, from_user_id=BSUID)
        del message["from"]
        self.receive(message, contacts=[{"profile": {"name": "Bea"}, "user_id": BSUID}])
        chat = (
            self.env["discuss.channel"]
            .sudo()
            .search([("channel_type", "=", "whatsapp"), ("whatsapp_bsuid", "=", BSUID)])
        )
        chat.with_user(self.user_wa_admin).message_post(body="Hi Bea", message_type="comment")
        self.env["whatsapp.message"].sudo()._process_queue(auto_commit=False)
        answer = self.env["whatsapp.message"].sudo().search([("direction", "=", "outbound")])
        self.assertEqual(answer.state, "sent", answer.failure_reason)
        sent = [m for m in self.sandbox.sent_messages if m["payload"].get("recipient") == BSUID]
        self.assertEqual(len(sent), 1)
        self.assertNotIn("to", sent[0]["payload"])
        self.assertEqual(sent[0]["wamid"], answer.wamid)
