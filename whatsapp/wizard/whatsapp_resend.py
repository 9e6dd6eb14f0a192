from odoo import Command, api, fields, models
from odoo.exceptions import UserError

#: ``mail.notification`` statuses of a WhatsApp message that failed and was not ignored
FAILED_STATUSES = ("exception", "bounce")


class WhatsAppResend(models.TransientModel):
    """The failure dialog of a WhatsApp message in a record's chatter (its failure icon, its Retry link), as
    ``sms.resend`` is for SMS: each recipient the message could not reach, with the reason; the number to
    correct (and save on the contact); **Resend** through the queue, or **Ignore** (the failure is acknowledged
    and no longer counts as one, in the chatter and in the messaging menu).

    Resending needs the right to write the record, ignoring the right to read it (as the messaging menu's
    "Ignore"); the messages are then written as superuser (users never write ``whatsapp.message``).
    """

    _name = "whatsapp.resend"
    _description = "WhatsApp Sending Failures"
    _rec_name = "mail_message_id"

    mail_message_id = fields.Many2one("mail.message", "Message", readonly=True, required=True)
    recipient_ids = fields.One2many("whatsapp.resend.recipient", "resend_id", "Recipients")
    res_model_description = fields.Char("Document Type", compute="_compute_record_name")
    record_name = fields.Char("Document", compute="_compute_record_name")
    can_resend = fields.Boolean(compute="_compute_can_resend")

    @api.model
    def default_get(self, fields_list):
        result = super().default_get(fields_list)
        if "recipient_ids" in fields_list and result.get("mail_message_id"):
            wizard = self.new({"mail_message_id": result["mail_message_id"]})
            wizard._get_record("read")
            result["recipient_ids"] = [
                Command.create(values) for values in wizard._prepare_recipient_values()
            ]
        return result

    @api.depends("mail_message_id")
    def _compute_record_name(self):
        self.res_model_description = self.record_name = False
        for wizard in self:
            message = wizard.mail_message_id
            if message.model in self.env and message.res_id:
                record = self.env[message.model].browse(message.res_id).exists()
                wizard.res_model_description = self.env["ir.model"]._get(message.model).display_name
                wizard.record_name = record.display_name if record.has_access("read") else False

    @api.depends("recipient_ids.resend")
    def _compute_can_resend(self):
        for wizard in self:
            wizard.can_resend = any(wizard.recipient_ids.mapped("resend"))

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_resend(self):
        """Queue the ticked recipients again (to the number shown, saved on the contact when asked) and ignore
        the others; refused with what to fix first when a message can only fail again."""
        self.ensure_one()
        record = self._get_record("write")
        lines = self._get_lines()
        to_resend = lines.filtered("resend")
        if not to_resend:
            raise UserError(self.env._("Tick the recipients to send the message to again, or click Ignore."))
        numbers = {}
        for line in to_resend:
            number = line._get_new_number(record)
            if number:
                numbers[line.whatsapp_message_id.id] = number
            if line.save_number:
                line._save_number(record)
        (lines - to_resend)._ignore()
        # read as the user (who may read the messages of the record), the template's values evaluated with
        # their rights; _retry writes the messages (see its docstring)
        to_resend.whatsapp_message_id.with_env(self.env)._retry(numbers=numbers)
        return {"type": "ir.actions.act_window_close"}

    def action_ignore(self):
        """Acknowledge every failure of the message: it no longer shows as failed, nor in the messaging menu."""
        self.ensure_one()
        self._get_record("read")
        self._get_lines()._ignore()
        return {"type": "ir.actions.act_window_close"}

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    def _get_record(self, operation):
        """The record of the message, when the user may ``operation`` it (else an AccessError)."""
        self.ensure_one()
        message = self.mail_message_id
        if not message.model or not message.res_id or message.model not in self.env:
            raise UserError(self.env._("This message belongs to no record: nothing can be resent."))
        record = self.env[message.model].browse(message.res_id).exists()
        if not record:
            raise UserError(self.env._("The record of this message no longer exists."))
        record.check_access(operation)
        return record

    def _get_failed_notifications(self):
        """The failed (not ignored) WhatsApp notifications of the message."""
        # sudo: the notifications of a message of a record the user may read (checked by the callers)
        return self.mail_message_id.sudo().notification_ids.filtered(
            lambda n: (
                n.notification_type == "whatsapp"
                and n.notification_status in FAILED_STATUSES
                and n.whatsapp_message_id
            )
        )

    def _get_lines(self):
        """The lines of the dialog that are failures of its message (a line naming any other notification,
        e.g. forged through RPC, is left out), one per notification."""
        failed = self._get_failed_notifications()
        lines = self.recipient_ids.filtered(lambda line: line.notification_id.sudo() in failed)
        if not lines:
            raise UserError(
                self.env._("This message has no failure left: it was resent or ignored in the meantime.")
            )
        return lines

    def _prepare_recipient_values(self):
        """One line per failed recipient: the person, the number and Meta's (or our) reason."""
        record = self._get_record("read")
        values = []
        for notification in self._get_failed_notifications():
            message = notification.whatsapp_message_id.with_env(self.env)  # names as the user sees them
            template = message.template_id
            partner = template and template._whatsapp_recipient_partners(record).get(record.id)
            values.append(
                {
                    "notification_id": notification.id,
                    "partner_id": partner.id if partner else False,
                    "recipient_name": message.recipient_name or message.record_name or record.display_name,
                    # as people write it (+32 470 12 34 56): the line compares it normalised
                    "number": (
                        record._phone_format(number=message.number, force_format="INTERNATIONAL")
                        or message.number
                    )
                    if message.number
                    else (template and template._get_recipient_number(record)) or False,
                    "resend": True,
                }
            )
        return values
