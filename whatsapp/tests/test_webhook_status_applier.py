import json
import threading
import time
from collections import Counter
from contextlib import contextmanager
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.addons.bus.models.bus import dispatch, hashable
from odoo.addons.bus.websocket import WebsocketConnectionHandler
from odoo.api import Transaction
from odoo.tests import tagged
from odoo.tests.common import ChromeBrowser
from odoo.tools import mute_logger

from ..models import whatsapp_webhook_event
from .common_discuss import WhatsAppDiscussCase, WhatsAppDiscussHttpCase

EVENT_LOGGER = "odoo.addons.whatsapp.models.whatsapp_webhook_event"


class Crash(Exception):
    """The process dies before its transaction commits."""


class StatusQueueMixin:
    def _queue(self, *statuses, account=None):
        """Store one status-only ``messages`` change per status as the webhook does (``queued``, not applied).

        :param statuses: ``(wamid, status)`` pairs
        :return: the events created
        """
        Event = self.env["whatsapp.webhook.event"].sudo()  # sudo: the webhook runs as superuser
        account = account or self.account
        ids = []
        for wamid, status in statuses:
            value = self._whatsapp_status_value([(wamid, status, None, None)])
            ids += Event._store_changes(
                [(account.id, "messages", value, "2000001", None)], queue_statuses=True
            )
        return Event.browse(ids)

    def _apply(self):
        Event = self.env["whatsapp.webhook.event"].sudo()  # sudo: the cron runs as superuser
        Event._cron_apply_statuses()
        self.env.invalidate_all()

    def _sent(self, partners=None, user=None):
        """Messages sent from the chatter of ``partners`` by ``user`` (composer path), ``sent`` with a wamid."""
        user = user or self.user_wa
        partners = (partners or self.partners).with_user(user)
        with self.mock_wa_send():
            messages = partners._whatsapp_send_template(self.template.with_user(user), queue=True)
            self.env["whatsapp.message"].sudo()._process_queue(auto_commit=False)
        messages = messages.sudo()  # sudo: assertions
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        return messages


