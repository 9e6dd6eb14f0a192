from odoo.tests import tagged
from odoo.tools import convert_file, mute_logger

from .common import SANDBOX_SECRET, SANDBOX_WABA_UID, WhatsAppHttpCase


@tagged("post_install", "-at_install", "whatsapp")
class TestSecurityDemoSecret(WhatsAppHttpCase):
    """Demo data ships no usable secret: the demo account's app secret and verify token are generated at
    install, so that nobody can forge webhooks to a demo database with a secret published in the sources."""

    def _load_demo_account(self):
        # the fixture account uses the sandbox's ids too: archived, and with a secret of its own
        self.account.write({"active": False, "app_secret": "fixture-only-secret"})
        convert_file(self.env, "whatsapp", "demo/whatsapp_account_demo.xml", {}, mode="init", noupdate=True)
        # sudo: the secrets are admin-only fields, read for the assertions
        return self.env.ref("whatsapp.whatsapp_account_demo_sandbox").sudo()

    def test_demo_secrets_generated(self):
        demo = self._load_demo_account()
        self.assertNotIn(demo.app_secret, (SANDBOX_SECRET, "generated-at-install"))
        self.assertGreaterEqual(len(demo.app_secret), 32)
        self.assertNotEqual(demo.webhook_verify_token, "sandbox-verify")
        self.assertGreaterEqual(len(demo.webhook_verify_token), 24)

    def test_published_secret_forges_nothing(self):
        """A webhook signed with the secret the sandbox uses by default is refused by a demo database."""
        demo = self._load_demo_account()
        payload = self._make_payload(
            "account_update", {"event": "ACCOUNT_DELETED"}, entry_uid=SANDBOX_WABA_UID
        )
        with mute_logger("odoo.addons.whatsapp.controllers.webhook"):
            self.assertFixedBody(self._post_webhook(payload, secret=SANDBOX_SECRET), 403)
        self.assertFalse(self._events())
        self.assertEqual(demo.meta_status, "ok")
        self.assertFixedBody(self._post_webhook(payload, secret=demo.app_secret), 200)
        self.assertEqual(self._events().account_id, demo)
