from datetime import datetime, timedelta

from freezegun import freeze_time
from odoo.tests import tagged

from .common_messages import WhatsAppMessageMixin
from .common_templates import WhatsAppTemplateCase

NOW = datetime(2025, 6, 30, 12, 0, 0)


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppTemplateAnalytics(WhatsAppMessageMixin, WhatsAppTemplateCase):
    """Template panel figures on a known set of messages and clicks, per period; reporting groupings."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        template = cls.template_buttons
        # (days ago, state, failure type, how many)
        rows = [
            (3, "sent", None, 2),
            (3, "delivered", None, 3),
            (3, "read", None, 2),
            (3, "replied", None, 1),
            (3, "failed", "template", 1),
            (3, "failed", "blacklisted", 1),
            (3, "failed", "opt_out", 1),
            (3, "bounced", "recipient", 1),
            (3, "queued", None, 1),
            (3, "cancelled", None, 1),
            (20, "delivered", None, 2),
            (20, "failed", "server", 1),
            (200, "read", None, 4),
        ]
        Message = cls.env[
            "whatsapp.message"
        ].sudo()  # sudo: fixture rows in every state, as the queue writes them
        for days, state, failure_type, count in rows:
            messages = Message.create(
                [
                    {
                        "account_id": cls.account.id,
                        "template_id": template.id,
                        "number": f"+3361234{days:03d}{i:02d}",
                        "state": state,
                        "failure_type": failure_type,
                    }
                    for i in range(count)
                ]
            )
            cls._set_create_date(messages, NOW - timedelta(days=days))
        # another template's message and an inbound message never count for template_buttons
        other = Message.create({"account_id": cls.account.id, "template_id": cls.template_partner.id,
                                "number": "+33612349999", "state": "read"})  # fmt: skip
        inbound = Message.create({"account_id": cls.account.id, "direction": "inbound", "state": "received",
                                  "number": "+33612349998"})  # fmt: skip
        cls._set_create_date(other | inbound, NOW - timedelta(days=1))
        # 3 clicks 2 days ago, 1 click 50 days ago on the tracked button
        tracker = template.button_ids.filtered(lambda b: b.url_type == "tracked")._get_tracker()
        clicks = cls.env["link.tracker.click"].sudo().create([{"link_id": tracker.id} for _i in range(4)])
        cls._set_create_date(clicks[:3], NOW - timedelta(days=2), table="link_tracker_click")
        cls._set_create_date(clicks[3:], NOW - timedelta(days=50), table="link_tracker_click")

    @classmethod
    def _set_create_date(cls, records, date, table="whatsapp_message"):
        records.flush_recordset()
        cls.env.cr.execute(
            f"UPDATE {table} SET create_date = %s WHERE id IN %s",  # noqa: S608 - fixed table names
            [date, tuple(records.ids)],
        )
        records.invalidate_recordset()

    def _stats(self, template, period=None, user=None):
        template = template.with_user(user or self.user_wa)
        if period:
            template = template.with_context(whatsapp_stats_period=period)
        return template

    @freeze_time(NOW)
    def test_panel_per_period(self):
        #          period: sent, delivered, read, replied, failed, opted out, clicks, rates (delivered, read,
        #                  replied, failed, opted out, clicks)
        expected = {
            "7": (8, 6, 3, 1, 4, 2, 3, (75.0, 37.5, 12.5, 33.3, 16.7, 37.5)),
            "30": (10, 8, 3, 1, 5, 2, 3, (80.0, 30.0, 10.0, 33.3, 13.3, 30.0)),
            "90": (10, 8, 3, 1, 5, 2, 4, (80.0, 30.0, 10.0, 33.3, 13.3, 40.0)),
            "all": (14, 12, 7, 1, 5, 2, 4, (85.7, 50.0, 7.1, 26.3, 10.5, 28.6)),
        }
        for period, (sent, delivered, read, replied, failed, optout, clicks, rates) in expected.items():
            with self.subTest(period=period):
                template = self._stats(self.template_buttons, period)
                self.assertEqual(template.stats_period, period)
                self.assertEqual(
                    (template.stats_sent, template.stats_delivered, template.stats_read, template.stats_replied,
                     template.stats_failed, template.stats_optout, template.stats_clicks),
                    (sent, delivered, read, replied, failed, optout, clicks),
                )  # fmt: skip
                self.assertEqual(
                    (template.stats_delivered_rate, template.stats_read_rate, template.stats_replied_rate,
                     template.stats_failed_rate, template.stats_optout_rate, template.stats_click_rate),
                    rates,
                )  # fmt: skip
                self.assertTrue(template.stats_has_tracked)

    @freeze_time(NOW)
    def test_default_period_and_several_templates(self):
        """No context = 30 days; both templates computed together, each with its own figures."""
        templates = (self.template_buttons | self.template_partner | self.template_image).with_user(
            self.user_wa
        )
        self.assertEqual(templates.mapped("stats_period"), ["30", "30", "30"])
        self.assertEqual(templates.mapped("stats_sent"), [10, 1, 0])
        self.assertEqual(templates.mapped("stats_read"), [3, 1, 0])
        self.assertEqual(templates.mapped("stats_has_tracked"), [True, False, False])
        self.assertEqual(templates.mapped("stats_click_rate"), [30.0, 0.0, 0.0])
        self.assertEqual(self.template_image.with_user(self.user_wa).stats_failed_rate, 0.0)

    @freeze_time(NOW)
    def test_stat_buttons_open_the_counted_messages(self):
        template = self._stats(self.template_buttons, "7")
        for counter, fname in [("sent", "stats_sent"), ("delivered", "stats_delivered"), ("read", "stats_read"),
                               ("replied", "stats_replied"), ("failed", "stats_failed"),
                               ("optout", "stats_optout")]:  # fmt: skip
            with self.subTest(counter=counter):
                action = template.with_context(whatsapp_stats_counter=counter).action_open_stats_messages()
                self.assertEqual(action["res_model"], "whatsapp.message")
                # an administrator opens every counted message (a plain user, those of records they may read)
                Message = self.env["whatsapp.message"].with_user(self.user_wa_admin)
                found = Message.search_count(action["domain"])
                self.assertEqual(found, template[fname])
        clicks = template.action_open_stats_clicks()
        self.assertEqual(
            self.env["link.tracker.click"].with_user(self.user_wa).search_count(clicks["domain"]), 3
        )
        period = template.with_context(whatsapp_stats_period="90").action_stats_period()
        self.assertEqual((period["res_id"], period["context"]["whatsapp_stats_period"]), (template.id, "90"))

    @freeze_time(NOW)
    def test_reporting_groupings(self):
        """Reporting graph/pivot groupings (day, template, account, state, failure type, user) add up.

        An administrator's reporting (plain users count the messages of the records they may read only)."""
        Message = self.env["whatsapp.message"].with_user(self.user_wa_admin)
        domain = [("direction", "=", "outbound"), ("account_id", "=", self.account.id)]
        total = Message.search_count(domain)
        self.assertEqual(total, 22)
        for groupby in (["create_date:day", "state"], ["template_id"], ["account_id"], ["failure_type"],
                        ["create_uid", "state"]):  # fmt: skip
            with self.subTest(groupby=groupby):
                groups = Message._read_group(domain, groupby, ["__count"])
                self.assertEqual(sum(group[-1] for group in groups), total)
        by_day = {
            day.strftime("%Y-%m-%d"): count
            for day, count in Message._read_group(domain, ["create_date:day"], ["__count"])
        }
        self.assertEqual(by_day[(NOW - timedelta(days=3)).strftime("%Y-%m-%d")], 14)
        self.assertEqual(by_day[(NOW - timedelta(days=200)).strftime("%Y-%m-%d")], 4)
        for xmlid in ("whatsapp_report_action_messages", "whatsapp_report_action_by_account",
                      "whatsapp_report_action_by_user"):  # fmt: skip
            action = (
                self.env["ir.actions.act_window"].with_user(self.user_wa)._for_xml_id(f"whatsapp.{xmlid}")
            )
            self.assertEqual(action["res_model"], "whatsapp.message")
            views = Message.get_views(
                [(view_id, mode) for view_id, mode in action["views"] if mode != "form"]
            )
            self.assertEqual(set(views["views"]), {"graph", "pivot", "list"})
