"""Test layers of the whatsapp addon, reusable by every WhatsApp test (templates, messages, bridges).

* ``MockGraphMixin``: ``mock_graph()`` patches the one seam to Meta (``GraphClient._request``) and records
  what went over the wire in ``self.graph_calls``; no socket is opened.
* ``SandboxMixin``: ``cls._start_sandbox()`` runs a ``meta_sandbox.Sandbox`` on loopback for the class,
  registers the fixture account in it and points the Odoo account at it (``cls.sandbox``, stopped on
  class cleanup). ``cls._sandbox_webhooks_to_odoo()`` makes the sandbox call this Odoo's webhook.
* ``WhatsAppCommon``: the fixtures (companies, least-privilege users, one account) and webhook helpers
  (``_make_payload``, ``_sign``, ``_post_webhook``); use it through ``WhatsAppCase`` (TransactionCase) or
  ``WhatsAppHttpCase`` (HttpCase, needed for ``_post_webhook``).
"""

import hashlib
import hmac
import json
import os
import sys
import unittest
from contextlib import contextmanager
from unittest.mock import patch

from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.tests import HttpCase, TransactionCase

from ..controllers.webhook import REPLIES
from ..tools.graph_api import GraphClient
from ..tools.graph_errors import WhatsAppApiError

SANDBOX_PHONE_UID = "1000001"
SANDBOX_WABA_UID = "2000001"
SANDBOX_APP_UID = "3000001"
SANDBOX_TOKEN = "sandbox-token"
SANDBOX_SECRET = "sandbox-secret"


def import_sandbox():
    """:return: the ``meta_sandbox.Sandbox`` class, or None when the package is not importable.

    ``meta_sandbox`` lives at the repository root, next to the addons, which Odoo does not put on
    ``sys.path``: add it (tests only).
    """
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isdir(os.path.join(repo_root, "meta_sandbox")) and repo_root not in sys.path:
        sys.path.append(repo_root)
    try:
        from meta_sandbox import Sandbox  # noqa: PLC0415 - optional, located at run time
    except ImportError:
        return None
    return Sandbox


class MockGraphMixin:
    """Replace Meta by a function: every Graph call of every ``GraphClient`` goes through ``_request``."""

    @contextmanager
    def mock_graph(self, responses=None, error=None):
        """Patch ``GraphClient._request`` for the duration of the block.

        :param responses: ``{(method, path): result}`` (``path`` relative, e.g. ``"1000001"`` or
            ``"2000001/phone_numbers"``); a result that is an exception instance is raised, a callable is
            called with ``(method, path, kwargs)``. Unknown calls answer ``{}``.
        :param error: a ``WhatsAppApiError`` raised by every call (shortcut)
        """
        self.graph_calls = []
        responses = responses or {}

        def _request(client, method, path_or_url, **kwargs):
            self.graph_calls.append({"method": method, "path": path_or_url, **kwargs})
            if error is not None:
                raise error
            result = responses.get((method, path_or_url), {})
            if isinstance(result, Exception):
                raise result
            return result(method, path_or_url, kwargs) if callable(result) else result

        with patch.object(GraphClient, "_request", autospec=True, side_effect=_request):
            yield self.graph_calls

    @staticmethod
    def meta_error(code, subcode=None, http_status=400, message="Error", category=None):
        """A ``WhatsAppApiError`` as the client raises it (``http_status=None`` for a network error)."""
        return WhatsAppApiError(
            message, http_status=http_status, code=code, subcode=subcode, category=category
        )


