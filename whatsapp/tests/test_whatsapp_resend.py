from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import WhatsAppHttpCase
from .common_messages import WhatsAppMessageCase, WhatsAppMessageMixin


@tagged("whatsapp")
class TestWhatsAppResend(WhatsAppMessageCase):
    """The chatter's failure dialog of a WhatsApp message (``whatsapp.resend``) and the messaging menu's
    WhatsApp failures: the reason, the number corrected (and saved on the contact), Resend, Ignore."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the sender may write contacts (Contact Creation): they may resend the messages of contacts
        cls.user_wa.groups_id += cls.env.ref("base.group_partner_manager")
        cls.partner = cls.partners[0]

    def _send_failing(self, partner=None, code=131026):
        """A message sent by ``user_wa`` to ``partner`` that Meta refuses with ``code``."""
        partner = (partner or self.partner).with_user(self.user_wa)
        with self.mock_wa_send(errors={"*": self.meta_error(code, message=f"Meta says {code}")}):
            message = partner._whatsapp_send_template(self.template.with_user(self.user_wa), queue=False)
            self.env["whatsapp.message"].sudo()._process_queue()
        return message.sudo()

    def _wizard(self, message, user=None):
        return (
            self.env["whatsapp.resend"]
            .with_user(user or self.user_wa)
            .with_context(default_mail_message_id=message.mail_message_id.id)
            .create({})
        )

    def _notification(self, message):
        return self.env["mail.notification"].sudo().search([("whatsapp_message_id", "=", message.id)])

    def _has_error(self, user=None):
        return (
            self.env["res.partner"]
            .with_user(user or self.user_wa)
            .search([("message_has_whatsapp_error", "=", True)])
        )

    def test_dialog_shows_the_failure(self):
        message = self._send_failing()
        self.assertWAMessage(message, "bounced", "recipient")
        self.assertEqual(self._notification(message).notification_status, "bounce")
        self.assertEqual(self._has_error(), self.partner)
        self.assertFalse(self._has_error(self.user_wa_admin), "the failures of their own sends only")
        wizard = self._wizard(message)
        line = wizard.recipient_ids
        self.assertEqual(len(line), 1)
        self.assertEqual(line.recipient_name, "Customer 0")
        self.assertEqual(line.partner_id, self.partner)
        self.assertEqual(line.number, "+33 6 12 34 56 00", "as people write it")
        self.assertEqual(line.failure_type, "recipient")
        self.assertIn("Meta says 131026", line.failure_reason)
        self.assertEqual(wizard.record_name, "Customer 0")
        self.assertTrue(wizard.can_resend)

    def test_resend_to_corrected_number_saved_on_contact(self):
        message = self._send_failing()
        wizard = self._wizard(message)
        wizard.recipient_ids.write({"number": "+33 6 99 88 77 66", "save_number": True})
        with self.mock_wa_send():
            wizard.action_resend()
            self.assertWAMessage(message, "queued", False, number="+33699887766")
            self.assertEqual(self._notification(message).notification_status, "ready")
            self.env["whatsapp.message"].sudo()._process_queue()
        self.assertWAMessage(message, "sent", number="+33699887766")
        self.assertWASent(["+33699887766"], template_name=self.template.template_name)
        self.assertEqual(self.partner.mobile, "+33 6 99 88 77 66", "saved on the contact")
        self.assertFalse(self._has_error())

    def test_resend_same_number_without_saving(self):
        message = self._send_failing()
        wizard = self._wizard(message)
        wizard.recipient_ids.number = "+33 6 99 88 77 66"
        with self.mock_wa_send():
            wizard.action_resend()
            self.env["whatsapp.message"].sudo()._process_queue()
        self.assertWAMessage(message, "sent", number="+33699887766")
        self.assertEqual(self.partner.mobile, "+33 6 12 34 56 00", "not saved unless asked")
        # the number it went to: Meta's refusal is retried as is (a new chance, e.g. WhatsApp installed since)
        message = self._send_failing(self.partners[1])
        with self.mock_wa_send():
            self._wizard(message).action_resend()
        self.assertWAMessage(message, "queued", number="+33612345601")

    def test_resend_refuses_an_invalid_number(self):
        message = self._send_failing()
        wizard = self._wizard(message)
        wizard.recipient_ids.number = "12"
        with self.assertRaisesRegex(UserError, "“12” is not a valid WhatsApp number for Customer 0"):
            wizard.action_resend()
        self.assertWAMessage(message, "bounced", number="+33612345600")

    def test_resend_refuses_what_can_only_fail_again(self):
        message = self._send_failing(code=132000)  # Meta refused the template's content
        with self.assertRaisesRegex(UserError, "Fix the template first"):
            self._wizard(message).action_resend()
        self.assertWAMessage(message, "failed", "template")
        # an opted-out number: refused as is, sent to another number
        self.env["phone.blacklist"].sudo().add("+33612345601")
        blocked = self._send_failing(self.partners[1])
        self.assertWAMessage(blocked, "failed", "blacklisted")
        wizard = self._wizard(blocked)
        with self.assertRaisesRegex(UserError, "opted out"):
            wizard.action_resend()
        wizard.recipient_ids.number = "+33 6 11 11 11 11"
        wizard.action_resend()
        self.assertWAMessage(blocked, "queued", number="+33611111111")

    def test_missing_number_typed_in_the_dialog(self):
        partner = self.env["res.partner"].create({"name": "Nora No Number"})
        message = self._send_failing(partner)
        self.assertWAMessage(message, "failed", "phone_invalid")
        wizard = self._wizard(message)
        self.assertFalse(wizard.recipient_ids.number)
        with self.assertRaisesRegex(UserError, "Nora No Number has no number"):
            wizard.action_resend()
        wizard.recipient_ids.write({"number": "+33 6 22 22 22 22", "save_number": True})
        with self.mock_wa_send():
            wizard.action_resend()
            self.env["whatsapp.message"].sudo()._process_queue()
        self.assertWAMessage(message, "sent", number="+33622222222")
        self.assertEqual(message.payload["template"]["name"], self.template.template_name)
        self.assertEqual(partner.mobile, "+33 6 22 22 22 22")

    def test_ignore(self):
        message = self._send_failing()
        self._wizard(message).action_ignore()
        self.assertEqual(self._notification(message).notification_status, "canceled")
        self.assertWAMessage(message, "bounced", "recipient")  # the message did fail: only acknowledged
        self.assertFalse(self._has_error())
        # a repeated failed status (Meta redelivers webhooks) does not bring the failure back
        message._update_notifications()
        self.assertEqual(self._notification(message).notification_status, "canceled")
        # nothing left to resend or ignore
        with self.assertRaisesRegex(UserError, "no failure left"):
            self._wizard(message).action_resend()

    def test_unticked_recipient_is_ignored(self):
        message = self._send_failing()
        wizard = self._wizard(message)
        wizard.recipient_ids.resend = False
        self.assertFalse(wizard.can_resend)
        with self.assertRaisesRegex(UserError, "Tick the recipients"):
            wizard.action_resend()

    def test_resend_needs_write_access_to_the_record(self):
        """A WhatsApp user who may read a contact but not write it may ignore its failures, not resend."""
        message = self._send_failing()
        reader = self.user_wa_admin  # no Contact Creation right
        wizard = self._wizard(message, user=reader)
        with self.assertRaises(AccessError):
            wizard.action_resend()
        self.assertWAMessage(message, "bounced")
        with self.assertRaises(AccessError):
            message.with_user(self.user_wa).action_retry()
        wizard.action_ignore()
        self.assertEqual(self._notification(message).notification_status, "canceled")

    def test_forged_line_is_left_out(self):
        """A line naming the notification of another message (crafted through RPC) is not acted upon."""
        message, other = self._send_failing(), self._send_failing(self.partners[1])
        wizard = self._wizard(message)
        wizard.recipient_ids.notification_id = self._notification(other)
        with self.assertRaisesRegex(UserError, "no failure left"):
            wizard.action_ignore()
        self.assertEqual(self._notification(other).notification_status, "bounce")

    def test_messaging_menu_ignore(self):
        """The messaging menu's "Ignore" on the WhatsApp failure item: the user's failures of that model."""
        mine = self._send_failing()
        with self.mock_wa_send(errors={"*": self.meta_error(131026)}):
            theirs = (
                self.partners[1]
                .with_user(self.user_wa_admin)
                ._whatsapp_send_template(self.template.with_user(self.user_wa_admin), queue=False)
            )
            self.env["whatsapp.message"].sudo()._process_queue()
        self.env["res.partner"].with_user(self.user_wa).notify_cancel_by_type("whatsapp")
        self.assertEqual(self._notification(mine).notification_status, "canceled")
        self.assertEqual(self._notification(theirs.sudo()).notification_status, "bounce")
        self.assertFalse(self._has_error())


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppFailureTours(WhatsAppMessageMixin, WhatsAppHttpCase):
    """In real Chromium: a failed message's icon in the chatter opens WhatsApp's dialog, where the number is
    corrected and the message resent; the messaging menu's WhatsApp failure item opens the failed contacts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_wa.groups_id += cls.env.ref("base.group_partner_manager")
        cls.template = cls._create_wa_template()

    def _send_as_user(self, partner, error=None):
        errors = {"*": error} if error else None
        with self.mock_wa_send(errors=errors):
            message = partner.with_user(self.user_wa)._whatsapp_send_template(
                self.template.with_user(self.user_wa), queue=False
            )
            self.env["whatsapp.message"].sudo()._process_queue()
        return message.sudo()

    def test_chatter_failure_resend(self):
        bruno = self.env["res.partner"].create({"name": "Tour Bruno", "mobile": "+32 470 00 00 99"})
        error = self.meta_error(131026, message="Message undeliverable")
        message = self._send_as_user(bruno, error)
        self.assertWAMessage(message, "bounced", "recipient")
        with self.mock_wa_send():
            self.start_tour(f"/odoo/res.partner/{bruno.id}", "whatsapp_failure_resend_tour", login="wa_user")
        self.assertWAMessage(message, "queued", False, number="+32470123456")
        self.assertEqual(bruno.mobile, "+32 470 12 34 56")
        with self.mock_wa_send():
            self.env["whatsapp.message"].sudo()._process_queue()
        self.assertWAMessage(message, "sent", number="+32470123456")
        self.assertWASent(["+32470123456"])

    def test_systray_failures(self):
        error = self.meta_error(131026, message="Message undeliverable")
        for name in ("Tour Bruno", "Tour Carla"):
            self._send_as_user(
                self.env["res.partner"].create({"name": name, "mobile": "+32 470 00 00 99"}), error
            )
        self._send_as_user(
            self.env["res.partner"].create({"name": "Tour Delivered", "mobile": "+32 470 11 11 11"})
        )
        self.start_tour("/odoo", "whatsapp_failure_systray_tour", login="wa_user")
