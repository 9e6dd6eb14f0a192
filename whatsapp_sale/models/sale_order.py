from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import formatLang


class SaleOrder(models.Model):
    _inherit = "sale.order"

    whatsapp_amount_total = fields.Char(
        "Total (formatted)",
        compute="_compute_whatsapp_amount_total",
        help="Total with its currency as the customer reads it, e.g. $ 1,250.00 (WhatsApp templates).",
    )

    def _compute_whatsapp_amount_total(self):
        for order in self:
            order.whatsapp_amount_total = formatLang(
                order.with_context(lang=order.partner_id.lang or self.env.lang).env,
                order.amount_total,
                currency_obj=order.currency_id,
            )

    def _whatsapp_safe_fields(self):
        return super()._whatsapp_safe_fields() + [
            "name",
            "partner_id.name",
            "company_id.name",
            "user_id.name",
            "client_order_ref",
            "date_order",
            "validity_date",
            "commitment_date",
            "amount_total",
            "currency_id.name",
            "whatsapp_amount_total",
        ]

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_send_whatsapp(self):
        """Open the WhatsApp composer on these orders with the quotation template (the first approved one
        of sale.order the user may send, the ready "Sales: Quotation" first)."""
        if not self:
            raise UserError(self.env._("Select the quotations or orders to send by WhatsApp."))
        self.filtered(lambda so: so.state in ("draft", "sent")).order_line._validate_analytic_distribution()
        template = self._whatsapp_default_template()
        return self._whatsapp_composer_action(template)  # "Send WhatsApp", as from the chatter and a list

    def _whatsapp_default_template(self):
        templates = self.env["whatsapp.template"]._find_available(self._name)
        if not templates:
            raise UserError(
                self.env._(
                    "No approved WhatsApp template for quotations and orders is available to you. In WhatsApp > "
                    "Templates, submit “Sales: Quotation” (or your own template for Sales Order) to Meta and send "
                    "once it is approved."
                )
            )
        ready = self.env.ref("whatsapp_sale.whatsapp_template_sale_order", raise_if_not_found=False)
        return ready if ready in templates else templates[0]

    # ------------------------------------------------------------
    # THREAD API
    # ------------------------------------------------------------

    def _whatsapp_send_template(self, template, *args, **kwargs):
        """A quotation sent by WhatsApp is marked as sent, as when sent by e-mail (``mark_so_as_sent``);
        not when its message failed at once (invalid or opted-out number)."""
        messages = super()._whatsapp_send_template(template, *args, **kwargs)
        reached = messages.filtered(lambda m: m.state not in ("failed", "bounced", "cancelled"))
        orders = self.browse(reached.mapped("res_id")).filtered(lambda order: order.state == "draft")
        orders.with_context(tracking_disable=True).write({"state": "sent"})
        return messages
