import threading
import time
from unittest.mock import patch

from odoo import sql_db
from odoo.tests import tagged

from ..tools.sender import reserve_slots, send_all
from .common_messages import WhatsAppMessageCase


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppSendClock(WhatsAppMessageCase):
    """The per-number cap is held by PostgreSQL for every process: two senders share it."""

    def _clock_row(self, account_id):
        # another connection: the reservations are committed on their own, outside the test's transaction
        with sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute("SELECT tat FROM whatsapp_send_clock WHERE account_id = %s", [account_id])
            return cr.fetchone()

    def _forget_clock(self, account_id):
        with sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute("DELETE FROM whatsapp_send_clock WHERE account_id = %s", [account_id])

    def test_two_senders_share_the_cap(self):
        """Two senders of one number at once (threads with their own connections, as two servers): each message
        once, never more than the cap in any second in total."""
        account_id = 2_000_000_000 + self.account.id  # a row of its own: no other test touches it
        self.addCleanup(self._forget_clock, account_id)
        cap, starts, sent, lock = 20, [], [], threading.Lock()

        def send(payload):
            with lock:
                starts.append(time.monotonic())
                sent.append(payload)
            return {"messages": [{"id": f"wamid.{payload}"}]}

        results = {}

        def server(name):
            reserve = self.env["whatsapp.message"]._send_reserve(account_id)
            jobs = [(i, f"{name}-{i}") for i in range(25)]
            results[name] = send_all(jobs, [send] * 4, cap, reserve=reserve)

        threads = [threading.Thread(target=server, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sorted(sent), sorted(f"{name}-{i}" for name in ("a", "b") for i in range(25)))
        self.assertTrue(all(r.response for rows in results.values() for r in rows))
        starts.sort()
        busiest = max(sum(1 for t in starts[i:] if t < start + 1.0) for i, start in enumerate(starts))
        self.assertLessEqual(busiest, cap)
        self.assertTrue(self._clock_row(account_id))

    def test_concurrent_reservations_wait_for_each_other(self):
        """Two processes reserving at the same moment: the second waits for the first and reserves after it (it
        never fails and paces alone, which would let both send at the full cap)."""
        account_id = 2_000_000_000 + self.account.id
        self.addCleanup(self._forget_clock, account_id)
        reserve = self.env["whatsapp.message"]._send_reserve(account_id)
        reserve(1, 0.001)  # the row exists
        result = {}
        with sql_db.db_connect(self.env.cr.dbname).cursor() as cr:  # the other process, committed on leaving
            reserve_slots(
                cr, account_id, 1, 5.0
            )  # five seconds of its slots; the row stays locked until its commit
            thread = threading.Thread(target=lambda: result.update(answer=reserve(1, 0.01)))
            thread.start()
            thread.join(0.5)
            self.assertTrue(thread.is_alive(), "the second reservation waits for the first one's commit")
        thread.join(10)
        first, now, _sent, _answered = result["answer"]
        self.assertGreater(first - now, 4.0, "its slot comes after the five seconds reserved first")

    def test_queue_reserves_on_the_shared_clock(self):
        """The queue takes its slots from the shared clock of its account."""
        self.addCleanup(self._forget_clock, self.account.id)
        self._forget_clock(self.account.id)
        message = self.partners[0]._whatsapp_send_template(self.template, queue=True)
        with self.mock_wa_send():
            self.env["whatsapp.message"]._process_queue()
        self.assertWAMessage(message, "sent")
        self.assertTrue(self._clock_row(self.account.id), "the send reserved its slot in PostgreSQL")


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppSendAccountsTogether(WhatsAppMessageCase):
    """One queue run sends every account at once, each at its own cap: a campaign of one account does not hold
    another back."""

    def test_two_accounts_send_interleaved_each_at_its_cap(self):
        cap, count = 10, 15
        other = self._create_account(name="Support", phone_uid="1000002")
        accounts = (self.account | other).sudo()  # sudo: configuration by an administrator
        accounts.rate_limit = cap
        for account in accounts:
            self.addCleanup(TestWhatsAppSendClock._forget_clock, self, account.id)
        partners = self.env["res.partner"].create(
            [{"name": f"Client {i}", "mobile": f"+33 6 22 33 44 {i:02d}"} for i in range(count)]
        )
        messages = partners._whatsapp_send_template(self.template, queue=True)
        messages |= partners._whatsapp_send_template(self._create_wa_template(account=other), queue=True)
        self.assertEqual(len(messages), 2 * count)
        calls, lock = [], threading.Lock()

        def answer(method, path, kwargs):
            uuid = kwargs["json"]["biz_opaque_callback_data"]
            with lock:
                calls.append((time.monotonic(), path.split("/")[0], uuid))
            return {"messages": [{"id": f"wamid.{uuid}"}]}

        responses = {("POST", f"{account.phone_uid}/messages"): answer for account in accounts}
        with self.mock_graph(responses=responses):
            self.env["whatsapp.message"]._process_queue()
        # each message once, and sent
        self.assertEqual(sorted(uuid for _t, _a, uuid in calls), sorted(messages.mapped("uuid")))
        messages.invalidate_recordset()
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        # interleaved: each account's first call comes before the other's last one, both in the first second
        calls.sort()
        order = [account for _t, account, _u in calls]
        for one, two in (("1000001", "1000002"), ("1000002", "1000001")):
            self.assertLess(order.index(one), len(order) - 1 - order[::-1].index(two))
            self.assertIn(one, order[:cap])
        # each account's cap held in any 1-second window
        for uid in ("1000001", "1000002"):
            starts = [t for t, account, _u in calls if account == uid]
            busiest = max(sum(1 for t in starts[i:] if t < start + 1.0) for i, start in enumerate(starts))
            self.assertLessEqual(busiest, cap, uid)

    def _triggered_runners(self):
        """Queue three messages in batches of 2 and run the queue: the runner crons it triggered."""
        self.env["ir.config_parameter"].sudo().set_param("whatsapp.send_batch_size", 2)
        self.partners._whatsapp_send_template(self.template, queue=True)
        triggered = []
        Cron = type(self.env["ir.cron"])
        real_trigger = Cron._trigger

        def spy(crons, at=None):
            triggered.extend(crons.ids)
            return real_trigger(crons, at=at)

        with patch.object(Cron, "_trigger", spy), self.mock_wa_send():
            self.env["whatsapp.message"]._process_queue()
        self.assertEqual(len(self.wa_sent), 3)
        return set(triggered) & set(self.env.ref("whatsapp.ir_cron_whatsapp_message_queue_runner").ids)

    def test_full_batch_wakes_the_other_runners(self):
        """A claim that fills a batch means more is due: the other runner crons are triggered to help (with
        ``whatsapp.runner_help_above`` 0, whatever the caps)."""
        self.env["ir.config_parameter"].sudo().set_param("whatsapp.runner_help_above", 0)
        self.account.write({"throughput_level": "high", "rate_limit": 80})
        self.assertTrue(self._triggered_runners())

    def test_one_runner_below_help_above(self):
        """With ``whatsapp.runner_help_above``, the others are woken only when the caps of the accounts with more
        than a batch due add up to more: below, one runner sends at the caps alone and the other cron workers stay
        free for the status applier and the other crons."""
        self.assertEqual(
            self.env["whatsapp.message"]._param("whatsapp.runner_help_above"), 200, "the default"
        )
        self.account.write({"throughput_level": "high", "rate_limit": 80})
        self.assertFalse(self._triggered_runners())
        self.account.write({"rate_limit": 300})
        self.assertTrue(self._triggered_runners())
