from odoo import fields, models


class ResPartner(models.Model):
    """Shows on the contact that a number stopped WhatsApp marketing messages (``user_preferences``, 131050)."""

    _inherit = "res.partner"

    wa_marketing_stopped = fields.Boolean(
        "WhatsApp Marketing Stopped",
        compute="_compute_wa_marketing_stopped",
        groups="base.group_user",
        help="The customer stopped marketing messages from the WhatsApp app: Marketing templates are not sent "
        "to this number; Utility and Authentication templates still are.",
    )
    wa_marketing_stopped_date = fields.Datetime(
        "WhatsApp Marketing Stopped On", compute="_compute_wa_marketing_stopped", groups="base.group_user"
    )

    def _compute_wa_marketing_stopped(self):
        numbers = {}
        for partner in self:
            numbers[partner.id] = {
                n
                for n in (
                    partner.phone_sanitized,
                    *(partner._phone_format(fname=f) for f in ("mobile", "phone")),
                )
                if n
            }
        # sudo: any employee may see that a number stopped marketing; the preference model is WhatsApp-only
        preferences = (
            self.env["whatsapp.marketing.preference"]
            .sudo()
            .search([("number", "in", list(set().union(*numbers.values()))), ("state", "=", "stopped")])
        )
        dates = {p.number: p.date for p in preferences}
        for partner in self:
            stopped = [dates[n] for n in numbers[partner.id] if n in dates]
            partner.wa_marketing_stopped = bool(stopped)
            partner.wa_marketing_stopped_date = max(stopped) if stopped else False
