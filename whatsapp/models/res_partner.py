from odoo import models


class ResPartner(models.Model):
    _inherit = "res.partner"

    def _wa_safe_fields(self):
        return [
            *super()._wa_safe_fields(),
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
