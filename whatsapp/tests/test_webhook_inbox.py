import threading
from datetime import datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time
from odoo.api import Transaction
from odoo.exceptions import AccessError
from odoo.tests import tagged, users
from odoo.tools import mute_logger

from ..models.whatsapp_webhook_event import MAX_ATTEMPTS
from .common import WhatsAppCase

EVENT_LOGGER = "odoo.addons.whatsapp.models.whatsapp_webhook_event"
NOW = datetime(2026, 3, 2, 10, 0, 0)


@tagged("post_install", "-at_install", "whatsapp")
class TestWebhookInbox(WhatsAppCase):
    def _store(self, field="account_update", value=None, account=None, entry_time=1700000000):
        Event = self.env["whatsapp.webhook.event"].sudo()
        account_id = (account or self.account).id
        ids = Event._store_changes([(account_id, field, value or {"event": "X"}, "2000001", entry_time)])
        return Event.browse(ids)

    def test_store_dedupes(self):
        first = self._store(value={"event": "A"})
        self.assertEqual(len(first), 1)
        self.assertEqual(first.state, "pending")
        self.assertFalse(self._store(value={"event": "A"}), "a redelivery creates nothing")
        self.assertTrue(
            self._store(value={"event": "A"}, entry_time=1700000001), "another occurrence is kept"
        )
        other_account = self._create_account(name="Sales 2", phone_uid="1000003")
        self.assertTrue(self._store(value={"event": "A"}, account=other_account), "one event per account")
        self.assertEqual(len(self._events()), 3)

    def test_store_concurrent(self):
        """Two transactions storing the same change at once create one event.

        HttpCase serialises requests on its single test cursor, so real concurrency is tested here with two
        independent cursors: the second insert blocks on the unique index until the first commits, then hits a
        REPEATABLE READ serialization failure that ``_store_changes`` answers by retrying on a fresh snapshot,
        where ON CONFLICT DO NOTHING skips the row. Committed rows (no account: the fixture account is not
        committed) are removed at the end.
        """
        change = [(None, "concurrency_test", {"n": 1}, "2000001", None)]
        results = {}
        first_inserted = threading.Event()

        def second_worker():
            first_inserted.wait(10)
            with self.registry.cursor() as cr:
                # a Transaction set up front: Environment() would otherwise look the registry up, which waits
                # for the registry lock held by the test runner
                cr.transaction = Transaction(self.registry)
                env = self.env(cr=cr)
                results["second"] = env["whatsapp.webhook.event"].sudo()._store_changes(change)

        with self.registry.cursor() as cr_1:
            cr_1.transaction = Transaction(self.registry)
            self.addCleanup(self._delete_committed_events, "concurrency_test")
            env_1 = self.env(cr=cr_1)
            results["first"] = env_1["whatsapp.webhook.event"].sudo()._store_changes(change)
            thread = threading.Thread(target=second_worker)
            thread.start()
            first_inserted.set()
            thread.join(0.5)
            self.assertTrue(thread.is_alive(), "the second insert waits for the first transaction")
            cr_1.commit()
        thread.join(10)
        self.assertEqual(len(results["first"]), 1)
        self.assertEqual(results["second"], [])
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM whatsapp_webhook_event WHERE field = 'concurrency_test'")
            self.assertEqual(cr.fetchone()[0], 1)

    def _delete_committed_events(self, field):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM whatsapp_webhook_event WHERE field = %s", [field])

    def test_dispatch_by_field(self):
        done = self._store("account_update", {"event": "ACCOUNT_DELETED"})
        ignored = self._store("no_such_handler", {"a": 1})
        weird = self._store("not-an identifier", {"a": 1})
        (done | ignored | weird)._process()
        self.assertEqual(done.state, "done")
        self.assertEqual(ignored.state, "ignored")
        self.assertEqual(weird.state, "ignored")
        self.assertEqual(done.attempts, 1)

    def test_handler_receives_value_and_event_as_superuser(self):
        seen = {}

        def handler(account, value, event):
            seen.update(value=value, event=event, su=account.env.su, account=account)

        event = self._store("account_update", {"event": "X", "nested": {"k": [1, 2]}})
        with patch.object(type(self.env["whatsapp.account"]), "_webhook_account_update", handler):
            event.with_user(self.user_wa_admin)._process()
        self.assertEqual(seen["value"], {"event": "X", "nested": {"k": [1, 2]}})
        self.assertEqual(seen["event"], event)
        self.assertEqual(seen["account"], self.account)
        self.assertTrue(seen["su"])

    def test_failure_retry_backoff(self):
        calls = []

        def flaky(account, value, event):
            account.name = "written before failing"
            calls.append(1)
            if len(calls) < 3:
                raise ValueError("temporary glitch")

        with freeze_time(NOW):
            event = self._store()
        with (
            patch.object(type(self.env["whatsapp.account"]), "_webhook_account_update", flaky),
            mute_logger(EVENT_LOGGER),
        ):
            with freeze_time(NOW):
                event._process()
                self.assertEqual(event.state, "failed")
                self.assertEqual(event.attempts, 1)
                self.assertIn("ValueError: temporary glitch", event.error)
                self.assertIn("Traceback", event.error, "admins get the traceback")
                self.assertEqual(self.account.name, "Sales", "the handler's writes are rolled back")
                self.assertEqual(event.next_attempt, NOW + timedelta(minutes=1))
                self.env["whatsapp.webhook.event"]._cron_process_events()
                self.assertEqual(len(calls), 1, "not due yet")
            with freeze_time(NOW + timedelta(minutes=1, seconds=5)):
                self.env["whatsapp.webhook.event"]._cron_process_events()
                self.assertEqual((event.state, event.attempts), ("failed", 2))
                self.assertEqual(
                    event.next_attempt, NOW + timedelta(minutes=1, seconds=5) + timedelta(minutes=2)
                )
            with freeze_time(NOW + timedelta(minutes=10)):
                self.env["whatsapp.webhook.event"]._cron_process_events()
        self.assertEqual(event.state, "done")
        self.assertFalse(event.error)
        self.assertEqual(len(calls), 3)
        self.assertEqual(self.account.name, "written before failing")

    def test_concurrent_update_retried_at_once(self):
        """A handler meeting a concurrent update (a serialization failure: the send applying statuses to the
        same messages) is retried by the cron at once, not after the backoff of a real failure."""
        from psycopg2.errors import SerializationFailure

        calls = []

        def conflicting(account, value, event):
            calls.append(1)
            if len(calls) == 1:
                raise SerializationFailure("could not serialize access due to concurrent update")

        cron = self.env.ref("whatsapp.ir_cron_whatsapp_webhook_event_process")
        triggers = self.env["ir.cron.trigger"].sudo()
        before = triggers.search([("cron_id", "=", cron.id)])
        with freeze_time(NOW):
            event = self._store()
            with patch.object(type(self.env["whatsapp.account"]), "_webhook_account_update", conflicting):
                event._process()
                self.assertEqual((event.state, event.next_attempt), ("failed", NOW))
                self.assertEqual(
                    (triggers.search([("cron_id", "=", cron.id)]) - before).mapped("call_at"), [NOW]
                )
                self.env["whatsapp.webhook.event"]._cron_process_events()
        self.assertEqual(event.state, "done")
        self.assertEqual(len(calls), 2)

    def test_pending_event_picked_by_cron(self):
        """A request that stored its events but died before dispatching: the cron takes over after the grace."""
        with freeze_time(NOW):
            event = self._store("account_update", {"event": "ACCOUNT_DELETED"})
            self.env["whatsapp.webhook.event"]._cron_process_events()
            self.assertEqual(event.state, "pending", "the request itself dispatches first")
        with freeze_time(NOW + timedelta(minutes=3)):
            self.env["whatsapp.webhook.event"]._cron_process_events()
        self.assertEqual(event.state, "done")

    def test_gives_up_then_manual_reprocess(self):
        event = self._store()
        event.sudo().write({"state": "failed", "attempts": MAX_ATTEMPTS - 1, "next_attempt": NOW})
        with self._raising_handler("still broken"), mute_logger(EVENT_LOGGER):
            with freeze_time(NOW + timedelta(minutes=1)):
                self.env["whatsapp.webhook.event"]._cron_process_events()
            self.assertEqual((event.state, event.attempts), ("failed", MAX_ATTEMPTS))
            self.assertFalse(event.next_attempt, "no more automatic attempts")
            with freeze_time(NOW + timedelta(days=2)):
                self.env["whatsapp.webhook.event"]._cron_process_events()
            self.assertEqual(event.attempts, MAX_ATTEMPTS)
        action = event.with_user(self.user_wa_admin).action_reprocess()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(event.state, "done")

    def _raising_handler(self, message):
        def handler(account, value, event):
            raise ValueError(message)

        return patch.object(type(self.env["whatsapp.account"]), "_webhook_account_update", handler)

    def test_reprocess_multi_skips_done(self):
        events = self._store(value={"event": "A"}) | self._store(value={"event": "B"})
        events[0].sudo().write({"state": "done"})
        with patch.object(
            type(self.env["whatsapp.account"]), "_webhook_account_update", autospec=True
        ) as handler:
            events.with_user(self.user_wa_admin).action_reprocess()
        self.assertEqual(handler.call_count, 1)

    def test_autovacuum(self):
        with freeze_time(NOW - timedelta(days=40)):
            old_done = self._store(value={"event": "old"})
            old_done._process()
            old_failed = self._store(value={"event": "failed"})
            old_failed.sudo().state = "failed"
            self.env.flush_all()
        recent = self._store(value={"event": "recent"})
        recent._process()
        with freeze_time(NOW):
            self.env["whatsapp.webhook.event"]._gc_processed_events()
        self.assertFalse(old_done.exists())
        self.assertTrue(old_failed.exists(), "failed events stay visible")
        self.assertTrue(recent.exists())

    @users("wa_user")
    def test_access_user(self):
        with self.assertRaises(AccessError):
            self.env["whatsapp.webhook.event"].search([])

    def test_access_other_company(self):
        event = self._store()
        self.assertEqual(self.env["whatsapp.webhook.event"].with_user(self.user_wa_admin).search([]), event)
        self.assertFalse(self.env["whatsapp.webhook.event"].with_user(self.user_other_company).search([]))


