"""The attacks of issue 12, each replayed by a least-privileged user calling the model layer directly (what
``/web/dataset/call_kw`` or XML-RPC lets anyone do), and now refused."""

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged, users
from odoo.tools import mute_logger

from .common_messages import WhatsAppMessageCase
from .common_templates import PNG_1PX

BLACKLISTED = "+33612345600"


@tagged("post_install", "-at_install", "whatsapp")
class TestSecurityAttacks(WhatsAppMessageCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["phone.blacklist"].sudo().add(BLACKLISTED)  # sudo: fixture
        cls.partner = cls.partners[0]
        # a file the WhatsApp user may not read: attached to a record of a model they cannot access
        cls.secret_file = (
            cls.env["ir.attachment"]
            .sudo()  # sudo: fixture
            .create({"name": "payroll.png", "raw": PNG_1PX, "res_model": "res.users", "res_id": 1})
        )
        cls.queued = (
            cls.env["whatsapp.message"]
            .sudo()  # sudo: fixture, a message queued by the thread API for someone else
            .create(
                {
                    "account_id": cls.account.id,
                    "template_id": cls.template.id,
                    "number": "+33612345601",
                    "model": "res.partner",
                    "res_id": cls.partner.id,
                    "payload": {
                        "type": "template",
                        "template": {"name": "order_ready", "language": {"code": "en_US"}},
                    },
                }
            )
        )

    @users("wa_user")
    def test_free_text_to_blacklisted_number(self):
        """create() + send(): free text to a blacklisted number, ignore_blacklist set. Refused, nothing sent."""
        Message = self.env["whatsapp.message"]
        with self.mock_wa_send(), self.assertRaises(AccessError):
            Message.create(
                {
                    "account_id": self.account.id,
                    "number": BLACKLISTED,
                    "ignore_blacklist": True,
                    "payload": {"type": "text", "text": {"body": "Buy now!"}},
                }
            ).send()
        self.assertFalse(self.wa_sent)
        # nor by calling send() on a message someone else queued
        with self.mock_wa_send(), self.assertRaises(AccessError):
            self.queued.with_env(self.env).send()
        self.assertFalse(self.wa_sent)
        self.assertEqual(self.queued.state, "queued")

    @users("wa_user")
    def test_unreadable_header_attachment(self):
        """A message carrying a file its sender may not read is refused: no create for users, and a header
        file must belong to the message's record, chat or template (the queue uploads it as superuser)."""
        with self.assertRaises(AccessError):
            self.env["whatsapp.message"].create(
                {
                    "account_id": self.account.id,
                    "number": "+33612345602",
                    "header_type": "image",
                    "header_cache_key": "planted",
                    "header_attachment_id": self.secret_file.id,
                    "payload": {"type": "template", "template": {"name": "x", "language": {"code": "en_US"}}},
                }
            )
        with self.assertRaises(ValidationError):
            # sudo: even code writing as superuser cannot attach another record's file
            self.queued.sudo().header_attachment_id = self.secret_file

    @users("wa_user")
    def test_rewrite_queued_message(self):
        """Number, payload or header cache key of a queued message are not writable by users."""
        queued = self.queued.with_env(self.env)
        for values in (
            {"number": "+33699999999"},
            {"payload": {"type": "text", "text": {"body": "changed"}}},
            {"header_cache_key": "planted"},
            {"ignore_blacklist": True},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                queued.write(values)
        with self.assertRaises(AccessError):
            queued.unlink()

    def test_read_messages_of_readable_records_only(self):
        """Users read the messages of records they may read (a chat: its members); administrators all."""
        channel = self.env["discuss.channel"].sudo().create({"name": "Private chat", "channel_type": "group"})
        channel_message = (
            self.env["whatsapp.message"]
            .sudo()  # sudo: fixture
            .create(
                {
                    "account_id": self.account.id,
                    "number": "+33612345603",
                    "direction": "inbound",
                    "state": "received",
                    "body": "my secret",
                    "model": "discuss.channel",
                    "res_id": channel.id,
                }
            )
        )
        Message = self.env["whatsapp.message"].with_user(self.user_wa)
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            channel_message.with_user(self.user_wa).read(["body"])
        self.assertIn(self.queued, Message.search([]))
        self.assertNotIn(channel_message, Message.search([]))
        self.queued.with_user(self.user_wa).read(["body"])  # a message of a contact they may read
        channel.sudo().add_members(partner_ids=self.user_wa.partner_id.ids)
        self.assertEqual(channel_message.with_user(self.user_wa).body, "my secret")
        self.assertIn(channel_message, Message.search([]))
        self.assertIn(channel_message, self.env["whatsapp.message"].with_user(self.user_wa_admin).search([]))

    def test_header_report_of_template_model(self):
        """The header document must be a report of the template's model (not only a view domain)."""
        report = self.env["ir.actions.report"].search(
            [("model", "!=", "res.partner"), ("report_type", "=", "qweb-pdf")], limit=1
        )
        self.assertTrue(report)
        template = self.template.sudo()  # sudo: an administrator's write, the constraint applies to all
        with self.assertRaises(ValidationError):
            template.write({"report_id": report.id})