@tagged("whatsapp", "post_install", "-at_install")
class TestStatusApplier(StatusQueueMixin, WhatsAppDiscussCase):
    """Statuses are acknowledged once stored (``queued``) and applied in batches by the applier."""

    def test_queue_runner_applies_queued_statuses(self):
        """A queue runner applies the statuses queued meanwhile (a long send holds a cron worker: with two
        runners on Odoo's two cron workers the applier cron would wait for the whole campaign)."""
        messages = self._sent()
        events = self._queue((messages[0].wamid, "read"))
        self.env["whatsapp.message"].sudo()._process_queue(auto_commit=False)
        self.env.invalidate_all()
        self.assertEqual(events.mapped("state"), ["done"])
        self.assertEqual(messages[0].state, "read")

    def test_acknowledged_then_applied_in_batch(self):
        messages = self._sent()
        events = self._queue(*((m.wamid, "delivered") for m in messages))
        self.assertFalse(self._queue((messages[0].wamid, "delivered")), "a redelivery is stored once")
        self.assertEqual(set(events.mapped("state")), {"queued"})
        self.env.invalidate_all()
        self.assertEqual(set(messages.mapped("state")), {"sent"}, "acknowledged, not applied")
        with patch.object(
            type(self.env["whatsapp.message"]),
            "_apply_meta_statuses",
            autospec=True,
            side_effect=type(self.env["whatsapp.message"])._apply_meta_statuses,
        ) as apply:
            self._apply()
        self.assertEqual(apply.call_count, 1, "one application for the whole batch of the account")
        self.assertEqual(len(apply.call_args.args[2]), 3)
        self.assertEqual(set(messages.mapped("state")), {"delivered"})
        notifications = (
            self.env["mail.notification"].sudo().search([("whatsapp_message_id", "in", messages.ids)])
        )
        self.assertEqual(set(notifications.mapped("notification_status")), {"sent"})  # mail's "delivered"
        self.assertRecordValues(events, [{"state": "done", "attempts": 1, "error": False}] * 3)

    def test_highest_status_wins(self):
        first, second, third = self._sent()
        # within a batch, whatever the order they came in
        self._queue((first.wamid, "read"), (first.wamid, "delivered"))
        self._queue((second.wamid, "delivered"), (second.wamid, "read"), (third.wamid, "delivered"))
        self._apply()
        self.assertEqual((first | second | third).mapped("state"), ["read", "read", "delivered"])
        # across batches: a late delivered never lowers read
        late = self._queue((first.wamid, "delivered"), (third.wamid, "read"))
        self._apply()
        self.assertEqual((first | second | third).mapped("state"), ["read", "read", "read"])
        self.assertEqual(set(late.mapped("state")), {"done"})

    def test_crash_mid_batch_loses_nothing(self):
        messages = self._sent()
        events = self._queue(*((m.wamid, "read") for m in messages))
        with self.assertRaises(Crash), self.env.cr.savepoint():
            self.env["whatsapp.webhook.event"].sudo()._apply_queued_statuses()
            raise Crash  # applied and marked done, but never committed
        self.env.invalidate_all()
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertRecordValues(events, [{"state": "queued", "attempts": 0}] * 3)
        self._apply()
        self.assertEqual(set(messages.mapped("state")), {"read"})
        self.assertRecordValues(events, [{"state": "done", "attempts": 1}] * 3)

    def test_failure_handed_to_retry_cron(self):
        """A batch that fails for another reason than a concurrent update is handed to the retry cron,
        which dispatches its events one by one and keeps the error of any that fails again."""
        messages = self._sent()
        events = self._queue(*((m.wamid, "delivered") for m in messages))
        Message = type(self.env["whatsapp.message"])
        with (
            patch.object(Message, "_apply_meta_statuses", side_effect=ValueError("bug")),
            mute_logger(EVENT_LOGGER),
        ):
            self._apply()
        self.assertEqual(set(events.mapped("state")), {"pending"})
        self.assertTrue(all(events.mapped("next_attempt")), "due for the retry cron")
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.env["whatsapp.webhook.event"].sudo()._cron_process_events()
        self.env.invalidate_all()
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(set(messages.mapped("state")), {"delivered"})

    def test_concurrent_update_left_queued(self):
        """A send writing the same messages meanwhile: the batch is left queued, applied by the next one."""
        messages = self._sent()
        events = self._queue((messages[0].wamid, "delivered"))
        Message = type(self.env["whatsapp.message"])
        real = Message._apply_meta_statuses
        calls = []

        def conflict_once(self_, account, statuses, own_sending=False):
            calls.append(len(statuses))
            if len(calls) == 1:
                from psycopg2.errors import SerializationFailure  # noqa: PLC0415

                raise SerializationFailure("concurrent update")
            return real(self_, account, statuses, own_sending=own_sending)

        with patch.object(Message, "_apply_meta_statuses", conflict_once):
            Event = self.env["whatsapp.webhook.event"].sudo()
            self.assertEqual(Event._apply_queued_statuses(), 1)
            self.assertEqual(events.state, "queued")
            Event._apply_queued_statuses()
        self.env.invalidate_all()
        self.assertEqual(events.state, "done")
        self.assertEqual(messages[0].state, "delivered")

    def test_claims_after_the_last_batch_and_sweeps(self):
        """A claim starts after the previous batch (the dead index entries of applied events are not walked
        again); an event below it (committed late, skipped) is claimed by a sweep from the first event: every
        APPLY_SWEEP seconds, and before a run ends."""
        messages = self._sent()
        Event = self.env["whatsapp.webhook.event"].sudo()
        dbname = self.env.cr.dbname
        late = self._queue((messages[0].wamid, "delivered"))
        late.state = "done"  # not visible yet: its transaction commits after the next event's
        first = self._queue((messages[1].wamid, "delivered"))
        now = time.monotonic()
        with patch.dict(whatsapp_webhook_event._applier_floor, {dbname: (0, now)}):
            self.assertEqual(Event._apply_queued_statuses(), 1)
            self.assertEqual(whatsapp_webhook_event._applier_floor[dbname], (first.id + 1, now))
            late.state = "queued"  # committed now, below the floor
            self.assertEqual(Event._apply_queued_statuses(), 0, "claimed after the last batch")
            self.assertEqual(late.state, "queued")
            with patch.object(whatsapp_webhook_event, "APPLY_SWEEP", 0):
                self.assertEqual(Event._apply_queued_statuses(), 1, "the sweep claims it")
            self.assertEqual(late.state, "done")
            with patch.object(whatsapp_webhook_event, "APPLY_SWEEP", 3600):
                late_2 = self._queue((messages[0].wamid, "read"))
                late_2.state = "done"
                third = self._queue((messages[2].wamid, "delivered"))
                self.assertEqual(Event._apply_queued_statuses(), 1)
                late_2.state = "queued"
                self._apply()  # a run ends with a sweep
        self.assertEqual((late_2 | third).mapped("state"), ["done", "done"])
        self.assertEqual(messages[0].state, "read")

    def test_status_of_sending_message_parked(self):
        """A status of a message its send still holds is parked, as before, and the event is done."""
        messages = self._sent()
        messages[0].state = "sending"
        events = self._queue((messages[0].wamid, "delivered"), (messages[1].wamid, "delivered"))
        self._apply()
        self.assertEqual(messages.mapped("state"), ["sending", "delivered", "sent"])
        parked = self.env["whatsapp.status.pending"].sudo().search([("wamid", "=", messages[0].wamid)])
        self.assertEqual(parked.status, "delivered")
        self.assertEqual(set(events.mapped("state")), {"done"})

    def test_mixed_change_dispatched_at_once(self):
        """Inbound messages (and changes with them) are dispatched by the request (after its answer), not left
        to the applier."""
        Event = self.env["whatsapp.webhook.event"].sudo()
        value = self._whatsapp_inbound_value("33612345678", "Hello there")
        events = Event.browse(
            Event._store_changes([(self.account.id, "messages", value, "2000001", None)], queue_statuses=True)
        )
        self.assertEqual(events.state, "pending", "not queued for the applier")
        events._process()
        self.assertEqual(events.state, "done")
        self.assertIn("Hello there", self.chat_messages(self.chat()).mapped("body")[-1])

    def _bus_pushes(self, run):
        """``Counter((target, notification type))`` of the bus messages sent by ``run()``, and their payloads."""
        sent, payloads = Counter(), []
        Bus = type(self.env["bus.bus"])
        real = Bus._sendone

        def record(bus, target, notification_type, message):
            sent[(target, notification_type)] += 1
            payloads.append((target, message))
            return real(bus, target, notification_type, message)

        with patch.object(Bus, "_sendone", record):
            run()
        return sent, payloads

    def test_chatter_pushes_coalesced(self):
        """One push per author for a batch, with the last status only (an overtaken one is never pushed)."""
        messages = self._sent()
        self._queue(*((m.wamid, "delivered") for m in messages), *((m.wamid, "read") for m in messages))
        sent, payloads = self._bus_pushes(self._apply)
        author = self.user_wa.partner_id
        self.assertEqual(sent, Counter({(author, "mail.record/insert"): 1}), "one push for six statuses")
        ticks = {m["id"]: m["whatsapp_status"] for m in payloads[0][1]["mail.message"]}
        self.assertEqual(ticks, dict.fromkeys(messages.mail_message_id.ids, "read"))

    def test_discuss_ticks_coalesced(self):
        """One push per chat for a batch of statuses of its messages."""
        operator = self.user_wa_admin
        self.receive_text("Hello")
        chat = self.chat().with_user(operator)
        posts = chat.message_post(body="One", message_type="comment") | chat.message_post(
            body="Two", message_type="comment"
        )
        with self.mock_wa_send():
            self.env["whatsapp.message"].sudo()._process_queue(auto_commit=False)
        wa_messages = self.env["whatsapp.message"].sudo().search([("mail_message_id", "in", posts.ids)])
        self.assertEqual(len(wa_messages), 2)
        self._queue(*((m.wamid, "delivered") for m in wa_messages), *((m.wamid, "read") for m in wa_messages))
        sent, payloads = self._bus_pushes(self._apply)
        channel = chat.sudo()
        to_chat = [message for target, message in payloads if target == channel]
        self.assertEqual(sent[(channel, "mail.record/insert")], 1, "one push to the chat")
        ticks = {m["id"]: m["whatsapp_status"] for m in to_chat[0]["mail.message"]}
        self.assertEqual(ticks, dict.fromkeys(posts.ids, "read"))
        for post in posts:
            self.assertEqual(post.sudo()._whatsapp_status_values()[post]["whatsapp_status"], "read")


