from odoo.tests import tagged

from .common import SANDBOX_PHONE_UID
from .common_messages import WhatsAppMessageCase
from .test_whatsapp_insight_health import HealthMixin


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppMarketingPreferences(HealthMixin, WhatsAppMessageCase):
    """``user_preferences`` stop/resume and error 131050: Marketing templates only are held back."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template_marketing = cls._create_wa_template(name="Summer Sale", category="marketing")
        cls.template_auth = cls._create_wa_template(name="Login Code", category="authentication")

    def _preferences_value(self, wa_id, value, category="marketing_messages", timestamp=1700000000):
        return {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": SANDBOX_PHONE_UID},
            "contacts": [{"wa_id": wa_id, "profile": {"name": "Ana"}}],
            "user_preferences": [
                {
                    "wa_id": wa_id,
                    "detail": f"User requested to {value} marketing messages",
                    "category": category,
                    "value": value,
                    "timestamp": timestamp,
                }
            ],
        }

    def _send(self, template, partners=None):
        with self.mock_wa_send():
            messages = (partners or self.partners[:2])._whatsapp_send_template(template, queue=False)
        return messages

    def _preference(self, number):
        return self.env["whatsapp.marketing.preference"].sudo().search([("number", "=", number)])

    def test_stop_then_resume(self):
        self._dispatch("user_preferences", self._preferences_value("33612345600", "stop"))
        preference = self._preference("+33612345600")
        self.assertEqual((preference.state, preference.source), ("stopped", "webhook"))
        self.assertTrue(self.partners[0].with_user(self.user_wa).whatsapp_marketing_stopped)
        self.assertFalse(self.partners[1].with_user(self.user_wa).whatsapp_marketing_stopped)

        marketing = self._send(self.template_marketing)
        self.assertWAMessage(marketing[0], "failed", "opt_out")
        self.assertIn("stopped marketing", marketing[0].failure_reason)
        self.assertWAMessage(marketing[1], "sent")
        self.assertEqual(
            [p["to"] for p in self.wa_sent], ["33612345601"], "no call to Meta for the stopped one"
        )
        for template in (self.template, self.template_auth):  # utility and authentication still go
            with self.subTest(category=template.category):
                self.assertWAMessage(self._send(template, self.partners[0]), "sent")

        self._dispatch(
            "user_preferences", self._preferences_value("33612345600", "resume", timestamp=1700000100)
        )
        self.assertEqual(preference.state, "resumed")
        self.assertFalse(self.partners[0].with_user(self.user_wa).whatsapp_marketing_stopped)
        self.assertWAMessage(self._send(self.template_marketing, self.partners[0]), "sent")

    def test_ignored_preferences(self):
        """Other categories, unknown values and an older event than the stored one change nothing."""
        self._dispatch("user_preferences", self._preferences_value("33612345600", "stop", category="other"))
        self._dispatch("user_preferences", self._preferences_value("33612345600", "pause"))
        self.assertFalse(self._preference("+33612345600"))
        self._dispatch(
            "user_preferences", self._preferences_value("33612345600", "stop", timestamp=1700000500)
        )
        self._dispatch(
            "user_preferences", self._preferences_value("33612345600", "resume", timestamp=1700000100)
        )
        self.assertEqual(self._preference("+33612345600").state, "stopped")

    def test_sync_131050_records_the_stop(self):
        with self.mock_wa_send(errors={"33612345601": self.meta_error(131050)}):
            messages = self.partners[:2]._whatsapp_send_template(self.template_marketing, queue=False)
        self.assertWAMessage(messages[1], "failed", "opt_out", fields_values={"error_code": 131050})
        preference = self._preference("+33612345601")
        self.assertEqual((preference.state, preference.source), ("stopped", "error"))
        again = self._send(self.template_marketing, self.partners[1])
        self.assertWAMessage(again, "failed", "opt_out")
        self.assertEqual(self.wa_sent, [], "held back before any call")

    def test_async_131050_records_the_stop(self):
        message = self._send(self.template_marketing, self.partners[2])
        self.assertWAMessage(message, "sent")
        value = self._whatsapp_status_value([(message.sudo().wamid, "failed", None, 131050)])
        self._dispatch("messages", value)
        self.assertWAMessage(message, "failed", "opt_out")
        self.assertEqual(self._preference("+33612345602").state, "stopped")
        self.assertTrue(self.partners[2].whatsapp_marketing_stopped)
