import logging

from markupsafe import Markup
from odoo import api, fields, models
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError

_logger = logging.getLogger(__name__)

#: errors of a send that concern one registration (data, template, rights): reported, never raised
EXPECTED_ERRORS = (UserError, ValidationError, AccessError, MissingError)


class EventMailScheduler(models.Model):
    """WhatsApp as a communication type of event schedulers, next to e-mail (``event``) and SMS
    (``event_sms``): the ``whatsapp`` notification type sends an approved ``whatsapp.template`` of
    ``event.registration`` through the thread API ``_whatsapp_send_template``.

    A failing send never blocks a registration nor the other attendees: each failure is kept on the
    scheduler (``whatsapp_failed_registration_ids``, ``whatsapp_error``), left out of ``mail_count_done`` and
    noted once on the event's chatter.
    """

    _inherit = "event.mail"

    notification_type = fields.Selection(selection_add=[("whatsapp", "WhatsApp")])
    template_ref = fields.Reference(
        ondelete={"whatsapp.template": "cascade"}, selection_add=[("whatsapp.template", "WhatsApp")]
    )
    whatsapp_failed_registration_ids = fields.Many2many(
        "event.registration",
        "event_mail_whatsapp_failed_rel",
        "scheduler_id",
        "registration_id",
        string="WhatsApp Failures",
        readonly=True,
        copy=False,
        help="Attendees the WhatsApp message could not be sent to (see the error and their chatter).",
    )
    whatsapp_error = fields.Text("WhatsApp Error", readonly=True, copy=False)
    whatsapp_message_failed_count = fields.Integer(
        "WhatsApp Failed",
        compute="_compute_whatsapp_message_failed_count",
        help="Messages of this communication that failed after being queued (refused by Meta, undeliverable...).",
    )

    def _compute_notification_type(self):
        result = super()._compute_notification_type()
        self.filtered(
            lambda scheduler: scheduler.template_ref and scheduler.template_ref._name == "whatsapp.template"
        ).notification_type = "whatsapp"
        return result

    def _compute_whatsapp_message_failed_count(self):
        for scheduler in self:
            domain = scheduler._whatsapp_failed_messages_domain()
            # sudo: a count for event users, who may not read WhatsApp messages themselves
            scheduler.whatsapp_message_failed_count = (
                self.env["whatsapp.message"].sudo().search_count(domain) if domain else 0
            )

    def _whatsapp_failed_messages_domain(self):
        self.ensure_one()
        if self.notification_type != "whatsapp" or not self.template_ref or not self.event_id:
            return []
        return [
            ("model", "=", "event.registration"),
            ("res_id", "in", self.event_id.registration_ids.ids),
            ("template_id", "=", self.template_ref.id),
            ("state", "in", ("failed", "bounced")),
        ]

    def action_open_whatsapp_failures(self):
        """The failed WhatsApp messages of this communication (with Meta's reason)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Failed WhatsApp messages"),
            "res_model": "whatsapp.message",
            "view_mode": "list,form",
            "domain": self._whatsapp_failed_messages_domain() or [("id", "=", 0)],
        }

    @api.onchange("template_ref")
    def _onchange_template_ref_whatsapp(self):
        template = self.template_ref
        if template and template._name == "whatsapp.template" and template.status != "approved":
            return {
                "warning": {
                    "title": self.env._("Template not approved"),
                    "message": self._whatsapp_status_error(),
                }
            }
        return None

    def _template_model_by_notification_type(self):
        info = super()._template_model_by_notification_type()
        info["whatsapp"] = "whatsapp.template"
        return info

    # ------------------------------------------------------------
    # EXECUTION (hooks of event.mail)
    # ------------------------------------------------------------

    def _filter_template_ref(self):
        """Skip WhatsApp schedulers whose template Meta has not approved (draft, pending, paused...),
        with a warning on the scheduler and the event instead of a failure per attendee."""
        valid = super()._filter_template_ref()
        blocked = valid.filtered(
            lambda scheduler: (
                scheduler.notification_type == "whatsapp" and scheduler.template_ref.status != "approved"
            )
        )
        for scheduler in blocked:
            _logger.warning(
                "Event scheduler %s skipped: WhatsApp template %s is %s",
                scheduler.id,
                scheduler.template_ref.id,
                scheduler.template_ref.status,
            )
            scheduler._whatsapp_report(scheduler._whatsapp_status_error())
        return valid - blocked

    def _execute_event_based_for_registrations(self, registrations):
        if self.notification_type == "whatsapp":
            self._send_whatsapp(registrations)
        return super()._execute_event_based_for_registrations(registrations)

    def _refresh_mail_count_done(self):
        """Attendees whose WhatsApp message failed are not counted as sent."""
        result = super()._refresh_mail_count_done()
        for scheduler in self.filtered(
            lambda s: s.notification_type == "whatsapp" and s.whatsapp_failed_registration_ids
        ):
            failed = scheduler.whatsapp_failed_registration_ids
            if scheduler.interval_type == "after_sub":
                counted = self.env["event.mail.registration"].search_count(
                    [
                        ("scheduler_id", "=", scheduler.id),
                        ("mail_sent", "=", True),
                        ("registration_id", "in", failed.ids),
                    ]
                )
            else:
                last = scheduler.last_registration_id.id or 0
                counted = len(
                    failed.filtered(lambda r, last=last: r.id <= last and r.state not in ("draft", "cancel"))
                )
            scheduler.mail_count_done = max(scheduler.mail_count_done - counted, 0)
        return result

    # ------------------------------------------------------------
    # SENDING
    # ------------------------------------------------------------

    def _send_whatsapp(self, registrations):
        """Send the scheduler's template to ``registrations`` (queued, sent by the WhatsApp queue).

        :return: the registrations for which no message could be created (e.g. the venue has no
            coordinates for a location header); they may be tried again once the cause is fixed.
            Registrations whose message failed at once (invalid number, opt-out) got their failed message
            in their chatter and are not returned, but are reported like the others.
        """
        self.ensure_one()
        template = self.template_ref
        errors = {}
        messages = self.env["whatsapp.message"]
        try:
            with self.env.cr.savepoint():
                messages = registrations._whatsapp_send_template(template)
        except Exception:  # noqa: BLE001 - retried one by one below to isolate the culprits
            for registration in registrations:
                try:
                    with self.env.cr.savepoint():
                        messages |= registration._whatsapp_send_template(template)
                except EXPECTED_ERRORS as error:
                    errors[registration] = str(error.args[0] if error.args else error)
                except Exception as error:  # noqa: BLE001 - a registration must never be blocked
                    _logger.exception(
                        "WhatsApp event scheduler %s: send to registration %s failed",
                        self.id,
                        registration.id,
                    )
                    errors[registration] = str(error)
        unsent = self.env["event.registration"].concat(*errors)
        for message in messages.filtered(lambda m: m.state in ("failed", "bounced")):
            registration = registrations.browse(message.res_id)
            errors[registration] = message.failure_reason or message.failure_type
        failed = self.env["event.registration"].concat(*errors)
        self.whatsapp_failed_registration_ids = (
            self.whatsapp_failed_registration_ids - registrations
        ) | failed
        if errors:
            lines = [
                self.env._("%(attendee)s: %(reason)s", attendee=registration.display_name, reason=reason)
                for registration, reason in errors.items()
            ]
            self._whatsapp_report(
                self.env._(
                    "WhatsApp template “%(template)s” (%(trigger)s): %(count)s attendee(s) could not be sent it.",
                    template=template.name,
                    trigger=self._whatsapp_trigger_label(),
                    count=len(errors),
                ),
                lines,
            )
        elif not self.whatsapp_failed_registration_ids:
            self.whatsapp_error = False
        return unsent

    def _whatsapp_report(self, summary, lines=()):
        """Keep the error on the scheduler and note it on the event, once per distinct error."""
        self.ensure_one()
        error = "\n".join([summary, *lines])
        if error == self.whatsapp_error:
            return
        self.whatsapp_error = error
        body = Markup("<p>%s</p>") % summary
        if lines:
            body += Markup("<ul>%s</ul>") % Markup("").join(Markup("<li>%s</li>") % line for line in lines)
        self.event_id.message_post(body=body, subtype_xmlid="mail.mt_note")

    def _whatsapp_status_error(self):
        template = self.template_ref
        status = dict(template._fields["status"]._description_selection(self.env)).get(template.status)
        return self.env._(
            "The WhatsApp template “%(template)s” is %(status)s: Meta only sends approved templates. Submit it "
            "from WhatsApp > Templates and wait for Meta's approval; nothing is sent meanwhile.",
            template=template.name,
            status=status,
        )

    def _whatsapp_trigger_label(self):
        return dict(self._fields["interval_type"]._description_selection(self.env)).get(self.interval_type)
