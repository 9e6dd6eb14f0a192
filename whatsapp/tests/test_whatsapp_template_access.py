from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common_templates import WhatsAppTemplateCase


@tagged("post_install", "-at_install", "whatsapp")
class TestWhatsAppTemplateAccess(WhatsAppTemplateCase):
    """Administrators manage templates; users see the approved ones they may use, in their companies."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_wa_2 = mail_new_test_user(
            cls.env,
            login="wa_user_2",
            groups="base.group_user,whatsapp.group_whatsapp_user",
            name="Wendy User",
        )
        cls.template_restricted = cls._create_template(
            name="Restricted", template_name="restricted", body="Hello, private note.", status="approved",
            allowed_user_ids=[(6, 0, cls.user_wa_2.ids)],
        )  # fmt: skip
        cls.template_draft = cls._create_template(
            name="Draft", template_name="draft_one", body="Hello, draft."
        )
        cls.account_2 = cls._create_account(
            name="Other", phone_uid="1000002", allowed_company_ids=[(6, 0, cls.company_2.ids)]
        )
        cls.template_other_company = cls._create_template(
            name="Other company", template_name="other_company", body="Hello, other.", status="approved",
            account_id=cls.account_2.id,
        )  # fmt: skip
        cls.all_templates = (
            cls.template_partner | cls.template_image | cls.template_buttons | cls.template_restricted
            | cls.template_draft | cls.template_other_company
        )  # fmt: skip

    def _visible(self, user):
        return self.env["whatsapp.template"].with_user(user).search([("id", "in", self.all_templates.ids)])

    def test_read_matrix(self):
        approved_mine = self.template_partner | self.template_image | self.template_buttons
        cases = [
            (self.user_wa_admin, self.all_templates - self.template_other_company),
            (self.user_wa, approved_mine),
            (self.user_wa_2, approved_mine | self.template_restricted),
            (self.user_other_company, self.template_other_company),
            (self.user_employee, None),
        ]
        for user, expected in cases:
            with self.subTest(user=user.login):
                if expected is None:
                    with self.assertRaises(AccessError):
                        self._visible(user)
                    continue
                self.assertEqual(self._visible(user), expected)
                if expected:
                    # buttons and variables follow their template
                    self.assertEqual(
                        self.env["whatsapp.template.variable"]
                        .with_user(user)
                        .search([("template_id", "in", self.all_templates.ids)])
                        .template_id,
                        expected.filtered("variable_ids"),
                    )

    def test_find_available(self):
        Template = self.env["whatsapp.template"]
        self.template_image.sequence = 1
        available = Template.with_user(self.user_wa)._find_available("res.partner")
        self.assertEqual(available[0], self.template_image, "default (first by sequence) first")
        self.assertEqual(
            set(available.ids), set((self.template_partner | self.template_image | self.template_buttons).ids)
        )
        self.assertIn(
            self.template_restricted, Template.with_user(self.user_wa_2)._find_available("res.partner")
        )
        self.assertEqual(
            Template.with_user(self.user_other_company)._find_available("res.partner"),
            self.template_other_company,
        )
        self.assertFalse(Template.with_user(self.user_wa)._find_available("res.users"))

    def test_write_matrix(self):
        self.template_draft.with_user(self.user_wa_admin).name = "Renamed"
        for user in (self.user_wa, self.user_wa_2):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    self.template_partner.with_user(user).name = "Hacked"
                with self.assertRaises(AccessError):
                    self.env["whatsapp.template"].with_user(user).create(
                        {"name": "New", "body": "Hello, new."}
                    )
                with self.assertRaises(AccessError):
                    self.template_buttons.button_ids[0].with_user(user).name = "Hacked"
        with self.assertRaises(AccessError):
            self.template_partner.with_user(self.user_other_company).name = "Not mine"

    def test_allow_multi_binds_list_action(self):
        Action = self.env["ir.actions.server"]
        partner_model = self.env["ir.model"]._get("res.partner")
        self.env["whatsapp.template"].search([("allow_multi", "=", True)]).allow_multi = False  # demo data
        self.template_partner.with_user(self.user_wa_admin).allow_multi = True
        action = self.template_partner.multi_action_id
        self.assertTrue(action)
        self.assertEqual((action.binding_model_id, action.binding_view_types), (partner_model, "list"))
        self.template_image.allow_multi = True
        self.assertEqual(self.template_image.multi_action_id, action, "one action per model")
        self.template_partner.allow_multi = False
        self.assertTrue(action.exists(), "still used by another template")
        self.template_image.allow_multi = False
        self.assertFalse(action.exists())
        self.assertFalse(
            Action.search([("binding_model_id", "=", partner_model.id), ("name", "=", "WhatsApp")])
        )
