"""Role × method matrix: what each kind of user may do with every model and public method of the suite.

The model layer is the guard (a user may call any public method and write any field through RPC, whatever
the screens show). The tables below are the decisions; the tests check them against the running registry:

* :data:`ACL`: for each model, the operations each role may do (``r``ead, ``w``rite, ``c``reate,
  ``u``nlink), checked with ``check_access`` on the model (access rights);
* :data:`METHODS`: for each public method that one of our addons defines (found in the registry: a new one
  without a decision fails :meth:`TestSecurityMatrix.test_every_public_method_has_a_decision`), the roles
  allowed to call it, and the arguments of the call. A refused role gets an ``AccessError`` and nothing
  reaches Meta; an allowed one gets no ``AccessError`` (a ``UserError`` saying the record is not in the
  right state is an answer).

A representative slice goes through ``/web/dataset/call_kw``, as the browser calls it
(:class:`TestSecurityMatrixRPC`).
"""

import json
from contextlib import contextmanager

from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import WhatsAppCase, WhatsAppHttpCase
from .common_messages import WhatsAppMessageMixin

ROLES = ("public", "portal", "employee", "wa_user", "wa_admin", "system")
USERS = ("wa_user", "wa_admin", "system")  # WhatsApp users and up
ADMINS = ("wa_admin", "system")
NOBODY = ()

#: model -> {role: operations}; a role not listed may do nothing
ACL = {
    "whatsapp.account": {"wa_user": "r", "wa_admin": "rwcu", "system": "rwcu"},
    "whatsapp.webhook.event": {"wa_admin": "rwu", "system": "rwu"},
    "whatsapp.template": {"wa_user": "r", "wa_admin": "rwcu", "system": "rwcu"},
    "whatsapp.template.button": {"wa_user": "r", "wa_admin": "rwcu", "system": "rwcu"},
    "whatsapp.template.variable": {"wa_user": "r", "wa_admin": "rwcu", "system": "rwcu"},
    "whatsapp.composer": {"wa_user": "rwcu", "wa_admin": "rwcu", "system": "rwcu"},
    "whatsapp.composer.variable": {"wa_user": "rwcu", "wa_admin": "rwcu", "system": "rwcu"},
    # like sms.sms: plain users read (their) messages, every write goes through the thread API, the composer
    # or Discuss, which check and then write with a scoped sudo()
    "whatsapp.message": {"wa_user": "r", "wa_admin": "rwcu", "system": "rwcu"},
    "whatsapp.status.pending": {"wa_admin": "ru", "system": "ru"},
    "whatsapp.media.cache": {"wa_admin": "ru", "system": "ru"},
    "whatsapp.marketing.preference": {"wa_user": "r", "wa_admin": "rwcu", "system": "rwcu"},
    "whatsapp.bulk.send": {"wa_user": "r", "wa_admin": "rwcu", "system": "rwcu"},
    # the chatter's failure dialog: WhatsApp users open it; what it may do depends on the record (below)
    "whatsapp.resend": {"wa_user": "rwcu", "wa_admin": "rwcu", "system": "rwcu"},
    "whatsapp.resend.recipient": {"wa_user": "rwcu", "wa_admin": "rwcu", "system": "rwcu"},
}

#: fields only administrators read (credentials, and where the token is sent)
SECRET_FIELDS = {
    "whatsapp.account": ("token", "app_secret", "webhook_verify_token", "api_base_url", "api_version"),
}

