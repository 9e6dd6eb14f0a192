"""End to end against the Meta sandbox over loopback: faults injected, every message delivered once."""

import time
from collections import Counter
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time
from odoo import fields
from odoo.tests import tagged
from odoo.tests.common import _super_send

from ..tools.graph_api import GraphClient
from .common_messages import WhatsAppMessageCase


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppMessageSandbox(WhatsAppMessageCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_sandbox()
        cls.recipients = cls.env["res.partner"].create(
            [{"name": f"R{i}", "mobile": f"+33 6 70 00 00 {i:02d}"} for i in range(12)]
        )

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # keep the short client timeouts of the timeout test (Odoo raises them to 10 s); the client refuses
        # any non-loopback host while tests run
        return _super_send(s, r, **kw)

    def setUp(self):
        super().setUp()
        self.sandbox.reset()
        self.sandbox.add_template(
            self.account.account_uid,
            self.template.template_name,
            components=[{"type": "BODY", "text": self.template.body}],
        )

    def _deliver_status_webhooks(self):
        """Play Meta: hand the sandbox's queued status webhooks to the account's handler."""
        self.sandbox.wait_idle(10)
        for record in self.sandbox.webhooks:
            for change in record["payload"]["entry"][0]["changes"]:
                if change["field"] == "messages":
                    self.account._webhook_messages(change["value"], None)

    def _sent_per_number(self):
        return Counter(m["wa_id"] for m in self.sandbox.sent_messages)

    def test_faults_delivered_exactly_once(self):
        """5xx and 429 (rate limit) injected: retried with backoff, no user action, each sent once."""
        self.sandbox.set_fault("messages", kind="5xx", count=3)
        self.sandbox.set_fault("messages", kind="429", count=3)
        self.sandbox.set_fault("messages", kind="5xx", count=2, http_status=503)
        now = fields.Datetime.now()
        with freeze_time(now):
            messages = self.recipients._whatsapp_send_template(self.template, queue=False)
        for minutes in range(1, 12):
            with freeze_time(now + timedelta(minutes=minutes)):
                self.env["whatsapp.message"]._process_queue()
        self.assertEqual(set(messages.mapped("state")), {"sent"}, messages.mapped("failure_reason"))
        sent = self._sent_per_number()
        self.assertEqual(len(sent), 12)
        self.assertEqual(set(sent.values()), {1}, "never twice")
        # statuses queued under frozen time are due in the frozen future: have the sandbox emit them now
        self.sandbox._worker.clear()
        for sent_message in self.sandbox.sent_messages:
            for status in ("read", "delivered", "sent"):  # out of order on purpose
                self.sandbox.status(sent_message["wamid"], status)
        self._deliver_status_webhooks()
        self.assertEqual(
            set(messages.mapped("state")), {"read"}, messages.mapped(lambda m: (m.state, m.wamid))
        )

    def test_timeout_accepted_late_not_resent(self):
        """Meta accepts after our read timeout: the status (with our uuid) settles it; no second send."""
        self.sandbox.set_fault("messages", kind="timeout", count=1, delay=1.0)
        short = GraphClient.__init__

        def _init(client, *args, **kwargs):
            short(client, *args, **{**kwargs, "timeout": (2, 0.3)})

        now = fields.Datetime.now()
        with freeze_time(now), patch.object(GraphClient, "__init__", _init):
            message = self.recipients[0]._whatsapp_send_template(self.template, queue=False)
        self.assertWAMessage(message, "sending")
        deadline = time.monotonic() + 5
        while not self.sandbox.sent_messages and time.monotonic() < deadline:
            time.sleep(0.05)
        self._deliver_status_webhooks()
        with freeze_time(now + timedelta(minutes=3)):
            self.env["whatsapp.message"]._process_queue()
        self.assertWAMessage(message, "read")
        self.assertTrue(message.wamid)
        self.assertEqual(self._sent_per_number(), Counter({"33670000000": 1}))

    def test_permanent_error_from_sandbox(self):
        self.sandbox.set_fault("messages", kind="131047", count=1)
        message = self.recipients[0]._whatsapp_send_template(self.template, queue=False)
        self.assertWAMessage(message, "failed", "window", fields_values={"error_code": 131047})
        self.assertEqual(len(self.sandbox.sent_messages), 0)

    def test_token_expired_pauses_account(self):
        self.sandbox.set_fault("messages", kind="190", count=1)
        messages = self.recipients[:3]._whatsapp_send_template(self.template, queue=False)
        self.assertTrue(self.account.sudo().queue_paused)
        # calls already in flight may succeed; nothing fails, the rest waits in the queue
        self.assertIn("queued", messages.mapped("state"))
        self.assertLessEqual(set(messages.mapped("state")), {"queued", "sent"})
        self.account.sudo().action_resume_queue()
        self.env["whatsapp.message"]._process_queue()
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertEqual(set(self._sent_per_number().values()), {1})
