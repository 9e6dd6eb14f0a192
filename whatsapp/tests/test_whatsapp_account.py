from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged, users
from odoo.tools import file_open, mute_logger

from .common import SANDBOX_TOKEN, WhatsAppCase


@tagged("post_install", "-at_install", "whatsapp")
class TestWhatsAppAccount(WhatsAppCase):
    def test_defaults(self):
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://odoo.example.com")
        account = (
            self.env["whatsapp.account"]
            .with_user(self.user_wa_admin)
            .create(
                {
                    "name": "Support",
                    "phone_uid": "42",
                    "account_uid": "43",
                    "app_uid": "44",
                    "token": "t",
                    "app_secret": "s",
                }
            )
        )
        self.assertEqual(account.api_version, "v23.0")
        self.assertEqual(account.api_base_url, "https://graph.facebook.com")
        self.assertEqual(account.callback_url, "https://odoo.example.com/whatsapp/webhook")
        self.assertGreaterEqual(len(account.webhook_verify_token), 24)
        self.assertEqual(account.notify_user_ids, self.user_wa_admin)
        self.assertEqual(account.allowed_company_ids, self.company)
        self.assertEqual(account.meta_status, "ok")
        other = account.copy()
        self.assertEqual(other.name, "Support (copy)")
        self.assertFalse(other.active, "archived until it gets its own phone number")
        self.assertEqual(other.token, "t", "another number of the same app")
        self.assertNotEqual(
            other.webhook_verify_token, account.webhook_verify_token, "verify tokens are not copied"
        )

    def test_regenerate_verify_token(self):
        old = self.account.webhook_verify_token
        self.account.action_regenerate_verify_token()
        self.assertTrue(self.account.webhook_verify_token)
        self.assertNotEqual(self.account.webhook_verify_token, old)

    def test_phone_uid_unique_among_active(self):
        with self.assertRaises(ValidationError):
            self._create_account(name="Duplicate")
        self.account.active = False
        self._create_account(name="Replacement")  # an archived account frees its number

    @users("wa_user")
    def test_access_whatsapp_user(self):
        account = self.account.with_env(self.env)
        self.assertEqual(account.name, "Sales", "WhatsApp users see accounts")
        for secret in ("token", "app_secret", "webhook_verify_token", "api_base_url"):
            with self.subTest(field=secret), self.assertRaises(AccessError):
                account.read([secret])
        with self.assertRaises(AccessError):
            account.write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            self.env["whatsapp.account"].create(
                {"name": "X", "phone_uid": "1", "account_uid": "2", "app_uid": "3"}
            )

    @users("wa_admin")
    def test_access_whatsapp_admin(self):
        account = self.account.with_env(self.env)
        self.assertEqual(account.token, SANDBOX_TOKEN)
        self.assertTrue(account.app_secret)
        account.write({"name": "Renamed", "token": "new-token"})
        self.assertEqual(account.name, "Renamed")

    @users("wa_employee")
    def test_access_employee(self):
        with self.assertRaises(AccessError):
            self.env["whatsapp.account"].search([])

    @users("wa_other")
    def test_access_other_company(self):
        self.assertFalse(self.env["whatsapp.account"].search([]), "accounts of another company are invisible")
        with self.assertRaises(AccessError):
            self.account.with_env(self.env).read(["name"])

    def test_settings_admin_is_whatsapp_admin(self):
        settings_admin = self.env["res.users"].create(
            {"name": "Sam", "login": "sam", "groups_id": [(6, 0, self.env.ref("base.group_system").ids)]}
        )
        self.assertTrue(settings_admin.has_group("whatsapp.group_whatsapp_admin"))
        self.assertTrue(self.user_wa_admin.has_group("whatsapp.group_whatsapp_user"))

    def test_tracking_skips_secrets(self):
        account = self._create_account(name="Tracked", phone_uid="777")
        self.env.flush_all()
        self.env.cr.precommit.run()  # tracking values are written at commit time
        account.write({"name": "Tracked EU", "token": "rotated-token", "app_secret": "rotated-secret"})
        self.env.flush_all()
        self.env.cr.precommit.run()
        account.invalidate_recordset(["message_ids"])
        tracked = account.message_ids.sudo().tracking_value_ids.field_id.mapped("name")
        self.assertIn("name", tracked)
        self.assertNotIn("token", tracked)
        self.assertNotIn("app_secret", tracked)

    def test_neutralize(self):
        with file_open("whatsapp/data/neutralize.sql") as sql:
            self.env.cr.execute(sql.read())
        self.account.invalidate_recordset()
        self.assertFalse(self.account.token)
        self.assertFalse(self.account.app_secret)
        self.assertFalse(self.account.webhook_verify_token)

    def test_client_is_loopback_only_in_tests(self):
        client = self.account._get_client()
        self.assertTrue(client.only_loopback)
        self.assertEqual(client.phone_number_id, self.account.phone_uid)

    def test_settings_link(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.whatsapp_account_count, 1)


