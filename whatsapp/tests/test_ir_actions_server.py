from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.exceptions import ValidationError
from odoo.tests import tagged, users

from .common_messages import WhatsAppMessageMixin
from .common_templates import WhatsAppTemplateCase


@tagged("whatsapp", "post_install", "-at_install")
class TestServerActionWhatsApp(WhatsAppMessageMixin, WhatsAppTemplateCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls.env["res.partner"].create(
            [
                {"name": "Customer A", "mobile": "+33 6 12 34 56 01"},
                {"name": "Customer B", "mobile": "+33 6 12 34 56 02"},
                {"name": "Customer C", "mobile": "not a number"},
            ]
        )
        # base server actions (other than code) need write access on the records
        cls.user_automation = mail_new_test_user(
            cls.env,
            login="wa_automation",
            groups="base.group_user,base.group_partner_manager,whatsapp.group_whatsapp_user",
            name="Otto Automation",
        )
        cls.action = cls.env["ir.actions.server"].create(
            {
                "name": "Greet by WhatsApp",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "state": "whatsapp",
                "whatsapp_template_id": cls.template_partner.id,
            }
        )

    def _run(self, records, action=None):
        action = (action or self.action).with_user(self.env.user)
        return action.with_context(active_model=records._name, active_ids=records.ids).run()

    @users("wa_automation")
    def test_run_queues(self):
        """Always queued (never sent inline), sample values for free text, invalid numbers fail alone."""
        with self.mock_wa_send():
            self.assertFalse(self._run(self.customers.with_env(self.env)))
            self.assertEqual(self.wa_sent, [])
        messages = (
            self.env["whatsapp.message"].sudo().search([("res_id", "in", self.customers.ids)], order="id")
        )
        self.assertEqual([m.state for m in messages], ["queued", "queued", "failed"])
        self.assertEqual(messages[2].failure_type, "phone_invalid")
        self.assertIn("Hello Customer A, your reference is REF-001", messages[0].body)
        self.assertEqual(
            messages[0].create_uid, self.user_automation, "evaluated and created as the running user"
        )
        with self.mock_wa_send():
            self.env["whatsapp.message"].sudo()._process_queue()
        self.assertWASent(["+33612345601", "+33612345602"], template_name="partner_greeting")

    def test_not_approved_template_sends_nothing(self):
        self.template_partner.status = "paused"
        with self.mock_wa_send():
            self._run(self.customers)
        self.assertFalse(self.env["whatsapp.message"].search([("res_id", "in", self.customers.ids)]))

    def test_template_follows_model(self):
        """The template is reset when the model changes; a template of another model or a model without
        chatter is refused."""
        template_model = self.env["ir.model"]._get("whatsapp.template")
        action = self.action.copy()
        action.model_id = template_model
        self.assertFalse(action.whatsapp_template_id)
        with self.assertRaises(ValidationError):
            action.whatsapp_template_id = self.template_partner
        with self.assertRaises(ValidationError):
            self.env["ir.actions.server"].create(
                {
                    "name": "No chatter",
                    "model_id": self.env["ir.model"]._get_id("res.country"),
                    "state": "whatsapp",
                }
            )
        self.assertIn(template_model, action.available_model_ids)
        self.assertNotIn(self.env["ir.model"]._get("res.country"), action.available_model_ids)
