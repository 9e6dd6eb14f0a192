from odoo import api, fields, models


class ResPartner(models.Model):
    """Customers met on WhatsApp: found by normalised number (indexed) or business-scoped user id."""

    _name = "res.partner"
    _inherit = ["mail.thread.phone", "res.partner"]

    wa_bsuid = fields.Char(
        "WhatsApp User ID",
        index="btree_not_null",
        copy=False,
        help="Business-scoped user id given by WhatsApp (it may replace the phone number for username users).",
    )

    def init(self):  # pylint: disable=missing-return
        super().init()
        # the inbound lookup is "phone_sanitized = <E.164>": an index, never a scan of every partner
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS res_partner_phone_sanitized_wa_idx
                   ON res_partner (phone_sanitized) WHERE phone_sanitized IS NOT NULL"""
        )

    def _phone_get_number_fields(self):
        return ["mobile", "phone"]

    @api.model
    def _wa_find_or_create(self, number=None, bsuid=None, name=None):
        """The partner writing from ``number`` (E.164) or ``bsuid``; created with the WhatsApp profile name.

        :return: ``res.partner`` (one record)
        """
        partner = self.browse()
        if number:
            partner = self.search([("phone_sanitized", "=", number)], order="id", limit=1)
        if not partner and bsuid:
            partner = self.search([("wa_bsuid", "=", bsuid)], order="id", limit=1)
        if not partner:
            return self.create(
                {"name": name or number or bsuid, "mobile": number or False, "wa_bsuid": bsuid}
            )
        if bsuid and partner.wa_bsuid != bsuid:
            partner.wa_bsuid = bsuid
        return partner