class SandboxMixin:
    sandbox = None

    @classmethod
    def _start_sandbox(cls, account=None, **sandbox_kwargs):
        """Start a sandbox for the class and point ``account`` (default ``cls.account``) at it.

        Skips the class when ``meta_sandbox`` is not importable.
        """
        sandbox_class = import_sandbox()
        if sandbox_class is None:
            raise unittest.SkipTest("meta_sandbox is not importable")
        cls.sandbox = sandbox_class(**sandbox_kwargs)
        cls.sandbox.start()
        cls.addClassCleanup(cls.sandbox.stop)
        account = account if account is not None else cls.account
        cls.sandbox.add_account(
            phone_number_id=account.phone_uid,
            waba_id=account.account_uid,
            app_id=account.app_uid,
            token=account.sudo().token,  # sudo: the token is admin-only; the fixture copies it to the sandbox
            app_secret=account.sudo().app_secret,
            display_phone_number="+1 555 000 0001",
            verified_name="Sandbox Co",
        )
        account.sudo().api_base_url = cls.sandbox.url
        return cls.sandbox

    def _sandbox_webhooks_to_odoo(self):
        """Make the sandbox deliver its signed webhooks to this Odoo (HttpCase only)."""
        self.sandbox.set_webhook(callback_url=f"{self.base_url()}/whatsapp/webhook")


