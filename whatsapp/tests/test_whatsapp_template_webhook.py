from odoo.tests import tagged

from .common import SANDBOX_WABA_UID
from .common_i18n import I18nCheckMixin
from .common_templates import WhatsAppTemplateCase


@tagged("post_install", "-at_install", "whatsapp")
class TestWhatsAppTemplateWebhooks(I18nCheckMixin, WhatsAppTemplateCase):
    """The four template webhooks, through the inbox (store + dispatch), update the template live."""

    def _dispatch(self, field, value):
        Event = self.env["whatsapp.webhook.event"].sudo()
        ids = Event._store_changes([(self.account.id, field, value, SANDBOX_WABA_UID, None)])
        events = Event.browse(ids)
        events._process()
        self.env.invalidate_all()
        return events

    def _value(self, template, **extra):
        return {
            "message_template_id": int(template.meta_uid),
            "message_template_name": template.template_name,
            "message_template_language": template.lang_code,
            **extra,
        }

    def _last_note(self, template):
        return template.message_ids.filtered("body")[:1].body

    def test_status_update_table(self):
        template = self.template_partner
        cases = [
            ({"event": "PAUSED", "reason": "NONE", "other_info": {"title": "FIRST_PAUSE",
              "description": "Your template has been paused for 3 hours due to low quality."}},
             "paused", "paused for 3 hours"),
            ({"event": "APPROVED", "reason": "NONE"}, "approved", "APPROVED"),
            ({"event": "REJECTED", "reason": "INCORRECT_CATEGORY"}, "rejected", "INCORRECT_CATEGORY"),
            ({"event": "IN_APPEAL"}, "in_appeal", "IN_APPEAL"),
            ({"event": "FLAGGED", "disable_info": {"disable_date": "1767225600"}}, "in_appeal", "Disabled on"),
            ({"event": "DISABLED", "disable_info": {"disable_date": "1767225600"}}, "disabled", "Disabled on"),
            ({"event": "REINSTATED"}, "approved", "REINSTATED"),
            ({"event": "ARCHIVED"}, "archived", "ARCHIVED"),
            ({"event": "UNARCHIVED"}, "approved", "UNARCHIVED"),
            ({"event": "PENDING_DELETION"}, "pending_deletion", "PENDING_DELETION"),
            ({"event": "LIMIT_EXCEEDED"}, "limit_exceeded", "LIMIT_EXCEEDED"),
            ({"event": "DELETED"}, "deleted", "DELETED"),
        ]  # fmt: skip
        for value, status, note in cases:
            with self.subTest(event=value["event"]):
                event = self._dispatch("message_template_status_update", self._value(template, **value))
                self.assertEqual(event.state, "done")
                self.assertEqual(template.status, status)
                self.assertIn(note, self._last_note(template))
                if status == "rejected":
                    self.assertEqual(template.rejected_reason, "INCORRECT_CATEGORY")
        self.assertEqual(str(template.disable_date), "2026-01-01 00:00:00")

    def test_decisions_notify_the_followers(self):
        """Approved, rejected or paused: the followers (who created, who submitted) are told; a rejection
        says what to do. Other events are notes."""
        template = self.template_partner
        self._dispatch(
            "message_template_status_update", self._value(template, event="REJECTED", reason="SCAM")
        )
        message = template.message_ids.filtered(lambda m: "Status:" in str(m.body))
        self.assertEqual(message.subtype_id, self.env.ref("mail.mt_comment"))
        self.assertIn("Status: Rejected (Meta: REJECTED).", message.body)
        self.assertIn("submit it again", message.body)
        self._dispatch("message_template_status_update", self._value(template, event="IN_APPEAL"))
        message = template.message_ids.filtered(lambda m: "IN_APPEAL" in str(m.body))
        self.assertEqual(message.subtype_id, self.env.ref("mail.mt_note"))

    def test_chatter_in_the_company_language(self):
        """The webhook runs as the superuser (English): its chatter entries are in the company's language."""
        self._load_french(["whatsapp"])
        template = self.template_partner
        self.env.company.partner_id.lang = "fr_FR"
        self.account.sudo().allowed_company_ids = self.env.company
        self._dispatch("message_template_status_update", self._value(template, event="APPROVED"))
        self.assertIn("Statut : Approuvé (Meta : APPROVED).", self._last_note(template))
        self._dispatch(
            "message_template_quality_update",
            self._value(template, previous_quality_score="GREEN", new_quality_score="RED"),
        )
        self.assertIn("Qualité Meta", self._last_note(template))
        self.env.company.partner_id.lang = "en_US"
        self._dispatch("message_template_status_update", self._value(template, event="PAUSED"))
        self.assertIn("Status: Paused (Meta: PAUSED).", self._last_note(template))

    def test_unknown_status_is_kept_raw_not_lost(self):
        template = self.template_partner
        with self.assertLogs("odoo.addons.whatsapp.models.whatsapp_template", "WARNING"):
            event = self._dispatch(
                "message_template_status_update", self._value(template, event="SUSPENDED_V99")
            )
        self.assertEqual(event.state, "done")
        self.assertEqual(template.status, "approved", "an unknown status keeps the current one")
        self.assertEqual(template.meta_status_raw, "SUSPENDED_V99")
        self.assertIn("SUSPENDED_V99", self._last_note(template))

    def test_unknown_template_is_not_an_error(self):
        value = {"event": "APPROVED", "message_template_id": 424242, "message_template_name": "unknown_one",
                 "message_template_language": "en_US"}  # fmt: skip
        event = self._dispatch("message_template_status_update", value)
        self.assertEqual(event.state, "done")
        self.assertEqual(event.field, "message_template_status_update", "the event stays stored")

    def test_archived_template_is_found(self):
        self.template_image.active = False
        self._dispatch("message_template_status_update", self._value(self.template_image, event="PAUSED"))
        self.assertEqual(self.template_image.status, "paused")

    def test_quality_update(self):
        template = self.template_buttons
        for raw, quality in (("YELLOW", "yellow"), ("RED", "red"), ("GREEN", "green"), ("PURPLE", "green")):
            with self.subTest(raw=raw):
                value = self._value(template, previous_quality_score="GREEN", new_quality_score=raw)
                if raw == "PURPLE":
                    with self.assertLogs("odoo.addons.whatsapp.models.whatsapp_template", "WARNING"):
                        event = self._dispatch("message_template_quality_update", value)
                else:
                    event = self._dispatch("message_template_quality_update", value)
                self.assertEqual(event.state, "done")
                self.assertEqual(template.quality, quality)
                self.assertIn(raw, self._last_note(template))

    def test_category_update(self):
        template = self.template_partner
        impending = self._value(template, new_category="UTILITY", correct_category="MARKETING",
                                category_update_timestamp=1767225600)  # fmt: skip
        self._dispatch("template_category_update", impending)
        self.assertEqual(template.category, "utility", "an impending change only warns")
        self.assertIn("will change the category", self._last_note(template))
        self._dispatch(
            "template_category_update",
            self._value(template, previous_category="UTILITY", new_category="MARKETING"),
        )
        self.assertEqual(template.category, "marketing")
        self.assertIn("UTILITY → MARKETING", self._last_note(template))

    def test_components_update(self):
        template = self.template_buttons
        value = self._value(
            template,
            message_template_element="Dear {{1}}, your order is *shipped*. Thanks!",
            message_template_title="Order {{1}} shipped",
            message_template_footer="See you",
            message_template_buttons=[
                {"message_template_button_type": "QUICK_REPLY", "message_template_button_text": "Thanks"},
                {"message_template_button_type": "URL", "message_template_button_text": "Track",
                 "message_template_button_url": "https://shop.example.com/track/{{1}}"},
            ],
        )  # fmt: skip
        event = self._dispatch("message_template_components_update", value)
        self.assertEqual(event.state, "done")
        self.assertRecordValues(
            template,
            [{"body": "Dear {{1}}, your order is *shipped*. Thanks!", "header_text": "Order {{1}} shipped",
              "footer": "See you", "status": "approved"}],
        )  # fmt: skip
        self.assertEqual(template.button_ids.mapped("name"), ["Thanks", "Track"])
        self.assertIn("updated the content", self._last_note(template))
