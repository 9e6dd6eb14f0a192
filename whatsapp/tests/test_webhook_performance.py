import time
from types import SimpleNamespace
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models import whatsapp_status_pending, whatsapp_webhook_event
from .common import WhatsAppHttpCase

EVENT_LOGGER = "odoo.addons.whatsapp.models.whatsapp_webhook_event"


@tagged("post_install", "-at_install", "whatsapp")
class TestWebhookPerformance(WhatsAppHttpCase):
    """Query budget of the webhook's hot path: one status per request, Meta's most frequent call.

    The request runs in one transaction: registry signaling, one INSERT of the event (stored ``queued``),
    one commit; the applier wakes up at most a few times a second per process. No account lookup (cached),
    no savepoint, no second commit. The applier's batch costs the same queries whatever its size.
    """

    def _sent_message(self, wamid):
        return (
            self.env["whatsapp.message"]
            .sudo()  # sudo: fixture, a message already sent
            .create(
                {
                    "account_id": self.account.id,
                    "number": "+33612345678",
                    "state": "sent",
                    "wamid": wamid,
                    "payload": {"type": "text", "text": {"body": "x"}},
                }
            )
        )

    def _post_status(self, wamid, status="delivered", apply=True):
        response = self._post_webhook(
            self._make_payload("messages", self._status_value(wamid, status)), apply=apply
        )
        self.assertEqual(response.status_code, 200)
        return response

    def _woken(self):
        """The applier was woken up by this process a moment ago: no new trigger for a while."""
        return patch.dict(whatsapp_webhook_event._applier_triggered, {self.env.cr.dbname: time.time() + 60})

    def test_status_query_count(self):
        messages = self._sent_message("wamid.PERF0") | self._sent_message("wamid.PERF1")
        self._post_status("wamid.PERF0")  # warm-up: routing map, account table, registry caches
        self.env.flush_all()
        # INSERT event, the commit (a savepoint of the test cursor); the registry signaling query of a real
        # server is not counted here (it was 12 before this budget, 4 while statuses were applied at once)
        with self._woken(), self.assertQueryCount(2):
            self._post_status("wamid.PERF1", apply=False)
        event = self._events(field="messages").filtered(lambda e: "PERF1" in e.value)
        self.assertRecordValues(event, [{"state": "queued", "attempts": 0, "error": False}])
        self.assertEqual(messages.mapped("state"), ["delivered", "sent"], "acknowledged, not applied yet")
        self.assertEqual(self._apply_statuses(), event)
        self.assertEqual(messages.mapped("state"), ["delivered", "delivered"])
        self.assertRecordValues(event, [{"state": "done", "attempts": 1, "error": False}])

    def test_status_trigger_once_per_period(self):
        """The first status of a period wakes the applier (one cron trigger), the next ones of the period
        do not; the first one after it does again."""
        cron = self.env.ref("whatsapp.ir_cron_whatsapp_webhook_event_apply")
        Trigger = self.env["ir.cron.trigger"].sudo()  # sudo: technical table, assertions
        before = Trigger.search_count([("cron_id", "=", cron.id)])
        clock = SimpleNamespace(time=lambda: 1000.0)
        with (
            patch.dict(whatsapp_webhook_event._applier_triggered, {}, clear=True),
            patch.object(whatsapp_webhook_event, "time", clock),
        ):
            self._post_status("wamid.PERF0", apply=False)
            clock.time = lambda: 1000.0 + whatsapp_webhook_event.TRIGGER_EVERY / 2
            self._post_status("wamid.PERF1", apply=False)
            self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), before + 1)
            clock.time = lambda: 1000.0 + whatsapp_webhook_event.TRIGGER_EVERY * 1.5
            self._post_status("wamid.PERF2", apply=False)
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), before + 2)

    def test_applier_query_count(self):
        """One batch of the applier costs the same queries for 2 statuses as for 20 (chatter-less messages)."""
        counts = []
        for size in (2, 20):
            messages = self.env["whatsapp.message"]
            for index in range(size):
                wamid = f"wamid.B{size}-{index}"
                messages |= self._sent_message(wamid)
                with self._woken():
                    self._post_status(wamid, apply=False)
            self.env.flush_all()
            queries = self.env.cr.sql_log_count
            self.env["whatsapp.webhook.event"].sudo()._apply_queued_statuses()
            counts.append(self.env.cr.sql_log_count - queries)
            self.env.invalidate_all()
            self.assertEqual(set(messages.mapped("state")), {"delivered"})
        self.assertEqual(counts[0], counts[1], "a batch's queries do not grow with its size")

    def test_unknown_status_query_count(self):
        """A status of a message not committed yet is parked with one INSERT, by the applier."""
        self._post_status("wamid.PERF0")
        self.env.flush_all()
        with self._woken(), self.assertQueryCount(2):
            self._post_status("wamid.UNKNOWN", apply=False)  # INSERT event, commit
        # the queue cron's recheck is scheduled once per process and period, not per status: it is pending
        recheck = {self.env.cr.dbname: time.time() + 60}
        with patch.dict(whatsapp_status_pending._recheck_scheduled, recheck):
            self._apply_statuses()
        parked = self.env["whatsapp.status.pending"].sudo().search([("wamid", "=", "wamid.UNKNOWN")])
        self.assertRecordValues(parked, [{"account_id": self.account.id, "status": "delivered"}])
        self.assertEqual(parked.value["id"], "wamid.UNKNOWN")
        # and it is applied once the message is known
        message = self._sent_message("wamid.UNKNOWN")
        self.env["whatsapp.status.pending"]._apply_pending()
        self.assertEqual(message.state, "delivered")
        self.assertFalse(parked.exists())

    def test_handler_failure_rolls_back_its_effects(self):
        """One transaction for event and handler: a handler that fails after writing leaves nothing of
        its work, and its event is still committed, failed with the error, for the cron."""

        def write_then_explode(account, value, event):
            account.write({"name": "Half-done"})
            raise ValueError("handler bug")

        with (
            patch.object(type(self.env["whatsapp.account"]), "_webhook_account_update", write_then_explode),
            mute_logger(EVENT_LOGGER),
        ):
            response = self._post_webhook(self._make_payload("account_update", {"event": "X"}))
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(self.account.name, "Sales")
        event = self._events(field="account_update")
        self.assertRecordValues(event, [{"state": "failed", "attempts": 1}])
        self.assertIn("handler bug", event.error)
        self.assertTrue(event.next_attempt, "the cron retries it")

    def test_handler_failure_keeps_statuses_for_the_applier(self):
        """A payload whose other change fails takes the durable path: its statuses are still stored queued,
        the applier woken, and applied; the failing change is kept failed for the cron."""
        message = self._sent_message("wamid.PERF0")
        payload = self._make_payload("account_update", {"event": "X"})
        payload["entry"].append(self._make_payload("messages", self._status_value("wamid.PERF0"))["entry"][0])

        def explode(account, value, event):
            raise ValueError("handler bug")

        cron = self.env.ref("whatsapp.ir_cron_whatsapp_webhook_event_apply")
        Trigger = self.env["ir.cron.trigger"].sudo()  # sudo: technical table, assertions
        before = Trigger.search_count([("cron_id", "=", cron.id)])
        with (
            patch.object(type(self.env["whatsapp.account"]), "_webhook_account_update", explode),
            patch.dict(whatsapp_webhook_event._applier_triggered, {}, clear=True),
            mute_logger(EVENT_LOGGER),
        ):
            response = self._post_webhook(payload, apply=False)
            # the first wake-up was rolled back with the failed dispatch: the stored statuses woke it again
            self.assertGreater(whatsapp_webhook_event._applier_triggered[self.env.cr.dbname], 0)
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), before + 1)
        self.assertEqual(response.status_code, 200)
        status = self._events(field="messages")
        self.assertRecordValues(status, [{"state": "queued"}])
        self.assertRecordValues(self._events(field="account_update"), [{"state": "failed", "attempts": 1}])
        self._apply_statuses()
        self.assertEqual(message.state, "delivered")
        self.assertRecordValues(status, [{"state": "done", "attempts": 1}])

    def test_account_table_follows_changes(self):
        """The cached routing/signature table is refreshed when an account's secret or state changes."""
        self._post_status("wamid.PERF0")
        self.account.app_secret = "new-secret"
        with mute_logger("odoo.addons.whatsapp.controllers.webhook"):
            response = self._post_webhook(self._make_payload("messages", self._status_value("wamid.PERF2")))
        self.assertEqual(response.status_code, 403, "the old secret no longer signs")
        self._post_webhook(
            self._make_payload("messages", self._status_value("wamid.PERF2")), secret="new-secret"
        )
        self.assertTrue(self._events(field="messages").filtered(lambda e: "PERF2" in e.value))
        self.account.active = False
        with mute_logger("odoo.addons.whatsapp.controllers.webhook"):
            self._post_webhook(
                self._make_payload("messages", self._status_value("wamid.PERF3")), secret="new-secret"
            )
        archived = self._events(field="messages").filtered(lambda e: "PERF3" in e.value)
        self.assertRecordValues(archived, [{"state": "ignored", "account_id": False}])
