from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time
from odoo import fields
from odoo.tests import tagged, users, warmup

from .common_messages import WhatsAppMessageCase


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppMessageStatus(WhatsAppMessageCase):
    def setUp(self):
        super().setUp()
        with self.mock_wa_send():
            self.messages = self.partners._whatsapp_send_template(self.template, queue=False)

    def _apply(self, statuses, errors=None):
        self.account._webhook_messages(self._whatsapp_status_value(statuses, errors=errors), None)

    def test_statuses_monotonic_and_idempotent(self):
        msg = self.messages[0]
        table = [
            ("read", "read"),
            ("delivered", "read"),  # late delivered never lowers read
            ("sent", "read"),
            ("read", "read"),  # duplicate
            ("failed", "read"),  # failed does not override a higher state
        ]
        for status, expected in table:
            with self.subTest(status=status):
                self._apply([(msg.wamid, status, None, 131026 if status == "failed" else None)])
                self.assertWAMessage(msg, expected, False)
        notif = self.env["mail.notification"].sudo().search([("whatsapp_message_id", "=", msg.id)])
        self.assertEqual(notif.notification_status, "sent")

    def test_failed_status_then_terminal(self):
        msg = self.messages[1]
        self._apply([(msg.wamid, "failed", None, 131047)])
        self.assertWAMessage(msg, "failed", "window", fields_values={"error_code": 131047})
        self.assertIn("131047", msg.failure_reason)
        self._apply([(msg.wamid, "sent", None, None)])
        self.assertWAMessage(msg, "failed", "window")
        notif = self.env["mail.notification"].sudo().search([("whatsapp_message_id", "=", msg.id)])
        self.assertEqual(notif.notification_status, "exception")

    def test_out_of_order_in_one_payload(self):
        msg = self.messages[2]
        self._apply(
            [
                (msg.wamid, "read", None, None),
                (msg.wamid, "sent", None, None),
                (msg.wamid, "delivered", None, None),
            ]
        )
        self.assertWAMessage(msg, "read")
        self._apply([(msg.wamid, "played", None, None)])
        self.assertWAMessage(msg, "read")

    def test_status_before_message(self):
        """A status for a wamid not known yet is kept and applied when the message's send is written."""
        self._apply([("wamid.FUTURE", "delivered", None, None)])
        pending = self.env["whatsapp.status.pending"].sudo().search([("wamid", "=", "wamid.FUTURE")])
        self.assertEqual(len(pending), 1)
        message = self.partners[0]._whatsapp_send_template(self.template, queue=True)
        batch = self.env["whatsapp.message"]._claim(self.account)
        from ..tools.sender import SendResult

        batch._send_write([SendResult(message.id, response={"messages": [{"id": "wamid.FUTURE"}]})], {})
        self.assertWAMessage(message, "delivered", fields_values={"wamid": "wamid.FUTURE"})
        self.assertFalse(pending.exists())

    def test_status_before_message_after_a_conflict(self):
        """The send's write of the wamid applies the statuses parked for it by a second UPDATE of the message,
        which PostgreSQL fails when a concurrent transaction committed its bulk send's progress since (the foreign
        key checked again): the send is written all the same, the statuses are applied once it commits."""
        from psycopg2.errors import SerializationFailure

        from ..tools.sender import SendResult

        self._apply([("wamid.LATER", "delivered", None, None)])
        message = self.partners[0]._whatsapp_send_template(self.template, queue=True)
        batch = self.env["whatsapp.message"]._claim(self.account)
        self.registry.enter_test_mode(self.cr)  # the callback's own cursor shares the test transaction
        self.addCleanup(self.registry.leave_test_mode)
        Message = type(self.env["whatsapp.message"])
        apply_statuses, calls = Message._apply_meta_statuses, []

        def conflicting(messages, *args, **kwargs):
            calls.append(args)
            if len(calls) == 1:  # the send's transaction: its UPDATE of the message fails
                raise SerializationFailure("could not serialize access due to concurrent update")
            return apply_statuses(messages, *args, **kwargs)

        with patch.object(Message, "_apply_meta_statuses", conflicting):
            batch._send_write([SendResult(message.id, response={"messages": [{"id": "wamid.LATER"}]})], {})
            self.assertWAMessage(message, "sent", fields_values={"wamid": "wamid.LATER"})
            self.assertTrue(
                self.env["whatsapp.status.pending"].sudo().search([("wamid", "=", "wamid.LATER")])
            )
            self.env.cr.postcommit.run()  # the send's transaction commits
        self.assertEqual(len(calls), 2, "in the send's transaction, then in its own after the commit")
        self.assertWAMessage(message, "delivered")
        self.assertFalse(self.env["whatsapp.status.pending"].sudo().search([("wamid", "=", "wamid.LATER")]))

    def test_status_parked_while_send_commits(self):
        """The race: the send wrote its wamid (not committed), a webhook could not see it and parked the
        status (committed first). Once the send commits, the parked status is applied at once."""
        with self.mock_wa_send():
            message = self.partners[0]._whatsapp_send_template(self.template, queue=False)
        self.env.flush_all()
        # the webhook's transaction did not see the wamid: it parks (what _apply_meta_statuses does then)
        self.env["whatsapp.status.pending"]._park(self.account, [{"id": message.wamid, "status": "read"}])
        self.assertWAMessage(message, "sent")
        self.registry.enter_test_mode(self.cr)  # the callback's own cursor shares the test transaction
        self.addCleanup(self.registry.leave_test_mode)
        self.env.cr.postcommit.run()  # the send's transaction commits
        self.assertWAMessage(message, "read")
        self.assertFalse(self.env["whatsapp.status.pending"].sudo().search([("wamid", "=", message.wamid)]))

    def _park_while_sending(self):
        """A sent message whose status was parked meanwhile (the race above), before the send commits."""
        with self.mock_wa_send():
            message = self.partners[0]._whatsapp_send_template(self.template, queue=False)
        self.env.flush_all()
        self.env["whatsapp.status.pending"]._park(self.account, [{"id": message.wamid, "status": "read"}])
        self.registry.enter_test_mode(self.cr)  # the callback's own cursor shares the test transaction
        self.addCleanup(self.registry.leave_test_mode)
        return message

    def _conflicting_apply(self, conflicts):
        """``_apply_pending`` failing ``conflicts`` times as a concurrent webhook would make it fail."""
        from psycopg2.errors import SerializationFailure

        from ..models import whatsapp_status_pending

        Pending = type(self.env["whatsapp.status.pending"])
        apply_pending, calls = Pending._apply_pending, []

        def conflicting(pending, messages=None):
            calls.append(messages)
            if len(calls) <= conflicts:
                raise SerializationFailure("could not serialize access due to concurrent update")
            return apply_pending(pending, messages)

        self.startPatcher(patch.object(Pending, "_apply_pending", conflicting))
        self.startPatcher(patch.object(whatsapp_status_pending.time, "sleep"))
        return calls

    def test_parked_statuses_applied_after_a_conflict(self):
        """The send's application of parked statuses meets a concurrent webhook (a serialization failure):
        it tries again, as Odoo retries a request."""
        message = self._park_while_sending()
        calls = self._conflicting_apply(conflicts=2)
        self.env.cr.postcommit.run()  # the send's transaction commits
        self.assertEqual(len(calls), 3)
        self.assertWAMessage(message, "read")
        self.assertFalse(self.env["whatsapp.status.pending"].sudo().search([("wamid", "=", message.wamid)]))

    def test_parked_statuses_left_to_the_cron_are_rechecked(self):
        """Still conflicting after its tries, the send leaves them to the queue cron and has it run soon,
        even when the parks already scheduled a run (it came while the message was being sent)."""
        from ..models import whatsapp_status_pending

        message = self._park_while_sending()  # schedules a recheck: this process remembers it
        self.assertTrue(whatsapp_status_pending._recheck_scheduled.get(self.env.cr.dbname))
        calls = self._conflicting_apply(conflicts=3)
        cron = self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")
        triggers = self.env["ir.cron.trigger"].sudo()
        before = triggers.search([("cron_id", "=", cron.id)])
        now = fields.Datetime.now()
        with freeze_time(now):
            self.env.cr.postcommit.run()
        self.assertEqual(len(calls), whatsapp_status_pending.APPLY_TRIES)
        self.assertWAMessage(message, "sent")  # not applied yet: parked, with the cron due in seconds
        self.assertTrue(self.env["whatsapp.status.pending"].sudo().search([("wamid", "=", message.wamid)]))
        added = triggers.search([("cron_id", "=", cron.id)]) - before
        self.assertEqual(added.mapped("call_at"), [now + timedelta(seconds=5)])
        self.env["whatsapp.status.pending"]._apply_pending()  # what the cron starts with
        self.assertWAMessage(message, "read")

    def test_park_schedules_a_recheck(self):
        """Parking has the queue cron (which applies parked statuses first) run within seconds, one
        trigger per process and period however many statuses are parked."""
        from ..models import whatsapp_status_pending

        whatsapp_status_pending._recheck_scheduled.clear()
        cron = self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")
        triggers = self.env["ir.cron.trigger"].sudo()
        before = triggers.search([("cron_id", "=", cron.id)])
        now = fields.Datetime.now()
        with freeze_time(now):
            self._apply([("wamid.LATER1", "delivered", None, None)])
            self._apply([("wamid.LATER2", "delivered", None, None)])
        added = triggers.search([("cron_id", "=", cron.id)]) - before
        self.assertEqual(added.mapped("call_at"), [now + timedelta(seconds=5)])

    def test_status_level_errors_recorded_on_account(self):
        self._apply(
            [], errors=[{"code": 130429, "title": "Rate limit hit", "error_data": {"details": "Too many"}}]
        )
        account = self.account.sudo()
        self.assertEqual(account.status_error_code, 130429)
        self.assertIn("Rate limit hit", account.status_error)

    def test_replied(self):
        msg = self.messages[0]
        self.account._webhook_messages(
            self._whatsapp_inbound_value("33612345600", "Thanks!", context_id=msg.wamid), None
        )
        self.assertWAMessage(msg, "replied")
        inbound = self.env["whatsapp.message"].search([("direction", "=", "inbound")])
        self.assertWAMessage(inbound, "received", number="+33612345600", fields_values={"body": "Thanks!"})

    @users("__system__")
    @warmup
    def test_query_count_100_statuses(self):
        with self.mock_wa_send():
            partners = self.env["res.partner"].create(
                [{"name": f"P{i}", "mobile": f"+33 6 40 00 {i // 100:02d} {i % 100:02d}"} for i in range(100)]
            )
            messages = partners._whatsapp_send_template(self.template, queue=False)
        statuses = [(m.wamid, "delivered", None, None) for m in messages]
        self.env.invalidate_all()
        with self.assertQueryCount(__system__=17):  # 16 + the chatter ticks (one search per batch)
            self._apply(statuses)
        self.assertEqual(set(messages.mapped("state")), {"delivered"})


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppOptOut(WhatsAppMessageCase):
    def test_stop_and_start(self):
        number = "+33612345600"
        blacklist = self.env["phone.blacklist"].sudo()
        with self.mock_wa_send():
            self.account._webhook_messages(self._whatsapp_inbound_value("33612345600", " Stop "), None)
            self.assertTrue(blacklist.search([("number", "=", number)]))
            self.env["whatsapp.message"]._process_queue()
            self.assertEqual(len(self.wa_sent), 1, "the confirmation goes to the opted-out number")
            self.assertEqual(self.wa_sent[0]["type"], "text")
            # blacklisted numbers fail before any call
            message = self.partners[0]._whatsapp_send_template(self.template, queue=False)
            self.assertWAMessage(message, "failed", "blacklisted")
            self.assertEqual(len(self.wa_sent), 1)
            # any other message leaves the opt-out as it is
            for text in ("Hello", "stopping", "start please", "Yes", "ALTA", "subscribe", "oui"):
                self.account._webhook_messages(self._whatsapp_inbound_value("33612345600", text), None)
            self.assertTrue(blacklist.search([("number", "=", number)]))
            # French keyword with accents and case
            self.account._webhook_messages(self._whatsapp_inbound_value("33612345601", "ARRÊTER"), None)
            self.assertTrue(blacklist.search([("number", "=", "+33612345601")]))
            # explicit opt-in
            self.account._webhook_messages(self._whatsapp_inbound_value("33612345600", "START"), None)
            self.assertFalse(blacklist.search([("number", "=", number)]))
            self.env["whatsapp.message"]._process_queue()
            message = self.partners[0]._whatsapp_send_template(self.template, queue=False)
            self.assertWAMessage(message, "sent")

    def test_inbound_duplicate_ignored(self):
        value = self._whatsapp_inbound_value("33612345600", "Hi", wamid="wamid.DUP")
        self.account._webhook_messages(value, None)
        self.account._webhook_messages(value, None)
        self.assertEqual(self.env["whatsapp.message"].search_count([("wamid", "=", "wamid.DUP")]), 1)


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppMessagePerformance(WhatsAppMessageCase):
    @users("__system__")
    @warmup
    def test_query_count_100_recipients(self):
        partners = self.env["res.partner"].create(
            [{"name": f"P{i}", "mobile": f"+33 6 50 00 {i // 100:02d} {i % 100:02d}"} for i in range(100)]
        )
        template = self.template.with_env(self.env)
        self.env.invalidate_all()
        with self.mock_wa_send():
            with self.assertQueryCount(__system__=12):
                messages = partners._whatsapp_send_template(template, queue=True)
            self.env.invalidate_all()
            # + 1: the bulk sends to expand first, + 1: the ticks, + 1: the housekeeping lock (one runner at a
            # time), + 1: the account's rate read before its claim (it sizes the claim), + 4: the runner applies
            # the statuses queued by the webhook (savepoint, claim, release; and the account's rate read again), + 2:
            # the bulk sends' claim in a savepoint (a conflict with another runner is not an error); the UPDATE of
            # the outcomes returns what the chatter's push reads (the messages are not fetched again whole)
            with self.assertQueryCount(__system__=32):
                self.env["whatsapp.message"]._process_queue()
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertEqual(len(self.wa_sent), 100)


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppMediaHeader(WhatsAppMessageCase):
    def test_header_uploaded_once_per_account(self):
        image = self.env["ir.attachment"].create(
            {"name": "logo.png", "raw": b"\x89PNG fake", "mimetype": "image/png"}
        )
        template = self._create_wa_template(
            name="With Image", header_type="image", header_attachment_ids=[(6, 0, image.ids)]
        )
        uploads = []

        def _upload(method, path, kwargs):
            uploads.append(path)
            return {"id": f"media-{len(uploads)}"}

        responses = {("POST", f"{self.account.phone_uid}/media"): _upload}
        now = fields.Datetime.now()
        with freeze_time(now), self.mock_wa_send(responses=responses):
            messages = self.partners._whatsapp_send_template(template, queue=False)
            self.partners[:1]._whatsapp_send_template(template, queue=False)
        self.assertEqual(len(uploads), 1)
        self.assertEqual(len(self.wa_sent), 4)
        for payload in self.wa_sent:
            header = payload["template"]["components"][0]
            self.assertEqual(
                header, {"type": "header", "parameters": [{"type": "image", "image": {"id": "media-1"}}]}
            )
        self.assertTrue(messages[0].mail_message_id.attachment_ids)
        with freeze_time(now + timedelta(days=26)), self.mock_wa_send(responses=responses):
            self.partners[:1]._whatsapp_send_template(template, queue=False)
        self.assertEqual(len(uploads), 2, "expired media ids are uploaded again")
        self.assertEqual(
            self.wa_sent[-1]["template"]["components"][0]["parameters"][0]["image"]["id"], "media-2"
        )
