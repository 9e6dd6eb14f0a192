from datetime import datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import import_sandbox
from .common_templates import WhatsAppTemplateCase

TEMPLATES_PATH = "/{Version}/{WABA-ID}/message_templates"


def spec_errors(payload):
    import_sandbox()  # puts meta_sandbox on sys.path
    from meta_sandbox.spec import validate_request  # noqa: PLC0415 - located at run time

    return validate_request("POST", TEMPLATES_PATH, payload)


@tagged("post_install", "-at_install", "whatsapp")
class TestWhatsAppTemplatePayload(WhatsAppTemplateCase):
    """The create payload of every header and button type, checked against Meta's official spec."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if import_sandbox() is None:
            cls.skipTest(cls, "meta_sandbox is not importable")

    def _payload(self, template):
        return template._get_meta_create_payload(header_handle="4::aGFuZGxl")

    def test_payload_per_header_type(self):
        document = self._attachment(b"%PDF-1.4 sample", "quote.pdf", "application/pdf")
        video = self._attachment(b"\x00\x00\x00\x18ftypmp42", "clip.mp4", "video/mp4")
        cases = {
            "none": ({}, None),
            "text": ({"header_text": "Hello {{1}}"}, {"type": "HEADER", "format": "TEXT", "text": "Hello {{1}}",
                                                     "example": {"header_text": ["Ana"]}}),
            "text_static": ({"header_type": "text", "header_text": "Hello"},
                            {"type": "HEADER", "format": "TEXT", "text": "Hello"}),
            "image": ({"header_attachment_ids": [(6, 0, self.image.ids)]},
                      {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aGFuZGxl"]}}),
            "video": ({"header_attachment_ids": [(6, 0, video.ids)]},
                      {"type": "HEADER", "format": "VIDEO", "example": {"header_handle": ["4::aGFuZGxl"]}}),
            "document": ({"header_attachment_ids": [(6, 0, document.ids)]},
                         {"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": ["4::aGFuZGxl"]}}),
            "location": ({}, {"type": "HEADER", "format": "LOCATION"}),
        }  # fmt: skip
        for header_type, (values, expected) in cases.items():
            with self.subTest(header_type=header_type):
                template = self._create_template(
                    name=f"Header {header_type}",
                    header_type=values.pop("header_type", header_type),
                    body="Hi {{1}}, here it is.",
                    variables={"body-1": {"demo_value": "Bob"}},
                    **values,
                )
                if template.header_type == "text" and "{{1}}" in template.header_text:
                    template.variable_ids.filtered(lambda v: v.key == "header-1").demo_value = "Ana"
                payload = self._payload(template)
                self.assertEqual(spec_errors(payload), [])
                self.assertEqual(payload["name"], template.template_name)
                self.assertEqual(payload["language"], "en_US")
                self.assertEqual(payload["category"], "UTILITY")
                body = next(c for c in payload["components"] if c["type"] == "BODY")
                self.assertEqual(body, {"type": "BODY", "text": "Hi {{1}}, here it is.",
                                        "example": {"body_text": [["Bob"]]}})  # fmt: skip
                headers = [c for c in payload["components"] if c["type"] == "HEADER"]
                self.assertEqual(headers, [expected] if expected else [])

    def test_payload_buttons(self):
        payload = self._payload(self.template_buttons)
        self.assertEqual(spec_errors(payload), [])
        base = self.template_buttons.get_base_url()
        buttons = next(c for c in payload["components"] if c["type"] == "BUTTONS")["buttons"]
        self.assertEqual(
            buttons,
            [
                {"type": "QUICK_REPLY", "text": "Thanks"},
                {"type": "URL", "text": "Track", "url": "https://shop.example.com/track/{{1}}",
                 "example": ["https://shop.example.com/track/S00042"]},
                {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+3225551234"},
                {"type": "URL", "text": "Our shop", "url": f"{base}/r/{{{{1}}}}", "example": [f"{base}/r/sample"]},
            ],
        )  # fmt: skip
        footer = next(c for c in payload["components"] if c["type"] == "FOOTER")
        self.assertEqual(footer, {"type": "FOOTER", "text": "Thank you for your trust"})

    def test_spec_catches_a_broken_payload(self):
        """Guard: the spec check is not vacuous."""
        payload = self._payload(self.template_partner)
        payload["components"] = "BODY"
        self.assertTrue(spec_errors(payload))


@tagged("post_install", "-at_install", "whatsapp")
class TestWhatsAppTemplateSandbox(WhatsAppTemplateCase):
    """Submit, resubmit, rejection and sync against the Meta sandbox."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_sandbox()

    def setUp(self):
        super().setUp()
        self.sandbox.reset()
        self.sandbox.add_account(
            phone_number_id=self.account.phone_uid, waba_id=self.account.account_uid, app_id=self.account.app_uid,
            token="sandbox-token", app_secret="sandbox-secret", display_phone_number="+1 555 000 0001",
            verified_name="Sandbox Co",
        )  # fmt: skip

    def _sandbox_template(self, template):
        return next(t for t in self.sandbox.templates if t["id"] == template.meta_uid)

    def _draft(self, **values):
        return self._create_template(
            **{
                "name": "Welcome offer",
                "body": "Hello {{1}}, welcome to our shop!",
                "variables": {"body-1": {"field_type": "field", "field_name": "name", "demo_value": "Ana"}},
                **values,
            }
        )

    def test_submit_creates_on_meta(self):
        template = self._draft()
        action = template.with_user(self.user_wa_admin).button_submit_template()
        self.assertEqual(template.status, "pending", "the status becomes Pending")
        self.assertTrue(template.meta_uid)
        remote = self._sandbox_template(template)
        self.assertEqual(remote["name"], "welcome_offer")
        self.assertEqual(remote["status"], "PENDING")
        # the user is told what happened and what comes next, the chatter keeps it, the submitter follows
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(action["params"]["title"], "Submitted to Meta")
        self.assertIn("is waiting for Meta's review", action["params"]["message"])
        self.assertIn("if Meta rejects it", action["params"]["message"])
        self.assertEqual(action["params"]["next"]["tag"], "soft_reload", "the form shows the new status")
        self.assertIn("is waiting for Meta's review", template.message_ids[0].body)
        self.assertIn(self.user_wa_admin.partner_id, template.message_partner_ids)
        # approved at once (Meta may): said so
        other = self._draft(name="Second offer")
        with patch.object(
            type(template), "_create_on_meta", lambda self, c, p: {"id": "77", "status": "APPROVED"}
        ):
            action = other.button_submit_template()
        self.assertEqual(other.status, "approved")
        self.assertIn("approved “Second offer” at once", action["params"]["message"])

    def test_submit_media_uses_resumable_upload(self):
        template = self._draft(header_type="image", header_attachment_ids=[(6, 0, self.image.ids)])
        template.button_submit_template()
        paths = [r["path"] for r in self.sandbox.requests]
        self.assertTrue(any(path.endswith("/uploads") for path in paths), paths)
        header = self._sandbox_template(template)["components"][0]
        self.assertEqual(header["format"], "IMAGE")
        self.assertTrue(header["example"]["header_handle"][0])

    def test_submit_meta_error_is_a_user_error(self):
        self.sandbox.add_template(self.account.account_uid, "welcome_offer", status="APPROVED")
        template = self._draft()
        with self.assertRaises(UserError) as catcher:
            template.button_submit_template()
        self.assertIn("Meta refused the template", str(catcher.exception))
        self.assertEqual(template.status, "draft")

    def test_submit_is_idempotent(self):
        """A submit that reached Meta but was rolled back in Odoo (then retried) adopts Meta's template."""
        template = self._draft()
        template.button_submit_template()
        meta_uid = template.meta_uid
        self.sandbox.template_decision(meta_uid, "APPROVED")
        template.with_context(whatsapp_template_sync=True).write({"meta_uid": False, "status": "draft"})
        template.button_submit_template()  # Meta answers "already exists": same body, so it is ours
        self.assertEqual(template.meta_uid, meta_uid)
        self.assertEqual(template.status, "approved")
        self.assertEqual(len([t for t in self.sandbox.templates if t["name"] == "welcome_offer"]), 1)

    def test_resubmit_edited_approved_template_and_edit_limits(self):
        template = self._draft()
        with freeze_time("2026-01-01 10:00:00"):
            template.button_submit_template()
            self.sandbox.template_decision(template.meta_uid, "APPROVED")
            template.button_sync_template()
            self.assertEqual(template.status, "approved")
            template.body = "Hello {{1}}, welcome to our new shop!"
            self.assertEqual(template.status, "draft")
            template.button_submit_template()
            self.assertEqual(template.status, "pending")
            self.assertIn("new shop", self._sandbox_template(template)["components"][0]["text"])
            self.sandbox.template_decision(template.meta_uid, "APPROVED")
            template.button_sync_template()
            template.body = "Hello {{1}}, welcome again!"
            with self.assertRaises(UserError) as catcher:
                template.button_submit_template()
            self.assertIn("one edit of an approved template per 24 hours", str(catcher.exception))
        self.sandbox.state.templates[template.meta_uid].edits.clear()  # the sandbox counts in real time
        with freeze_time("2026-01-02 11:00:00"):
            template.button_submit_template()
            self.assertEqual(template.status, "pending")
        # ten edits in 30 days: the eleventh is refused
        template.sudo().meta_edit_dates = [
            (datetime(2026, 1, 3) + timedelta(days=i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(10)
        ]
        template.sudo().write({"status": "draft", "approved_before_edit": True})
        with freeze_time("2026-01-20 10:00:00"), self.assertRaises(UserError) as catcher:
            template.button_submit_template()
        self.assertIn("10 edits of an approved template per 30 days", str(catcher.exception))

    def test_rejection_then_fix_and_resubmit(self):
        template = self._draft()
        template.button_submit_template()
        self.sandbox.template_decision(template.meta_uid, "REJECTED", reason="INVALID_FORMAT")
        template.button_sync_template()
        self.assertEqual(template.status, "rejected")
        self.assertEqual(template.rejected_reason, "INVALID_FORMAT")
        template.body = "Hello {{1}}, welcome to our shop, enjoy!"
        template.button_submit_template()
        self.assertEqual(template.status, "pending")
        self.assertFalse(template.rejected_reason)

    def test_sync_with_paging_archived_and_updates(self):
        waba = self.account.account_uid
        for i in range(105):
            self.sandbox.add_template(
                waba,
                f"bulk_{i:03d}",
                components=[{"type": "BODY", "text": f"Message {i}"}],
                category="MARKETING",
            )
        remote = self.sandbox.add_template(
            waba,
            "synced_one",
            language="fr",
            status="REJECTED",
            rejected_reason="PROMOTIONAL",
            components=[
                {"type": "HEADER", "format": "TEXT", "text": "Bonjour {{1}}"},
                {"type": "BODY", "text": "Votre commande {{1}} est prête."},
                {"type": "FOOTER", "text": "Merci"},
                {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Voir", "url": "https://a.example.com/{{1}}"},
                                                {"type": "QUICK_REPLY", "text": "Stop"}]},
            ],
        )  # fmt: skip
        # an archived Odoo template matching a Meta id is updated, not duplicated
        archived = self._create_template(
            name="Old", template_name="bulk_000", meta_uid=None, status="approved"
        )
        archived.sudo().meta_uid = next(t["id"] for t in self.sandbox.templates if t["name"] == "bulk_000")
        archived.active = False
        action = self.account.with_user(self.user_wa_admin).button_sync_whatsapp_template()
        self.assertIn("105 templates created, 1 templates updated", action["params"]["message"])
        self.assertEqual(action["params"]["type"], "success")
        Template = self.env["whatsapp.template"].with_context(active_test=False)
        self.assertEqual(Template.search_count([("template_name", "=like", "bulk_%")]), 105)
        self.assertFalse(archived.active)
        synced = Template.search([("meta_uid", "=", remote.id)])
        self.assertRecordValues(
            synced,
            [{"lang_code": "fr", "status": "rejected", "rejected_reason": "PROMOTIONAL", "header_type": "text",
              "header_text": "Bonjour {{1}}", "footer": "Merci", "model": "res.partner"}],
        )  # fmt: skip
        self.assertEqual(synced.button_ids.mapped("button_type"), ["url", "quick_reply"])
        self.assertEqual(synced.button_ids[0].url_type, "dynamic")
        self.assertEqual(sorted(synced.variable_ids.mapped("key")), ["body-1", "button-0", "header-1"])
        # second sync: everything is updated, nothing created
        remote.status = "APPROVED"
        action = self.account.button_sync_whatsapp_template()
        self.assertIn("0 templates created, 106 templates updated", action["params"]["message"])
        self.assertEqual(synced.status, "approved")

    def test_sync_unknown_status_kept_raw(self):
        remote = self.sandbox.add_template(self.account.account_uid, "strange_one", status="BRAND_NEW_STATE")
        with self.assertLogs("odoo.addons.whatsapp.models.whatsapp_template", "WARNING"):
            self.account.button_sync_whatsapp_template()
        template = self.env["whatsapp.template"].search([("meta_uid", "=", remote.id)])
        self.assertEqual(template.meta_status_raw, "BRAND_NEW_STATE")
        self.assertEqual(template.status, "pending")

    def test_sync_duplicate_name_raises_seed_error(self):
        self.sandbox.add_template(self.account.account_uid, "partner_greeting_2", language="en_US")
        self._create_template(name="Local draft", template_name="partner_greeting_2")
        with self.assertRaises(ValidationError) as catcher:
            self.account.button_sync_whatsapp_template()
        self.assertIn("Duplicate template is not allowed for one Meta account", str(catcher.exception))

    def test_sync_single_template(self):
        template = self._draft()
        with self.assertRaises(UserError):
            template.button_sync_template()  # not on Meta yet
        template.button_submit_template()
        self.sandbox.template_decision(template.meta_uid, "APPROVED")
        action = template.button_sync_template()
        self.assertEqual(action["params"]["next"]["tag"], "soft_reload")
        self.assertEqual(template.status, "approved")
