from odoo.tests import TransactionCase, tagged

from ..tools.graph_errors import WhatsAppApiError
from .common import WhatsAppCase
from .common_i18n import I18nCheckMixin

# Seed terms (the French parts of the documentation are the reference): English source -> French.
FIELD_GLOSSARY = [
    ("whatsapp.account", "phone_uid", "ID numéro de téléphone"),
    ("whatsapp.account", "token", "Jeton d'accès"),
    ("whatsapp.account", "account_uid", "ID compte"),
    ("whatsapp.template", "body", "Corps"),
    ("whatsapp.template", "allowed_user_ids", "Utilisateurs autorisés"),
    ("whatsapp.template", "header_type", "Type d'en-tête"),
]
SELECTION_GLOSSARY = [
    ("whatsapp.template.variable", "field_type", "field", "Champ du modèle"),
    ("whatsapp.template.variable", "field_type", "portal_url", "Lien portail"),
]
VIEW_GLOSSARY = [
    ("whatsapp.account", "Tester la connexion"),
    ("whatsapp.account", "Synchroniser des modèles"),
    ("whatsapp.template", "Soumettre pour approbation"),
]


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppI18n(I18nCheckMixin, TransactionCase):
    """French is complete and the .pot follows the code (``./dev i18n`` regenerates both)."""

    module = "whatsapp"

    def test_fr_po_complete(self):
        self.assertPoComplete(self.module)

    def test_pot_in_sync(self):
        self.assertPotInSync(self.module)

    def test_french_loaded_uses_seed_terms(self):
        self._load_french([self.module])
        env = self.env(context={"lang": "fr_FR"})
        self.assertEqual(env["ir.model"]._get("whatsapp.account").name, "Compte WhatsApp Business")
        for model, fname, expected in FIELD_GLOSSARY:
            with self.subTest(field=f"{model}.{fname}"):
                got = env[model].fields_get([fname], ["string"])[fname]["string"]
                self.assertEqual(got.replace("\u2019", "'"), expected)
        for model, fname, value, expected in SELECTION_GLOSSARY:
            with self.subTest(selection=f"{model}.{fname}.{value}"):
                selection = dict(env[model].fields_get([fname], ["selection"])[fname]["selection"])
                self.assertEqual(selection[value], expected)
        for model, expected in VIEW_GLOSSARY:
            with self.subTest(view=model, term=expected):
                self.assertIn(expected, env[model].get_views([(False, "form")])["views"]["form"]["arch"])
        # code terms (python): the connection test's notification
        self.assertEqual(env._("Connection successful"), "Connexion réussie")
        self.assertEqual(
            self.env(context={"lang": "en_US"})._("Connection successful"), "Connection successful"
        )

    def test_meta_error_hint_in_the_senders_language(self):
        """A failure's reason: Meta's own message as Meta wrote it, then our hint on what to do in the language of
        who sends (the hints live in ``tools/meta_errors.py``, a module without Odoo)."""
        self._load_french([self.module])
        error = WhatsAppApiError("Re-engagement message", code=131047)
        reason = self.env["whatsapp.message"].with_context(lang="fr_FR")._failure_from_error(error)[3]
        self.assertEqual(
            reason,
            "(131047) Re-engagement message\n"
            "Plus de 24 heures depuis le dernier message du client : envoyez un modèle.",
        )
        # the same hints in Meta's refusal of a template (and of a template sync, an account paused)
        refused = WhatsAppApiError("Template name does not exist in the translation", code=132001)
        self.assertIn(
            "Le modèle n'existe pas dans cette langue ou n'est pas approuvé.",
            self.env["whatsapp.template"].with_context(lang="fr_FR")._meta_error_message(refused),
        )
        reason = self.env["whatsapp.message"].with_context(lang="en_US")._failure_from_error(error)[3]
        self.assertEqual(
            reason,
            "(131047) Re-engagement message\nMore than 24 hours since the customer's last message: send a template.",
        )


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppFailureLanguage(I18nCheckMixin, WhatsAppCase):
    """A failure is written by a queue run or a webhook, which have no language of their own: its reason is in the
    language of who sent the message (who reads it)."""

    HINT_FR = "Plus de 24 heures depuis le dernier message du client : envoyez un modèle."

    def setUp(self):
        super().setUp()
        self._load_french(["whatsapp"])
        self.user_wa.lang = "fr_FR"
        # sudo: fixture, a message the French user sent
        self.message = (
            self.env["whatsapp.message"]
            .with_user(self.user_wa)
            .sudo()
            .create(
                {
                    "account_id": self.account.id,
                    "number": "+33612345678",
                    "state": "sent",
                    "wamid": "wamid.F1",
                }
            )
        )

    def test_failed_status(self):
        error = {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}
        status = {"id": "wamid.F1", "status": "failed", "timestamp": "1700000000", "errors": [error]}
        self.env["whatsapp.message"]._apply_meta_statuses(self.account, [status])
        self.assertEqual(self.message.state, "failed")
        self.assertEqual(self.message.failure_reason, f"(131047) Re-engagement message\n{self.HINT_FR}")

    def test_failed_call(self):
        error = WhatsAppApiError("Re-engagement message", code=131047, http_status=400)
        values = self.env["whatsapp.message"]._outcome_from_error(self.message, error)
        self.assertEqual(values["failure_reason"], f"(131047) Re-engagement message\n{self.HINT_FR}")
