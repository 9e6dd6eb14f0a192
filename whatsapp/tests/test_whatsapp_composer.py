from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged, users

from .common import SANDBOX_PHONE_UID, WhatsAppHttpCase
from .common_messages import WhatsAppMessageMixin
from .common_templates import PNG_1PX, WhatsAppTemplateCase, WhatsAppTemplateMixin


class WhatsAppComposerMixin:
    def _composer(self, records, template=None, **values):
        """A composer as the chatter / list action opens it, in the current user's environment."""
        context = {"default_res_model": records._name, "default_res_ids": records.ids}
        if template is not None:
            context["default_template_id"] = template.id
        return self.env["whatsapp.composer"].with_context(**context).create(values)


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppComposer(WhatsAppComposerMixin, WhatsAppMessageMixin, WhatsAppTemplateCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls.env["res.partner"].create(
            [{"name": f"Customer {i}", "mobile": f"+33 6 12 34 56 {i:02d}"} for i in range(3)]
        )
        cls.invalid = cls.env["res.partner"].create(
            [{"name": "Wrong Number", "mobile": "12"}, {"name": "No Number", "mobile": False}]
        )

    # ------------------------------------------------------------
    # SINGLE RECORD
    # ------------------------------------------------------------

    @users("wa_user")
    def test_single_sent_at_once(self):
        """One record: the template is sent in the same transaction, with the record's values and the free text."""
        partner = self.partner.with_env(self.env)
        composer = self._composer(partner, self.template_partner)
        self.assertFalse(composer.is_batch)
        self.assertEqual(composer.free_text_ids.mapped("name"), ["body - {{2}}"])
        self.assertEqual(composer.free_text_ids.value, "REF-001", "the sample value is proposed")
        self.assertEqual(composer.recipient_summary, "Ana Customer: +32470123456")
        self.assertEqual((composer.recipient_valid_count, composer.recipient_invalid_count), (1, 0))
        composer.free_text_ids.value = "REF-42"
        with self.mock_wa_send():
            action = composer.action_send_whatsapp()
        self.assertEqual(action, {"type": "ir.actions.act_window_close"})
        message = (
            self.env["whatsapp.message"]
            .sudo()
            .search([("model", "=", "res.partner"), ("res_id", "=", partner.id)])
        )
        self.assertWAMessage(message, "sent", False, number="+32470123456")
        self.assertWASent(["+32470123456"], template_name="partner_greeting")
        body = next(c for c in self.wa_sent[0]["template"]["components"] if c["type"] == "body")
        self.assertEqual([p["text"] for p in body["parameters"]], ["Ana Customer", "REF-42"])
        self.assertIn("Hello Ana Customer, your reference is REF-42", message.mail_message_id.body)

    @users("wa_user")
    def test_single_invalid_number(self):
        """An invalid or missing number for one record: Send is disabled and says why; the server refuses too
        (no failed message is created)."""
        for partner, reason in (
            (self.invalid[0], "12 is not a valid WhatsApp number for Wrong Number"),
            (self.invalid[1], "No Number has no WhatsApp number"),
        ):
            composer = self._composer(partner.with_env(self.env), self.template_partner)
            self.assertEqual((composer.recipient_valid_count, composer.recipient_invalid_count), (0, 1))
            self.assertFalse(composer.can_send)
            self.assertIn(reason, composer.cannot_send_reason)
            with self.mock_wa_send(), self.assertRaisesRegex(UserError, reason):
                composer.action_send_whatsapp()
            self.assertFalse(self.env["whatsapp.message"].sudo().search([("res_id", "=", partner.id)]))
            self.assertEqual(self.wa_sent, [])

    @users("wa_user")
    def test_single_phone_when_no_mobile(self):
        """The template reads the mobile; a contact with only a phone is sent to their phone."""
        partner = self.env["res.partner"].sudo().create({"name": "Phone Only", "phone": "+32 2 555 00 00"})
        composer = self._composer(partner.with_env(self.env), self.template_partner)
        self.assertEqual(composer.recipient_summary, "Phone Only: +3225550000")
        self.assertEqual(composer.recipient_number, "+32 2 555 00 00")
        self.assertTrue(composer.can_send)
        with self.mock_wa_send():
            composer.action_send_whatsapp()
        self.assertWASent(["+3225550000"])

    def test_single_number_corrected_and_saved(self):
        """The sender types the missing number: the message goes to it, and it is saved as the contact's
        mobile when asked."""
        partner = self.invalid[1]
        composer = self._composer(partner, self.template_partner)
        self.assertEqual(composer.recipient_partner_id, partner)
        self.assertFalse(composer.can_send)
        composer.recipient_number = "+32 470 99 88 77"
        self.assertTrue(composer.can_send)
        with self.mock_wa_send():
            composer.action_send_whatsapp()
        self.assertWASent(["+32470998877"])
        self.assertFalse(partner.mobile, "not saved unless asked")
        composer = self._composer(self.invalid[0], self.template_partner)
        composer.write({"recipient_number": "+32 470 11 22 33", "recipient_save_number": True})
        with self.mock_wa_send():
            composer.action_send_whatsapp()
        self.assertWASent(["+32470112233"])
        self.assertEqual(self.invalid[0].mobile, "+32 470 11 22 33")

    @users("wa_user")
    def test_number_field_from_phone_widget(self):
        """Opened from the WhatsApp icon of a phone field: that field's number is used."""
        self.partner.sudo().phone = "+32 2 555 00 00"  # sudo: fixture, the sender may not edit contacts
        partner = self.partner.with_env(self.env)
        composer = self._composer(partner, self.template_partner, number_field_name="phone")
        self.assertEqual(composer.recipient_summary, "Ana Customer: +3225550000")
        with self.mock_wa_send():
            composer.action_send_whatsapp()
        self.assertWASent(["+3225550000"])

    # ------------------------------------------------------------
    # SELECTION
    # ------------------------------------------------------------

    @users("wa_user")
    def test_batch_queued_invalid_numbers_never_block(self):
        """A selection is queued as one bulk send, expanded by the queue cron; invalid numbers become failed
        messages, the others go out."""
        records = (self.customers + self.invalid).with_env(self.env)
        composer = self._composer(records, self.template_partner)
        self.assertTrue(composer.is_batch)
        self.assertEqual((composer.recipient_valid_count, composer.recipient_invalid_count), (3, 2))
        composer.free_text_ids.value = "REF-9"
        with self.mock_wa_send():
            action = composer.action_send_whatsapp()
            self.assertEqual(self.wa_sent, [], "a selection is queued, not sent inline")
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("5 WhatsApp messages queued", action["params"]["message"])
        self.assertEqual(action["params"]["next"], {"type": "ir.actions.act_window_close"})
        messages = self.env["whatsapp.message"].sudo().search([("res_id", "in", records.ids)])
        self.assertFalse(messages, "nothing is rendered in the sender's request")
        job = self.env["whatsapp.bulk.send"].search([])
        self.assertEqual(len(job), 1)
        self.assertEqual((job.state, job.record_count, job.res_ids), ("queued", 5, records.ids))
        with self.mock_wa_send():
            self.env["whatsapp.message"].sudo()._process_queue()
        messages = self.env["whatsapp.message"].sudo().search([("res_id", "in", records.ids)])
        self.assertEqual(len(messages), 5)
        self.assertEqual(messages.bulk_send_id, job)
        by_record = {m.res_id: m for m in messages}
        for record in self.invalid:
            self.assertWAMessage(by_record[record.id], "failed", "phone_invalid")
        self.assertWASent(["+33612345600", "+33612345601", "+33612345602"], template_name="partner_greeting")
        for record in self.customers:
            self.assertWAMessage(by_record[record.id], "sent")
            self.assertIn("your reference is REF-9", by_record[record.id].body)
        job.invalidate_recordset()
        self.assertEqual((job.state, job.done_count, job.message_count, job.failed_count), ("done", 5, 5, 2))

    @users("wa_user")
    def test_batch_recipients_summary_is_bounded(self):
        partners = (
            self.env["res.partner"]
            .sudo()
            .create([{"name": f"Bulk {i}", "mobile": f"+33 6 99 00 00 {i:02d}"} for i in range(15)])
        )
        composer = self._composer(partners.with_env(self.env), self.template_partner)
        lines = composer.recipient_summary.splitlines()
        self.assertEqual(len(lines), 11)
        self.assertEqual(lines[-1], "… and 5 more")
        self.assertEqual(composer.recipient_valid_count, 15)

    def test_list_action_opens_composer(self):
        """Allow Multi's list action opens this composer on the selection."""
        self.template_partner.allow_multi = True
        action = (
            self.template_partner.multi_action_id.with_user(self.user_wa)
            .with_context(active_model="res.partner", active_ids=self.customers.ids)
            .run()
        )
        self.assertEqual((action["res_model"], action["target"]), ("whatsapp.composer", "new"))
        composer = (
            self.env["whatsapp.composer"].with_user(self.user_wa).with_context(action["context"]).create({})
        )
        self.assertEqual(composer.res_ids_count, 3)
        self.assertTrue(composer.is_batch)

    # ------------------------------------------------------------
    # TEMPLATE CHOICE, FREE TEXT, PREVIEW, HEADER FILE
    # ------------------------------------------------------------

    @users("wa_user")
    def test_default_and_available_templates(self):
        composer = self._composer(self.partner.with_env(self.env))
        available = self.env["whatsapp.template"]._find_available("res.partner")
        self.assertEqual(composer.available_template_ids, available)
        self.assertEqual(composer.template_id, available[:1], "the first available template is proposed")
        self.assertIn(self.template_buttons, composer.available_template_ids)
        composer.template_id = self.template_buttons
        self.assertFalse(composer.free_text_ids, "a template without free text has no line")

    @users("wa_user")
    def test_free_text_required(self):
        composer = self._composer(self.partner.with_env(self.env), self.template_partner)
        composer.free_text_ids.value = "  "
        with self.mock_wa_send(), self.assertRaises(UserError):
            composer.action_send_whatsapp()
        self.assertFalse(self.env["whatsapp.message"].sudo().search([("res_id", "=", self.partner.id)]))

    @users("wa_user")
    def test_preview(self):
        """The preview shows the first record's values and the typed free text, escaped."""
        self.partner.sudo().name = "Ana <b>Bold</b>"  # sudo: fixture, the sender may not edit contacts
        partner = self.partner.with_env(self.env)
        composer = self._composer(partner, self.template_partner)
        composer.free_text_ids.value = "REF-77"
        self.assertIn("Hello Ana &lt;b&gt;Bold&lt;/b&gt;, your reference is REF-77", composer.preview_html)
        composer.template_id = self.template_buttons
        self.assertIn("Order S00042", composer.preview_html)
        self.assertIn("Track", composer.preview_html)

    @users("wa_user")
    def test_header_file_replaced(self):
        """A media template's header file can be replaced by one attached in the composer."""
        partner = self.partner.with_env(self.env)
        attachment = self.env["ir.attachment"].create(
            {
                "name": "mine.png",
                "raw": PNG_1PX + b"\0",
                "mimetype": "image/png",
                "res_model": "whatsapp.composer",
            }
        )
        composer = self._composer(partner, self.template_image, attachment_ids=[(6, 0, attachment.ids)])
        self.assertTrue(composer.can_attach)
        responses = {("POST", f"{SANDBOX_PHONE_UID}/media"): {"id": "MEDIA-1"}}
        with self.mock_wa_send(responses=responses):
            composer.action_send_whatsapp()
        message = self.env["whatsapp.message"].sudo().search([("res_id", "=", partner.id)])
        self.assertWAMessage(message, "sent", fields_values={"header_cache_key": attachment.checksum})
        self.assertEqual(message.header_attachment_id.raw, PNG_1PX + b"\0")
        header = self.wa_sent[0]["template"]["components"][0]
        self.assertEqual(header["parameters"][0]["image"], {"id": "MEDIA-1"})

    # ------------------------------------------------------------
    # ACCESS RIGHTS
    # ------------------------------------------------------------

    @users("wa_user")
    def test_template_not_allowed(self):
        """A template restricted to other users, or not approved, cannot be used (even forced by context)."""
        restricted = self.template_buttons.sudo()
        restricted.allowed_user_ids = self.user_wa_admin
        draft = self._create_wa_template(name="Draft one", template_name="draft_one").sudo()
        draft.status = "draft"
        for template in (restricted, draft):
            with self.subTest(template=template.name):
                composer = self._composer(self.partner.with_env(self.env), template.with_env(self.env))
                self.assertNotIn(template, composer.available_template_ids)
                with self.mock_wa_send(), self.assertRaises(AccessError):
                    composer.action_send_whatsapp()
                self.assertEqual(self.wa_sent, [])

    def test_has_available_templates(self):
        Composer = self.env["whatsapp.composer"]
        cases = [
            (self.user_wa, "res.partner", True),
            (self.user_wa, "res.country", False),  # not a thread model
            (self.user_wa, "whatsapp.template", False),  # no template of that model
            (self.user_wa, "no.such.model", False),
            (self.user_employee, "res.partner", False),  # not a WhatsApp user
        ]
        for user, model, expected in cases:
            with self.subTest(user=user.login, model=model):
                self.assertEqual(Composer.with_user(user).has_available_templates(model), expected)

    @users("wa_user")
    def test_values_evaluated_as_sender(self):
        """The sender cannot leak a record they may not read, nor a field of a related record they may not read."""
        hidden = (
            self.env["res.partner"]
            .sudo()
            .create({"name": "Secret Company", "company_id": self.company_2.id, "mobile": "+32 470 99 99 99"})
        )
        # a record the sender may not read at all
        composer = self._composer(hidden.with_env(self.env), self.template_partner)
        with self.mock_wa_send(), self.assertRaises(AccessError):
            composer.action_send_whatsapp()
        # a readable record whose template reads a related record the sender may not read
        template = self._create_template(
            name="Parent", template_name="parent_name", body="Your company is {{1}}, welcome!",
            variables={"body-1": {"field_type": "field", "field_name": "parent_id.name", "demo_value": "X"}},
            status="approved", meta_uid="900009",
        )  # fmt: skip
        child = (
            self.env["res.partner"]
            .sudo()
            .create(
                {"name": "Child", "parent_id": hidden.id, "company_id": False, "mobile": "+32 470 11 11 11"}
            )
        )
        self.env.invalidate_all()  # values read as superuser above must not hide the sender's rights
        child = child.with_env(self.env)
        child.check_access("read")
        composer = self._composer(child, template.with_env(self.env))
        self.assertNotIn("Secret Company", composer.preview_html)
        with self.mock_wa_send(), self.assertRaises(AccessError):
            composer.action_send_whatsapp()
        self.assertEqual(self.wa_sent, [])
        self.assertFalse(self.env["whatsapp.message"].sudo().search([("res_id", "in", (hidden + child).ids)]))


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppComposerTour(WhatsAppMessageMixin, WhatsAppTemplateMixin, WhatsAppHttpCase):
    def test_composer_tour(self):
        """In the browser: open a contact, click the chatter's WhatsApp button, pick a template, type the free
        text, send; the message appears in the chatter."""
        partner = self.env["res.partner"].create({"name": "Tour Customer", "mobile": "+32 470 55 55 55"})
        self._create_template(
            name="Tour default", template_name="tour_default", sequence=1, body="Hello, nice to meet you!",
            status="approved", meta_uid="910001",
        )  # fmt: skip
        self._create_template(
            name="Tour greeting", template_name="tour_greeting", sequence=5,
            body="Hello {{1}}, your code is {{2}}. See you soon!",
            variables={
                "body-1": {"field_type": "field", "field_name": "name", "demo_value": "Azure"},
                "body-2": {"field_type": "free_text", "demo_value": "CODE"},
            },
            status="approved", meta_uid="910002",
        )  # fmt: skip
        with self.mock_wa_send():
            self.start_tour(
                f"/odoo/res.partner/{partner.id}", "whatsapp_composer_tour", login=self.user_wa.login
            )
        self.assertWASent(["+32470555555"], template_name="tour_greeting")
        message = self.env["whatsapp.message"].sudo().search([("res_id", "=", partner.id)])
        self.assertWAMessage(message, "sent")
        self.assertIn("your code is TOUR-7", message.body)