#: (model, method) -> (roles allowed, record fixture name, args); the fixture is an attribute of the test
METHODS = {
    # accounts: every button that calls Meta, or changes how the account talks to it, is for administrators
    ("whatsapp.account", "action_regenerate_verify_token"): (ADMINS, "account", ()),
    ("whatsapp.account", "button_test_connection"): (ADMINS, "account", ()),
    ("whatsapp.account", "action_resume_queue"): (ADMINS, "account", ()),
    ("whatsapp.account", "button_sync_whatsapp_template"): (ADMINS, "account", ()),
    # templates: submit/sync reach Meta: administrators, checked before the call; the statistics are views
    ("whatsapp.template", "button_submit_template"): (ADMINS, "template_draft", ()),
    ("whatsapp.template", "button_sync_template"): (ADMINS, "template", ()),
    # window actions only: what they open is guarded by the records' own rights (the two reading the
    # WhatsApp menu's actions need the WhatsApp groups)
    ("whatsapp.template", "action_stats_period"): (ROLES, "template", ()),
    ("whatsapp.template", "action_open_stats_messages"): (USERS, "template", ()),
    ("whatsapp.template", "action_open_stats_clicks"): (USERS, "template", ()),
    # messages: retry/cancel change the queue: administrators (users retry through the chatter's failure
    # dialog and the bulk send, which check the record); send() reaches Meta: administrators only
    ("whatsapp.message", "action_retry"): (ADMINS, "message_failed", ()),
    ("whatsapp.message", "action_cancel"): (ADMINS, "message_queued", ()),
    ("whatsapp.message", "send"): (ADMINS, "message_queued", ()),
    ("whatsapp.message", "action_whatsapp_add_contact"): (USERS, "message_inbound", ()),
    # a window action to the message's record: reads the message (its readers), opens what they may open
    ("whatsapp.message", "action_open_record"): (USERS, "message_failed", ()),
    # idempotent DDL (CREATE INDEX IF NOT EXISTS), as every model's init()
    ("whatsapp.message", "init"): (ROLES, "message_queued", ()),
    ("whatsapp.webhook.event", "init"): (ROLES, "event", ()),
    ("res.partner", "init"): (ROLES, "partner", ()),
    ("discuss.channel", "init"): (ROLES, "partner", ()),
    # bulk sends: the sender sees and cancels/retries their own (record rule); administrators all
    ("whatsapp.bulk.send", "action_cancel"): (USERS, "bulk_send", ()),
    ("whatsapp.bulk.send", "action_retry"): (USERS, "bulk_send_failed", ()),
    ("whatsapp.bulk.send", "action_view_messages"): (ROLES, "bulk_send", ()),  # a window action only
    ("whatsapp.bulk.send", "action_view_not_sent"): (ROLES, "bulk_send", ()),  # a window action only
    # the inbox: administrators
    ("whatsapp.webhook.event", "action_reprocess"): (ADMINS, "event", ()),
    # the composer: WhatsApp users; has_available_templates() answers False to anyone else (the chatter asks
    # it for every user); default_get() echoes the context
    ("whatsapp.composer", "action_send_whatsapp"): (USERS, "composer", ()),
    ("whatsapp.composer", "has_available_templates"): (ROLES, "composer_model", ("res.partner",)),
    ("whatsapp.composer", "default_get"): (ROLES, "composer_model", (["res_model"],)),
    # the chatter's failure dialog of a message of a contact: resending needs the right to write the record
    # (none of these roles may write contacts: that is Contact Creation; see test_whatsapp_resend for a
    # user who may), ignoring the right to read it
    ("whatsapp.resend", "action_resend"): (NOBODY, "resend", ()),
    ("whatsapp.resend", "action_ignore"): (USERS, "resend", ()),
    ("whatsapp.resend", "default_get"): (ROLES, "resend_model", (["mail_message_id"],)),
    # the messaging menu's "Ignore" on a failure item: internal users, their own notifications only
    ("mail.thread", "notify_cancel_by_type"): (("employee", *USERS), "partner", ("whatsapp",)),
    # settings onboarding: res.config.settings is for Settings administrators
    ("res.config.settings", "action_whatsapp_onboarding_account"): (("system",), "settings", ()),
    ("res.config.settings", "action_whatsapp_onboarding_new_account"): (("system",), "settings", ()),
    ("res.config.settings", "action_whatsapp_onboarding_templates"): (("system",), "settings", ()),
    # overrides of the ORM's own public methods: covered by the ACL table
    ("whatsapp.account", "create"): None,
    ("whatsapp.account", "write"): None,
    ("whatsapp.account", "unlink"): None,
    ("whatsapp.account", "copy_data"): None,
    ("whatsapp.template", "create"): None,
    ("whatsapp.template", "write"): None,
    ("whatsapp.template", "unlink"): None,
    ("whatsapp.template", "copy_data"): None,
    ("whatsapp.template.button", "create"): None,
    ("whatsapp.template.button", "write"): None,
    ("discuss.channel", "message_post"): None,  # mail's own checks (members), tested in test_discuss_*
    # bridges (their own tests check the record rights; here: who may call at all)
    ("sale.order", "action_send_whatsapp"): None,
    ("pos.order", "action_sent_message_on_whatsapp"): None,
    ("pos.order", "action_whatsapp_send_receipt"): None,
    ("event.mail", "action_open_whatsapp_failures"): None,
}


