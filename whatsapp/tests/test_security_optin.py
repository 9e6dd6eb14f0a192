from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common_messages import WhatsAppMessageCase

BLACKLISTED = "+33612345600"


@tagged("post_install", "-at_install", "whatsapp")
class TestSecurityOptIn(WhatsAppMessageCase):
    """Opt-in keywords are explicit: the blacklist is shared with SMS."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["phone.blacklist"].sudo().add(BLACKLISTED)  # sudo: fixture

    def _texts(self):
        return [payload["text"]["body"] for payload in self.wa_sent if payload.get("type") == "text"]

    def test_optin_keywords_explicit(self):
        """Everyday answers never remove an opt-out (the blacklist is shared with SMS); an explicit opt-in
        removes it and says so; an opt-in of a number that did not opt out confirms nothing."""
        with self.assertRaises(ValidationError):
            self.account.sudo().optin_keywords = "START, YES"  # sudo: an administrator's setting
        self.assertEqual(self.account.sudo().optin_keywords, "START, UNSTOP")
        blacklist = self.env["phone.blacklist"].sudo()  # sudo: assertions
        with self.mock_wa_send():
            for text in ("YES", "Alta", "ok"):
                self.account._webhook_messages(
                    self._whatsapp_inbound_value(BLACKLISTED.lstrip("+"), text), None
                )
            self.assertTrue(blacklist.search([("number", "=", BLACKLISTED)]))
            self.account._webhook_messages(self._whatsapp_inbound_value("33612345699", "START"), None)
            self.env["whatsapp.message"]._process_queue()
            self.assertFalse(self._texts(), "nothing happened, nothing confirmed")
            self.account._webhook_messages(
                self._whatsapp_inbound_value(BLACKLISTED.lstrip("+"), "unstop"), None
            )
            self.assertFalse(blacklist.search([("number", "=", BLACKLISTED)]))
            self.env["whatsapp.message"]._process_queue()
        (confirmation,) = self._texts()
        self.assertIn("removed from our opt-out list", confirmation)

    def test_optin_list_saved_before_the_rule(self):
        """A list saved before the rule (the old default had YES and ALTA) is read without the everyday answers."""
        self.env.cr.execute(
            "UPDATE whatsapp_account SET optin_keywords = %s WHERE id = %s",
            ["START, UNSTOP, SUBSCRIBE, YES, DEMARRER, ALTA", self.account.id],
        )
        self.account.invalidate_recordset(["optin_keywords"])
        blacklist = self.env["phone.blacklist"].sudo()  # sudo: assertions
        with self.mock_wa_send():
            for text in ("YES", "alta", "Subscribe"):
                self.account._webhook_messages(
                    self._whatsapp_inbound_value(BLACKLISTED.lstrip("+"), text), None
                )
            self.assertTrue(blacklist.search([("number", "=", BLACKLISTED)]))
            self.account._webhook_messages(
                self._whatsapp_inbound_value(BLACKLISTED.lstrip("+"), "Démarrer"), None
            )
            self.assertFalse(blacklist.search([("number", "=", BLACKLISTED)]))