class WhatsAppCommon(MockGraphMixin, SandboxMixin):
    """Fixtures: ``company``, ``company_2``, users ``user_wa`` (WhatsApp user), ``user_wa_admin``
    (WhatsApp administrator), ``user_other_company`` (WhatsApp administrator of ``company_2`` only),
    ``user_employee`` (no WhatsApp right) and ``account`` (in ``company``, sandbox ids and secrets)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.ref("base.main_company")
        cls.company_2 = cls.env["res.company"].create({"name": "Other Company"})
        cls.user_employee = mail_new_test_user(
            cls.env,
            login="wa_employee",
            groups="base.group_user",
            company_id=cls.company.id,
            name="Emma Employee",
        )
        cls.user_wa = mail_new_test_user(
            cls.env,
            login="wa_user",
            groups="base.group_user,whatsapp.group_whatsapp_user",
            company_id=cls.company.id,
            name="Walter User",
        )
        cls.user_wa_admin = mail_new_test_user(
            cls.env,
            login="wa_admin",
            groups="base.group_user,whatsapp.group_whatsapp_admin",
            company_id=cls.company.id,
            name="Wanda Admin",
        )
        cls.user_other_company = mail_new_test_user(
            cls.env,
            login="wa_other",
            groups="base.group_user,whatsapp.group_whatsapp_admin",
            company_id=cls.company_2.id,
            company_ids=[(6, 0, cls.company_2.ids)],
            name="Oscar Other",
        )
        # sudo: fixture; accounts of the database (e.g. the demo one, on the same sandbox ids) are archived so
        # that tests run the same with or without demo data
        cls.env["whatsapp.account"].sudo().search([]).action_archive()
        cls.account = cls._create_account()

    @classmethod
    def _create_account(cls, **values):
        return (
            cls.env["whatsapp.account"]
            .sudo()  # sudo: fixture creation, independent of the test user
            .create(
                {
                    "name": "Sales",
                    "phone_uid": SANDBOX_PHONE_UID,
                    "account_uid": SANDBOX_WABA_UID,
                    "app_uid": SANDBOX_APP_UID,
                    "token": SANDBOX_TOKEN,
                    "app_secret": SANDBOX_SECRET,
                    "webhook_verify_token": "verify-me",
                    # closed port: nothing is reached unless a test points it at a sandbox or mocks the client
                    "api_base_url": "http://127.0.0.1:9",
                    "notify_user_ids": [(6, 0, cls.user_wa_admin.ids)],
                    "allowed_company_ids": [(6, 0, cls.company.ids)],
                    **values,
                }
            )
            .with_env(cls.env)
        )

    # ------------------------------------------------------------
    # WEBHOOK HELPERS
    # ------------------------------------------------------------

    @staticmethod
    def _make_payload(field, value, entry_uid=SANDBOX_WABA_UID, entry_time=None):
        """A one-entry, one-change envelope as Meta sends it."""
        entry = {"id": entry_uid, "changes": [{"field": field, "value": value}]}
        if entry_time is not None:
            entry["time"] = entry_time
        return {"object": "whatsapp_business_account", "entry": [entry]}

    @staticmethod
    def _status_value(wamid="wamid.TEST1", status="delivered", phone_uid=SANDBOX_PHONE_UID):
        """A ``messages`` value carrying one status (the most frequent webhook)."""
        return {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": phone_uid},
            "statuses": [
                {"id": wamid, "status": status, "timestamp": "1700000000", "recipient_id": "33612345678"}
            ],
        }

    @staticmethod
    def _sign(body, secret=SANDBOX_SECRET):
        return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    def _post_webhook(self, payload, secret=SANDBOX_SECRET, signature=None, headers=None, apply=True):
        """POST ``payload`` (dict, str or bytes) to the webhook, signed with ``secret``.

        :param signature: exact ``X-Hub-Signature-256`` header to send instead (``False``: no header)
        :param bool apply: then run the status applier, as its cron does on a server (crons do not run in
            tests): the statuses the webhook acknowledged are applied when this returns
        :return: the ``requests`` response
        """
        if isinstance(payload, dict | list):
            body = json.dumps(payload).encode()
        else:
            body = payload.encode() if isinstance(payload, str) else payload
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if signature is None:
            all_headers["X-Hub-Signature-256"] = self._sign(body, secret)
        elif signature is not False:
            all_headers["X-Hub-Signature-256"] = signature
        response = self.url_open("/whatsapp/webhook", data=body, headers=all_headers, timeout=60)
        self.env.invalidate_all()  # the request wrote through the shared test cursor
        if apply:
            self._apply_statuses()
        return response

    def _apply_statuses(self):
        """Run the status applier (``whatsapp.webhook.event._cron_apply_statuses``) as its cron does.

        :return: the events it applied
        """
        Event = self.env["whatsapp.webhook.event"].sudo()  # sudo: the cron runs as superuser
        queued = Event.search([("state", "=", "queued")])
        Event._cron_apply_statuses()
        self.env.invalidate_all()
        return queued

    def assertReadyTemplate(self, template, header_format, header_handle="4::cmVhZHk="):
        """A ready template shipped as data (bridges): a draft that passes the template's own checks, whose
        field variables are declared safe for its model and whose create payload is valid against Meta's spec.

        :return: the create payload (of a copy in the fixture account), for further assertions
        """
        import_sandbox()
        from meta_sandbox.spec import validate_request  # noqa: PLC0415 - located at run time

        copy = template.sudo().copy(
            {"account_id": self.account.id, "template_name": f"{template.template_name}_check"}
        )
        self.assertEqual(copy.status, "draft")
        copy._check_submittable()
        payload = copy._get_meta_create_payload(header_handle=header_handle)
        self.assertEqual(payload["components"][0]["format"], header_format)
        self.assertEqual(validate_request("POST", "/{Version}/{WABA-ID}/message_templates", payload), [])
        fields_used = set(copy.variable_ids.filtered("field_name").mapped("field_name"))
        self.assertFalse(
            fields_used - set(self.env[copy.model]._whatsapp_safe_fields()), "unsafe field variables"
        )
        return payload

    def _events(self, **domain):
        return (
            self.env["whatsapp.webhook.event"]
            .sudo()  # sudo: assertions, whatever the current user
            .search([(key, "=", value) for key, value in domain.items()])
        )


class WhatsAppCase(WhatsAppCommon, TransactionCase):
    pass


class WhatsAppHttpCase(WhatsAppCommon, HttpCase):
    def assertFixedBody(self, response, status):
        """A webhook answer: a short fixed text, no traceback, no internal detail."""
        self.assertEqual(response.status_code, status)
        self.assertEqual(response.text, REPLIES.get(status, response.text))
        self.assertNotIn("Traceback", response.text)
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))
