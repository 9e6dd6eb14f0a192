from datetime import timedelta

from odoo.tests import tagged, users

from .common import WhatsAppEventCase, frozen_now

PHONES = ["+32470000011", "+32470000022", "+32470000033"]


@tagged("post_install", "-at_install", "whatsapp", "whatsapp_event")
class TestWhatsAppSchedule(WhatsAppEventCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.event = cls._create_event(
            [
                cls._scheduler_vals(cls.template_ticket, "after_sub"),
                cls._scheduler_vals(cls.template_reminder, "before_event", 1, "days"),
                cls._scheduler_vals(cls.template_reminder, "after_event", 2, "hours"),
            ]
        )
        cls.sched_sub, cls.sched_before, cls.sched_after = cls.event.event_mail_ids.sorted("id")

    def test_notification_type(self):
        self.assertEqual(self.event.event_mail_ids.mapped("notification_type"), ["whatsapp"] * 3)
        # an e-mail scheduler next to them is left alone
        mail = self.env["event.mail"].create(
            {
                "event_id": self.event.id,
                "interval_type": "before_event",
                "interval_unit": "days",
                "template_ref": f"mail.template,{self.env.ref('event.event_reminder').id}",
            }
        )
        self.assertEqual(mail.notification_type, "mail")
        self.assertEqual(mail.whatsapp_message_failed_count, 0)
        self.assertEqual(mail.action_open_whatsapp_failures()["domain"], [("id", "=", 0)])
        self.assertEqual(self.sched_before.scheduled_date, self.event_date_begin - timedelta(days=1))
        self.assertEqual(self.sched_after.scheduled_date, self.event_date_end + timedelta(hours=2))

    @users("event_wa")
    def test_after_sub_ticket(self):
        """After each registration: the ticket (PDF of the attendee) is queued at once, per registration."""
        event = self.event.with_user(self.env.user)
        with frozen_now(self.env, self.reference_now):
            registrations = self._register(event, PHONES)
        scheduler = self.sched_sub.with_user(self.env.user)
        self.assertEqual(len(scheduler.mail_registration_ids), 3)
        self.assertTrue(all(scheduler.mail_registration_ids.mapped("mail_sent")))
        self.assertEqual(scheduler.mail_count_done, 3)
        messages = self._messages(registrations)
        self.assertEqual(messages.mapped("number"), PHONES)
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        for message, registration in zip(messages, registrations, strict=True):
            self.assertEqual(message.template_id, self.template_ticket)
            self.assertEqual(message.header_type, "document")
            # one ticket per attendee, rendered from the attendee's own registration
            self.assertEqual(message.header_attachment_id.res_model, "event.registration")
            self.assertEqual(message.header_attachment_id.res_id, registration.id)
            self.assertIn(registration.name, message.body)
            # chatter of the registration
            self.assertEqual(message.mail_message_id.model, "event.registration")
            self.assertEqual(message.mail_message_id.res_id, registration.id)
        self.assertFalse(scheduler.whatsapp_error)
        # the other schedulers did not run
        self.assertFalse(self.sched_before.mail_done)

    def test_before_event_reminder(self):
        """Before the event: nothing before the scheduled date; then one reminder per attendee with the
        venue as location header and the start in the event's timezone."""
        with frozen_now(self.env, self.reference_now):
            registrations = self._register(self.event, PHONES[:2])
        self._messages(registrations).unlink()  # the tickets
        with frozen_now(self.env, self.event_date_begin - timedelta(days=2)):
            self.env["event.mail"].sudo().schedule_communications()
        self.assertFalse(self._messages(registrations))
        self.assertFalse(self.sched_before.mail_done)
        with frozen_now(self.env, self.event_date_begin - timedelta(days=1)):
            self.env["event.mail"].sudo().schedule_communications()
        messages = self._messages(registrations)
        self.assertEqual(len(messages), 2)
        self.assertEqual(messages.template_id, self.template_reminder)
        self.assertTrue(self.sched_before.mail_done)
        self.assertEqual(self.sched_before.mail_count_done, 2)
        components = messages[0].payload["template"]["components"]
        header = next(c for c in components if c["type"] == "header")
        self.assertEqual(
            header["parameters"][0]["location"],
            {
                "latitude": 50.8467,
                "longitude": 4.3525,
                "name": "Hall 7",
                "address": self.event.address_inline,
            },
        )
        body = [p["text"] for p in next(c for c in components if c["type"] == "body")["parameters"]]
        self.assertEqual(body[0], registrations[0].name)
        self.assertIn("9:00", body[2], "08:00 UTC is 09:00 in Brussels, the event's timezone")
        self.assertEqual(body[3], "Europe/Brussels")
        self.assertTrue(body[4].startswith("http"))
        # the after-event scheduler is still waiting
        self.assertFalse(self.sched_after.mail_done)
        # the queue sends them; Meta refuses one (undeliverable): reported on the scheduler
        self.assertEqual(self.sched_before.whatsapp_message_failed_count, 0)
        with self.mock_wa_send(errors={PHONES[1].lstrip("+"): self.meta_error(131026)}):
            messages.send()
        self.assertWASent(PHONES[:1], "event_reminder")
        self.assertWAMessage(messages[0], "sent")
        self.assertWAMessage(messages[1], "bounced", failure_type="recipient")
        self.sched_before.invalidate_recordset(["whatsapp_message_failed_count"])
        self.assertEqual(self.sched_before.whatsapp_message_failed_count, 1)
        action = self.sched_before.action_open_whatsapp_failures()
        self.assertEqual(self.env["whatsapp.message"].search(action["domain"]), messages[1])

    def test_after_event(self):
        with frozen_now(self.env, self.reference_now):
            registrations = self._register(self.event, PHONES[:1])
        self._messages(registrations).unlink()
        with frozen_now(self.env, self.event_date_end + timedelta(hours=1)):
            self.env["event.mail"].sudo().schedule_communications()
        self.assertFalse(self.sched_after.mail_done)
        with frozen_now(self.env, self.event_date_end + timedelta(hours=2)):
            self.env["event.mail"].sudo().schedule_communications()
        self.assertTrue(self.sched_after.mail_done)
        self.assertEqual(len(self._messages(registrations)), 1)
        self.assertEqual(self.sched_after.mail_count_done, 1)

    def test_failure_never_blocks_registration(self):
        """A send that cannot be prepared (venue without coordinates for the location header) does not block
        the registration; it is reported on the scheduler and the event, not counted, and tried again by the
        next run once the venue is fixed."""
        self.venue.write({"partner_latitude": 0.0, "partner_longitude": 0.0})
        event = self._create_event([self._scheduler_vals(self.template_reminder, "after_sub")], name="No map")
        scheduler = event.event_mail_ids
        with frozen_now(self.env, self.reference_now):
            registrations = self._register(event, PHONES[:2])
        self.assertEqual(registrations.mapped("state"), ["open", "open"])
        self.assertFalse(self._messages(registrations))
        self.assertEqual(scheduler.whatsapp_failed_registration_ids, registrations)
        self.assertIn("latitude", scheduler.whatsapp_error)
        self.assertEqual(scheduler.mail_count_done, 0)
        self.assertFalse(any(scheduler.mail_registration_ids.mapped("mail_sent")))
        notes = event.message_ids.filtered(lambda m: "could not be sent" in (m.body or ""))
        self.assertEqual(len(notes), 1)
        # same error on the next run: no second note
        with frozen_now(self.env, self.reference_now + timedelta(hours=1)):
            scheduler.sudo().execute()
        self.assertEqual(len(event.message_ids.filtered(lambda m: "could not be sent" in (m.body or ""))), 1)
        # venue fixed: the next run sends and clears the report
        self.venue.write({"partner_latitude": 50.85, "partner_longitude": 4.35})
        with frozen_now(self.env, self.reference_now + timedelta(hours=2)):
            scheduler.sudo().execute()
        self.assertEqual(len(self._messages(registrations)), 2)
        self.assertFalse(scheduler.whatsapp_failed_registration_ids)
        self.assertFalse(scheduler.whatsapp_error)
        self.assertEqual(scheduler.mail_count_done, 2)

    def test_failure_invalid_number(self):
        """An attendee with an invalid number gets a failed message; the others are sent; the scheduler
        reports it and does not count it."""
        with frozen_now(self.env, self.reference_now):
            registrations = self._register(self.event, [PHONES[0], "12"])
        messages = self._messages(registrations)
        self.assertEqual(
            messages.mapped("state"),
            ["queued", "bounced"] if messages[1].state == "bounced" else ["queued", "failed"],
        )
        self.assertEqual(self.sched_sub.whatsapp_failed_registration_ids, registrations[1])
        self.assertEqual(self.sched_sub.mail_count_done, 1)
        self.assertIn(registrations[1].name, self.sched_sub.whatsapp_error)
        # the failed message is final (no new message at the next run)
        with frozen_now(self.env, self.reference_now + timedelta(hours=1)):
            self.sched_sub.sudo().execute()
        self.assertEqual(len(self._messages(registrations)), 2)

    def test_failure_event_based(self):
        """Event-based reminders: the attendee that fails is reported and left out of the count."""
        with frozen_now(self.env, self.reference_now):
            registrations = self._register(self.event, [PHONES[0], "12", PHONES[2]])
        self._messages(registrations).unlink()
        with frozen_now(self.env, self.event_date_begin - timedelta(days=1)):
            self.sched_before.sudo().execute()
        self.assertEqual(len(self._messages(registrations)), 3)
        self.assertEqual(self.sched_before.whatsapp_failed_registration_ids, registrations[1])
        self.assertEqual(self.sched_before.mail_count_done, 2)
        self.assertTrue(self.sched_before.mail_done)

    def test_draft_template(self):
        """A template that is not approved: nothing is sent, one clear warning on the scheduler and the
        event (not one per run), and the registration goes on."""
        draft = self.template_ticket.sudo().copy({"name": "Ticket v2", "template_name": "event_ticket_v2"})
        self.assertEqual(draft.status, "draft")
        event = self._create_event([self._scheduler_vals(draft, "after_sub")], name="Draft")
        scheduler = event.event_mail_ids
        onchange = scheduler._onchange_template_ref_whatsapp()
        self.assertIn("approved", onchange["warning"]["message"])
        with frozen_now(self.env, self.reference_now):
            registrations = self._register(event, PHONES[:1])
        self.assertEqual(registrations.state, "open")
        self.assertFalse(self._messages(registrations))
        self.assertIn("Ticket v2", scheduler.whatsapp_error)
        self.assertIn("Draft", scheduler.whatsapp_error)
        scheduler.sudo().execute()
        warnings = event.message_ids.filtered(lambda m: "Ticket v2" in (m.body or ""))
        self.assertEqual(len(warnings), 1)
        self.assertEqual(scheduler.mail_count_done, 0)

    def test_deleted_template(self):
        template = self.template_reminder.sudo().copy(
            {"name": "Reminder v2", "template_name": "event_reminder_v2"}
        )
        event = self._create_event([self._scheduler_vals(template, "before_event")], name="Deleted")
        event_type = self.env["event.type"].create(
            {"name": "Type", "event_type_mail_ids": [(0, 0, self._scheduler_vals(template, "before_event"))]}
        )
        template.unlink()
        self.assertFalse(event.event_mail_ids)
        self.assertFalse(event_type.event_type_mail_ids)
        self.assertTrue(
            event.message_ids.filtered(lambda m: "Reminder v2" in (m.body or "") and "deleted" in m.body)
        )

    def test_event_type_copy(self):
        """Schedulers of an event type (WhatsApp ones included) are copied on the events of the type."""
        event_type = self.env["event.type"].create(
            {
                "name": "Conference",
                "event_type_mail_ids": [
                    (5, 0),
                    (0, 0, self._scheduler_vals(self.template_ticket, "after_sub")),
                    (0, 0, self._scheduler_vals(self.template_reminder, "before_event", 3, "hours")),
                ],
            }
        )
        self.assertEqual(event_type.event_type_mail_ids.mapped("notification_type"), ["whatsapp", "whatsapp"])
        event = self._create_event(None, event_type_id=event_type.id, name="Typed")
        mails = event.event_mail_ids.sorted("interval_type")
        self.assertEqual(mails.mapped("notification_type"), ["whatsapp", "whatsapp"])
        self.assertEqual(mails.mapped("template_ref"), [self.template_ticket, self.template_reminder])
        self.assertEqual(mails.mapped("interval_type"), ["after_sub", "before_event"])

    def test_template_field_filter(self):
        """The template field of schedulers only proposes registration templates."""
        other = self.env["whatsapp.template"].create(
            {"name": "Partner news", "body": "Hello, news from us.", "account_id": self.account.id}
        )
        found = self.env["whatsapp.template"].with_context(filter_template_on_event=True).search([])
        self.assertIn(self.template_ticket, found)
        self.assertNotIn(other, found)


@tagged("post_install", "-at_install", "whatsapp", "whatsapp_event")
class TestWhatsAppScheduleSandbox(WhatsAppEventCase):
    """The reminder goes over the wire to the Meta sandbox, valid against Meta's spec."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_sandbox()

    def test_reminder_to_sandbox(self):
        # the sandbox knows the template once submitted and approved by its reviewer
        template = self.template_reminder.sudo()
        template.with_context(whatsapp_template_sync=True).write({"status": "draft", "meta_uid": False})
        template.button_submit_template()
        self.sandbox.template_decision(template.meta_uid, "APPROVED")
        template.with_context(whatsapp_template_sync=True).write({"status": "approved"})
        event = self._create_event([self._scheduler_vals(template, "before_event")], name="Sandbox")
        with frozen_now(self.env, self.reference_now):
            registrations = self._register(event, PHONES[:1])
        with frozen_now(self.env, self.event_date_begin - timedelta(days=1)):
            event.event_mail_ids.sudo().execute()
        message = self._messages(registrations)
        message.send()
        self.assertEqual(message.state, "sent", message.failure_reason)
        sent = self.sandbox.sent_messages[-1]
        body = sent.get("body", sent) if isinstance(sent, dict) else sent
        self.assertIn("event_reminder", str(body))
        self.assertIn("50.8467", str(body))
