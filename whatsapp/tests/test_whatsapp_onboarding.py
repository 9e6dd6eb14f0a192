from unittest.mock import patch

from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import (
    SANDBOX_APP_UID,
    SANDBOX_PHONE_UID,
    SANDBOX_SECRET,
    SANDBOX_TOKEN,
    SANDBOX_WABA_UID,
    WhatsAppHttpCase,
)

STEPS = ("app", "number", "token", "webhook", "template")


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppOnboarding(WhatsAppHttpCase):
    """Settings › WhatsApp checklist: every step is ticked from real state, never by hand."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Settings administrators are WhatsApp administrators (base.group_system implies it)
        cls.user_settings = mail_new_test_user(
            cls.env, login="wa_settings", groups="base.group_user,base.group_system", name="Sam Settings"
        )

    def _steps(self, user=None):
        if user is not None:  # no Settings access: the model method only
            steps = self.env["res.config.settings"].with_user(user)._whatsapp_onboarding_state()
            return steps
        settings = self.env["res.config.settings"].with_user(self.user_settings).create({})
        return {step: settings[f"whatsapp_step_{step}"] for step in STEPS}

    def _assert_steps(self, done, user=None):
        steps = self._steps(user)
        self.assertEqual({s for s, ok in steps.items() if ok}, set(done), steps)

    def _verify_webhook(self, token="verify-me", challenge="1158201444"):
        """Meta's "Verify and save": GET on the callback URL with the verify token."""
        return self.url_open(
            f"/whatsapp/webhook?hub.mode=subscribe&hub.verify_token={token}&hub.challenge={challenge}"
        )

    def _phone_ok(self):
        return {
            ("GET", SANDBOX_PHONE_UID): {"id": SANDBOX_PHONE_UID, "display_phone_number": "+1 555"},
            ("GET", f"{SANDBOX_WABA_UID}/phone_numbers"): {"data": [{"id": SANDBOX_PHONE_UID}]},
        }

    def test_checklist_follows_real_state(self):
        self.account.action_archive()
        self._assert_steps([])
        account = self._create_account(name="Support")
        self._assert_steps(["app", "number"])

        # a failed connection test ticks nothing
        with self.mock_graph(error=self.meta_error(190, http_status=401)), self.assertRaises(UserError):
            account.with_user(self.user_wa_admin).button_test_connection()
        self._assert_steps(["app", "number"])
        with self.mock_graph(self._phone_ok()):
            account.with_user(self.user_wa_admin).button_test_connection()
        self._assert_steps(["app", "number", "token"])
        # a new token has to be tested again
        account.with_user(self.user_wa_admin).token = "another-token"
        self._assert_steps(["app", "number"])
        with self.mock_graph(self._phone_ok()):
            account.with_user(self.user_wa_admin).button_test_connection()

        # Meta's verification with a wrong token is refused and ticks nothing
        self.assertEqual(self._verify_webhook(token="wrong").status_code, 403)
        self._assert_steps(["app", "number", "token"])
        response = self._verify_webhook()
        self.assertEqual((response.status_code, response.text), (200, "1158201444"))
        self.assertTrue(account.webhook_verified_at)
        self._assert_steps(["app", "number", "token", "webhook"])
        # a regenerated verify token must be given to Meta again
        account.with_user(self.user_wa_admin).action_regenerate_verify_token()
        self._assert_steps(["app", "number", "token"])
        account.webhook_verify_token = "verify-me"
        self._verify_webhook()

        template = self.env["whatsapp.template"].create(
            {"name": "Welcome", "body": "Hello", "account_id": account.id, "status": "pending"}
        )
        self._assert_steps(["app", "number", "token", "webhook"])
        template.status = "approved"
        self._assert_steps(STEPS)
        settings = self.env["res.config.settings"].with_user(self.user_settings).create({})
        self.assertTrue(settings.whatsapp_onboarding_done)
        self.assertEqual(settings.whatsapp_onboarding_count, 5)

    def test_webhook_step_ticked_by_signed_webhooks(self):
        """Signed webhooks arriving prove the callback URL works, even when this database never saw Meta's
        verification (a copied database, a token changed since): the step is done."""
        self.account.write({"connection_verified_at": "2026-01-01 00:00:00"})
        self.assertFalse(self.account.webhook_verified_at)
        self._assert_steps(["app", "number", "token"])
        # a payload with a wrong signature proves nothing
        response = self._post_webhook(
            self._make_payload("messages", self._status_value()), secret="not-the-secret"
        )
        self.assertEqual(response.status_code, 403)
        self._assert_steps(["app", "number", "token"])
        response = self._post_webhook(self._make_payload("messages", self._status_value()))
        self.assertEqual(response.status_code, 200)
        self._assert_steps(["app", "number", "token", "webhook"])
        # the events are vacuumed after 30 days: a message received still proves it
        self.env["whatsapp.webhook.event"].sudo().search([]).unlink()
        self._assert_steps(["app", "number", "token"])
        self.env["whatsapp.message"].sudo().create(
            {"account_id": self.account.id, "direction": "inbound", "state": "received", "number": "+3247000"}
        )
        self._assert_steps(["app", "number", "token", "webhook"])

    def test_account_count_in_words(self):
        settings = self.env["res.config.settings"].with_user(self.user_settings).create({})
        self.assertEqual(settings.whatsapp_account_summary, "1 account")
        self._create_account(name="Second", phone_uid="1000009")
        settings = self.env["res.config.settings"].with_user(self.user_settings).create({})
        self.assertEqual(settings.whatsapp_account_summary, "2 accounts")
        self.env["whatsapp.account"].search([]).action_archive()
        settings = self.env["res.config.settings"].with_user(self.user_settings).create({})
        self.assertEqual(settings.whatsapp_account_summary, "No account yet")

    def test_checklist_hidden_from_non_admins(self):
        self._create_account(name="Other", phone_uid="1000009", connection_verified_at="2026-01-01 00:00:00")
        self._assert_steps(["app", "number", "token"])
        self._assert_steps(["app", "number", "token"], user=self.user_wa_admin)
        self._assert_steps([], user=self.user_wa)

    def test_next_actions(self):
        settings = self.env["res.config.settings"].with_user(self.user_settings).create({})
        action = settings.action_whatsapp_onboarding_account()
        self.assertEqual((action["res_model"], action["res_id"]), ("whatsapp.account", self.account.id))
        self.account.action_archive()
        action = settings.action_whatsapp_onboarding_account()
        self.assertEqual((action["res_model"], action["res_id"]), ("whatsapp.account", False))
        action = settings.action_whatsapp_onboarding_templates()
        self.assertEqual(action["res_model"], "whatsapp.template")

    def test_empty_lists_say_what_to_do(self):
        for xmlid, text in [
            ("whatsapp.whatsapp_account_action", "Connect an account"),
            ("whatsapp.whatsapp_template_action", "Create your first template"),
        ]:
            with self.subTest(action=xmlid):
                self.assertIn(text, self.env.ref(xmlid).help)

    def test_onboarding_tour(self):
        """In Chromium: an administrator connects an account to the sandbox, Meta verifies the webhook,
        the administrator syncs the approved template and sees the checklist complete."""
        self.env["whatsapp.account"].search([]).action_archive()
        sandbox = self._start_sandbox()  # registers the fixture's ids and secrets, as Meta knows them
        self.assertEqual((self.account.app_uid, self.account.sudo().token), (SANDBOX_APP_UID, SANDBOX_TOKEN))
        self.assertEqual(self.account.sudo().app_secret, SANDBOX_SECRET)
        self.env["whatsapp.template"].search([]).sudo().unlink()
        sandbox.add_template(
            SANDBOX_WABA_UID, "welcome_customer", components=[{"type": "BODY", "text": "Hi"}]
        )
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", self.base_url())
        # the administrator's new account talks to the sandbox instead of graph.facebook.com
        base_url_field = self.registry["whatsapp.account"]._fields["api_base_url"]
        with patch.object(base_url_field, "default", lambda model: sandbox.url):
            self.start_tour(
                "/odoo/settings", "whatsapp_onboarding_connect_tour", login=self.user_settings.login
            )
        account = self.env["whatsapp.account"].search([("name", "=", "Sandbox")])
        self.assertTrue(account.connection_verified_at)
        self.assertFalse(account.webhook_verified_at)
        self._assert_steps(["app", "number", "token"])

        # Meta's "Verify and save" with the token the administrator copied
        response = self._verify_webhook(token=account.sudo().webhook_verify_token, challenge="42")
        self.assertEqual((response.status_code, response.text), (200, "42"))

        self.start_tour("/odoo/settings", "whatsapp_onboarding_finish_tour", login=self.user_settings.login)
        template = self.env["whatsapp.template"].search([("account_id", "=", account.id)])
        self.assertEqual((template.template_name, template.status), ("welcome_customer", "approved"))
        self._assert_steps(STEPS)
