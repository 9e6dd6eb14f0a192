import logging

from markupsafe import Markup
from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.mail import html_keep_url

from ..tools import message_payloads
from ..tools import template_tools as tt

_logger = logging.getLogger(__name__)


def whatsapp_text_html(text):
    """A WhatsApp text as the chatter shows it: WhatsApp's formatting (*bold* _italic_ ~strike~ ```mono```)
    rendered, newlines kept, links clickable."""
    return Markup("<p>%s</p>") % Markup(html_keep_url(tt.markup_to_html(text or "")))


class MailThread(models.AbstractModel):
    """WhatsApp API of every thread model, used by the composer and the bridges (sale, pos, event).

    Main method: :meth:`_whatsapp_send_template`. Messages appear in each record's chatter (message type
    ``whatsapp_message``) with the rendered body, the header file and a live status icon.
    """

    _inherit = "mail.thread"

    message_has_whatsapp_error = fields.Boolean(
        "WhatsApp Delivery Error",
        compute="_compute_message_has_whatsapp_error",
        search="_search_message_has_whatsapp_error",
        help="A WhatsApp message you sent from it could not be delivered (and you did not ignore it).",
    )

    # ------------------------------------------------------------
    # FAILURES: the messaging menu's WhatsApp failures, "Ignore"
    # ------------------------------------------------------------

    def _compute_message_has_whatsapp_error(self):
        failed = set(self._whatsapp_failed_res_ids(self._origin.ids)) if self._origin.ids else set()
        for record in self:
            record.message_has_whatsapp_error = record._origin.id in failed

    @api.model
    def _search_message_has_whatsapp_error(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Unsupported search on WhatsApp delivery errors."))
        ids = self._whatsapp_failed_res_ids()
        return [("id", "in" if (operator == "=") == value else "not in", ids)]

    @api.model
    def _whatsapp_failed_res_ids(self, res_ids=None):
        """Ids of the records of this model (among ``res_ids``) with a WhatsApp message the current user sent
        that failed and that they did not ignore: the failures the messaging menu shows them (as
        ``sms``'s ``message_has_sms_error``)."""
        self.env["mail.notification"].flush_model()
        self.env["mail.message"].flush_model(["model", "res_id", "message_type"])
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT msg.res_id
                     FROM mail_notification notif
                     JOIN mail_message msg ON msg.id = notif.mail_message_id
                    WHERE notif.notification_type = 'whatsapp'
                      AND notif.notification_status IN ('exception', 'bounce')
                      AND notif.author_id = %s
                      AND msg.model = %s
                      %s""",
                self.env.user.partner_id.id,
                self._name,
                SQL("AND msg.res_id IN %s", tuple(res_ids)) if res_ids is not None else SQL(),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def notify_cancel_by_type(self, notification_type):
        """The messaging menu's "Ignore" on a WhatsApp failure item: the user's failed WhatsApp notifications
        of this model no longer count as failures (mail's generic way, as ``sms`` does)."""
        result = super().notify_cancel_by_type(notification_type)
        if notification_type == "whatsapp":
            self._notify_cancel_by_type_generic("whatsapp")
        return result

    def _whatsapp_composer_action(self, template=None, name=None):
        """The action opening the WhatsApp composer on ``self`` (a button of any model, a bridge's "Send by
        WhatsApp"): one record is sent at once, a selection queued.

        :param template: the ``whatsapp.template`` proposed (else the composer proposes the first available)
        :param str name: the dialog's title
        """
        return {
            "type": "ir.actions.act_window",
            "name": name or self.env._("Send WhatsApp"),
            "res_model": "whatsapp.composer",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "default_res_model": self._name,
                "default_res_ids": self.ids,
                "default_template_id": template[:1].id if template else False,
                "active_model": self._name,
                "active_ids": self.ids,
            },
        }

    def _whatsapp_send_template(self, template, free_text=None, queue=None, numbers=None):
        """Send an approved template to the WhatsApp number of each record of ``self``.

        Each record gets the approved variant of the template (same Meta name, account and model) in its
        partner's language when there is one (``whatsapp.template._whatsapp_variants_for_records``), else
        ``template``; the records are sent by variant, in one batch each.

        Numbers come from ``template._get_recipient_number(record)`` (the template's phone field), are
        normalised to E.164 by ``phone_validation`` with the record's country, and checked against
        ``phone.blacklist``. An invalid or blacklisted number gives a failed message; it never blocks
        the other records.

        :param template: an approved ``whatsapp.template`` whose model is ``self._name``
        :param dict free_text: values of the template's free-text variables, ``{variable id or key: value}``
            with keys like ``body-2``, ``header-1``, ``button-0`` (as typed in the composer)
        :param queue: ``None`` (default): queue and trigger the queue cron now (asynchronous, any volume);
            ``True``: only queue, the cron's next run sends them; ``False``: send now in this transaction
            (one or a few records from a button; bulk sends must be queued, see ``whatsapp.message``)
        :param dict numbers: optional ``{record id: number}`` overriding the template's phone field
        :return: ``whatsapp.message`` records, one per record in the order of ``self``
        :raise UserError: the template cannot be sent from these records (not approved, other model)
        """
        if not self:
            return self._whatsapp_send_template_variant(
                template, free_text=free_text, queue=queue, numbers=numbers
            )
        template.ensure_one()
        groups = template._whatsapp_variants_for_records(self) if template.status == "approved" else []
        if len(groups) <= 1:
            variant = groups[0][0] if groups else template
            return self._whatsapp_send_template_variant(
                variant, free_text=free_text, queue=queue, numbers=numbers
            )
        by_record = {}
        for variant, records in groups:
            messages = records._whatsapp_send_template_variant(
                variant, free_text=free_text, queue=queue, numbers=numbers
            )
            by_record.update(zip(records.ids, messages, strict=True))
        return (
            self.env["whatsapp.message"]
            .concat(*(by_record[record_id] for record_id in self.ids))
            .with_env(self.env)
        )

    def _whatsapp_send_template_variant(self, template, free_text=None, queue=None, numbers=None):
        """:meth:`_whatsapp_send_template` of one template to every record of ``self`` (same parameters)."""
        template.ensure_one()
        if template.status != "approved":
            raise UserError(
                self.env._("The template %(name)s is not approved by Meta.", name=template.display_name)
            )
        if template.model and template.model != self._name:
            raise UserError(
                self.env._(
                    "The template %(name)s is not meant for %(model)s records.",
                    name=template.display_name,
                    model=self.env["ir.model"]._get(self._name).name,
                )
            )
        if not self:
            return self.env["whatsapp.message"]
        account = template.account_id
        numbers = numbers or {}
        # -- per record: number, body, components, header media (reports rendered once per record) ---
        prepared, files = [], {}
        if template.phone_field and not numbers:
            self.mapped(template.phone_field)  # prefetch the numbers of all records in one query
        # the variables' values once per record, the sender's rights checked once for all records
        values = template._get_variable_values_batch(self, free_text=free_text)
        for record in self:
            raw = numbers.get(record.id) or template._get_recipient_number(record)
            number = record._phone_format(number=raw) if raw else False
            bsuid = False if number else record._whatsapp_recipient_bsuid(template)
            header = (
                template._get_header_media(record)
                if template.header_type in ("image", "video", "document")
                else None
            )
            if header and header["cache_key"] not in files:
                files[header["cache_key"]] = header
            prepared.append(
                {
                    "record": record,
                    "raw": raw,
                    "number": number,
                    "bsuid": bsuid,
                    "body": template._render_text(values[record.id]),
                    "components": template._build_send_components(values[record.id])
                    if number or bsuid
                    else [],
                    "cache_key": header and header["cache_key"],
                }
            )
        attachments = self._whatsapp_header_attachments(template, files, prepared)
        # -- chatter messages, in one batch --------------------------------------------------------
        author_id, email_from = self._message_compute_author(raise_on_email=False)
        mail_messages = self._whatsapp_log(prepared, attachments, author_id, email_from)
        # -- whatsapp messages ---------------------------------------------------------------------
        blacklisted = self.env["whatsapp.message"]._blacklisted_among([p["number"] for p in prepared])
        opted_out_users = self.env["res.partner"]._whatsapp_opted_out_bsuids([p["bsuid"] for p in prepared])
        vals_list = []
        for item, mail_message in zip(prepared, mail_messages, strict=True):
            vals = {
                "account_id": account.id,
                "template_id": template.id,
                "number": item["number"],
                "bsuid": item["bsuid"],
                "body": item["body"],
                "model": self._name,
                "res_id": item["record"].id,
                "mail_message_id": mail_message.id,
                "header_type": template.header_type if item["cache_key"] else False,
                "header_cache_key": item["cache_key"],
                "header_attachment_id": attachments.get(item["cache_key"], self.env["ir.attachment"]).id,
                "payload": message_payloads.template(
                    template.template_name, template.lang_code, item["components"]
                ),
            }
            if not item["number"] and not item["bsuid"]:
                reason = self._whatsapp_number_problem(template, item["record"], item["raw"], numbers)
                vals.update(self.env["whatsapp.message"]._outcome_failed("phone_invalid", reason))
            elif item["bsuid"] in opted_out_users:
                reason = self.env._("The WhatsApp user %(user)s opted out.", user=item["bsuid"])
                vals.update(self.env["whatsapp.message"]._outcome_failed("blacklisted", reason))
            elif item["number"] in blacklisted:
                reason = self.env._("The number %(number)s opted out (blacklisted).", number=item["number"])
                vals.update(self.env["whatsapp.message"]._outcome_failed("blacklisted", reason))
            vals_list.append(vals)
        # sudo: senders create messages and notifications through this API only (access checked above
        # by reading the records and rendering the template with the sender's rights)
        messages = self.env["whatsapp.message"].sudo().create(vals_list)
        self._whatsapp_notifications(messages, author_id)
        queued = messages.filtered(lambda m: m.state == "queued")
        if queued and queue is False:
            queued.send()
        elif queued and queue is None:
            self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        return messages.with_env(self.env)

    def _whatsapp_recipient_bsuid(self, template):
        """The WhatsApp user id of this record's customer when it has no number (a customer known by a WhatsApp
        username): the partner the template's phone field is read on, else the record itself when it is a
        partner, else its first customer (``_mail_get_partners``).

        :return: the user id, or False
        """
        self.ensure_one()
        Partner = self.env["res.partner"]
        partner = self if self._name == "res.partner" else Partner
        path = (template.phone_field or "").rpartition(".")[0]
        if not partner and path:
            try:
                value = self.mapped(path)
            except (KeyError, AttributeError):
                value = Partner
            partner = value[:1] if getattr(value, "_name", None) == "res.partner" else Partner
        if not partner:
            partner = self._mail_get_partners().get(self.id, Partner)[:1]
        return partner.whatsapp_bsuid or False

    def _whatsapp_number_problem(self, template, record, raw, numbers=None):
        """What is wrong with the number of ``record`` and where to fix it, for a person to read."""
        number_field = (
            self.env.context.get("whatsapp_number_field") if (numbers or {}).get(record.id) else None
        )
        holder, label = template._get_recipient_field_info(record, number_field)
        if not raw:
            return self.env._(
                "%(holder)s has no number in “%(field)s”: add one on %(holder)s, then retry.",
                holder=holder.display_name,
                field=label,
            )
        return self.env._(
            "“%(number)s” (%(field)s of %(holder)s) is not a valid phone number: correct it, then retry.",
            number=raw,
            field=label,
            holder=holder.display_name,
        )

    def _whatsapp_send_composed(
        self, template, free_text=None, queue=None, number_field=None, header=None, numbers=None
    ):
        """Send what a composer composed (:meth:`_whatsapp_send_template`, used by the composer for one record
        and by its bulk sends for a selection).

        :param str number_field: field of the records holding the number, instead of the template's
        :param header: an ``ir.attachment`` replacing the template's header file
        :param dict numbers: ``{record id: number}`` typed by the sender (wins over ``number_field``)
        """
        context = {"whatsapp_header_attachment_id": header.id} if header else {}
        if number_field:
            context["whatsapp_number_field"] = number_field
        return self.with_context(**context)._whatsapp_send_template(
            template.with_context(**context),
            free_text=free_text,
            queue=queue,
            numbers=numbers or self._whatsapp_numbers_from(number_field),
        )

    def _whatsapp_numbers_from(self, field_name):
        """``{record id: number}`` read from ``field_name``, or None (not a field of these records: the
        template's phone field applies)."""
        if not field_name or field_name not in self._fields:
            return None
        return {record.id: record[field_name] for record in self if record[field_name]}

    def _whatsapp_header_attachments(self, template, files, prepared):
        """One attachment per distinct header file: on the record for per-record files (reports), on
        the template for a file shared by every recipient (a static image)."""
        if not files:
            return {}
        users = {}
        for item in prepared:
            if item["cache_key"]:
                users.setdefault(item["cache_key"], []).append(item["record"])
        vals_list = []
        for key, header in files.items():
            records = users[key]
            owner = (records[0]._name, records[0].id) if len(records) == 1 else (template._name, template.id)
            vals_list.append(
                {
                    "name": header.get("filename") or "header",
                    "raw": header["data"],
                    "mimetype": header["mimetype"],
                    "res_model": owner[0],
                    "res_id": owner[1],
                }
            )
        # sudo: header files are generated by the template; their owner record is readable by the sender
        created = self.env["ir.attachment"].sudo().create(vals_list)
        return dict(zip(files, created, strict=True))

    def _whatsapp_log(self, prepared, attachments, author_id, email_from):
        """Create the chatter messages of a send in one batch (like ``_message_log_batch``, with files)."""
        base = {
            "author_id": author_id,
            "email_from": email_from,
            "model": self._name,
            "message_type": "whatsapp_message",
            "is_internal": True,
            "subtype_id": self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note"),
            "email_add_signature": False,
            "record_alias_domain_id": False,
            "record_company_id": False,
            "record_name": False,
            "reply_to": self.env["mail.thread"]._notify_get_reply_to(default=email_from)[False],
        }
        values_list = [
            dict(
                base,
                res_id=item["record"].id,
                body=whatsapp_text_html(item["body"]),
                attachment_ids=[(4, attachments[item["cache_key"]].id)] if item["cache_key"] else False,
            )
            for item in prepared
        ]
        return self.sudo()._message_create(values_list)  # sudo: as _message_log_batch, rights checked above

    def _whatsapp_notifications(self, messages, author_id):
        """The chatter status icon of each message (``mail.notification`` of type ``whatsapp``)."""
        status = self.env["whatsapp.message"].NOTIFICATION_STATUS
        # sudo: technical notification rows of messages created above
        self.env["mail.notification"].sudo().create(
            [
                {
                    "author_id": author_id,
                    "mail_message_id": message.mail_message_id.id,
                    "notification_type": "whatsapp",
                    "whatsapp_message_id": message.id,
                    "is_read": True,
                    "notification_status": status.get(message.state, "ready"),
                    "failure_type": "unknown" if message.state in ("failed", "bounced") else False,
                    "failure_reason": message.failure_reason
                    if message.state in ("failed", "bounced")
                    else False,
                }
                for message in messages
                if message.mail_message_id
            ]
        )
