"""Test layer for WhatsApp messages, reusable by the bridges (sale, pos, event).

* ``mock_wa_send()``: Meta answers every send through core's ``mock_graph()`` (the one seam), with a wamid,
  or with the error given per number; ``self.wa_sent`` lists the payloads that went over the wire.
* ``assertWAMessage()`` / ``assertWASent()``: assertions on ``whatsapp.message`` records and payloads.
* ``_whatsapp_status_value()`` / ``_whatsapp_inbound_value()``: ``messages`` webhook values as Meta sends them.
"""

import itertools
from contextlib import contextmanager

from .common import SANDBOX_PHONE_UID, WhatsAppCase

_WAMIDS = itertools.count(1)


class WhatsAppMessageMixin:
    @classmethod
    def _create_wa_template(cls, account=None, **values):
        """An approved template of ``res.partner`` sent to ``mobile`` (no variable unless given)."""
        # sudo: fixture creation by an administrator, independent of the test user
        template = (
            cls.env["whatsapp.template"]
            .sudo()
            .create(
                {
                    "name": "Order Ready",
                    "body": "Hello, your order is ready.",
                    "account_id": (account or cls.account).id,
                    "model_id": cls.env["ir.model"]._get_id("res.partner"),
                    "phone_field": "mobile",
                    "lang_code": "en_US",
                    "category": "utility",
                    **values,
                }
            )
        )
        template.status = "approved"
        return template.with_env(cls.env)

    @contextmanager
    def mock_wa_send(self, errors=None, responses=None):
        """Answer sends like Meta; ``errors``: ``{digits or "*": exception or [exceptions, consumed in order]}``.

        Other Graph calls (media upload, phone info...) answer from ``responses`` (core's ``mock_graph``).
        """
        errors = {k: (list(v) if isinstance(v, list) else v) for k, v in (errors or {}).items()}
        self.wa_sent = []

        def _send(method, path, kwargs):
            payload = kwargs.get("json") or {}
            error = errors.get(payload.get("to") or payload.get("recipient")) or errors.get("*")
            if isinstance(error, list):
                error = error.pop(0) if error else None
            if error is not None:
                raise error
            self.wa_sent.append(payload)
            return {
                "messaging_product": "whatsapp",
                "contacts": [
                    {"input": payload.get("to") or payload.get("recipient"), "wa_id": payload.get("to")}
                ],
                "messages": [{"id": f"wamid.TEST{next(_WAMIDS)}"}],
            }

        all_responses = {("POST", f"{SANDBOX_PHONE_UID}/messages"): _send, **(responses or {})}
        with self.mock_graph(responses=all_responses) as calls:
            yield calls

    def assertWAMessage(self, message, state, failure_type=None, number=None, fields_values=None):
        """Check one ``whatsapp.message`` (``failure_type`` is checked as given, False included)."""
        message.invalidate_recordset()
        self.assertEqual(len(message), 1)
        self.assertEqual(message.state, state, f"{message.number}: {message.failure_reason}")
        if failure_type is not None:
            self.assertEqual(message.failure_type, failure_type)
        if number is not None:
            self.assertEqual(message.number, number)
        for fname, value in (fields_values or {}).items():
            self.assertEqual(message[fname], value, fname)

    def assertWASent(self, numbers, template_name=None, count=1):
        """Each E.164 number received exactly ``count`` sends (payloads from ``mock_wa_send``)."""
        for number in numbers:
            sent = [p for p in self.wa_sent if p.get("to") == number.lstrip("+")]
            self.assertEqual(len(sent), count, f"{number}: sent {len(sent)} times")
            if template_name:
                self.assertEqual(sent[0]["template"]["name"], template_name)

    @staticmethod
    def _whatsapp_status_value(statuses, errors=None):
        """``messages`` value with ``statuses`` = ``[(wamid, status, uuid or None, error code or None)]``."""
        items = []
        for wamid, status, uuid, code in statuses:
            item = {"id": wamid, "status": status, "timestamp": "1700000000", "recipient_id": "33612345678"}
            if uuid:
                item["biz_opaque_callback_data"] = uuid
            if code:
                item["errors"] = [
                    {
                        "code": code,
                        "title": f"Error {code}",
                        "message": f"Error {code}",
                        "error_data": {"details": f"Details of {code}"},
                    }
                ]
            items.append(item)
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": SANDBOX_PHONE_UID},
        }
        if items:
            value["statuses"] = items
        if errors:
            value["errors"] = errors
        return value

    @staticmethod
    def _whatsapp_inbound_value(from_, text, wamid=None, context_id=None):
        message = {
            "from": from_,
            "id": wamid or f"wamid.IN{next(_WAMIDS)}",
            "timestamp": "1700000000",
            "type": "text",
            "text": {"body": text},
        }
        if context_id:
            message["context"] = {"from": "15550000001", "id": context_id}
        return {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": SANDBOX_PHONE_UID},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": from_}],
            "messages": [message],
        }


class WhatsAppMessageCase(WhatsAppMessageMixin, WhatsAppCase):
    """Fixtures: ``template`` (approved, res.partner, mobile) and ``partners`` (3 French mobiles)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template = cls._create_wa_template()
        cls.partners = cls.env["res.partner"].create(
            [{"name": f"Customer {i}", "mobile": f"+33 6 12 34 56 {i:02d}"} for i in range(3)]
        )
