from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools import template_rules


class WhatsAppTemplateButton(models.Model):
    """A button of a template: Quick Reply, Call Number or Visit Website (static, dynamic or tracked URL).

    The rules on the set of buttons (counts, grouping) are checked on the template, with the other rules.
    """

    _name = "whatsapp.template.button"
    _description = "WhatsApp Template Button"
    _order = "sequence, id"

    sequence = fields.Integer(default=10)
    template_id = fields.Many2one("whatsapp.template", required=True, ondelete="cascade", index=True)
    name = fields.Char("Button Text", required=True, help="At most 25 characters.")
    button_type = fields.Selection(
        [("quick_reply", "Quick Reply"), ("url", "Visit Website"), ("phone_number", "Call Number")],
        "Type",
        required=True,
        default="quick_reply",
    )
    url_type = fields.Selection(
        [("static", "Static"), ("dynamic", "Dynamic"), ("tracked", "Tracked")],
        "URL Type",
        default="static",
        help="Static: the same URL for everyone.\n"
        "Dynamic: the URL ends with {{1}}, filled for each record (Variables tab).\n"
        "Tracked: each send gets a short link counting the clicks of this template.",
    )
    website_url = fields.Char("Website URL", help="e.g. https://example.com/order/{{1}} for a dynamic URL.")
    call_number = fields.Char("Call Number", help="International format, e.g. +32 470 12 34 56.")
    variable_ids = fields.One2many("whatsapp.template.variable", "button_id", "Variables")
    link_tracker_id = fields.Many2one("link.tracker", "Tracked Link", readonly=True, copy=False)
    click_count = fields.Integer("Clicks", related="link_tracker_id.count")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._normalize_vals(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._normalize_vals(vals)
        if "website_url" in vals or "url_type" in vals:
            vals["link_tracker_id"] = False
        return super().write(vals)

    @api.model
    def _normalize_vals(self, vals):
        if vals.get("call_number"):
            vals["call_number"] = template_rules.normalize_phone(vals["call_number"]) or vals["call_number"]
        if vals.get("url_type") in ("static", "tracked") and vals.get("website_url"):
            vals["website_url"] = vals["website_url"].strip()

    def _to_rule_dict(self):
        """Plain dict of the button for ``template_tools`` (rules and payloads)."""
        self.ensure_one()
        return {
            "name": self.name or "",
            "button_type": self.button_type,
            "url_type": self.url_type or "static",
            "website_url": self.website_url or "",
            "call_number": self.call_number or "",
            "tracker_host": self.get_base_url(),
        }

    def _get_tracker(self):
        """The link.tracker counting this button's clicks (created on first use)."""
        self.ensure_one()
        if not self.link_tracker_id or self.link_tracker_id.url != self.website_url:
            if not self.website_url:
                raise UserError(
                    self.env._("Button “%(name)s”: a tracked URL needs a Website URL.", name=self.name)
                )
            # sudo: link trackers are technical records only Settings administrators may create; the URL comes
            # from the template an administrator configured, not from the sender.
            tracker = (
                self.env["link.tracker"]
                .sudo()
                .search_or_create(
                    [
                        {
                            "url": self.website_url,
                            "title": self.name,
                            "label": f"WhatsApp {self.template_id.template_name or self.template_id.id}"
                            f" #{self.id}",
                        }
                    ]
                )
            )
            # sudo: the sender may not write templates; this only caches the tracker of the button.
            self.sudo().link_tracker_id = tracker
        return self.link_tracker_id.sudo()  # sudo: users only read their own short link code

    def _get_tracked_suffix(self):
        """Code of the short link (the ``{{1}}`` of ``{base}/r/{{1}}`` registered on Meta)."""
        return self._get_tracker().code
