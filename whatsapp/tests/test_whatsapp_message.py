import contextlib
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time
from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged, users
from psycopg2 import errors as pg_errors

from ..models import whatsapp_message as whatsapp_message_module
from ..tools.graph_errors import WhatsAppApiError
from ..tools.sender import SendResult
from .common_messages import WhatsAppMessageCase


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppMessageQueue(WhatsAppMessageCase):
    def test_run_ends_within_odoo_cron_time_limit(self):
        """A prefork cron worker is killed after limit_time_real_cron (limit_time_real when -1): a queue run
        hands over before, or the messages it claimed stay 'sending' until their lease."""
        budget = whatsapp_message_module.queue_time_budget
        for cron_limit, real_limit, expected in (
            (-1, 120, 30),
            (0, 120, 600),
            (-1, 0, 600),
            (1830, 120, 600),
            (60, 120, 10),
        ):
            options = {"limit_time_real_cron": cron_limit, "limit_time_real": real_limit}
            with patch.dict(whatsapp_message_module.config.options, options):
                self.assertEqual(budget(), expected, options)

    def _send(self, partners=None, **kwargs):
        return (
            (partners or self.partners)
            .with_user(self.env.user)
            ._whatsapp_send_template(self.template.with_user(self.env.user), **kwargs)
        )

    @users("wa_user")
    def test_send_template_queue_states(self):
        """Queued, then sent with Meta's wamid; invalid and blacklisted numbers fail without any call."""
        partners = self.partners.with_user(self.env.user)
        self.env["phone.blacklist"].sudo().add("+33612345601")
        partners[2].sudo().mobile = "12"
        with self.mock_wa_send():
            messages = self._send(partners, queue=True)
            self.assertEqual(self.wa_sent, [], "queue=True only queues")
        self.assertWAMessage(messages[0], "queued", False, number="+33612345600")
        self.assertWAMessage(messages[1], "failed", "blacklisted")
        self.assertWAMessage(messages[2], "failed", "phone_invalid")
        # chatter: one WhatsApp message per record with the rendered body and a status icon
        chatter = messages[0].sudo().mail_message_id
        self.assertEqual(chatter.message_type, "whatsapp_message")
        self.assertEqual((chatter.model, chatter.res_id), ("res.partner", partners[0].id))
        self.assertIn("your order is ready", chatter.body)
        notif = self.env["mail.notification"].sudo().search([("whatsapp_message_id", "=", messages[0].id)])
        self.assertEqual((notif.notification_type, notif.notification_status), ("whatsapp", "ready"))
        with self.mock_wa_send():
            self.env["whatsapp.message"].sudo()._process_queue()
        self.assertWAMessage(messages[0], "sent", False, fields_values={"attempts": 1})
        self.assertTrue(messages[0].sudo().wamid.startswith("wamid.TEST"))
        self.assertWASent(["+33612345600"], template_name=self.template.template_name)
        payload = self.wa_sent[0]
        self.assertEqual(payload["biz_opaque_callback_data"], messages[0].sudo().uuid)
        self.assertEqual(payload["type"], "template")
        self.assertEqual(notif.notification_status, "pending")
        self.assertWAMessage(messages[1], "failed", "blacklisted")

    def test_housekeeping_conflict_does_not_stop_the_send(self):
        """Applying the parked statuses meets the applier's or a send's update of the same messages: the run
        leaves them to the next one and sends (it failed whole, and a campaign waited for the next trigger)."""
        message = self._send(self.partners[0], queue=True)
        Pending = type(self.env["whatsapp.status.pending"])
        real = Pending._apply_pending

        def conflicting(records, messages=None, **kwargs):
            if messages is not None:  # the statuses parked for the messages just sent: not the housekeeping
                return real(records, messages, **kwargs)
            raise pg_errors.SerializationFailure("could not serialize access due to concurrent update")

        with self.mock_wa_send(), patch.object(Pending, "_apply_pending", conflicting):
            self.env["whatsapp.message"].sudo()._process_queue()
        self.assertWAMessage(message, "sent")

    def test_send_now_and_buttons(self):
        with self.mock_wa_send():
            message = self._send(self.partners[0], queue=False)
        self.assertWAMessage(message, "sent")
        with self.assertRaises(UserError):
            message.action_retry()
        with self.assertRaises(UserError):
            message.action_cancel()
        queued = self._send(self.partners[1], queue=True)
        queued.action_cancel()
        self.assertWAMessage(queued, "cancelled")
        queued.action_retry()
        self.assertWAMessage(queued, "queued", False, fields_values={"attempts": 0})

    def test_rate_limit_bounds(self):
        self.assertEqual(self.account.rate_limit, 80)
        for value in (0, 1001):
            with self.subTest(value=value), self.assertRaises(ValidationError):
                self.account.sudo().rate_limit = value
        self.account.sudo().rate_limit = 1000

    def test_permanent_errors(self):
        """Permanent Meta errors fail at once, with Meta's code and text; no retry."""
        cases = [
            (131026, "bounced", "recipient"),
            (131047, "failed", "window"),
            (132000, "failed", "template"),
            (132001, "failed", "template"),
            (100, "failed", "param"),
        ]
        for code, state, failure_type in cases:
            with self.subTest(code=code):
                error = self.meta_error(code, message=f"Meta says {code}")
                with self.mock_wa_send(errors={"*": error}):
                    message = self._send(self.partners[0], queue=False)
                    self.env["whatsapp.message"]._process_queue()
                self.assertWAMessage(
                    message, state, failure_type, fields_values={"error_code": code, "attempts": 1}
                )
                self.assertIn(f"Meta says {code}", message.failure_reason)
                self.assertIn(str(code), message.failure_reason)

    def test_retry_backoff_then_sent(self):
        """5xx and 429 are retried with backoff, without user action, and sent once."""
        errors = [self.meta_error(131000, http_status=500), self.meta_error(130429, http_status=429)]
        now = fields.Datetime.now()
        with self.mock_wa_send(errors={"*": errors}):
            with freeze_time(now):
                message = self._send(self.partners[0], queue=False)
                self.assertWAMessage(message, "queued", "server", fields_values={"attempts": 1})
                self.assertGreater(message.next_attempt, now)
                self.env["whatsapp.message"]._process_queue()
                self.assertEqual(message.attempts, 1, "not due yet: not claimed")
            for minutes in (1, 2):
                with freeze_time(now + timedelta(minutes=minutes)):
                    self.env["whatsapp.message"]._process_queue()
        self.assertWAMessage(message, "sent", False, fields_values={"attempts": 3, "error_code": 0})
        self.assertWASent(["+33612345600"], count=1)

    def test_retry_pair_rate_limit_waits_six_seconds(self):
        """131056 (pair rate limit): the first retry waits at least the 6 s Meta asks, not the 2 s backoff."""
        now = fields.Datetime.now()
        with freeze_time(now), self.mock_wa_send(errors={"*": [self.meta_error(131056)]}):
            message = self._send(self.partners[0], queue=False)
        self.assertWAMessage(
            message, "queued", "throttled", fields_values={"attempts": 1, "error_code": 131056}
        )
        self.assertGreaterEqual(message.next_attempt, now + timedelta(seconds=6))
        with freeze_time(now + timedelta(seconds=5)), self.mock_wa_send():
            self.env["whatsapp.message"]._process_queue()
            self.assertEqual(message.attempts, 1, "5 s later: not due yet")
        with freeze_time(now + timedelta(seconds=8)), self.mock_wa_send():
            self.env["whatsapp.message"]._process_queue()
        self.assertWAMessage(message, "sent", False, fields_values={"attempts": 2})

    def test_retry_bounded(self):
        now = fields.Datetime.now()
        error = self.meta_error(2, http_status=503, message="Service temporarily unavailable")
        with freeze_time(now), self.mock_wa_send(errors={"*": error}):
            message = self._send(self.partners[0], queue=False)
        for hours in range(1, 6):
            with freeze_time(now + timedelta(hours=hours)), self.mock_wa_send(errors={"*": error}):
                self.env["whatsapp.message"]._process_queue()
        self.assertWAMessage(message, "failed", "server", fields_values={"attempts": 5, "error_code": 2})
        self.assertIn("Service temporarily unavailable", message.failure_reason)

    def test_account_paused_and_resumed(self):
        """190 pauses the account's queue (messages stay queued, admins told); Test Connection resumes."""
        expired = self.meta_error(190, subcode=463, http_status=401, message="Session has expired")
        with self.mock_wa_send(errors={"*": expired}) as calls:
            messages = self._send(queue=True)
            self.env["whatsapp.message"]._process_queue()
            self.assertEqual(len(calls), 1, "the first account error stops the batch")
        account = self.account.sudo()
        self.assertTrue(account.queue_paused)
        self.assertIn("Session has expired", account.queue_pause_reason)
        for message in messages:
            self.assertWAMessage(message, "queued", fields_values={"attempts": 0})
        alert = account.message_ids[:1]
        self.assertIn("paused", alert.body)
        self.assertIn(self.user_wa_admin.partner_id, alert.partner_ids)
        with self.mock_wa_send() as calls:
            self.env["whatsapp.message"]._process_queue()
            self.assertEqual(calls, [], "a paused account sends nothing")
        phone = {"id": account.phone_uid, "display_phone_number": "+1 555", "verified_name": "Co"}
        responses = {
            ("GET", account.phone_uid): phone,
            ("GET", f"{account.account_uid}/phone_numbers"): {"data": [phone]},
        }
        with self.mock_wa_send(responses=responses):
            account.with_user(self.user_wa_admin).button_test_connection()
            self.assertFalse(account.queue_paused)
            self.env["whatsapp.message"]._process_queue()
        for message in messages:
            self.assertWAMessage(message, "sent", fields_values={"attempts": 1})
        self.assertWASent(self.partners.mapped(lambda p: p._phone_format(number=p.mobile)))


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppMessageNoDuplicate(WhatsAppMessageCase):
    """Between Meta's answer and our commit a worker may die: the message must not be sent again."""

    def _crash_after_call(self, partner):
        """Claim and call Meta, then lose the results (the worker died before writing them)."""
        message = partner._whatsapp_send_template(self.template, queue=True)
        with self.mock_wa_send():
            batch = self.env["whatsapp.message"]._claim(self.account)
            jobs, _outcomes = batch._send_prepare()
            results = batch._send_call(jobs)
        self.assertEqual(len(results), 1)
        self.assertWAMessage(message, "sending", fields_values={"attempts": 1})
        return message, self.wa_sent[0], results[0].response["messages"][0]["id"]

    def test_crash_then_status_settles_it(self):
        now = fields.Datetime.now()
        with freeze_time(now):
            message, payload, wamid = self._crash_after_call(self.partners[0])
            # next cron runs: the message is not resent
            with self.mock_wa_send() as calls:
                self.env["whatsapp.message"]._process_queue()
                self.assertEqual(calls, [])
            # Meta's status (with our uuid) arrives: parked, the message is still owned by the send
            self.account._webhook_messages(
                self._whatsapp_status_value(
                    [(wamid, "delivered", payload["biz_opaque_callback_data"], None)]
                ),
                None,
            )
            self.assertWAMessage(message, "sending")
        with freeze_time(now + timedelta(minutes=16)), self.mock_wa_send() as calls:
            self.env["whatsapp.message"]._process_queue()
            self.assertEqual(calls, [])
        self.assertWAMessage(message, "delivered", False, fields_values={"wamid": wamid})

    def test_crash_without_evidence_fails_unknown_outcome(self):
        now = fields.Datetime.now()
        with freeze_time(now):
            message, payload, wamid = self._crash_after_call(self.partners[0])
        for minutes in (16, 40, 61, 90):
            with freeze_time(now + timedelta(minutes=minutes)), self.mock_wa_send() as calls:
                self.env["whatsapp.message"]._process_queue()
                self.assertEqual(calls, [], "never resent blindly")
        self.assertWAMessage(message, "failed", "unknown_outcome")
        # a late status (matched by uuid) still settles it
        self.account._webhook_messages(
            self._whatsapp_status_value([(wamid, "read", payload["biz_opaque_callback_data"], None)]), None
        )
        self.assertWAMessage(message, "read", False, fields_values={"wamid": wamid})

    def test_later_statuses_never_requeue(self):
        """Claimed, then the worker died (before or after its call: nobody knows). Statuses of later sends
        arrive: it is not requeued (after an outage Meta redelivers old statuses late, it may still be
        reported): it fails with an unknown outcome at once, the user decides (Retry)."""
        now = fields.Datetime.now()
        with freeze_time(now):
            message = self.partners[0]._whatsapp_send_template(self.template, queue=True)
            self.env["whatsapp.message"]._claim(self.account)  # ... and the worker dies
        with freeze_time(now + timedelta(minutes=5)), self.mock_wa_send():
            later = self.partners[1]._whatsapp_send_template(self.template, queue=False)
        self.account._webhook_messages(
            self._whatsapp_status_value([(later.wamid, "delivered", None, None)]), None
        )
        self.assertFalse("status_watermark" in self.account._fields, "no per-status write on the account row")
        with freeze_time(now + timedelta(minutes=16)), self.mock_wa_send():
            self.env["whatsapp.message"]._process_queue()
        self.assertWAMessage(message, "failed", "unknown_outcome", fields_values={"attempts": 1})
        self.assertWASent(["+33612345600"], count=0)

    def test_late_redelivered_statuses_after_crash(self):
        """Attack of issue 12: a crash after the call, then an outage: Meta's statuses of that message wait in
        the inbox (unprocessed) while statuses of later sends are applied. No second send: the message waits
        for its own statuses, which settle it."""
        now = fields.Datetime.now()
        with freeze_time(now):
            message, payload, wamid = self._crash_after_call(self.partners[0])
        uuid = payload["biz_opaque_callback_data"]
        own_status = self._whatsapp_status_value([(wamid, "delivered", uuid, None)])
        Event = self.env["whatsapp.webhook.event"].sudo()
        event = Event.browse(Event._store_changes([(self.account.id, "messages", own_status, "2000001", 1)]))
        with freeze_time(now + timedelta(minutes=5)), self.mock_wa_send():
            later = self.partners[1]._whatsapp_send_template(self.template, queue=False)
        self.account._webhook_messages(self._whatsapp_status_value([(later.wamid, "read", None, None)]), None)
        for minutes in (16, 32, 61):
            with freeze_time(now + timedelta(minutes=minutes)), self.mock_wa_send() as calls:
                self.env["whatsapp.message"]._process_queue()
                self.assertEqual(calls, [], "never sent a second time")
            self.assertWAMessage(message, "sending")
        with freeze_time(now + timedelta(minutes=62)):
            event._process()  # the inbox catches up: the status is parked while the message is "sending"
        with freeze_time(now + timedelta(minutes=80)), self.mock_wa_send() as calls:
            self.env["whatsapp.message"]._process_queue()  # the next reconciliation applies it
            self.assertEqual(calls, [])
        self.assertWAMessage(message, "delivered", False, fields_values={"wamid": wamid, "attempts": 1})

    def test_serialization_retry_sends_once(self):
        """Attack of issue 12: Odoo re-runs a request after a serialization failure. The composer's send of
        one record (and send()) never call Meta inside the request: the retry sends nothing, the queue (its
        claim committed first) sends once."""
        composer = (
            self.env["whatsapp.composer"]
            .with_user(self.user_wa)
            .with_context(active_model="res.partner", active_ids=self.partners[0].ids)
        )
        with patch.object(whatsapp_message_module, "in_tests", return_value=False), self.mock_wa_send():
            with contextlib.suppress(pg_errors.SerializationFailure), self.env.cr.savepoint():
                composer.create({"template_id": self.template.id}).action_send_whatsapp()
                raise pg_errors.SerializationFailure(
                    "could not serialize access"
                )  # Odoo rolls back, runs again
            composer.create({"template_id": self.template.id}).action_send_whatsapp()
            self.assertEqual(self.wa_sent, [], "nothing reaches Meta inside the request")
        message = self.env["whatsapp.message"].search([("res_id", "=", self.partners[0].id)])
        self.assertWAMessage(message, "queued")
        with self.mock_wa_send():
            self.env["whatsapp.message"]._process_queue()
        self.assertWASent(["+33612345600"], count=1)

    def test_read_timeout_not_resent(self):
        """A read timeout is ambiguous (Meta may have accepted it): wait for its status, do not resend."""
        timeout = WhatsAppApiError(
            "Meta did not answer in time (ReadTimeout).", category="transient", retryable=True
        )
        now = fields.Datetime.now()
        with freeze_time(now), self.mock_wa_send(errors={"*": [timeout]}):
            message = self.partners[0]._whatsapp_send_template(self.template, queue=False)
        self.assertWAMessage(message, "sending")
        self.account._webhook_messages(
            self._whatsapp_status_value([("wamid.LATE", "sent", message.uuid, None)]), None
        )
        with freeze_time(now + timedelta(minutes=3)), self.mock_wa_send() as calls:
            self.env["whatsapp.message"]._process_queue()
            self.assertEqual(calls, [])
        self.assertWAMessage(message, "sent", fields_values={"wamid": "wamid.LATE"})

    def test_connect_error_retried(self):
        """A connection refused never reached Meta: retried with backoff."""
        refused = WhatsAppApiError(
            "Could not reach Meta (ConnectionError).", category="transient", retryable=True
        )
        refused.__cause__ = ConnectionRefusedError("[Errno 111] Connection refused")
        now = fields.Datetime.now()
        with freeze_time(now), self.mock_wa_send(errors={"*": [refused]}):
            message = self.partners[0]._whatsapp_send_template(self.template, queue=False)
        self.assertWAMessage(message, "queued", "server")
        with freeze_time(now + timedelta(minutes=1)), self.mock_wa_send():
            self.env["whatsapp.message"]._process_queue()
        self.assertWAMessage(message, "sent", fields_values={"attempts": 2})


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppMessageWriteCommitted(WhatsAppMessageCase):
    """The outcomes of calls already made are written on a fresh snapshot, again after a conflict
    (``_send_write_committed``: a runner's writes meet what other runners, the applier or another server
    committed meanwhile)."""

    def _write_committed(self, failures):
        """Write a sent outcome of a claimed message through ``_send_write_committed`` on a committing cursor,
        ``_send_write`` failing with a serialization failure ``failures`` times first; return its calls."""
        message = self.partners[0]._whatsapp_send_template(self.template, queue=True)
        self.env.flush_all()
        Message = type(self.env["whatsapp.message"])
        real, calls = Message._send_write, []

        def conflicting(records, results, outcomes):
            calls.append(records.ids)
            if len(calls) <= failures:
                raise pg_errors.SerializationFailure("could not serialize access due to concurrent update")
            return real(records, results, outcomes)

        # a runner's cursor commits: in test mode it is the test's transaction, its commits savepoints
        self.registry.enter_test_mode(self.cr)
        self.addCleanup(self.registry.leave_test_mode)
        with (
            self.registry.cursor() as cr,
            patch.object(Message, "_send_write", conflicting),
            patch.object(whatsapp_message_module.random, "uniform", return_value=0.0),  # no back-off wait
        ):
            env = api.Environment(cr, SUPERUSER_ID, {})
            batch = env["whatsapp.message"]._claim(env["whatsapp.account"].browse(self.account.id))
            self.assertEqual(batch.ids, message.ids)
            result = SendResult(message.id, response={"messages": [{"id": "wamid.COMMITTED"}]})
            try:
                batch._send_write_committed([result], {})
            finally:
                self.env.invalidate_all()
        return message, calls

    def test_written_again_after_a_conflict(self):
        message, calls = self._write_committed(failures=2)
        self.assertEqual(len(calls), 3, "written again after each conflict")
        self.assertRecordValues(message, [{"state": "sent", "wamid": "wamid.COMMITTED"}])

    def test_last_conflict_raised(self):
        """After ``WRITE_TRIES`` conflicts the error is raised (logged by the runner; the message keeps its
        ``sending`` lease and is reconciled), never written half."""
        with self.assertRaises(pg_errors.SerializationFailure):
            self._write_committed(failures=whatsapp_message_module.WRITE_TRIES)


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppMessageFailedForm(WhatsAppMessageCase):
    """What a failed message says: its record, its person, the real reason; Retry only when it may succeed."""

    def test_failed_message_says_what_and_where(self):
        partner = self.partners[0]
        partner.mobile = False
        message = partner._whatsapp_send_template(self.template, queue=True)
        self.assertWAMessage(message, "failed", "phone_invalid")
        self.assertEqual(message.display_name, "Order Ready → Customer 0")
        self.assertEqual((message.res_model_description, message.record_name), ("Contact", "Customer 0"))
        self.assertEqual(
            message.failure_reason, "Customer 0 has no number in “Mobile”: add one on Customer 0, then retry."
        )
        action = message.action_open_record()
        self.assertEqual((action["res_model"], action["res_id"]), ("res.partner", partner.id))
        # nothing changed: Retry says what to fix and queues nothing
        with self.assertRaisesRegex(UserError, "Customer 0 has no number in “Mobile”"):
            message.action_retry()
        self.assertEqual(message.state, "failed")
        partner.mobile = "12"
        with self.assertRaisesRegex(UserError, "“12” \\(Mobile of Customer 0\\) is not a valid phone number"):
            message.action_retry()
        # the number was fixed on the contact: Retry takes it
        partner.mobile = "+33 6 12 34 56 99"
        message.action_retry()
        self.assertWAMessage(message, "queued", False, number="+33612345699")
        self.assertEqual(message.display_name, "Order Ready → Customer 0 (+33612345699)")
        with self.mock_wa_send():
            message.send()
        self.assertWASent(["+33612345699"], template_name=self.template.template_name)

    def test_display_name_names_the_person(self):
        """Sent from a record whose number is its contact's, the message is named after the contact."""
        company = self.env["res.partner"].create({"name": "Azure Interior", "mobile": "+32 470 12 34 56"})
        employee = self.env["res.partner"].create({"name": "Brandon Freeman", "parent_id": company.id})
        template = self.template
        template.sudo().phone_field = "parent_id.mobile"
        message = employee._whatsapp_send_template(template, queue=True)
        self.assertEqual(message.display_name, "Order Ready → Azure Interior (+32470123456)")
        self.assertEqual(
            (message.record_name, message.recipient_name),
            ("Azure Interior, Brandon Freeman", "Azure Interior"),
        )
        company.mobile = False
        message = employee._whatsapp_send_template(template, queue=True)
        self.assertEqual(
            message.failure_reason,
            "Azure Interior has no number in “Mobile”: add one on Azure Interior, then retry.",
        )

    def test_retry_only_when_something_changed(self):
        self.env["phone.blacklist"].sudo().add("+33612345601")
        message = self.partners[1]._whatsapp_send_template(self.template, queue=True)
        self.assertWAMessage(message, "failed", "blacklisted")
        with self.assertRaisesRegex(UserError, "opted out"):
            message.action_retry()
        self.env["phone.blacklist"].sudo().remove("+33612345601")
        message.action_retry()
        self.assertWAMessage(message, "queued", False)
        # a template refused by Meta fails again until the template is changed
        with self.mock_wa_send(errors={"*": self.meta_error(132001, message="Template does not exist")}):
            message = self.partners[2]._whatsapp_send_template(self.template, queue=False)
        self.assertWAMessage(message, "failed", "template")
        message.status_date = "2026-03-01 10:00:00"

        def template_edited_on(date):
            self.env.cr.execute(
                "UPDATE whatsapp_template SET write_date = %s WHERE id = %s", (date, self.template.id)
            )
            self.template.invalidate_recordset(["write_date"])

        template_edited_on("2026-03-01 09:00:00")
        with self.assertRaisesRegex(UserError, "Fix the template first"):
            message.action_retry()
        template_edited_on("2026-03-01 11:00:00")  # edited (and approved again) since the failure
        message.action_retry()
        self.assertWAMessage(message, "queued", False)

    def test_form_view(self):
        """The form's status bar shows Failed in place of the normal sequence; the title is the message's name."""
        arch = self.env["whatsapp.message"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('statusbar_visible="queued,failed"', arch)
        self.assertIn("action_open_record", arch)
        # Meta's error code is a code, not a quantity: 131026, not "131 026" in French
        self.assertRegex(arch, r"""<field name="error_code"[^>]*'enable_formatting': false""")
