import base64
from datetime import datetime, timedelta

from freezegun import freeze_time
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SANDBOX_PHONE_UID
from .common_discuss import CUSTOMER, WhatsAppDiscussCase

T0 = datetime(2026, 3, 2, 9, 0, 0)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@tagged("whatsapp", "post_install", "-at_install")
class TestDiscussOutbound(WhatsAppDiscussCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.operator = cls.user_wa_admin  # a notify user: member of new chats

    def setUp(self):
        super().setUp()
        self.startPatcher(freeze_time(T0))
        self.first = self.receive_text("Hello")
        self.chat_op = self.chat().with_user(self.operator)

    def run_queue(self, **kwargs):
        with self.mock_wa_send(
            responses={("POST", f"{SANDBOX_PHONE_UID}/media"): {"id": "media-1"}}, **kwargs
        ) as calls:
            self.env["whatsapp.message"].sudo()._process_queue(auto_commit=False)
        return calls

    def attach(self, name, mimetype, raw=b"data"):
        return (
            self.env["ir.attachment"]
            .with_user(self.operator)
            .create(
                {
                    "name": name,
                    "raw": raw,
                    "mimetype": mimetype,
                    "res_model": "discuss.channel",
                    "res_id": self.chat_op.id,
                }
            )
        )

    def test_text_inside_window(self):
        message = self.chat_op.message_post(body="Hi Ana", message_type="comment")
        self.run_queue()
        self.assertEqual(len(self.wa_sent), 1)
        self.assertEqual(self.wa_sent[0]["type"], "text")
        self.assertEqual(self.wa_sent[0]["text"]["body"], "Hi Ana")
        self.assertEqual(self.wa_sent[0]["to"], CUSTOMER)
        self.assertEqual(message.sudo()._whatsapp_status_values()[message]["whatsapp_status"], "sent")

    def test_window_enforced_by_server(self):
        chat = self.chat_op
        self.assertEqual(chat.whatsapp_window_end, T0 + timedelta(hours=24))
        with freeze_time(T0 + timedelta(hours=24, seconds=1)):
            before = self.env["mail.message"].sudo().search_count([])
            with self.assertRaisesRegex(UserError, "24 hours"):
                chat.message_post(body="Too late", message_type="comment")
            self.assertEqual(self.env["mail.message"].sudo().search_count([]), before)
            self.assertFalse(self.env["whatsapp.message"].sudo().search([("direction", "=", "outbound")]))
            calls = self.run_queue()
            self.assertFalse(calls, "nothing was sent to Meta")
            with self.assertRaises(UserError):
                self.first.mail_message_id.sudo()._message_reaction(
                    "👍", "add", self.operator.partner_id, self.env["mail.guest"]
                )
        # a new customer message reopens the window
        with freeze_time(T0 + timedelta(hours=30)):
            self.receive_text("Back")
            chat.message_post(body="Welcome back", message_type="comment")

    def test_window_in_store(self):
        data = self.env["discuss.channel"].browse(self.chat_op.id).with_user(self.operator)
        from odoo.addons.mail.tools.discuss import Store  # noqa: PLC0415

        result = Store(data).get_result()
        channel = next(c for c in result["discuss.channel"] if c["id"] == data.id)
        self.assertEqual(channel["channel_type"], "whatsapp")
        self.assertEqual(channel["whatsapp_window_end"], "2026-03-03 09:00:00")
        self.assertEqual(channel["whatsapp_number"], "+33612345678")

    def test_attachments_split(self):
        png, pdf, ogg = (
            self.attach("a.png", "image/png", PNG),
            self.attach("b.pdf", "application/pdf"),
            self.attach("c.ogg", "audio/ogg"),
        )
        self.chat_op.message_post(body="Files", message_type="comment", attachment_ids=(png | pdf | ogg).ids)
        calls = self.run_queue()
        self.assertEqual([p["type"] for p in self.wa_sent], ["text", "image", "document", "audio"])
        self.assertEqual(self.wa_sent[0]["text"]["body"], "Files")
        self.assertEqual(self.wa_sent[2]["document"], {"id": "media-1", "filename": "b.pdf"})
        self.assertEqual(self.wa_sent[3]["audio"], {"id": "media-1"}, "audio carries no caption")
        self.assertEqual(len([c for c in calls if c["path"].endswith("/media")]), 3)

    def test_single_image_with_caption(self):
        png = self.attach("a.png", "image/png", PNG)
        self.chat_op.message_post(body="Look", message_type="comment", attachment_ids=png.ids)
        self.run_queue()
        self.assertEqual(self.wa_sent[0]["image"], {"id": "media-1", "caption": "Look"})

    def test_reply_quoted(self):
        self.chat_op.message_post(
            body="Answer", message_type="comment", parent_id=self.first.mail_message_id.id
        )
        self.run_queue()
        self.assertEqual(self.wa_sent[0]["context"], {"message_id": self.first.wamid})

    def test_reactions_outbound(self):
        # as the controller does: sudo on the message, the operator as author
        target = self.first.mail_message_id.with_user(self.operator).sudo()
        target._message_reaction("👍", "add", self.operator.partner_id, self.env["mail.guest"])
        self.run_queue()
        self.assertEqual(self.wa_sent[-1]["reaction"], {"message_id": self.first.wamid, "emoji": "👍"})
        target._message_reaction("👍", "remove", self.operator.partner_id, self.env["mail.guest"])
        self.run_queue()
        self.assertEqual(self.wa_sent[-1]["reaction"], {"message_id": self.first.wamid, "emoji": ""})

    def test_mark_as_read(self):
        second = self.receive_text("Second")
        member = self.chat_op.sudo().channel_member_ids.filtered(
            lambda m: m.partner_id == self.operator.partner_id
        )
        with self.mock_wa_send() as calls:
            member.with_user(self.operator)._mark_as_read(second.mail_message_id.id)
        bodies = [c["json"] for c in calls if c.get("json", {}).get("status") == "read"]
        self.assertEqual([b["message_id"] for b in bodies], [second.wamid], "one call for the latest")
        self.assertTrue((self.first | second).mapped("whatsapp_read_sent"))
        with self.mock_wa_send() as calls:
            member.with_user(self.operator)._mark_as_read(second.mail_message_id.id)
        self.assertFalse(calls, "already marked read")

    def test_ticks_and_failure(self):
        message = self.chat_op.message_post(body="Hi", message_type="comment")
        self.assertEqual(message.sudo()._whatsapp_status_values()[message]["whatsapp_status"], "pending")
        self.run_queue()
        wa_message = self.env["whatsapp.message"].sudo().search([("mail_message_id", "=", message.id)])
        for status, tick in (("delivered", "delivered"), ("read", "read")):
            self.account.sudo()._webhook_messages(
                self._whatsapp_status_value([(wa_message.wamid, status, None, None)]),
                self.env["whatsapp.webhook.event"],
            )
            self.assertEqual(message.sudo()._whatsapp_status_values()[message]["whatsapp_status"], tick)
        failed = self.chat_op.message_post(body="Second", message_type="comment")
        self.run_queue(errors={"*": self.meta_error(131026, message="Message undeliverable")})
        values = failed.sudo()._whatsapp_status_values()[failed]
        self.assertEqual(values["whatsapp_status"], "failed")
        self.assertIn("Message undeliverable", values["whatsapp_failure"])
        self.env["whatsapp.message"].sudo().browse(values["whatsapp_message_ids"]).action_retry()
        self.assertEqual(failed.sudo()._whatsapp_status_values()[failed]["whatsapp_status"], "pending")
