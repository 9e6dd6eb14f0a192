from odoo import api, fields, models

# The onboarding steps in Meta, in order: field suffix -> what proves it.
ONBOARDING_STEPS = ("app", "number", "token", "webhook", "template")


class ResConfigSettings(models.TransientModel):
    """Settings › WhatsApp: the number of accounts, and a first-run checklist, each step ticked from real state:

    * *app*: an account holds a Meta App ID and WhatsApp Business Account ID;
    * *number*: an account holds a Phone Number ID;
    * *token*: an account's token passed *Test Connection* (``connection_verified_at``);
    * *webhook*: Meta verified the callback URL with an account's verify token (``webhook_verified_at``), or
      Meta's signed webhooks arrive for an account (a stored event, a message received or a delivery status:
      the handshake happened in another database, or before the token was changed);
    * *template*: a template is approved by Meta.
    """

    _inherit = "res.config.settings"

    whatsapp_account_count = fields.Integer("WhatsApp Accounts", compute="_compute_whatsapp_account_count")
    whatsapp_account_summary = fields.Char("Business Accounts", compute="_compute_whatsapp_account_count")
    whatsapp_step_app = fields.Boolean("Meta app created", compute="_compute_whatsapp_onboarding")
    whatsapp_step_number = fields.Boolean("Phone number added", compute="_compute_whatsapp_onboarding")
    whatsapp_step_token = fields.Boolean("Access token working", compute="_compute_whatsapp_onboarding")
    whatsapp_step_webhook = fields.Boolean("Webhook verified", compute="_compute_whatsapp_onboarding")
    whatsapp_step_template = fields.Boolean("First template approved", compute="_compute_whatsapp_onboarding")
    whatsapp_onboarding_count = fields.Integer("Steps done", compute="_compute_whatsapp_onboarding")
    whatsapp_onboarding_done = fields.Boolean("WhatsApp ready", compute="_compute_whatsapp_onboarding")

    # "company_id": the settings form gets its values from an onchange where a computed field is only
    # computed when one of its dependencies is set; company_id always is (its default).
    @api.depends("company_id")
    @api.depends_context("uid", "allowed_company_ids")
    def _compute_whatsapp_onboarding(self):
        steps = self._whatsapp_onboarding_state()
        for settings in self:
            for step in ONBOARDING_STEPS:
                settings[f"whatsapp_step_{step}"] = steps[step]
            settings.whatsapp_onboarding_count = sum(steps.values())
            settings.whatsapp_onboarding_done = all(steps.values())

    @api.model
    def _whatsapp_onboarding_state(self):
        """``{step: done}`` for the current user's companies (nothing is done for a non-administrator)."""
        if not self.env.user.has_group("whatsapp.group_whatsapp_admin"):
            return dict.fromkeys(ONBOARDING_STEPS, False)
        Account = self.env["whatsapp.account"]

        def exists(model, domain):
            return bool(model.search_count(domain, limit=1))

        return {
            "app": exists(Account, [("app_uid", "!=", False), ("account_uid", "!=", False)]),
            "number": exists(Account, [("phone_uid", "!=", False)]),
            "token": exists(Account, [("token", "!=", False), ("connection_verified_at", "!=", False)]),
            "webhook": exists(Account, [("webhook_verified_at", "!=", False)])
            or self._whatsapp_webhooks_arrive(),
            "template": exists(self.env["whatsapp.template"], [("status", "=", "approved")]),
        }

    @api.model
    def _whatsapp_webhooks_arrive(self):
        """Whether Meta's webhooks reach an account of the current companies: only a signed webhook stores an
        event (kept 30 days), creates an inbound message or moves a message to delivered / read."""
        accounts = self.env["whatsapp.account"].search([])
        if not accounts:
            return False
        # sudo: only the presence of technical rows of the administrator's own accounts is tested
        Event = self.env["whatsapp.webhook.event"].sudo()
        Message = self.env["whatsapp.message"].sudo()
        return bool(
            Event.search_count([("account_id", "in", accounts.ids)], limit=1)
            or Message.search_count(
                [
                    ("account_id", "in", accounts.ids),
                    "|",
                    ("direction", "=", "inbound"),
                    ("state", "in", ("delivered", "read", "replied")),
                ],
                limit=1,
            )
        )

    @api.depends("company_id")  # same reason as above: without a dependency the form always showed 0 accounts
    def _compute_whatsapp_account_count(self):
        count = (
            self.env["whatsapp.account"].search_count([])
            if self.env.user.has_group("whatsapp.group_whatsapp_user")
            else 0
        )
        summary = (
            self.env._("%(count)s account", count=count)
            if count == 1
            else self.env._("%(count)s accounts", count=count)
            if count
            else self.env._("No account yet")
        )
        for settings in self:
            settings.whatsapp_account_count = count
            settings.whatsapp_account_summary = summary

    # ------------------------------------------------------------
    # ACTIONS: the next thing to do for each step
    # ------------------------------------------------------------

    def action_whatsapp_onboarding_account(self):
        """Open the account to complete: the first one not fully verified, or a new one."""
        Account = self.env["whatsapp.account"]
        account = Account.search([("connection_verified_at", "=", False)], limit=1) or Account.search(
            [("webhook_verified_at", "=", False)], limit=1
        )
        if not account and not Account.search_count([], limit=1):
            return self._whatsapp_form_action(Account, self.env._("Connect an account"))
        account = account or Account.search([], limit=1)
        return self._whatsapp_form_action(account, account.display_name)

    def action_whatsapp_onboarding_new_account(self):
        return self._whatsapp_form_action(self.env["whatsapp.account"], self.env._("Connect an account"))

    def action_whatsapp_onboarding_templates(self):
        return self.env["ir.actions.act_window"]._for_xml_id("whatsapp.whatsapp_template_action")

    @staticmethod
    def _whatsapp_form_action(record, name):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": record._name,
            "res_id": record.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }
