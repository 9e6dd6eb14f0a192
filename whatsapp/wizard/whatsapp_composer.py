from ast import literal_eval

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools import template_rules
from ..tools import template_tools as tt

#: recipients listed by name in the composer (the others are only counted)
RECIPIENTS_SHOWN = 10


class WhatsAppComposer(models.TransientModel):
    """Send an approved WhatsApp template from records: one record is sent at once, a selection is queued
    as one ``whatsapp.bulk.send`` that the queue cron expands into messages (with the sender's rights).

    Opened by an ``ir.actions.act_window`` (target new) with the context ``default_res_model``,
    ``default_res_ids`` and optionally ``default_template_id`` and ``default_number_field_name`` (the phone
    field whose WhatsApp icon was clicked). Everything is evaluated with the sender's rights: the records,
    the template (only the approved ones the sender may use) and the values of its variables.
    """

    _name = "whatsapp.composer"
    _description = "Send WhatsApp Wizard"

    @api.model
    def default_get(self, fields_list):
        result = super().default_get(fields_list)
        context = self.env.context
        result["res_model"] = result.get("res_model") or context.get("active_model")
        res_ids = (
            result.get("res_ids")
            or context.get("active_ids")
            or ([context["active_id"]] if context.get("active_id") else [])
        )
        if isinstance(res_ids, list | tuple):
            res_ids = repr(list(res_ids))
        result["res_ids"] = res_ids or False
        return result

    # records
    res_model = fields.Char("Document Model", required=True)
    res_model_description = fields.Char("Document Type", compute="_compute_res_model_description")
    res_ids = fields.Char("Document IDs", help="Python list of the ids of the records, e.g. [1, 2].")
    res_ids_count = fields.Integer("Records", compute="_compute_res_ids_count")
    is_batch = fields.Boolean(
        "Batch",
        compute="_compute_res_ids_count",
        help="Several records: messages are queued, not sent at once.",
    )
    number_field_name = fields.Char(
        "Number Field",
        help="Field of the record holding the number to use instead of the template's phone field (set when "
        "the composer is opened from the WhatsApp icon of a phone field).",
    )
    # template
    available_template_ids = fields.Many2many(
        "whatsapp.template", string="Available Templates", compute="_compute_available_template_ids"
    )
    template_id = fields.Many2one(
        "whatsapp.template",
        "Template",
        compute="_compute_template_id",
        store=True,
        readonly=False,
        domain="[('id', 'in', available_template_ids)]",
    )
    header_type = fields.Selection(related="template_id.header_type")
    # recipients: computed when the dialog opens (every number normalised), then sent back by the form
    # (force_save) and kept by create (computed fields given a value are not recomputed only when editable),
    # so that the click on Send does not normalise them all again; informative only
    recipient_summary = fields.Text("Recipients", compute="_compute_recipients", store=True, readonly=False)
    recipient_valid_count = fields.Integer(
        "Valid Numbers", compute="_compute_recipients", store=True, readonly=False
    )
    recipient_invalid_count = fields.Integer(
        "Invalid Numbers", compute="_compute_recipients", store=True, readonly=False
    )
    # one record: the person and their number, which the sender may correct (and save on the contact)
    recipient_partner_id = fields.Many2one(
        "res.partner", "Recipient", compute="_compute_recipients", store=True, readonly=False
    )
    recipient_number = fields.Char(
        "WhatsApp Number",
        compute="_compute_recipients",
        store=True,
        readonly=False,
        help="Number the message is sent to; correct it here if it is wrong or missing.",
    )
    recipient_save_number = fields.Boolean(
        "Save it on the contact", help="Write the number typed here as the mobile of the recipient's contact."
    )
    can_send = fields.Boolean("Can Send", compute="_compute_can_send")
    cannot_send_reason = fields.Char("Why It Cannot Be Sent", compute="_compute_can_send")
    # content
    free_text_ids = fields.One2many(
        "whatsapp.composer.variable",
        "composer_id",
        "Free Text",
        compute="_compute_free_text_ids",
        store=True,
        readonly=False,
    )
    can_attach = fields.Boolean("Header File Replaceable", compute="_compute_can_attach")
    attachment_ids = fields.Many2many(
        "ir.attachment",
        string="Header File",
        help="Sent as the header of the message instead of the template's own file.",
    )
    preview_html = fields.Html("Preview", compute="_compute_preview_html", sanitize=False)

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends("res_model")
    def _compute_res_model_description(self):
        self.res_model_description = False
        for composer in self.filtered(lambda c: c.res_model in self.env):
            composer.res_model_description = self.env["ir.model"]._get(composer.res_model).display_name

    @api.depends("res_ids")
    def _compute_res_ids_count(self):
        for composer in self:
            composer.res_ids_count = len(composer._get_res_ids())
            composer.is_batch = composer.res_ids_count > 1

    @api.depends("res_model")
    def _compute_available_template_ids(self):
        for composer in self:
            composer.available_template_ids = composer._find_templates()

    @api.depends("res_model")
    def _compute_template_id(self):
        for composer in self:
            available = composer._find_templates()
            if composer.template_id not in available:
                composer.template_id = available[:1]

    @api.depends("template_id")
    def _compute_free_text_ids(self):
        for composer in self:
            variables = composer.template_id.variable_ids.filtered(lambda v: v.field_type == "free_text")
            composer.free_text_ids = [fields.Command.clear()] + [
                fields.Command.create(
                    {"variable_id": variable.id, "sequence": index, "value": variable.demo_value}
                )
                for index, variable in enumerate(variables)
            ]

    @api.depends("template_id")
    def _compute_can_attach(self):
        for composer in self:
            template = composer.template_id
            composer.can_attach = bool(
                template.header_type in template_rules.HEADER_MEDIA_RULES
                and not (template.header_type == "document" and template.report_id)
            )

    @api.depends("res_model", "res_ids", "template_id", "number_field_name")
    def _compute_recipients(self):
        for composer in self:
            records = composer._get_records()
            composer.recipient_partner_id = composer.recipient_number = False
            if not composer.template_id or not records:
                composer.recipient_summary = False
                composer.recipient_valid_count = composer.recipient_invalid_count = 0
                continue
            partners = composer.template_id._whatsapp_recipient_partners(records[:RECIPIENTS_SHOWN])
            lines, valid = [], 0
            for record, raw, number in composer._get_recipient_numbers(records):
                valid += bool(number)
                if len(lines) < RECIPIENTS_SHOWN:
                    shown = number or self.env._(
                        "%(number)s (invalid)", number=raw or self.env._("no number")
                    )
                    label = composer._recipient_label(record, partners.get(record.id), len(records) > 1)
                    lines.append(f"{label}: {shown}")
            if len(records) > RECIPIENTS_SHOWN:
                lines.append(self.env._("… and %(count)s more", count=len(records) - RECIPIENTS_SHOWN))
            composer.recipient_summary = "\n".join(lines)
            composer.recipient_valid_count = valid
            composer.recipient_invalid_count = len(records) - valid
            if len(records) == 1:
                composer.recipient_partner_id = partners.get(records.id)
                composer.recipient_number = composer.template_id._get_recipient_number(records) or False
                if composer.number_field_name:
                    numbers = records._whatsapp_numbers_from(composer.number_field_name) or {}
                    composer.recipient_number = numbers.get(records.id) or composer.recipient_number

    @api.depends("template_id", "res_model", "res_ids", "recipient_number", "recipient_valid_count")
    def _compute_can_send(self):
        for composer in self:
            composer.can_send, composer.cannot_send_reason = True, False
            records = composer._get_records()
            if not composer.template_id or not records:
                composer.can_send = False
                continue
            if len(records) > 1:
                if not composer.recipient_valid_count:
                    composer.can_send = False
                    composer.cannot_send_reason = self.env._(
                        "None of the selected records has a valid WhatsApp number: add their numbers first."
                    )
                continue
            if composer._get_single_number(records):
                continue
            composer.can_send = False
            person = composer._recipient_label(records, composer.recipient_partner_id)
            if composer.recipient_number:
                composer.cannot_send_reason = self.env._(
                    "%(number)s is not a valid WhatsApp number for %(person)s: correct it (with the country "
                    "code, e.g. +32 470 12 34 56).",
                    number=composer.recipient_number,
                    person=person,
                )
            else:
                composer.cannot_send_reason = self.env._(
                    "%(person)s has no WhatsApp number: type it in the WhatsApp Number field.", person=person
                )

    @api.depends("template_id", "res_model", "res_ids", "free_text_ids.value")
    def _compute_preview_html(self):
        for composer in self:
            template = composer.template_id
            if not template:
                composer.preview_html = False
                continue
            records = composer._get_records()
            values = composer._get_preview_values(records[:1]) if records else None
            composer.preview_html = template._render_preview_html(values, record=records[:1])

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_send_whatsapp(self):
        """Send the template: at once for one record, queued as a bulk send for a selection.

        :return: an action closing the wizard (with a notification for a queued selection)
        """
        self.ensure_one()
        if not self.is_batch:
            self._action_send()
            return {"type": "ir.actions.act_window_close"}
        job = self._action_queue()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "%(count)s WhatsApp messages queued; follow them in WhatsApp › Bulk Sends (invalid or "
                    "opted-out numbers show there as not sent).",
                    count=job.record_count,
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    # ------------------------------------------------------------
    # SENDING
    # ------------------------------------------------------------

    def _action_send(self):
        """One record: check, then send now through the thread API (to the number shown, which the sender
        may have corrected, and saved on the contact when asked); return the ``whatsapp.message``."""
        records = self._get_records()
        self._check_can_send(records)
        number = self._get_single_number(records)
        if self.recipient_number and self.recipient_save_number and self.recipient_partner_id:
            partner = self.recipient_partner_id
            if partner.mobile != self.recipient_number:
                partner.mobile = records._phone_format(
                    number=self.recipient_number, force_format="INTERNATIONAL"
                )
        return records._whatsapp_send_composed(
            self.template_id,
            free_text=self._prepare_free_text(),
            queue=False,
            number_field=self.number_field_name,
            header=self.attachment_ids[:1] if self.can_attach else None,
            numbers={records.id: self.recipient_number} if self.recipient_number and number else None,
        )

    def _action_queue(self):
        """A selection: check, then store one ``whatsapp.bulk.send`` (nothing rendered in this request)."""
        records = self._get_records()
        self._check_can_send(records)
        if self.number_field_name and self.number_field_name in records._fields:
            records.check_field_access_rights("read", [self.number_field_name])
        return self.env["whatsapp.bulk.send"]._queue(
            self.template_id,
            records,
            free_text=self._prepare_free_text(),
            number_field_name=self.number_field_name,
            attachment=self.attachment_ids[:1] if self.can_attach else None,
        )

    def _check_can_send(self, records):
        """Raise a UserError/AccessError unless the sender may send this template from these records."""
        if not records:
            raise UserError(self.env._("Select at least one record to send a WhatsApp message from."))
        if not self.template_id:
            raise UserError(
                self.env._(
                    "There is no approved WhatsApp template you may use for %(model)s. Ask a WhatsApp "
                    "administrator to create one (and to add you to its allowed users).",
                    model=self.res_model_description or self.res_model,
                )
            )
        if self.template_id not in self._find_templates():
            raise AccessError(
                self.env._(
                    "You may not send the WhatsApp template “%(name)s” from %(model)s: it is not approved, "
                    "meant for another model, or restricted to other users.",
                    name=self.template_id.sudo().name,  # sudo: name the template the user may not read
                    model=self.res_model_description or self.res_model,
                )
            )
        self._check_values_access(self.template_id, records)
        if len(records) == 1 and not self._get_single_number(records):
            self._compute_can_send()
            raise UserError(self.cannot_send_reason)
        if len(records) > 1 and not self.recipient_valid_count:
            raise UserError(
                self.env._(
                    "None of the selected records has a valid WhatsApp number: add their numbers first."
                )
            )
        if len(self.attachment_ids) > 1:
            raise UserError(self.env._("A WhatsApp message has a single header file; keep only one."))
        for attachment in self.attachment_ids if self.can_attach else ():
            issues = template_rules.check_header_media(
                self.template_id.header_type, attachment.mimetype, attachment.file_size
            )
            if issues:
                self.template_id._raise_issues(issues)
        missing = self.free_text_ids.filtered(lambda line: not (line.value or "").strip())
        if missing:
            raise UserError(
                self.env._(
                    "Type a value for the free text %(names)s.", names=", ".join(missing.mapped("name"))
                )
            )

    def _prepare_free_text(self):
        """``{template variable id: value}`` of the free-text variables, as the thread API takes them."""
        return {line.variable_id.id: line.value for line in self.free_text_ids}

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    @api.model
    def has_available_templates(self, res_model):
        """Whether the current user may send a WhatsApp template from records of ``res_model`` (used by the
        chatter button and the phone fields' icon)."""
        if not self.env.user.has_group("whatsapp.group_whatsapp_user") or res_model not in self.env:
            return False
        if not isinstance(self.env[res_model], self.env.registry["mail.thread"]):
            return False
        return bool(self.env["whatsapp.template"]._find_available(res_model)[:1])

    def _find_templates(self):
        """Approved templates the sender may use on the records, the one proposed first in the recipient's
        language (one recipient with a partner language), else in the sender's: among the templates sharing
        a Meta name, the best fitting language comes first; the names keep their order (sequence). At send
        time each recipient still gets the approved variant in their own language
        (``mail.thread._whatsapp_send_template``)."""
        self.ensure_one()
        if not self.res_model or self.res_model not in self.env:
            return self.env["whatsapp.template"]
        templates = self.env["whatsapp.template"]._find_available(self.res_model)
        if len(templates) < 2:
            return templates
        records = self._get_records()
        lang = templates[:1]._whatsapp_preferred_lang(records)
        first_seen = {}
        for template in templates:
            first_seen.setdefault(template.template_name or template.id, len(first_seen))

        def key(indexed):
            index, template = indexed
            rank = tt.lang_rank(template.lang_code, lang)
            return (first_seen[template.template_name or template.id], 2 if rank is None else rank, index)

        ordered = sorted(enumerate(templates), key=key)
        return templates.browse([template.id for _index, template in ordered])

    def _get_res_ids(self):
        self.ensure_one()
        if not self.res_ids:
            return []
        try:
            ids = literal_eval(self.res_ids)
        except (ValueError, SyntaxError):
            raise UserError(self.env._("Invalid record ids: %(ids)s", ids=self.res_ids)) from None
        return [int(res_id) for res_id in (ids if isinstance(ids, list | tuple) else [ids])]

    def _get_records(self):
        self.ensure_one()
        if not self.res_model or self.res_model not in self.env:
            return None
        return self.env[self.res_model].browse(self._get_res_ids())

    def _get_recipient_numbers(self, records):
        """``[(record, raw number, E.164 number or user id or False)]`` as the thread API will find them: a
        customer without a number but known by a WhatsApp username is reachable by their user id."""
        numbers = records._whatsapp_numbers_from(self.number_field_name) or {}
        result = []
        for record in records:
            raw = numbers.get(record.id) or self.template_id._get_recipient_number(record)
            number = record._phone_format(number=raw) if raw else False
            if not number:
                bsuid = record._whatsapp_recipient_bsuid(self.template_id)
                number = bsuid and self.env._("WhatsApp user %(user)s", user=bsuid)
            result.append((record, raw, number))
        return result

    def _get_single_number(self, record):
        """E.164 number (or WhatsApp user id) the single ``record`` is sent to: the number shown in the
        composer, else the user id of a customer known by their WhatsApp username."""
        if self.recipient_number:
            return record._phone_format(number=self.recipient_number) or False
        return record._whatsapp_recipient_bsuid(self.template_id) or False

    @api.model
    def _recipient_label(self, record, partner, with_record=False):
        """The person a record's message goes to (``Ana Lopez``), with the record in a selection when it is
        not the contact itself (``Ana Lopez (S00042)``)."""
        if not partner:
            return record.display_name
        if not with_record or (record._name == "res.partner" and partner == record):
            return partner.display_name
        return f"{partner.display_name} ({record.display_name})"

    @api.model
    def _check_values_access(self, template, records):
        """Raise an AccessError unless the sender may read ``records`` and every record and field the
        template's variables read from them.

        Checked against the database (record rules, field groups), not the ORM cache, which may hold values
        read by other code of the same transaction.
        """
        records.check_access("read")
        for variable in template.variable_ids:
            self._check_variable_access(variable, records)

    @api.model
    def _check_variable_access(self, variable, records):
        if variable.field_type != "field" or not variable.field_name:
            return
        current = records
        for part in variable.field_name.split("."):
            if part not in current._fields:
                return
            current.check_field_access_rights("read", [part])
            if not current._fields[part].relational:
                return
            current = current.mapped(part)
            current.check_access("read")

    def _get_preview_values(self, record):
        """``{variable: text}`` for the preview of ``record``: the sender's values, or a hint when the sender
        may not read a value (nothing is read as superuser)."""
        try:
            record.check_access("read")
        except AccessError:
            return None  # the template's sample values
        free_text = self._prepare_free_text()
        values = {}
        for variable in self.template_id.variable_ids:
            if variable.field_type == "free_text":
                values[variable] = free_text.get(variable.id) or variable.name
                continue
            try:
                self._check_variable_access(variable, record)
                values[variable] = variable._get_value(record, free_text)
            except AccessError:
                values[variable] = self.env._("(no access)")
            except UserError:
                values[variable] = variable.name
        return values