@tagged("post_install", "-at_install", "whatsapp")
class TestAccountUpdate(WhatsAppCase):
    def _receive(self, value):
        Event = self.env["whatsapp.webhook.event"].sudo()
        event = Event.browse(
            Event._store_changes([(self.account.id, "account_update", value, "2000001", None)])
        )
        with mute_logger("odoo.addons.whatsapp.models.whatsapp_account"):
            event._process()
        self.assertEqual(event.state, "done", event.error)
        comment = self.env.ref("mail.mt_comment")
        return self.account.message_ids.filtered(lambda m: m.subtype_id == comment)[0]

    def test_account_update_events(self):
        cases = [
            (
                {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "ADULT"}},
                "ok",
                "ADULT",
            ),
            (
                {
                    "event": "ACCOUNT_RESTRICTION",
                    "restriction_info": [
                        {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": 1772445600}
                    ],
                },
                "restricted",
                "RESTRICTED_BIZ_INITIATED_MESSAGING",
            ),
            (
                {
                    "event": "DISABLED_UPDATE",
                    "ban_info": {"waba_ban_state": "DISABLE", "waba_ban_date": "2026-03-02"},
                },
                "banned",
                "DISABLE",
            ),
            (
                {
                    "event": "DISABLED_UPDATE",
                    "ban_info": {"waba_ban_state": "REINSTATE", "waba_ban_date": "2026-03-05"},
                },
                "ok",
                "REINSTATE",
            ),
            ({"event": "ACCOUNT_RESTRICTION", "restriction_info": []}, "ok", "ACCOUNT_RESTRICTION"),
            ({"event": "ACCOUNT_DELETED"}, "deleted", "ACCOUNT_DELETED"),
            (
                {"event": "VOLUME_BASED_PRICING_TIER_UPDATE", "volume_tier_info": {"tier": 2}},
                "deleted",
                "tier",
            ),
            ({"no_event_key": True}, "deleted", "UNKNOWN"),
        ]
        for value, status, expected_text in cases:
            with self.subTest(event=value.get("event")):
                message = self._receive(value)
                self.assertEqual(self.account.meta_status, status)
                self.assertIn(expected_text, self.account.meta_last_event)
                self.assertIn(expected_text, message.body)
                self.assertIn(self.user_wa_admin.partner_id, message.partner_ids, "notify users are told")
                self.assertTrue(self.account.meta_last_event_date)
        self.assertFalse(self.account.meta_restriction)

    def test_restriction_text(self):
        self._receive(
            {
                "event": "ACCOUNT_RESTRICTION",
                "restriction_info": [
                    {"restriction_type": "RESTRICTED_ADD_PHONE_NUMBER_ACTION", "expiration": 1772445600}
                ],
            }
        )
        self.assertEqual(self.account.meta_status, "restricted")
        self.assertIn("RESTRICTED_ADD_PHONE_NUMBER_ACTION until 2026-03-02", self.account.meta_restriction)

    def test_admins_notified(self):
        message = self._receive({"event": "ACCOUNT_DELETED"})
        admins = self.env.ref("whatsapp.group_whatsapp_admin").users.filtered(
            lambda u: not u.share and self.company in u.company_ids
        )
        self.assertTrue(admins.partner_id <= message.partner_ids | self.env.ref("base.partner_root"))
        self.assertNotIn(
            self.user_other_company.partner_id, message.partner_ids, "other companies' admins are not"
        )