class SecurityMatrixMixin(WhatsAppMessageMixin):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {
            "public": cls.env.ref("base.public_user"),
            "portal": mail_new_test_user(
                cls.env, login="wa_portal", groups="base.group_portal", name="Pat Portal"
            ),
            "employee": cls.user_employee,
            "wa_user": cls.user_wa,
            "wa_admin": cls.user_wa_admin,
            "system": mail_new_test_user(
                cls.env, login="wa_system", groups="base.group_user,base.group_system", name="Sys Admin"
            ),
        }
        cls.partner = cls.env["res.partner"].create({"name": "Customer", "mobile": "+33 6 12 34 56 78"})
        cls.template = cls._create_wa_template()
        cls.template_draft = cls._create_wa_template(name="Draft", template_name="draft_one")
        cls.template_draft.sudo().status = "draft"
        Message = cls.env["whatsapp.message"].sudo()  # sudo: fixtures
        common = {"account_id": cls.account.id, "number": "+33612345678", "model": "res.partner"}
        cls.message_queued = Message.create(
            {**common, "res_id": cls.partner.id, "payload": {"type": "text", "text": {"body": "hi"}}}
        ).with_env(cls.env)
        cls.message_failed = Message.create(
            {**common, "res_id": cls.partner.id, "state": "failed", "failure_type": "unknown"}
        ).with_env(cls.env)
        cls.message_inbound = Message.create(
            {
                **common,
                "res_id": cls.partner.id,
                "direction": "inbound",
                "state": "received",
                "whatsapp_kind": "contacts",
            }
        ).with_env(cls.env)
        Event = cls.env["whatsapp.webhook.event"].sudo()
        cls.event = Event.browse(
            Event._store_changes([(cls.account.id, "account_update", {"event": "X"}, "2000001", 1)])
        ).with_env(cls.env)
        BulkSend = cls.env["whatsapp.bulk.send"].with_user(cls.user_wa)
        cls.bulk_send = BulkSend._queue(cls.template, cls.partner).with_env(cls.env)
        cls.bulk_send_failed = BulkSend._queue(cls.template, cls.partner).with_env(cls.env)
        cls.bulk_send_failed.sudo().state = "failed"
        no_number = cls.env["res.partner"].create({"name": "Customer Without Number"})
        cls.failed_mail_message = no_number._whatsapp_send_template(cls.template, queue=True).mail_message_id

    def _fixture(self, name, user):
        if name == "composer":
            return (
                self.env["whatsapp.composer"]
                .with_user(user)
                .with_context(active_model="res.partner", active_ids=self.partner.ids)
                .create({"template_id": self.template.id})
            )
        if name == "composer_model":
            return self.env["whatsapp.composer"].with_user(user)
        if name == "resend":
            return (
                self.env["whatsapp.resend"]
                .with_user(user)
                .with_context(default_mail_message_id=self.failed_mail_message.id)
                .create({})
            )
        if name == "resend_model":
            return self.env["whatsapp.resend"].with_user(user)
        if name == "settings":
            return self.env["res.config.settings"].with_user(user).create({})
        return getattr(self, name).with_user(user)

    @contextmanager
    def rolled_back(self):
        """Run the block in a savepoint rolled back at its end (each call sees the same fixtures)."""

        class Rollback(Exception):
            pass

        try:
            with self.env.cr.savepoint():
                yield
                raise Rollback
        except Rollback:
            pass
        self.env.invalidate_all()

    def call(self, model, method, user):
        """Call ``method`` as ``user``: ``"denied"`` (AccessError), or ``"allowed"``, and the Graph calls."""
        allowed_roles, fixture, args = METHODS[model, method]
        outcome = "allowed"
        with self.rolled_back(), self.mock_wa_send() as calls, mute_logger("odoo.addons.whatsapp"):
            try:
                records = self._fixture(fixture, user)
                getattr(records, method)(*args)
            except AccessError:
                outcome = "denied"
            except Exception:  # noqa: BLE001 - a business error is an answer to an allowed caller
                outcome = "allowed"
            graph_calls = list(calls)
        return outcome, graph_calls


