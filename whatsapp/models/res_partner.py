from odoo import api, fields, models


class ResPartner(models.Model):
    """Customers met on WhatsApp: found by normalised number (indexed) or business-scoped user id; the fields
    WhatsApp administrators may use as template variables; a number that stopped marketing messages
    (``user_preferences``, 131050)."""

    _name = "res.partner"
    _inherit = ["mail.thread.phone", "res.partner"]

    whatsapp_bsuid = fields.Char(
        "WhatsApp User ID",
        index="btree_not_null",
        copy=False,
        help="Business-scoped user id given by WhatsApp (it may replace the phone number for username users).",
    )
    whatsapp_opt_out = fields.Boolean(
        "WhatsApp Opt-out",
        copy=False,
        tracking=True,
        help="The customer, known by a WhatsApp username (no number), sent an opt-out keyword: nothing is sent to "
        "their user id until an opt-in keyword. Customers with a number opt out through the phone blacklist.",
    )
    whatsapp_marketing_stopped = fields.Boolean(
        "WhatsApp Marketing Stopped",
        compute="_compute_whatsapp_marketing_stopped",
        groups="base.group_user",
        help="The customer stopped marketing messages from the WhatsApp app: Marketing templates are not sent "
        "to this number; Utility and Authentication templates still are.",
    )
    whatsapp_marketing_stopped_date = fields.Datetime(
        "WhatsApp Marketing Stopped On",
        compute="_compute_whatsapp_marketing_stopped",
        groups="base.group_user",
    )

    def init(self):  # pylint: disable=missing-return
        super().init()
        # the inbound lookup is "phone_sanitized = <E.164>": an index, never a scan of every partner
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS res_partner_phone_sanitized_wa_idx
                   ON res_partner (phone_sanitized) WHERE phone_sanitized IS NOT NULL"""
        )

    def _compute_whatsapp_marketing_stopped(self):
        numbers = {}
        for partner in self:
            numbers[partner.id] = {
                n
                for n in (
                    partner.phone_sanitized,
                    *(partner._phone_format(fname=f) for f in ("mobile", "phone")),
                    partner.whatsapp_bsuid,
                )
                if n
            }
        # sudo: any employee may see that a number stopped marketing; the preference model is WhatsApp-only
        preferences = (
            self.env["whatsapp.marketing.preference"]
            .sudo()
            .search(
                [
                    "|",
                    ("number", "in", list(set().union(*numbers.values()))),
                    ("bsuid", "in", list(set().union(*numbers.values()))),
                    ("state", "=", "stopped"),
                ]
            )
        )
        dates = {p.number or p.bsuid: p.date for p in preferences}
        for partner in self:
            stopped = [dates[n] for n in numbers[partner.id] if n in dates]
            partner.whatsapp_marketing_stopped = bool(stopped)
            partner.whatsapp_marketing_stopped_date = max(stopped) if stopped else False

    def _phone_get_number_fields(self):
        return ["mobile", "phone"]

    def _whatsapp_safe_fields(self):
        return [
            *super()._whatsapp_safe_fields(),
            "name",
            "commercial_company_name",
            "email",
            "phone",
            "mobile",
            "city",
            "country_id.name",
            "parent_id.name",
            "ref",
            "website",
        ]

    @api.model
    def _whatsapp_find_or_create(self, number=None, bsuid=None, name=None, companies=None):
        """The partner writing from ``number`` (E.164) or ``bsuid``; created with the WhatsApp profile name.

        A customer first met by user id only (a WhatsApp username) and later with their number is one partner:
        the user id's partner gets the number when no partner has it; when one has, the user id (and its
        opt-out) moves to it.

        :param companies: the receiving account's companies: only partners they may see match (the webhook runs
            as superuser, no record rule applies: a contact of another company is never linked to the chat)
        :return: ``res.partner`` (one record)
        """
        by_number = by_user = self.browse()
        visible = [("company_id", "in", [False, *companies.ids])] if companies else []
        if number:
            by_number = self.search([("phone_sanitized", "=", number), *visible], order="id", limit=1)
        if bsuid:
            by_user = self.search([("whatsapp_bsuid", "=", bsuid), *visible], order="id")
        partner = by_number or by_user[:1]
        if not partner:
            return self.create(
                {"name": name or number or bsuid, "mobile": number or False, "whatsapp_bsuid": bsuid}
            )
        if number and not by_number:
            partner.mobile = number  # met by user id first: the number Meta now gives is theirs
        if bsuid and partner.whatsapp_bsuid != bsuid:
            others = by_user - partner
            partner.write(
                {
                    "whatsapp_bsuid": bsuid,
                    "whatsapp_opt_out": partner.whatsapp_opt_out or any(others.mapped("whatsapp_opt_out")),
                }
            )
            others.write({"whatsapp_bsuid": False, "whatsapp_opt_out": False})
        if name and partner.name == bsuid:
            partner.name = name  # created by an opt-out keyword before the chat knew the profile name
        return partner

    @api.model
    def _whatsapp_opted_out_bsuids(self, bsuids):
        """Of ``bsuids``, the user ids whose customer opted out (one query)."""
        bsuids = [b for b in set(bsuids) if b]
        if not bsuids:
            return set()
        # sudo: senders need not read every partner to know a user id opted out
        partners = self.sudo().search([("whatsapp_bsuid", "in", bsuids), ("whatsapp_opt_out", "=", True)])
        return set(partners.mapped("whatsapp_bsuid"))
