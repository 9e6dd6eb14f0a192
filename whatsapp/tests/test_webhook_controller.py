import hashlib
import hmac
import itertools
import json
import threading
import uuid
from unittest.mock import patch

import psycopg2
import requests
from odoo import SUPERUSER_ID, api, http
from odoo.modules.registry import DummyRLock, Registry
from odoo.tests import HttpCase, tagged
from odoo.tools import config, mute_logger

from ..controllers import fast_lane, webhook
from ..controllers.main import WhatsAppWebhookController
from ..controllers.webhook import MAX_BODY_BYTES
from ..models.whatsapp_webhook_event import WhatsAppWebhookEvent
from ..tools import webhook_envelope
from .common import SANDBOX_SECRET, WhatsAppHttpCase
from .common_messages import WhatsAppMessageMixin

# the webhook's logs (the POST is served by the fast lane, or the controller when it is off)
LOGGERS = (
    "odoo.addons.whatsapp.controllers.webhook",
    "odoo.addons.whatsapp.controllers.main",
    "odoo.addons.whatsapp.controllers.fast_lane",
)


@tagged("post_install", "-at_install", "whatsapp")
class TestWebhookController(WhatsAppHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # another account with its own WABA and app secret
        cls.account_2 = cls._create_account(
            name="Support",
            phone_uid="1000002",
            account_uid="2000002",
            app_secret="other-secret",
            webhook_verify_token="verify-2",
        )

    def _account_update(self, event="ACCOUNT_DELETED", entry_uid="2000001"):
        return self._make_payload(
            "account_update", {"event": event}, entry_uid=entry_uid, entry_time=1700000000
        )

    # ------------------------------------------------------------
    # GET: verification handshake
    # ------------------------------------------------------------

    def test_verify_handshake(self):
        query = "/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
        response = self.url_open(query)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.text, "1158201444")
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))

    def test_verify_refused(self):
        self.account_2.active = False
        for query in (
            "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
            "hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1",
            "hub.mode=subscribe&hub.challenge=1",
            "hub.mode=subscribe&hub.verify_token=&hub.challenge=1",
            "hub.verify_token=verify-me&hub.challenge=1",
        ):
            with self.subTest(query=query), mute_logger(*LOGGERS):
                self.assertFixedBody(self.url_open("/whatsapp/webhook?" + query), 403)

    def test_verify_archived_account_refused(self):
        self.account.active = False
        with mute_logger(*LOGGERS):
            response = self.url_open(
                "/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1"
            )
        self.assertFixedBody(response, 403)

    # ------------------------------------------------------------
    # POST: signature
    # ------------------------------------------------------------

    def test_signature_matrix(self):
        payload = self._account_update()
        body = json.dumps(payload).encode()
        valid = self._sign(body)
        cases = [
            ("missing", False, 403),
            ("empty", "", 403),
            ("no prefix", valid[len("sha256=") :], 403),
            ("sha1", "sha1=" + valid[len("sha256=") :][:40], 403),
            ("not hex", "sha256=" + "z" * 64, 403),
            ("truncated", valid[:-2], 403),
            ("wrong", self._sign(body, "wrong-secret"), 403),
            ("another account's secret", self._sign(body, "other-secret"), 403),
            ("signature of another body", self._sign(body + b" "), 403),
        ]
        for name, signature, status in cases:
            with self.subTest(case=name), mute_logger(*LOGGERS):
                self.assertFixedBody(self._post_webhook(body, signature=signature), status)
                self.assertFalse(self._events(), "nothing is written when the signature fails")
        self.assertFixedBody(
            self._post_webhook(body, signature=valid.upper().replace("SHA256=", "sha256=")), 200
        )
        self.assertEqual(len(self._events()), 1)

    def test_signature_per_account(self):
        """Each entry must be signed by the app secret of an account owning it."""
        response = self._post_webhook(self._account_update(entry_uid="2000002"), secret="other-secret")
        self.assertFixedBody(response, 200)
        self.assertEqual(self._events().account_id, self.account_2)
        with mute_logger(*LOGGERS):
            response = self._post_webhook(self._account_update(entry_uid="2000002"), secret=SANDBOX_SECRET)
        self.assertFixedBody(response, 403)

    def test_shared_waba(self):
        """Two numbers of one WABA: WABA-level fields go to both, messages to the number's account only."""
        account_3 = self._create_account(name="Sales 2", phone_uid="1000003")
        self._post_webhook(self._account_update())
        self.assertEqual(self._events(field="account_update").account_id, self.account | account_3)
        self._post_webhook(self._make_payload("messages", self._status_value(phone_uid="1000003")))
        self.assertEqual(self._events(field="messages").account_id, account_3)

    # ------------------------------------------------------------
    # POST: bodies
    # ------------------------------------------------------------

    def test_malformed_bodies(self):
        """A signed body is Meta's: whatever it is, it is answered 200 and kept whole, failed, in an event
        ``unparsed`` visible in the inbox; unsigned, it is refused before being parsed."""
        change = {"field": "account_update", "value": {"event": "X"}}
        bodies = {
            "not json": b"{not json",
            "not utf-8": b"\xff\xfe\x00",
            "list": [],
            "wrong object": {"object": "page", "entry": []},
            "no entry": {"object": "whatsapp_business_account"},
            "entry not a list": {"object": "whatsapp_business_account", "entry": {"id": "2000001"}},
            "entry not a dict": {"object": "whatsapp_business_account", "entry": ["2000001"]},
            "entry without id": {"object": "whatsapp_business_account", "entry": [{"changes": [change]}]},
            "changes not a list": {
                "object": "whatsapp_business_account",
                "entry": [{"id": "2000001", "changes": change}],
            },
            "field not a str": {
                "object": "whatsapp_business_account",
                "entry": [{"id": "2000001", "changes": [{"field": 3, "value": {}}]}],
            },
            "value not a dict": {
                "object": "whatsapp_business_account",
                "entry": [{"id": "2000001", "changes": [{"field": "account_update", "value": "x"}]}],
            },
            "too deep": b'{"object": "whatsapp_business_account", "entry": '
            + b"[" * 5000
            + b"]" * 5000
            + b"}",
        }
        for name, payload in bodies.items():
            with self.subTest(case=name), mute_logger(*LOGGERS):
                self.assertFixedBody(self._post_webhook(payload, secret="wrong-secret"), 403)
                self.assertFalse(self._events())
                self.assertFixedBody(self._post_webhook(payload), 200)
                event = self._events()
                self.assertRecordValues(
                    event, [{"field": "unparsed", "state": "failed", "account_id": self.account.id}]
                )
                self.assertIn("could not be parsed", event.error)
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.assertEqual(json.loads(event.value)["body"], webhook_envelope.body_text(body))
                event.unlink()

    def test_signature_checked_before_parsing(self):
        """Nothing of an unsigned body is decoded: the signature is checked over the raw bytes first."""
        body = json.dumps(self._account_update()).encode()
        with (
            patch.object(webhook_envelope, "parse", side_effect=AssertionError("parsed")) as parse,
            mute_logger(*LOGGERS),
        ):
            self.assertFixedBody(self._post_webhook(body, secret="wrong-secret"), 403)
        self.assertFalse(parse.called)

    def test_partly_unparseable_body(self):
        """The good changes of a body are processed; the body is kept whole for what could not be parsed."""
        payload = self._account_update("ACCOUNT_DELETED")
        payload["entry"].append("garbage")
        with mute_logger(*LOGGERS):
            self.assertFixedBody(self._post_webhook(payload), 200)
        self.assertEqual(self._events(field="account_update").state, "done")
        self.assertEqual(self.account.meta_status, "deleted")
        unparsed = self._events(field="unparsed")
        self.assertEqual(unparsed.state, "failed")
        self.assertIn("entry 1", unparsed.error)

    def test_unparsed_reprocessed(self):
        """An ``unparsed`` event is parsed again when reprocessed: once the parser copes, its changes are
        stored and dispatched; until then it stays failed."""
        with mute_logger(*LOGGERS):
            self._post_webhook(b"{not json")
        unparsed = self._events(field="unparsed")
        value = json.loads(unparsed.value)
        value["body"] = json.dumps(self._account_update("ACCOUNT_DELETED"))  # as if a fixed parser read it
        unparsed.sudo().write({"value": json.dumps(value)})
        with mute_logger("odoo.addons.whatsapp.models.whatsapp_webhook_event"):
            self._events(field="unparsed").with_user(self.user_wa_admin).action_reprocess()
        self.assertEqual(unparsed.state, "done")
        self.assertEqual(self._events(field="account_update").state, "done")
        self.assertEqual(self.account.meta_status, "deleted")

    def test_text_cleaned(self):
        """NUL characters and lone surrogates (valid JSON, not storable as such) are cleaned, not refused."""
        body = json.dumps(
            self._account_update("ACCOUNT_VIOLATION\x00\ud800")
        ).encode()  # json.dumps escapes them: \u0000 and \ud800
        self.assertIn(b"\\u0000", body)
        self.assertFixedBody(self._post_webhook(body), 200)
        event = self._events()
        self.assertEqual(event.state, "done")
        self.assertEqual(json.loads(event.value), {"event": "ACCOUNT_VIOLATION\ufffd"})

    def test_size_limits(self):
        """Meta sends up to 3 MB: accepted when signed; beyond the margin, refused before reading it."""
        value = self._status_value()
        payload = self._make_payload("messages", value)
        base_size = len(json.dumps(payload).encode())
        value["padding"] = "x" * (3 * 1024 * 1024 - base_size - len(', "padding": ""'))
        body = json.dumps(payload).encode()
        self.assertEqual(len(body), 3 * 1024 * 1024)
        self.assertFixedBody(self._post_webhook(body), 200)
        self.assertEqual(len(self._events()), 1)
        too_big = b" " * (MAX_BODY_BYTES + 1)
        self.assertFixedBody(self._post_webhook(too_big), 413)
        self.assertEqual(len(self._events()), 1)

    def test_size_limit_chunked(self):
        """A body without length (chunked) is read up to the limit only, then refused."""

        def chunks(total, size=256 * 1024):
            for _i in range(total // size):
                yield b" " * size

        for name, total in (("small", 0), ("too big", MAX_BODY_BYTES + 512 * 1024)):
            with self.subTest(case=name):
                body = json.dumps(self._account_update("ACCOUNT_VIOLATION")).encode()
                headers = {
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": self._sign(body + b" " * total),
                }
                try:
                    response = self.opener.post(
                        self.base_url() + "/whatsapp/webhook",
                        data=itertools.chain([body], chunks(total)),
                        headers=headers,
                        timeout=60,
                    )
                except requests.exceptions.ConnectionError:
                    response = None  # the server answered 413 and closed while the client was still sending
                self.env.invalidate_all()
                if total:
                    self.assertIn(None if response is None else response.status_code, (None, 413))
                    self.assertFalse(self._events())
                else:
                    self.assertFixedBody(response, 200)
                    self.assertEqual(len(self._events()), 1)
                    self._events().unlink()

    def test_unknown_account(self):
        """A body signed by no account's secret is refused; a signed change of a number or WABA that is not
        connected here is kept, ignored, without account."""
        with mute_logger(*LOGGERS):
            response = self._post_webhook(self._account_update(entry_uid="9999999"), secret="whatever")
        self.assertFixedBody(response, 403)
        self.assertFalse(self._events())
        with self.assertLogs("odoo.addons.whatsapp.controllers.webhook", "WARNING") as logs:
            response = self._post_webhook(self._make_payload("messages", self._status_value(phone_uid="42")))
            self.assertFixedBody(response, 200)
        self.assertEqual(len(logs.output), 1)
        self.assertIn("unknown account", logs.output[0])
        self.assertRecordValues(
            self._events(), [{"state": "ignored", "account_id": False, "field": "messages"}]
        )

    def test_archived_account_is_unknown(self):
        """Payloads Meta still sends for an archived account are verified with its secret and kept, ignored."""
        self.account_2.active = False
        with mute_logger(*LOGGERS):
            response = self._post_webhook(self._account_update(entry_uid="2000002"), secret="other-secret")
        self.assertFixedBody(response, 200)
        self.assertRecordValues(self._events(), [{"state": "ignored", "account_id": False}])

    def test_empty_entry_list(self):
        self.assertFixedBody(self._post_webhook({"object": "whatsapp_business_account", "entry": []}), 200)

    # ------------------------------------------------------------
    # POST: storing and dispatching
    # ------------------------------------------------------------

    def test_valid_delivery_dispatched(self):
        self.assertFixedBody(self._post_webhook(self._account_update("ACCOUNT_DELETED")), 200)
        event = self._events()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.account_id, self.account)
        self.assertEqual(event.entry_uid, "2000001")
        self.assertEqual(json.loads(event.value), {"event": "ACCOUNT_DELETED"})
        self.assertEqual(self.account.meta_status, "deleted")

    def test_duplicate_delivery(self):
        payload = self._account_update("ACCOUNT_VIOLATION")
        for _attempt in range(3):
            self.assertFixedBody(self._post_webhook(payload), 200)
        self.assertEqual(len(self._events()), 1)
        self.assertEqual(len(self.account.message_ids.filtered(lambda m: "ACCOUNT_VIOLATION" in m.body)), 1)

    def test_several_changes_one_payload(self):
        payload = self._account_update("ACCOUNT_VIOLATION")
        payload["entry"][0]["changes"].append({"field": "some_future_field", "value": {"a": 1}})
        payload["entry"].append(
            {"id": "2000002", "changes": [{"field": "some_future_field", "value": {"a": 1}}]}
        )
        with mute_logger(*LOGGERS):  # the second entry belongs to account_2 whose secret differs
            self.assertFixedBody(self._post_webhook(payload), 403)
        self.assertFalse(self._events())
        payload["entry"].pop()
        self.assertFixedBody(self._post_webhook(payload), 200)
        self.assertEqual(sorted(self._events().mapped("state")), ["done", "ignored"])

    def test_handler_error_keeps_event(self):
        def explode(account, value, event):
            raise ValueError("handler bug with secret detail")

        with (
            patch.object(type(self.env["whatsapp.account"]), "_webhook_account_update", explode),
            mute_logger("odoo.addons.whatsapp.models.whatsapp_webhook_event"),
        ):
            response = self._post_webhook(self._account_update())
        self.assertFixedBody(response, 200)
        self.assertNotIn("secret detail", response.text)
        event = self._events()
        self.assertEqual(event.state, "failed")
        self.assertIn("handler bug with secret detail", event.error)
        self.assertEqual(event.attempts, 1)

    def test_unexpected_error_is_generic(self):
        """Changes that cannot be stored (a bug) leave the body whole in an ``unparsed`` event; when even that
        fails, the answer is a bare 500 (Meta retries), without internal detail."""

        def broken(model, *args, **kwargs):
            raise RuntimeError("internal detail: password=hunter2")

        with patch.object(WhatsAppWebhookEvent, "_store_changes", broken), mute_logger(*LOGGERS):
            response = self._post_webhook(self._account_update())
        self.assertFixedBody(response, 200)
        self.assertEqual(self._events().field, "unparsed")
        self.assertIn("could not be stored", self._events().error)
        self._events().unlink()
        with (
            patch.object(WhatsAppWebhookEvent, "_store_changes", broken),
            patch.object(WhatsAppWebhookEvent, "_store_rejects", broken),
            mute_logger(*LOGGERS),
        ):
            response = self._post_webhook(self._account_update())
        self.assertFixedBody(response, 500)
        self.assertNotIn("hunter2", response.text)
        self.assertFalse(self._events())

    def test_sandbox_webhooks(self):
        """The sandbox's own signed webhooks (checked against Meta's spec on its side) are accepted."""
        self._start_sandbox()
        self._sandbox_webhooks_to_odoo()
        self.sandbox.send_webhook(
            "account_update", {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SCAM"}}
        )
        self.assertTrue(self.sandbox.wait_idle(30))
        self.env.invalidate_all()
        statuses = [record.get("status") for record in self.sandbox.webhooks]
        self.assertEqual(statuses, [200], self.sandbox.webhooks)
        self.assertEqual(self._events(field="account_update").state, "done")
        self.assertIn("SCAM", self.account.meta_last_event)


@tagged("post_install", "-at_install", "whatsapp")
class TestWebhookControllerNoFastLane(TestWebhookController):
    """Every webhook test again through Odoo's regular dispatch (the fast lane turned off)."""

    allow_inherited_tests_method = True  # Odoo's loader runs only a class's own test methods otherwise

    def setUp(self):
        super().setUp()
        self.startPatcher(patch.dict(config.options, {"whatsapp_webhook_fast_lane": "False"}))


@tagged("post_install", "-at_install", "whatsapp")
class TestWebhookFastLane(WhatsAppHttpCase):
    """The POST served before Odoo's dispatch (``controllers/fast_lane.py``), and its off switch."""

    def _account_update(self):
        return self._make_payload("account_update", {"event": "PARTNER_ADDED"}, entry_time=1700000000)

    def test_fast_lane_serves_post(self):
        """The POST is served at Odoo's WSGI entry: neither Odoo's request (its session, its database choice)
        nor the controller nor ir.http run for it, and no session cookie is sent to Meta."""
        with (
            patch.object(http.Request, "_post_init", side_effect=AssertionError) as post_init,
            patch.object(
                WhatsAppWebhookController, "_webhook_receive", side_effect=AssertionError
            ) as receive,
            patch.object(type(self.env["ir.http"]), "_pre_dispatch", side_effect=AssertionError) as pre,
        ):
            response = self._post_webhook(self._account_update())
        self.assertFixedBody(response, 200)
        self.assertFalse(post_init.called or receive.called or pre.called)
        self.assertNotIn("Set-Cookie", response.headers)
        self.assertEqual(self._events().state, "done")

    def test_fast_lane_session_left_to_odoo(self):
        """A POST with a session cookie (its session may name the database): Odoo serves it, through the
        controller, with the same result."""
        original = WhatsAppWebhookController._webhook_receive
        with patch.object(
            WhatsAppWebhookController, "_webhook_receive", autospec=True, side_effect=original
        ) as receive:
            response = self._post_webhook(self._account_update(), headers={"Cookie": "session_id=abc"})
        self.assertFixedBody(response, 200)
        self.assertEqual(receive.call_count, 1)
        self.assertEqual(self._events().state, "done")

    def test_fast_lane_database_chosen_as_odoo_does(self):
        """No single database for the request's host (``--db-filter``, ``-d``): the lane does not guess, Odoo
        answers as it does for a client without session (no database: the route is not found), nothing
        stored."""
        with (
            patch.object(http, "db_list", return_value=[self.env.cr.dbname, "another"]) as db_list,
            mute_logger("odoo.http"),
        ):
            response = self._post_webhook(self._account_update())
        self.assertEqual(response.status_code, 404)
        self.assertIn(
            self.base_url().split("//")[1], [call.kwargs.get("host") for call in db_list.call_args_list]
        )
        self.assertFalse(self._events())

    def test_fast_lane_leaves_the_rest_to_odoo(self):
        """The handshake (GET) goes through Odoo's dispatch, the lane on."""
        ir_http = type(self.env["ir.http"])
        with patch.object(ir_http, "_pre_dispatch", side_effect=ir_http._pre_dispatch) as pre:
            response = self.url_open(
                "/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=42"
            )
        self.assertEqual(response.text, "42")
        self.assertEqual(pre.call_count, 1)

    def test_fast_lane_off(self):
        """``whatsapp_webhook_fast_lane = False``: the controller serves the POST through Odoo's regular
        dispatch (``ir.http`` hooks of other addons run), once, with the same result and no cookie."""
        original = WhatsAppWebhookController._webhook_receive
        ir_http = type(self.env["ir.http"])
        with (
            patch.dict(config.options, {"whatsapp_webhook_fast_lane": "False"}),
            patch.object(
                WhatsAppWebhookController, "_webhook_receive", autospec=True, side_effect=original
            ) as receive,
            patch.object(ir_http, "_pre_dispatch", side_effect=ir_http._pre_dispatch) as pre,
        ):
            response = self._post_webhook(self._account_update())
        self.assertFixedBody(response, 200)
        self.assertEqual(receive.call_count, 1)
        self.assertEqual(pre.call_count, 1, "the ir.http hooks of other addons run")
        self.assertNotIn("Set-Cookie", response.headers)
        self.assertEqual(self._events().state, "done")

    def test_fast_lane_unexpected_error(self):
        """An error outside the receiving code's own handling (e.g. the database gone): a plain 500, so
        that Meta retries, logged, no traceback in the answer."""
        with (
            patch.object(fast_lane, "receive", side_effect=RuntimeError("boom")),
            self.assertLogs("odoo.addons.whatsapp.controllers.fast_lane", "ERROR"),
        ):
            response = self._post_webhook(self._account_update())
        self.assertFixedBody(response, 500)
        self.assertFalse(self._events())


@tagged("post_install", "-at_install", "whatsapp")
class TestWebhookFastLaneKeptCursor(HttpCase):
    """As in production (no test cursor: each POST on its own connection, committed), the fast lane keeps its
    cursor between POSTs, idle outside any transaction, and replaces it when the server closed it."""

    registry_test_mode = False
    SECRET = "kept-cursor-secret"

    def setUp(self):
        super().setUp()
        # the test runner holds the registries' lock while tests run; the server's thread takes it to find the
        # registry: as the test mode does (without its test cursor), a lock that does not block
        self.startPatcher(patch.object(Registry, "_lock", DummyRLock()))
        self.uid = str(uuid.uuid4().int)[:12]  # Meta's ids are numbers
        with self.registry.cursor() as cr:  # committed: the server's own cursors see it
            account = api.Environment(cr, SUPERUSER_ID, {})["whatsapp.account"].create(
                {
                    "name": f"Kept cursor {self.uid}",
                    "phone_uid": f"1{self.uid}",
                    "account_uid": f"2{self.uid}",
                    "app_uid": f"3{self.uid}",
                    "token": "kept-cursor-token",
                    "app_secret": self.SECRET,
                    "api_base_url": "http://127.0.0.1:9",
                }
            )
            self.account_id = account.id
        self.addCleanup(self._forget)
        fast_lane._close_kept()

    def _forget(self):
        fast_lane._close_kept()
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM whatsapp_webhook_event WHERE account_id = %s", [self.account_id])
            api.Environment(cr, SUPERUSER_ID, {})["whatsapp.account"].browse(self.account_id).unlink()

    def _post_status(self, wamid):
        value = WhatsAppMessageMixin._whatsapp_status_value([(wamid, "delivered", None, None)])
        value["metadata"]["phone_number_id"] = f"1{self.uid}"
        payload = {"object": "whatsapp_business_account", "entry": [{"id": f"2{self.uid}", "changes": [
            {"field": "messages", "value": value}]}]}  # fmt: skip
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(self.SECRET.encode(), body, hashlib.sha256).hexdigest()
        response = self.url_open(
            "/whatsapp/webhook",
            data=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
        )
        self.assertEqual(response.status_code, 200)

    def _stored(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT state, COUNT(*) FROM whatsapp_webhook_event WHERE account_id = %s GROUP BY state",
                [self.account_id],
            )
            return dict(cr.fetchall())

    def _kept(self):
        kept = fast_lane._kept.get(self.registry.db_name, [])
        self.assertEqual(len(kept), 1, "one cursor kept (the test server serves one POST at a time)")
        return kept[0]

    def test_one_cursor_for_every_post(self):
        self._post_status(f"wamid.{self.uid}.1")
        kept = self._kept()
        pid = kept._cnx.get_backend_pid()
        for index in range(2, 5):
            self._post_status(f"wamid.{self.uid}.{index}")
        self.assertIs(self._kept(), kept, "the same cursor, taken from Odoo's pool once")
        self.assertEqual(kept._cnx.get_backend_pid(), pid)
        self.assertEqual(
            kept._cnx.info.transaction_status,
            psycopg2.extensions.TRANSACTION_STATUS_IDLE,
            "never idle in a transaction between POSTs (no snapshot held, no lock)",
        )
        self.assertEqual(self._stored(), {"queued": 4}, "every status committed before its 200")

    def test_at_most_keep_cursors_in_all(self):
        """Kept cursors count as in use in Odoo's per-process pool: never more than KEEP, whatever the POSTs at
        once or the databases; the others are closed (given back to the pool)."""
        cursors = [self.registry.cursor() for _ in range(fast_lane.KEEP + 1)]
        for cr in cursors:
            cr.execute("SELECT 1")  # in a transaction, as after a POST that stored nothing
            fast_lane._give_back(cr)
        self.assertEqual(fast_lane._kept[self.registry.db_name], cursors[: fast_lane.KEEP])
        self.assertTrue(cursors[-1].closed)
        for cr in cursors[: fast_lane.KEEP]:
            self.assertEqual(cr._cnx.info.transaction_status, psycopg2.extensions.TRANSACTION_STATUS_IDLE)

    def test_connection_closed_by_the_server_is_replaced(self):
        self._post_status(f"wamid.{self.uid}.1")
        pid = self._kept()._cnx.get_backend_pid()
        with self.registry.cursor() as cr:
            cr.execute("SELECT pg_terminate_backend(%s)", [pid])
        with self.assertLogs("odoo.sql_db", "ERROR"):  # Odoo logs the failed query; the POST goes on
            self._post_status(f"wamid.{self.uid}.2")
        self.assertNotEqual(self._kept()._cnx.get_backend_pid(), pid)
        self.assertEqual(self._stored(), {"queued": 2}, "the POST after the loss is stored, answered 200")


@tagged("post_install", "-at_install", "whatsapp")
class TestWebhookDispatchAfterAnswer(WhatsAppHttpCase):
    """A change to dispatch (an inbound message, an account update) is stored and committed, answered, then
    dispatched once the answer is sent: its handler's work holds up no acknowledgement (under tests the
    dispatch runs before the answer, see ``dispatch_after``; here it runs as in production)."""

    def _dispatched_after(self):
        answered, handled, seen = threading.Event(), threading.Event(), {}
        Account = type(self.env["whatsapp.account"])
        real = Account._webhook_account_update

        def handler(account, value, event):
            seen["thread"] = threading.current_thread()
            seen["answered first"] = answered.wait(10)  # the test sets it once it has the answer
            try:
                return real(account, value, event)
            finally:
                handled.set()

        payload = self._make_payload("account_update", {"event": "ACCOUNT_DELETED"}, entry_time=1700000000)
        with (
            patch.object(webhook, "in_tests", return_value=False),
            patch.object(Account, "_webhook_account_update", handler),
        ):
            response = self._post_webhook(payload, apply=False)  # no use of the test cursor meanwhile
            answered.set()
            self.assertTrue(handled.wait(10), "dispatched after the answer")
            with self.registry.test_lock:  # the dispatch's cursor is closed (committed)
                self.env.invalidate_all()
        self.assertFixedBody(response, 200)
        self.assertTrue(seen["answered first"], "Meta had its 200 before the handler ran")
        self.assertEqual(
            seen["thread"].name, "whatsapp-webhook-dispatch", "the request's thread went back to serving"
        )
        self.assertEqual(self._events().state, "done")
        self.assertEqual(self.account.meta_status, "deleted")

    def test_dispatched_after_the_answer_fast_lane(self):
        self._dispatched_after()

    def test_dispatched_after_the_answer_controller(self):
        with patch.dict(config.options, {"whatsapp_webhook_fast_lane": "False"}):
            self._dispatched_after()

    def test_background_jobs_in_order_and_the_caller_free(self):
        """``in_background`` returns at once (a prefork worker serves the next POST while the dispatch runs),
        runs the jobs one at a time in the order given, goes on after a job that fails, and its thread,
        not a daemon (an exiting worker finishes the job in progress), ends when no job is left."""
        started, release, done, ran = threading.Event(), threading.Event(), threading.Event(), []

        def blocked():
            ran.append(("first", threading.current_thread()))
            started.set()
            release.wait(10)

        def failing():
            ran.append(("failing", threading.current_thread()))
            raise ValueError("a bug")

        webhook.in_background(blocked)
        webhook.in_background(failing)
        webhook.in_background(lambda: (ran.append(("last", threading.current_thread())), done.set()))
        # here while the first job is blocked: the caller did not wait for it
        self.assertTrue(started.wait(10))
        self.assertEqual([name for name, _thread in ran], ["first"])
        thread = ran[0][1]
        self.assertNotEqual(thread, threading.current_thread())
        self.assertFalse(thread.daemon)
        with self.assertLogs(webhook.__name__, "ERROR") as logs:
            release.set()
            self.assertTrue(done.wait(10))
            thread.join(10)
        self.assertIn("background dispatch failed", logs.output[0])
        self.assertEqual([name for name, _thread in ran], ["first", "failing", "last"])
        self.assertEqual({t for _name, t in ran}, {thread}, "one thread, one job at a time")
        self.assertFalse(thread.is_alive(), "the thread ends when no job is left")
        self.assertIsNone(webhook._dispatcher)

    def test_statuses_only_nothing_to_dispatch(self):
        """A POST of statuses only (nearly every POST of a campaign) is queued for the applier and leaves nothing
        to dispatch after its answer (a second cursor per status POST cost as much as the POST)."""
        dispatched = []
        real = webhook.dispatch_after

        def spy(response, registry, event_ids):
            dispatched.append(list(event_ids))
            return real(response, registry, event_ids)

        value = WhatsAppMessageMixin._whatsapp_status_value([("wamid.ONLY-STATUS", "delivered", None, None)])
        with patch.object(fast_lane, "dispatch_after", spy):
            response = self._post_webhook(self._make_payload("messages", value), apply=False)
        self.assertFixedBody(response, 200)
        self.assertEqual(dispatched, [[]])
        self.assertEqual(self._events().state, "queued")