@tagged("post_install", "-at_install", "whatsapp")
class TestWhatsAppTestConnectionMocked(WhatsAppCase):
    """Test Connection against the mocked seam: every error code maps to its actionable message."""

    def _ok_responses(self, numbers=("1000001",)):
        return {
            ("GET", "1000001"): {
                "id": "1000001",
                "verified_name": "Sandbox Co",
                "display_phone_number": "+1 555",
            },
            ("GET", "2000001/phone_numbers"): {"data": [{"id": number} for number in numbers]},
        }

    def test_success(self):
        with self.mock_graph(self._ok_responses()) as calls:
            action = self.account.with_user(self.user_wa_admin).button_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("Sandbox Co", action["params"]["message"])
        self.assertEqual([call["path"] for call in calls], ["1000001", "2000001/phone_numbers"])

    def test_errors(self):
        cases = [
            (self.meta_error(190, 463, 401), "permanent System User token"),
            (self.meta_error(100, 33), "Phone Number ID or Account ID"),
            (self.meta_error(100), "Admin system user"),
            (self.meta_error(200), "whatsapp_business_management"),
            (self.meta_error(10, http_status=403), "whatsapp_business_messaging"),
            (self.meta_error(None, http_status=None, category="transient"), "could not be reached"),
            (self.meta_error(131000, http_status=500), "could not be reached"),
        ]
        for error, expected in cases:
            with self.subTest(code=error.code), self.mock_graph(error=error):
                with self.assertRaises(UserError) as caught:
                    self.account.button_test_connection()
                self.assertIn(expected, str(caught.exception))
                self.assertNotIn(SANDBOX_TOKEN, str(caught.exception))

    def test_phone_not_in_waba(self):
        with self.mock_graph(self._ok_responses(numbers=("999",))), self.assertRaises(UserError) as caught:
            self.account.button_test_connection()
        self.assertIn("does not belong", str(caught.exception))


@tagged("post_install", "-at_install", "whatsapp")
class TestWhatsAppTestConnectionSandbox(WhatsAppCase):
    """Test Connection over loopback HTTP against the Meta sandbox."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_sandbox()

    def setUp(self):
        super().setUp()
        self.sandbox.clear_faults()

    def _assert_connection_error(self, expected):
        with self.assertRaises(UserError) as caught:
            self.account.with_user(self.user_wa_admin).button_test_connection()
        self.assertIn(expected, str(caught.exception))
        self.assertNotIn(SANDBOX_TOKEN, str(caught.exception))
        return caught.exception

    def test_success(self):
        action = self.account.with_user(self.user_wa_admin).button_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("Sandbox Co", action["params"]["message"])
        paths = [request["path"] for request in self.sandbox.requests[-2:]]
        self.assertEqual(paths, ["/v23.0/1000001", "/v23.0/2000001/phone_numbers"])

    def test_invalid_token(self):
        self.account.sudo().token = "expired-token"
        self._assert_connection_error("permanent System User token")

    def test_expired_token_fault(self):
        self.sandbox.set_fault("phone", kind="190", count=1)
        self._assert_connection_error("permanent System User token")

    def test_wrong_phone_number_id(self):
        self.account.write({"phone_uid": "1999999"})
        self._assert_connection_error("Phone Number ID or Account ID")

    def test_phone_of_another_waba(self):
        self.sandbox.add_account("1000002", "2000002", "3000001", SANDBOX_TOKEN, "sandbox-secret")
        self.account.write({"account_uid": "2000002"})
        self._assert_connection_error("does not belong")

    def test_permission_errors(self):
        for code, expected in (
            (100, "Admin system user"),
            (200, "whatsapp_business_messaging"),
            (10, "permissions"),
        ):
            with self.subTest(code=code):
                self.sandbox.set_fault(
                    "phone", kind="error", code=code, count=1, message="(#%s) Denied" % code
                )
                self._assert_connection_error(expected)

    def test_network_errors(self):
        for kind, kwargs in (("timeout", {"drop": True}), ("5xx", {"http_status": 503})):
            with self.subTest(kind=kind):
                self.sandbox.set_fault("phone", kind=kind, count=1, **kwargs)
                with mute_logger("odoo.addons.whatsapp.tools.graph_api"):
                    self._assert_connection_error("could not be reached")