@tagged("whatsapp", "post_install", "-at_install")
class TestStatusApplierConcurrency(StatusQueueMixin, WhatsAppDiscussCase):
    """Two appliers at once (two cron workers, two servers), on committed rows: each event is applied once.

    Crons run on their own cursors: the fixture (an account, bare sent messages, queued events) is committed
    here and removed at the end.
    """

    def _committed(self, function):
        with self.registry.cursor() as cr:
            cr.transaction = Transaction(self.registry)  # see TestWebhookInbox.test_store_concurrent
            result = function(api.Environment(cr, SUPERUSER_ID, {}))
            cr.commit()
            return result

    def _fixture(self, env):
        account = env["whatsapp.account"].create(
            {
                "name": "Concurrent appliers",
                "phone_uid": "7000001",
                "account_uid": "7000002",
                "app_uid": "7000003",
                "token": "t",
                "app_secret": "s",
                "api_base_url": "http://127.0.0.1:9",
            }
        )
        messages = env["whatsapp.message"].create(
            [
                {
                    "account_id": account.id,
                    "number": "+33612345678",
                    "state": "sent",
                    "wamid": f"wamid.CONC{i}",
                    "payload": {"type": "text", "text": {"body": "x"}},
                }
                for i in range(20)
            ]
        )
        Event = env["whatsapp.webhook.event"]
        events = []
        for message in messages:
            value = self._whatsapp_status_value([(message.wamid, "delivered", None, None)])
            value["metadata"]["phone_number_id"] = account.phone_uid
            events += Event._store_changes(
                [(account.id, "messages", value, "7000002", None)], queue_statuses=True
            )
        return account.id, messages.ids, events

    def _cleanup(self, env, account_id):
        env.cr.execute("DELETE FROM whatsapp_webhook_event WHERE account_id = %s", [account_id])
        env.cr.execute("DELETE FROM whatsapp_status_pending WHERE account_id = %s", [account_id])
        env.cr.execute("DELETE FROM whatsapp_message WHERE account_id = %s", [account_id])
        env["whatsapp.account"].browse(account_id).unlink()

    def test_two_appliers_apply_each_once(self):
        account_id, message_ids, event_ids = self._committed(self._fixture)
        self.addCleanup(self._committed, lambda env: self._cleanup(env, account_id))
        claimed, errors = {}, []
        first_claimed = threading.Event()
        Message = type(self.env["whatsapp.message"])
        real = Message._apply_meta_statuses
        applied = Counter()

        def counting(self_, account, statuses, own_sending=False):
            for status in statuses:
                applied[status["id"]] += 1
            return real(self_, account, statuses, own_sending=own_sending)

        def applier(name, limit, hold):
            try:
                with self.registry.cursor() as cr:
                    cr.transaction = Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    claimed[name] = env["whatsapp.webhook.event"]._apply_queued_statuses(limit=limit)
                    if hold:  # the first applier holds its batch until the second has claimed its own
                        first_claimed.set()
                        second.join(10)
                    cr.commit()
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        with patch.object(Message, "_apply_meta_statuses", counting):
            second = threading.Thread(target=lambda: (first_claimed.wait(10), applier("second", 500, False)))
            first = threading.Thread(target=applier, args=("first", 8, True))
            second.start()
            first.start()
            first.join(30)
            second.join(30)
        self.assertFalse(errors)
        self.assertEqual(claimed, {"first": 8, "second": 12}, "SKIP LOCKED: disjoint batches")
        self.assertEqual(set(applied.values()), {1}, "each status applied once")
        self.assertEqual(len(applied), 20)

        def check(env):
            env.cr.execute(
                "SELECT state, attempts FROM whatsapp_webhook_event WHERE id IN %s", [tuple(event_ids)]
            )
            self.assertEqual(set(env.cr.fetchall()), {("done", 1)})
            env.cr.execute("SELECT DISTINCT state FROM whatsapp_message WHERE id IN %s", [tuple(message_ids)])
            self.assertEqual(env.cr.fetchall(), [("delivered",)])

        self._committed(check)


