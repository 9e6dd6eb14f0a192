from odoo.tests import Form, tagged, users

from ..tools.template_tools import lang_rank
from .common_messages import WhatsAppMessageCase


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppTemplateLang(WhatsAppMessageCase):
    """One Meta template name, one approved template per language: each recipient gets their own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for code in ("fr_FR", "fr_BE", "nl_NL", "es_ES"):
            cls.env["res.lang"]._activate_lang(code)
        cls.template.template_name = "order_ready"
        cls.template_fr = cls._create_wa_template(
            name="Commande prête", body="Bonjour, votre commande est prête.", lang_code="fr"
        )
        cls.template_fr.template_name = "order_ready"
        cls.template_nl_pending = cls._create_wa_template(name="Bestelling klaar", lang_code="nl")
        cls.template_nl_pending.write({"template_name": "order_ready", "status": "pending"})
        cls.customers = cls.env["res.partner"].create(
            [
                {"name": "Fanny", "mobile": "+33 6 10 00 00 01", "lang": "fr_FR"},
                {"name": "Eddie", "mobile": "+33 6 10 00 00 02", "lang": "en_US"},
                {"name": "Benoît", "mobile": "+32 470 00 00 03", "lang": "fr_BE"},
                {"name": "Nina", "mobile": "+31 6 10 00 00 04", "lang": "nl_NL"},
                {"name": "Sara", "mobile": "+34 610 00 00 05", "lang": "es_ES"},
            ]
        )

    def test_lang_rank(self):
        for meta_code, odoo_lang, expected in [
            ("fr", "fr_FR", 0),
            ("fr_BE", "fr_BE", 0),
            ("fr", "fr_BE", 1),
            ("en_US", "en_GB", 1),
            ("pt_BR", "pt_BR", 0),
            ("en_US", "fr_FR", None),
            ("fr", False, None),
        ]:
            with self.subTest(meta_code=meta_code, odoo_lang=odoo_lang):
                self.assertEqual(lang_rank(meta_code, odoo_lang), expected)

    @users("wa_user")
    def test_send_picks_variant_per_recipient(self):
        customers = self.customers.with_env(self.env)
        with self.mock_wa_send():
            messages = customers._whatsapp_send_template(self.template.with_env(self.env), queue=False)
        # the messages follow the order of the records, whatever the grouping by language
        self.assertEqual(messages.mapped("res_id"), customers.ids)
        expected = {
            "Fanny": (self.template_fr, "fr"),
            "Eddie": (self.template, "en_US"),
            "Benoît": (self.template_fr, "fr"),  # fr_BE: no Belgian variant, French is closest
            "Nina": (self.template, "en_US"),  # the Dutch one is not approved
            "Sara": (self.template, "en_US"),  # no Spanish variant: the sender's choice
        }
        for customer, message in zip(customers, messages, strict=True):
            template, code = expected[customer.name]
            with self.subTest(customer=customer.name):
                self.assertWAMessage(message, "sent", fields_values={"template_id": template})
                sent = [p for p in self.wa_sent if p["to"] == message.number.lstrip("+")]
                self.assertEqual(len(sent), 1)
                self.assertEqual(sent[0]["template"]["name"], "order_ready")
                self.assertEqual(sent[0]["template"]["language"]["code"], code)
        self.assertEqual(messages.filtered(lambda m: m.template_id == self.template_fr).mapped("body"),
                         ["Bonjour, votre commande est prête."] * 2)  # fmt: skip

    @users("wa_user")
    def test_send_french_template_to_english_partner(self):
        """Starting from the French template, an English-speaking partner gets the English one."""
        eddie = self.customers.filtered(lambda p: p.name == "Eddie").with_env(self.env)
        with self.mock_wa_send():
            message = eddie._whatsapp_send_template(self.template_fr.with_env(self.env), queue=False)
        self.assertEqual(message.template_id, self.template)
        self.assertEqual(self.wa_sent[0]["template"]["language"]["code"], "en_US")

    @users("wa_user")
    def test_variant_restricted_to_other_users(self):
        """A variant the sender may not use is never picked."""
        self.template_fr.sudo().allowed_user_ids = self.user_wa_admin
        fanny = self.customers.filtered(lambda p: p.name == "Fanny").with_env(self.env)
        with self.mock_wa_send():
            message = fanny._whatsapp_send_template(self.template.with_env(self.env), queue=False)
        self.assertEqual(message.template_id, self.template)
        self.assertEqual(self.wa_sent[0]["template"]["language"]["code"], "en_US")

    def test_recipient_partner_of_other_models(self):
        """Another model: the partner holding the phone field, else the partner mail.thread names."""
        users = self.user_wa | self.user_wa_admin
        for phone_field in ("partner_id.mobile", "mobile"):
            with self.subTest(phone_field=phone_field):
                template = self.env["whatsapp.template"].new({"phone_field": phone_field})
                partners = template._whatsapp_recipient_partners(users)
                self.assertEqual(partners, {user.id: user.partner_id for user in users})

    def test_no_variant_no_extra_work(self):
        """A template without variants sends exactly as before, in one batch."""
        other = self._create_wa_template(name="Alone")
        groups = other._whatsapp_variants_for_records(self.customers)
        self.assertEqual(groups, [(other, self.customers)])

    def test_default_language_follows_user(self):
        for lang, expected in [("fr_FR", "fr"), ("fr_BE", "fr_BE"), ("nl_NL", "nl"), ("en_US", "en_US")]:
            with self.subTest(lang=lang):
                self.user_wa_admin.lang = lang
                template = self.env["whatsapp.template"].with_user(self.user_wa_admin).new({"name": "X"})
                self.assertEqual(template.lang_code, expected)

    def test_composer_proposes_recipient_then_user_language(self):
        fanny, eddie = (self.customers.filtered(lambda p, n=n: p.name == n) for n in ("Fanny", "Eddie"))
        for user_lang, records, expected in [
            ("en_US", fanny, self.template_fr),  # the recipient speaks French
            ("fr_FR", eddie, self.template),  # the recipient speaks English, whatever the sender
            ("fr_FR", self.customers, self.template_fr),  # several recipients: the sender's language
            ("en_US", self.customers, self.template),
        ]:
            with self.subTest(user_lang=user_lang, records=records.mapped("name")):
                self.user_wa.lang = user_lang
                composer = Form(
                    self.env["whatsapp.composer"]
                    .with_user(self.user_wa)
                    .with_context(active_model="res.partner", active_ids=records.ids)
                )
                self.assertEqual(composer.template_id, expected)
