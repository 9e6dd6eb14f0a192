import base64

from odoo import fields, models
from odoo.exceptions import UserError

RECEIPT_PREFIX = "Receipt-"


class PosOrder(models.Model):
    _inherit = "pos.order"

    whatsapp_receipt_sent = fields.Boolean(
        "Receipt sent by WhatsApp",
        readonly=True,
        copy=False,
        help="The customer asked for the receipt by WhatsApp: the invoice follows once the order is invoiced.",
    )

    def _whatsapp_safe_fields(self):
        return super()._whatsapp_safe_fields() + [
            "name",
            "pos_reference",
            "partner_id.name",
            "company_id.name",
            "config_id.name",
            "date_order",
            "amount_total",
            "currency_id.name",
        ]

    # ------------------------------------------------------------
    # RECEIPT SCREEN (RPC)
    # ------------------------------------------------------------

    def action_sent_message_on_whatsapp(self, phone, ticket_image, basic_image=False):
        """Receipt screen: queue the receipt (and the invoice, when the order is invoiced) by WhatsApp.

        Same signature as the e-mail and SMS receipt actions of the POS. The messages are queued, never sent
        during the call: the cashier is not blocked by Meta.

        :param str phone: number typed or prefilled on the receipt screen
        :param str ticket_image: the receipt as rendered by the POS (base64 JPEG), the receipt's image header
        :param basic_image: unused (the basic receipt is for printing only)
        :return: ``{"number": E.164 number, "messages": [{"id", "kind", "state", "error"}]}``
        :raise UserError: WhatsApp is not enabled, the number is invalid, or a message failed at once
        """
        self.ensure_one()
        # sudo: cashiers send the templates an administrator configured on their POS, without being WhatsApp
        # users themselves; the order's values are still read with the cashier's rights (records' env)
        config = self.config_id.sudo()
        if not config.whatsapp_enabled or not config.whatsapp_receipt_template_id:
            raise UserError(self.env._("WhatsApp receipts are not enabled for %(pos)s.", pos=config.name))
        number = self._phone_format(number=phone or "")
        if not number:
            raise UserError(
                self.env._(
                    "“%(phone)s” is not a valid phone number; use the international format, e.g. +32 470 12 34 56.",
                    phone=phone or "",
                )
            )
        self.write({"mobile": number, "whatsapp_receipt_sent": True})
        image = base64.b64decode(ticket_image.split(",")[-1]) if ticket_image else None
        messages = self.with_context(whatsapp_pos_receipt_images={self.id: image})._whatsapp_send_template(
            config.whatsapp_receipt_template_id, numbers={self.id: number}
        )
        result = [self._whatsapp_pos_result(messages, "receipt")]
        if self.account_move:
            invoice_messages = self._whatsapp_send_invoice()
            if invoice_messages:
                result.append(self._whatsapp_pos_result(invoice_messages, "invoice"))
        failed = [item for item in result if item["error"]]
        if failed:
            raise UserError(failed[0]["error"])
        return {"number": number, "messages": result}

    def _whatsapp_pos_result(self, messages, kind):
        message = messages[:1].sudo()  # sudo: cashiers read the outcome of their own send
        error = False
        if message.state in ("failed", "bounced"):
            error = self.env._(
                "The WhatsApp %(kind)s could not be sent: %(reason)s",
                kind=kind,
                reason=message.failure_reason or message.failure_type,
            )
        return {"id": message.id, "kind": kind, "state": message.state, "error": error}

    def _whatsapp_send_invoice(self):
        """Send the invoice of each order (once invoiced) with its POS's invoice template, to the order's number.

        :return: the ``whatsapp.message`` records created (on the invoices)
        """
        messages = self.env["whatsapp.message"]
        for order in self.filtered(lambda o: o.account_move and o.config_id.whatsapp_enabled):
            template = (
                order.config_id.sudo().whatsapp_invoice_template_id
            )  # sudo: see action_sent_message_on_whatsapp
            if not template:
                continue
            move = order.account_move
            number = order.mobile or template._get_recipient_number(move)
            messages |= move._whatsapp_send_template(template, numbers={move.id: number} if number else None)
        return messages

    def _generate_pos_order_invoice(self):
        """An order invoiced after its receipt was sent by WhatsApp (e.g. from the backend): the invoice
        follows on WhatsApp."""
        before = {order: order.account_move for order in self}
        result = super()._generate_pos_order_invoice()
        newly = self.filtered(
            lambda o: (
                o.whatsapp_receipt_sent
                and o.account_move
                and not before.get(o)
                and o.config_id.whatsapp_enabled
            )
        )
        if newly:
            newly._whatsapp_send_invoice()
        return result

    # ------------------------------------------------------------
    # BACKEND
    # ------------------------------------------------------------

    def action_whatsapp_send_receipt(self):
        """Send the receipt again (backend button): the composer with the POS's receipt template; the image
        header is the receipt last rendered by the POS for the order."""
        if not self:
            raise UserError(self.env._("Select the orders to send by WhatsApp."))
        templates = self.config_id.whatsapp_receipt_template_id
        if not templates:
            raise UserError(
                self.env._(
                    "Choose a WhatsApp receipt template in the settings of %(pos)s.",
                    pos=self.config_id[:1].name,
                )
            )
        missing = self.filtered(lambda order: not order._whatsapp_receipt_attachment())
        if missing:
            raise UserError(
                self.env._(
                    "The receipt of %(orders)s was never rendered by the POS: send it from the receipt screen "
                    "first (Orders > select the order > Print Receipt > WhatsApp).",
                    orders=", ".join(missing.mapped("name")),
                )
            )
        return self._whatsapp_composer_action(templates[:1], name=self.env._("Send Receipt by WhatsApp"))

    def _whatsapp_receipt_attachment(self):
        """The last receipt image the POS rendered for this order (kept on the order when it was sent)."""
        self.ensure_one()
        # sudo: the receipt file of an order the user can read
        return (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "=", self.id),
                    ("name", "=like", f"{RECEIPT_PREFIX}%"),
                    ("mimetype", "=", "image/jpeg"),
                ],
                order="id desc",
                limit=1,
            )
        )
