from unittest.mock import patch

from odoo.tests import tagged

from ..tools.sender import SenderPool
from .common import SANDBOX_PHONE_UID, SANDBOX_WABA_UID, WhatsAppCase, WhatsAppHttpCase
from .common_messages import WhatsAppMessageMixin


class HealthMixin:
    def _dispatch(self, field, value, account=None):
        """Through the inbox: store the change and dispatch it (``account._webhook_<field>``)."""
        Event = self.env["whatsapp.webhook.event"].sudo()  # sudo: the inbox runs as Meta, not as a user
        ids = Event._store_changes([((account or self.account).id, field, value, SANDBOX_WABA_UID, None)])
        events = Event.browse(ids)
        events._process()
        self.env.invalidate_all()
        self.assertEqual(events.mapped("state"), ["done"], events.error)
        return events

    def _health(self, account=None):
        account = (account or self.account).sudo()  # sudo: assertions
        return (
            account.quality_rating,
            account.messaging_limit,
            account.throughput_level,
            account.name_status,
        )

    def _admin_notices(self, account=None):
        """Chatter posts of the account that notified the WhatsApp administrator."""
        account = (account or self.account).sudo()  # sudo: assertions
        return account.message_ids.filtered(lambda m: self.user_wa_admin.partner_id in m.partner_ids)


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppAccountHealth(HealthMixin, WhatsAppMessageMixin, WhatsAppCase):
    def _phone_info(self, **values):
        return {
            "id": SANDBOX_PHONE_UID,
            "verified_name": "Sandbox Co",
            "display_phone_number": "+1 555 000 0001",
            **values,
        }

    def test_test_connection_fills_health(self):
        info = self._phone_info(
            quality_rating="YELLOW",
            throughput={"level": "HIGH"},
            whatsapp_business_manager_messaging_limit="TIER_10K",
            name_status="APPROVED",
        )
        responses = {
            ("GET", SANDBOX_PHONE_UID): info,
            ("GET", f"{SANDBOX_WABA_UID}/phone_numbers"): {"data": [{"id": SANDBOX_PHONE_UID}]},
        }
        with self.mock_graph(responses) as calls:
            self.account.with_user(self.user_wa_admin).button_test_connection()
        self.assertIn("whatsapp_business_manager_messaging_limit", calls[0]["params"]["fields"])
        self.assertEqual(self._health(), ("yellow", "tier_10k", "high", "approved"))
        self.assertEqual(self.account.display_phone_number, "+1 555 000 0001")
        self.assertTrue(self.account.health_checked_at)
        # the rate followed the throughput level (80 by default -> 1,000)
        self.assertEqual((self.account.rate_limit, self.account.effective_rate), (1000, 1000))
        self.assertFalse(self._admin_notices(), "an improvement is not a drop")

    def test_phone_info_values(self):
        cases = [
            ({"quality_rating": "GREEN"}, "quality_rating", "green"),
            ({"quality_rating": "NA"}, "quality_rating", "unknown"),
            ({"whatsapp_business_manager_messaging_limit": "TIER_2K"}, "messaging_limit", "tier_2k"),
            ({"whatsapp_business_manager_messaging_limit": {"current_limit": "TIER_100K"}}, "messaging_limit",
             "tier_100k"),
            ({"messaging_limit_tier": "TIER_UNLIMITED"}, "messaging_limit", "tier_unlimited"),
            ({"throughput": {"level": "STANDARD"}}, "throughput_level", "standard"),
            ({"throughput": {"level": "STANDARD"}, "is_on_biz_app": True}, "throughput_level", "coexistence"),
            ({"name_status": "PENDING_REVIEW"}, "name_status", "pending_review"),
            ({"name_status": "DECLINED"}, "name_status", "declined"),
        ]  # fmt: skip
        for info, fname, expected in cases:
            with self.subTest(info=info):
                self.account.sudo()._update_from_phone_info(self._phone_info(**info))
                self.assertEqual(self.account[fname], expected)

    def test_drop_from_phone_info_notified(self):
        account = self.account.sudo()  # sudo: the health is written by Test Connection / the cron
        account._update_from_phone_info(
            self._phone_info(quality_rating="GREEN", messaging_limit_tier="TIER_10K")
        )
        self.assertFalse(self._admin_notices())
        account._update_from_phone_info(
            self._phone_info(quality_rating="RED", messaging_limit_tier="TIER_1K")
        )
        self.assertEqual(self._health()[:2], ("red", "tier_1k"))
        notice = self._admin_notices()
        self.assertEqual(len(notice), 1)
        self.assertIn("quality rating", notice.body)
        self.assertIn("messaging limit", notice.body)
        notif = (
            self.env["mail.notification"]
            .sudo()
            .search(
                [
                    ("mail_message_id", "=", notice.id),
                    ("res_partner_id", "=", self.user_wa_admin.partner_id.id),
                ]
            )
        )
        self.assertTrue(notif, "the administrator is notified (inbox or email)")
        # same values again: nothing new
        account._update_from_phone_info(
            self._phone_info(quality_rating="RED", messaging_limit_tier="TIER_1K")
        )
        self.assertEqual(len(self._admin_notices()), 1)

    def test_quality_webhook(self):
        self.account.sudo().write(
            {
                "display_phone_number": "+1 555 000 0001",
                "quality_rating": "green",
                "messaging_limit": "tier_10k",
            }
        )
        base = {"display_phone_number": "15550000001"}
        # another number of the same WABA: not this account's business
        self._dispatch("phone_number_quality_update", {**base, "display_phone_number": "15550000002",
                                                       "event": "FLAGGED", "current_limit": "TIER_50"})  # fmt: skip
        self.assertEqual(self._health()[:2], ("green", "tier_10k"))
        self._dispatch(
            "phone_number_quality_update", {**base, "event": "FLAGGED", "current_limit": "TIER_10K"}
        )
        self.assertEqual(self._health()[:2], ("red", "tier_10k"))
        self.assertEqual(len(self._admin_notices()), 1)
        self.assertIn("FLAGGED", self._admin_notices().body)
        self._dispatch(
            "phone_number_quality_update", {**base, "event": "DOWNGRADE", "current_limit": "TIER_1K"}
        )
        self.assertEqual(self._health()[:2], ("red", "tier_1k"))
        self.assertEqual(len(self._admin_notices()), 2)
        self._dispatch(
            "phone_number_quality_update", {**base, "event": "UNFLAGGED", "current_limit": "TIER_1K"}
        )
        self._dispatch(
            "phone_number_quality_update", {**base, "event": "UPGRADE", "current_limit": "TIER_10K"}
        )
        self.assertEqual(self._health()[:2], ("yellow", "tier_10k"))
        self.assertEqual(len(self._admin_notices()), 2, "improvements are not notified")
        self._dispatch("phone_number_quality_update", {**base, "event": "THROUGHPUT_UPGRADE"})
        self.assertEqual((self.account.throughput_level, self.account.effective_rate), ("high", 1000))

    def test_quality_webhook_single_account_without_display_number(self):
        """Never refreshed: the WABA's only account takes it; with two such accounts neither guesses."""
        self._dispatch("phone_number_quality_update",
                       {"display_phone_number": "15550000001", "event": "FLAGGED"})  # fmt: skip
        self.assertEqual(self.account.quality_rating, "red")
        other = self._create_account(name="Support", phone_uid="1000002")
        self._dispatch("phone_number_quality_update",
                       {"display_phone_number": "15550000002", "event": "FLAGGED"}, account=other)  # fmt: skip
        self.assertEqual(other.quality_rating, "unknown")

    def test_name_webhook(self):
        self.account.sudo().display_phone_number = "+1 555 000 0001"
        value = {"display_phone_number": "15550000001", "requested_verified_name": "Sandbox Shop"}
        self._dispatch("phone_number_name_update", {**value, "decision": "DEFERRED"})
        self.assertEqual(self.account.name_status, "pending_review")
        self._dispatch("phone_number_name_update", {**value, "decision": "APPROVED"})
        self.assertEqual((self.account.name_status, self.account.verified_name), ("approved", "Sandbox Shop"))
        self.assertFalse(self._admin_notices())
        self._dispatch("phone_number_name_update",
                       {**value, "decision": "REJECTED", "rejection_reason": "Name mismatch"})  # fmt: skip
        self.assertEqual(self.account.name_status, "declined")
        self.assertIn("Name mismatch", self._admin_notices().body)

    def test_rate_follows_throughput(self):
        """(admin rate, level changes) -> rate_limit, effective rate; the queue sends at the effective rate."""
        cases = [
            (80, [], 80, 80),
            (80, ["high"], 1000, 1000),
            (80, ["coexistence"], 20, 20),
            (80, ["high", "standard"], 80, 80),
            (50, ["high"], 50, 50),  # an administrator's lower rate stays
            (1000, [], 1000, 1000),  # level unknown: the administrator's rate
            (1000, ["standard"], 80, 80),
            (80, ["standard", "high", "coexistence"], 20, 20),
        ]
        account = self.account.sudo()  # sudo: health written as Test Connection / the cron do
        for rate, levels, expected_rate, expected_effective in cases:
            with self.subTest(rate=rate, levels=levels):
                account.write({"rate_limit": rate, "throughput_level": "unknown"})
                for level in levels:
                    account._health_apply({"throughput_level": level})
                self.assertEqual(
                    (account.rate_limit, account.effective_rate), (expected_rate, expected_effective)
                )
        # an administrator setting more than the level allows is capped by the level
        account.write({"throughput_level": "standard", "rate_limit": 500})
        self.assertEqual(account.effective_rate, 80)

    def test_queue_uses_effective_rate(self):
        template = self._create_wa_template()
        partner = self.env["res.partner"].create({"name": "Ana", "mobile": "+33 6 12 34 56 00"})
        rates = []
        real_add_lane = SenderPool.add_lane

        def spy(pool, key, send, rate, *args, **kwargs):
            rates.append(rate)
            return real_add_lane(pool, key, send, rate, *args, **kwargs)

        account = self.account.sudo()  # sudo: configuration by an administrator
        with patch.object(SenderPool, "add_lane", spy), self.mock_wa_send():
            for level, rate_limit in [("high", 1000), ("high", 50), ("coexistence", 1000)]:
                account.write({"throughput_level": level, "rate_limit": rate_limit})
                partner._whatsapp_send_template(template, queue=False)
        self.assertEqual(rates, [1000, 50, 20])


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppAccountHealthSandbox(HealthMixin, WhatsAppCase):
    """The daily refresh against the Meta sandbox's phone number data."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_sandbox()

    def test_cron_refresh(self):
        self.sandbox.update_account(
            SANDBOX_PHONE_UID,
            quality_rating="YELLOW",
            throughput_level="HIGH",
            messaging_limit="TIER_10K",
            name_status="PENDING_REVIEW",
        )
        self.env["whatsapp.account"]._cron_refresh_health()
        self.assertEqual(self._health(), ("yellow", "tier_10k", "high", "pending_review"))
        request = self.sandbox.requests[-1]
        self.assertEqual(request["path"], f"/v23.0/{SANDBOX_PHONE_UID}")
        self.sandbox.update_account(SANDBOX_PHONE_UID, quality_rating="RED", messaging_limit="TIER_1K")
        self.env["whatsapp.account"]._cron_refresh_health()
        self.assertEqual(self._health()[:2], ("red", "tier_1k"))
        self.assertEqual(len(self._admin_notices()), 1)

    def test_cron_refresh_error_does_not_stop(self):
        self.account.sudo().token = "expired-token"
        self.env["whatsapp.account"]._cron_refresh_health()  # logged, not raised
        self.assertEqual(self.account.quality_rating, "unknown")


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppAccountHealthWebhook(HealthMixin, WhatsAppHttpCase):
    def test_signed_quality_webhook(self):
        """Meta's signed phone_number_quality_update through the controller, inbox and dispatch."""
        self.account.sudo().write({"quality_rating": "green", "messaging_limit": "tier_1k"})
        value = {"display_phone_number": "15550000001", "event": "DOWNGRADE", "current_limit": "TIER_250"}
        response = self._post_webhook(self._make_payload("phone_number_quality_update", value, entry_time=1))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self._events(field="phone_number_quality_update").state, "done")
        self.assertEqual(self.account.messaging_limit, "tier_250")
        self.assertIn("messaging limit", self._admin_notices().body)
