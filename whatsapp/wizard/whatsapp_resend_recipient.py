from odoo import fields, models
from odoo.exceptions import UserError


class WhatsAppResendRecipient(models.TransientModel):
    """A recipient of the failure dialog (``whatsapp.resend``): the person, the number (editable), the failure
    as ``whatsapp.message`` knows it, and whether to resend to them."""

    _name = "whatsapp.resend.recipient"
    _description = "WhatsApp Sending Failure"

    resend_id = fields.Many2one("whatsapp.resend", "Dialog", required=True, ondelete="cascade", index=True)
    notification_id = fields.Many2one("mail.notification", required=True, ondelete="cascade")
    whatsapp_message_id = fields.Many2one(related="notification_id.whatsapp_message_id", string="Message")
    partner_id = fields.Many2one("res.partner", "Contact", readonly=True)
    recipient_name = fields.Char("Recipient", readonly=True)
    number = fields.Char("WhatsApp Number", help="Correct it here if it is wrong or missing.")
    save_number = fields.Boolean(
        "Save on Contact", help="Write the number typed here on the contact, for the next messages too."
    )
    failure_type = fields.Selection(related="whatsapp_message_id.failure_type", string="Failure")
    failure_reason = fields.Text(related="whatsapp_message_id.failure_reason", string="Reason")
    resend = fields.Boolean("Resend", default=True)

    def _get_new_number(self, record):
        """The E.164 number typed when it differs from the one the message went to (else False); a number
        that cannot be one raises a ``UserError`` saying how to write it."""
        self.ensure_one()
        typed = (self.number or "").strip()
        if not typed:
            return False
        number = record._phone_format(number=typed)
        if not number:
            raise UserError(
                self.env._(
                    "“%(number)s” is not a valid WhatsApp number for %(person)s: correct it, with the country "
                    "code (e.g. +32 470 12 34 56).",
                    number=typed,
                    person=self.recipient_name,
                )
            )
        return number if number != self.whatsapp_message_id.number else False

    def _save_number(self, record):
        """Write the number typed on the contact, in the field the template reads it from (``mobile`` when
        the template reads another record's field), with the user's rights."""
        self.ensure_one()
        partner = self.partner_id
        if not partner or not (self.number or "").strip():
            return
        template = self.whatsapp_message_id.template_id
        field_name = (template.phone_field or "").rpartition(".")[2] if template else ""
        holder = template._get_recipient_field_info(record)[0] if template else partner
        if holder != partner or field_name not in partner._fields:
            field_name = "mobile"
        value = record._phone_format(number=self.number.strip(), force_format="INTERNATIONAL")
        if value and partner[field_name] != value:
            partner[field_name] = value

    def _ignore(self):
        """The failures of these lines no longer count as failures (chatter, messaging menu)."""
        notifications = self.notification_id.sudo()  # sudo: lines of the dialog's message (see _get_lines)
        if not notifications:
            return
        notifications.write({"notification_status": "canceled"})
        self.resend_id.mail_message_id._notify_message_notification_update()
