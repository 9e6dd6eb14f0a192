from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged, users

from .common_templates import PNG_1PX, WhatsAppTemplateCase


@tagged("post_install", "-at_install", "whatsapp")
class TestWhatsAppTemplateValidation(WhatsAppTemplateCase):
    """Everything Meta would reject is refused on save (drafts) or on submit, naming the field."""

    def _draft(self, **values):
        self._count = getattr(self, "_count", 0) + 1
        values.setdefault("name", f"Draft {self._count}")
        return self._create_template(env=self.env(user=self.user_wa_admin), **values)

    @users("wa_admin")
    def test_content_rules_table(self):
        ok_body = "Hello {{1}}, your order is ready."
        cases = [
            # (values, expected fragment of the message)
            ({"template_name": "Bad Name"}, "Meta Template Name"),
            ({"template_name": "1abc"}, "must start with a letter"),
            ({"template_name": "a" * 513}, "at most 512 characters"),
            ({"body": "x" * 1025}, "Body: at most 1024 characters"),
            ({"body": "Hello {{1}} and {{3}}, ok."}, "without gaps"),
            ({"body": "Hello {{2}}, ok."}, "without gaps"),
            ({"body": "Hello {{1}} {{2}} ok."}, "adjacent"),
            ({"body": "{{1}} is your code."}, "may not start with a placeholder"),
            ({"body": "Your code is {{1}}"}, "may not end with a placeholder"),
            ({"body": "Hello {{ 1 }}, ok."}, "not a valid placeholder"),
            ({"body": "Hi {{1}}, bye {{1}} ok."}, "more than once"),
            ({"header_type": "text", "header_text": "h" * 61, "body": ok_body}, "Header Message: at most 60"),
            (
                {"header_type": "text", "header_text": "A {{1}} B {{2}}", "body": ok_body},
                "Header Message: at most 1",
            ),
            ({"header_type": "text", "header_text": "Line\nbreak", "body": ok_body}, "single line"),
            ({"header_type": "text", "header_text": "", "body": ok_body}, "needs a text"),
            ({"footer": "f" * 61, "body": ok_body}, "Footer: at most 60"),
            ({"footer": "Bye {{1}}", "body": ok_body}, "Footer: the footer may not contain placeholders"),
        ]
        for values, message in cases:
            with self.subTest(values=values), self.assertRaises(ValidationError) as catcher:
                self._draft(**values)
            self.assertIn(message, str(catcher.exception))

    @users("wa_admin")
    def test_button_rules_table(self):
        def qr(name):
            return (0, 0, {"button_type": "quick_reply", "name": name})

        def url(name, url_type="static", website_url="https://example.com"):
            return (
                0,
                0,
                {"button_type": "url", "name": name, "url_type": url_type, "website_url": website_url},
            )

        def phone(name, number="+32 470 12 34 56"):
            return (0, 0, {"button_type": "phone_number", "name": name, "call_number": number})

        cases = [
            ([qr(f"Q{i}") for i in range(11)], "at most 10 buttons"),
            ([url("U1"), url("U2"), url("U3")], "at most 2 Visit Website"),
            ([phone("P1"), phone("P2")], "at most 1 Call Number"),
            ([qr("A"), url("U"), qr("B")], "grouped together"),
            ([qr("x" * 26)], "exceeds 25 characters"),
            ([qr("Same"), qr("Same")], "must be unique"),
            ([phone("Call", "12345")], "not a valid phone number"),
            ([url("U", website_url="ftp://example.com")], "must be a web address"),
            ([url("U", website_url="https://example.com/{{1}}")], "choose the Dynamic URL type"),
            ([url("U", "dynamic", "https://example.com/{{1}}/x")], "may only end with the placeholder"),
        ]
        for buttons, message in cases:
            with self.subTest(message=message), self.assertRaises(ValidationError) as catcher:
                self._draft(button_ids=buttons)
            self.assertIn("Buttons", str(catcher.exception))
            self.assertIn(message, str(catcher.exception))
        # valid: quick replies grouped after the CTAs, phone normalised to E.164
        template = self._draft(button_ids=[url("Web"), phone("Call"), qr("Yes"), qr("No")])
        self.assertEqual(template.button_ids.filtered("call_number").call_number, "+32470123456")

    @users("wa_admin")
    def test_header_media_rules(self):
        cases = [
            ("image", b"GIF89a" + b"\x00" * 20, "a.gif", "image/gif", "are not accepted"),
            ("image", PNG_1PX + b"\x00" * (5 * 1024 * 1024), "big.png", "image/png", "too large"),
            ("video", PNG_1PX, "a.png", "image/png", "are not accepted"),
        ]
        for header_type, raw, name, mimetype, message in cases:
            attachment = self.env["ir.attachment"].create({"name": name, "raw": raw, "mimetype": mimetype})
            with self.subTest(name=name), self.assertRaises(ValidationError) as catcher:
                self._draft(header_type=header_type, header_attachment_ids=[(6, 0, attachment.ids)])
            self.assertIn("Header File", str(catcher.exception))
            self.assertIn(message, str(catcher.exception))

    @users("wa_admin")
    def test_meta_name_derived_and_locked(self):
        template = self._draft(name="Réduction d'été 2024")
        self.assertEqual(template.template_name, "reduction_d_ete_2024")
        template.name = "Summer Sale"
        self.assertEqual(template.template_name, "summer_sale", "follows the name while draft")
        template.sudo().meta_uid = "123"
        template.name = "Other"
        self.assertEqual(template.template_name, "summer_sale", "frozen once on Meta")

    @users("wa_admin")
    def test_default_language_from_user(self):
        self.env.user.lang = "en_US"
        self.assertEqual(self._draft().lang_code, "en_US")
        self.assertEqual(self.env["whatsapp.template"].with_context(lang="fr_FR")._default_lang_code(), "fr")

    def test_duplicate_template(self):
        with self.assertRaises(ValidationError) as catcher:
            self._create_template(template_name="partner_greeting")
        self.assertIn("Duplicate template is not allowed for one Meta account", str(catcher.exception))
        self.assertIn("Rename", str(catcher.exception))
        # same name in another language is another template
        self._create_template(template_name="partner_greeting", lang_code="fr")

    @users("wa_admin")
    def test_variables_follow_placeholders(self):
        template = self._draft(body="Hello {{1}}, ok.")
        self.assertEqual(template.variable_ids.sorted().mapped("key"), ["body-1"])
        template.variable_ids.demo_value = "Ana"
        template.write(
            {"body": "Hello {{1}}, your {{2}} is ready.", "header_type": "text", "header_text": "Hi {{1}}"}
        )
        self.assertEqual(template.variable_ids.sorted().mapped("key"), ["header-1", "body-1", "body-2"])
        self.assertEqual(
            template.variable_ids.filtered(lambda v: v.key == "body-1").demo_value, "Ana", "kept"
        )
        template.write({"header_type": "location", "body": "No variable here."})
        self.assertEqual(
            template.variable_ids.sorted().mapped("key"),
            ["location-name", "location-address", "location-latitude", "location-longitude"],
        )
        template.write(
            {"button_ids": [(0, 0, {"button_type": "url", "name": "Go", "url_type": "dynamic",
                                    "website_url": "https://a.example.com/"})]}
        )  # fmt: skip
        self.assertIn("button-0", template.variable_ids.sorted().mapped("key"))

    @users("wa_admin")
    def test_phone_field_path(self):
        template = self._draft()
        self.assertEqual(template.phone_field, "mobile")
        for path in ("nope", "name.x", "parent_id.nope"):
            with self.subTest(path=path), self.assertRaises(ValidationError) as catcher:
                template.phone_field = path
                template.flush_recordset()
            self.assertIn("Phone Field", str(catcher.exception))
        template.phone_field = "parent_id.mobile"
        template.flush_recordset()

    def test_model_change_gives_clear_error_and_needs_admin(self):
        template = self._create_template(phone_field="mobile")
        # a WhatsApp administrator who is not a Settings administrator may not change "Applies to"
        with self.assertRaises(AccessError):
            template.with_user(self.user_wa_admin).model_id = self.env["ir.model"]._get_id("res.users")
        # a model without the field: the phone field is recomputed, or a clear error names it
        template.model_id = self.env["ir.model"]._get_id("res.users")
        self.assertEqual(template.phone_field, "mobile")
        with self.assertRaises(ValidationError) as catcher:
            template.write({"model_id": self.env["ir.model"]._get_id("res.country"), "phone_field": "mobile"})
        self.assertIn("Phone Field", str(catcher.exception))

    @users("wa_admin")
    def test_safe_fields_for_non_system_admins(self):
        template = self._draft()
        variable = template.variable_ids
        variable.write({"field_type": "field", "field_name": "email"})  # declared safe on res.partner
        with self.assertRaises(ValidationError) as catcher:
            variable.write({"field_type": "field", "field_name": "user_ids.password"})
        self.assertIn("not among the fields", str(catcher.exception))
        with self.assertRaises(ValidationError) as catcher:
            variable.write({"field_type": "field", "field_name": "nope"})
        self.assertIn("not a field", str(catcher.exception))
        # a Settings administrator may pick any field
        variable.with_user(self.env.ref("base.user_admin")).write({"field_name": "comment"})
        with self.assertRaises(ValidationError) as catcher:
            variable.write({"field_type": "portal_url"})
        self.assertIn("Portal Link", str(catcher.exception))

    @users("wa_admin")
    def test_submit_checks_samples_and_header(self):
        cases = [
            ({"body": "Hello {{1}}, ok."}, "Sample Value of body - {{1}}"),
            ({"header_type": "image"}, "sample file"),
            ({"header_type": "document"}, "a file or a report"),
            ({"account_id": False}, "Account"),
        ]
        for values, message in cases:
            template = self._draft(**{"body": "Hello, ok.", **values})
            with self.subTest(values=values), self.assertRaises(UserError) as catcher:
                template.button_submit_template()
            self.assertIn(message, str(catcher.exception))

    def test_edit_locked_statuses(self):
        template = self._create_template(status="pending", meta_uid="77")
        with self.assertRaises(UserError):
            template.body = "Changed, ok."
        approved = self._create_template(template_name="other_one", status="approved", meta_uid="78")
        approved.body = "Changed text, ok."
        self.assertEqual(approved.status, "draft", "an edited approved template must be submitted again")
        self.assertTrue(approved.approved_before_edit)