@tagged("post_install", "-at_install", "whatsapp")
class TestSecurityMatrix(SecurityMatrixMixin, WhatsAppCase):
    def test_every_public_method_has_a_decision(self):
        """Every public method our addons define on any model has a row in :data:`METHODS`."""
        missing = []
        for model_name in self.env.registry:
            for cls in type(self.env[model_name]).__mro__:
                if not cls.__module__.startswith("odoo.addons.whatsapp"):
                    continue
                for name, member in vars(cls).items():
                    if name.startswith("_") or not callable(member) or isinstance(member, type):
                        continue
                    if (model_name, name) not in METHODS and (cls._name or model_name) == model_name:
                        missing.append(f"{model_name}.{name}")
        self.assertFalse(sorted(set(missing)), "public methods without a security decision in METHODS")

    def test_access_rights(self):
        models = [name for name in self.env.registry if name.startswith("whatsapp.")]
        self.assertEqual(
            sorted(m for m in models if not self.env[m]._abstract and m not in ACL),
            [],
            "models without access decision in ACL",
        )
        for model_name in models:
            if model_name not in ACL:
                continue
            for role in ROLES:
                allowed = ACL[model_name].get(role, "")
                Model = self.env[model_name].with_user(self.users[role])
                for letter, operation in (("r", "read"), ("w", "write"), ("c", "create"), ("u", "unlink")):
                    with self.subTest(model=model_name, role=role, operation=operation):
                        self.assertEqual(
                            Model.has_access(operation), letter in allowed, f"{role} {operation} {model_name}"
                        )

    def test_secret_fields(self):
        for model_name, field_names in SECRET_FIELDS.items():
            for role in ROLES:
                user = self.users[role]
                for field_name in field_names:
                    with self.subTest(model=model_name, role=role, field=field_name):
                        readable = self.env[model_name]._fields[field_name].is_accessible(self.env(user=user))
                        self.assertEqual(readable, role in ADMINS)

    def test_public_methods(self):
        for (model, method), decision in METHODS.items():
            if decision is None or model not in self.env:
                continue
            allowed_roles = decision[0]
            for role in ROLES:
                with self.subTest(model=model, method=method, role=role):
                    outcome, graph_calls = self.call(model, method, self.users[role])
                    expected = "allowed" if role in allowed_roles else "denied"
                    self.assertEqual(outcome, expected, f"{role} calling {model}.{method}")
                    if expected == "denied":
                        self.assertFalse(graph_calls, f"{role} calling {model}.{method} reached Meta")


@tagged("post_install", "-at_install", "whatsapp")
class TestSecurityMatrixRPC(SecurityMatrixMixin, WhatsAppHttpCase):
    """A slice of the matrix through ``/web/dataset/call_kw``, as the browser (or any script) calls it."""

    def call_kw(self, login, model, method, args, kwargs=None):
        if login:
            self.authenticate(login, login)
        else:
            self.authenticate(None, None)
        response = self.url_open(
            "/web/dataset/call_kw",
            data=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        self.env.invalidate_all()
        return response.json()

    def assertDenied(self, result, what):
        error = result.get("error")
        self.assertTrue(error, f"{what}: allowed ({result.get('result')!r})")
        self.assertIn(
            error["data"]["name"],
            ("odoo.exceptions.AccessError", "odoo.http.SessionExpiredException"),
            f"{what}: {error['data']['message']}",
        )

    def test_rpc_slice(self):
        logins = {"public": None, "portal": "wa_portal", "employee": "wa_employee", "wa_user": "wa_user"}
        queued = self.message_queued.id
        cases = [
            ("whatsapp.account", "read", [[self.account.id], ["token", "app_secret"]], {}),
            ("whatsapp.message", "read", [[queued], ["body", "number", "payload"]], {}),
            ("whatsapp.account", "button_test_connection", [[self.account.id]], {}),
            ("whatsapp.template", "button_submit_template", [[self.template_draft.id]], {}),
            ("whatsapp.webhook.event", "action_reprocess", [[self.event.id]], {}),
        ]
        for role, login in logins.items():
            for model, method, args, kwargs in cases:
                if role == "wa_user" and (model, method) == ("whatsapp.message", "read"):
                    continue  # a WhatsApp user reads the messages of records they can read
                with self.subTest(role=role, model=model, method=method), self.mock_wa_send() as calls:
                    with mute_logger("odoo.http", "odoo.addons.whatsapp"):
                        self.assertDenied(
                            self.call_kw(login, model, method, args, kwargs), f"{role} {method}"
                        )
                    self.assertFalse(calls, "nothing reaches Meta")

    def test_rpc_resend_needs_write_access(self):
        """A WhatsApp user opens the failure dialog of a message on a contact they read but may not write: its
        Resend is refused, and so is the message's own Retry; nothing is queued. Their Ignore is allowed."""
        failed = (
            self.env["whatsapp.message"]
            .sudo()
            .search([("mail_message_id", "=", self.failed_mail_message.id)])
        )
        created = self.call_kw(
            "wa_user",
            "whatsapp.resend",
            "create",
            [{}],
            {"context": {"default_mail_message_id": self.failed_mail_message.id}},  # as the chatter opens it
        )
        wizard_id = created.get("result")
        self.assertTrue(wizard_id, created.get("error"))
        with mute_logger("odoo.http"):
            self.assertDenied(
                self.call_kw("wa_user", "whatsapp.resend", "action_resend", [[wizard_id]]), "resend"
            )
            self.assertDenied(
                self.call_kw("wa_user", "whatsapp.message", "action_retry", [failed.ids]), "retry"
            )
        self.assertEqual(failed.state, "failed")
        result = self.call_kw("wa_user", "whatsapp.resend", "action_ignore", [[wizard_id]])
        self.assertFalse(result.get("error"), result.get("error"))
        self.assertEqual(failed.mail_message_id.notification_ids.notification_status, "canceled")