@tagged("whatsapp", "post_install", "-at_install")
class TestStatusLiveTour(WhatsAppDiscussHttpCase):
    """In real Chromium: the chatter ticks and the Discuss ticks move while statuses flow through the
    webhook (posted by the page, as Meta would) and the applier (run from a thread, as its cron)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the browser's bus websocket, which Odoo refuses under tests unless asked (as bus's WebsocketCase)
        cls.startClassPatcher(
            patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=True)
        )

    def setUp(self):
        super().setUp()
        self.template = self._create_wa_template()

    @contextmanager
    def applier_running(self):
        """The applier cron from a thread, every 0.1 s, as a server runs it, on a cursor of its own (the test
        cursor, shared with the requests under its lock); then what a real commit's ``NOTIFY`` does: the
        websockets subscribed to the channels it pushed to fetch their new bus messages (test cursors drop
        post-commit hooks; as bus's ``WebsocketCase.trigger_notification_dispatching``)."""
        stop, errors, navigated = threading.Event(), [], threading.Event()

        def run():
            # not before the browser is sent to the page: until then the test's thread uses the test cursor
            # directly, without the lock requests take (authentication, flush), and would race this thread
            while not navigated.wait(0.1):
                if stop.is_set():
                    return
            while not stop.wait(0.1):
                try:
                    with self.registry.cursor() as cr:
                        # see TestWebhookInbox.test_store_concurrent
                        cr.transaction = Transaction(self.registry)
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        env["whatsapp.webhook.event"]._cron_apply_statuses()
                        cr.flush()  # the bus messages are inserted (pre-commit)
                        channels = list(cr.postcommit.data.get("bus.bus.channels") or ())
                    for websocket in {
                        ws
                        for channel in channels
                        for ws in dispatch._channels_to_ws.get(hashable(channel), ())
                    }:
                        websocket.trigger_notification_dispatching()
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    errors.append(exc)

        navigate_to = ChromeBrowser.navigate_to

        def navigate(browser, *args, **kwargs):
            navigated.set()
            return navigate_to(browser, *args, **kwargs)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            with patch.object(ChromeBrowser, "navigate_to", navigate):
                yield
        finally:
            stop.set()
            thread.join(10)
        self.assertFalse(errors)

    def _live_code(self, tour, wamid):
        """Start ``tour`` with Meta's signed ``delivered`` and ``read`` webhooks of ``wamid`` on the page."""
        statuses = []
        for status in ("delivered", "read"):
            body = json.dumps(self._make_payload("messages", self._status_value(wamid, status)))
            statuses.append({"body": body, "signature": self._sign(body.encode())})
        return f"window.whatsappLiveStatuses = {json.dumps(statuses)}; odoo.startTour({tour!r}, {{}})"

    def test_chatter_ticks_live(self):
        partner = self.env["res.partner"].create({"name": "Live Customer", "mobile": "+33 6 12 34 56 99"})
        with self.mock_wa_send():
            message = partner.with_user(self.user_wa)._whatsapp_send_template(
                self.template.with_user(self.user_wa), queue=True
            )
            self.env["whatsapp.message"].sudo()._process_queue(auto_commit=False)
        message = message.sudo()  # sudo: assertions
        self.assertEqual(message.state, "sent")
        with self.applier_running():
            self.start_tour(
                f"/odoo/res.partner/{partner.id}",
                "whatsapp_status_live_chatter_tour",
                login=self.user_wa.login,
                code=self._live_code("whatsapp_status_live_chatter_tour", message.wamid),
            )
        self.env.invalidate_all()
        self.assertEqual(message.state, "read")

    def test_discuss_ticks_live(self):
        operator = self.user_wa_admin  # a notify user: member of new chats
        self.receive_text("Hello", name="Ana")
        post = self.chat().with_user(operator).message_post(body="Your parcel left", message_type="comment")
        with self.mock_wa_send():
            self.env["whatsapp.message"].sudo()._process_queue(auto_commit=False)
        message = self.env["whatsapp.message"].sudo().search([("mail_message_id", "=", post.id)])
        self.assertEqual(message.state, "sent")
        with self.applier_running(), self.mock_wa_send():  # reading the chat sends a read receipt
            self.start_tour(
                "/odoo/action-mail.action_discuss",
                "whatsapp_status_live_discuss_tour",
                login=operator.login,
                code=self._live_code("whatsapp_status_live_discuss_tour", message.wamid),
            )
        self.env.invalidate_all()
        self.assertEqual(message.state, "read")
