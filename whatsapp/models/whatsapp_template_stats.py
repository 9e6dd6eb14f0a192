"""Per-template analytics: counts and rates of the template's messages, clicks of its tracked URL buttons.

Every figure comes from one ``_read_group`` over ``whatsapp.message`` (grouped by template, state and failure
type) and one over ``link.tracker.click``, whatever the number of templates or messages; the index of
``whatsapp_message_report.py`` serves the first one. The period (7, 30, 90 days or all) is the context key
``whatsapp_stats_period``, set by the period buttons of the panel.

Definitions (outbound messages created in the period):

* sent = accepted by Meta (sent, delivered, read or replied); delivered, read and replied count the messages
  that reached at least that state; rates of delivered, read, replied and clicks are per sent message;
* failed = failed or bounced (opted-out included); opted out = failed because the number opted out
  (blacklisted, or stopped marketing at Meta); their rates are per processed message (sent + failed).
"""

from datetime import timedelta

from odoo import api, fields, models

PERIODS = [("7", "Last 7 Days"), ("30", "Last 30 Days"), ("90", "Last 90 Days"), ("all", "All Time")]
DEFAULT_PERIOD = "30"
#: state -> the counters it adds to
STATE_COUNTERS = {
    "sent": ("sent",),
    "delivered": ("sent", "delivered"),
    "read": ("sent", "delivered", "read"),
    "replied": ("sent", "delivered", "read", "replied"),
    "failed": ("failed",),
    "bounced": ("failed",),
}
OPT_OUT_FAILURES = ("blacklisted", "opt_out")
#: counter -> domain on whatsapp.message (stat buttons open the messages behind a figure)
COUNTER_DOMAINS = {
    "sent": [("state", "in", ("sent", "delivered", "read", "replied"))],
    "delivered": [("state", "in", ("delivered", "read", "replied"))],
    "read": [("state", "in", ("read", "replied"))],
    "replied": [("state", "=", "replied")],
    "failed": [("state", "in", ("failed", "bounced"))],
    "optout": [("state", "in", ("failed", "bounced")), ("failure_type", "in", OPT_OUT_FAILURES)],
}


class WhatsAppTemplate(models.Model):
    _inherit = "whatsapp.template"

    stats_period = fields.Selection(PERIODS, "Period", compute="_compute_stats")
    stats_sent = fields.Integer("Sent", compute="_compute_stats")
    stats_delivered = fields.Integer("Delivered", compute="_compute_stats")
    stats_read = fields.Integer("Read", compute="_compute_stats")
    stats_replied = fields.Integer("Replied", compute="_compute_stats")
    stats_failed = fields.Integer("Failed", compute="_compute_stats")
    stats_optout = fields.Integer("Opted Out", compute="_compute_stats")
    stats_clicks = fields.Integer("Clicks", compute="_compute_stats")
    stats_delivered_rate = fields.Float("Delivered Rate", compute="_compute_stats", digits=(5, 1))
    stats_read_rate = fields.Float("Read Rate", compute="_compute_stats", digits=(5, 1))
    stats_replied_rate = fields.Float("Replied Rate", compute="_compute_stats", digits=(5, 1))
    stats_failed_rate = fields.Float("Failed Rate", compute="_compute_stats", digits=(5, 1))
    stats_optout_rate = fields.Float("Opted-out Rate", compute="_compute_stats", digits=(5, 1))
    stats_click_rate = fields.Float("Click Rate", compute="_compute_stats", digits=(5, 1))
    stats_has_tracked = fields.Boolean("Has Tracked Buttons", compute="_compute_stats")

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.model
    def _stats_get_period(self):
        period = self.env.context.get("whatsapp_stats_period") or DEFAULT_PERIOD
        return period if period in dict(PERIODS) else DEFAULT_PERIOD

    @api.model
    def _stats_date_domain(self, fname="create_date"):
        period = self._stats_get_period()
        if period == "all":
            return []
        return [(fname, ">=", fields.Datetime.now() - timedelta(days=int(period)))]

    @api.depends_context("whatsapp_stats_period")
    def _compute_stats(self):
        period = self._stats_get_period()
        templates = self.filtered("id")
        counters = {tid: dict.fromkeys(("sent", "delivered", "read", "replied", "failed", "optout"), 0)
                    for tid in templates.ids}  # fmt: skip
        if templates:
            groups = self.env["whatsapp.message"]._read_group(
                [("template_id", "in", templates.ids), ("direction", "=", "outbound"),
                 *self._stats_date_domain()],
                ["template_id", "state", "failure_type"],
                ["__count"],
            )  # fmt: skip
            for template, state, failure_type, count in groups:
                for counter in STATE_COUNTERS.get(state, ()):
                    counters[template.id][counter] += count
                if state in ("failed", "bounced") and failure_type in OPT_OUT_FAILURES:
                    counters[template.id]["optout"] += count
        clicks, tracked = self._stats_clicks(templates)
        for template in self:
            values = counters.get(template.id, {})  # a new record has no message
            sent = values.get("sent", 0)
            processed = sent + values.get("failed", 0)
            click_count = clicks.get(template.id, 0)
            template.update(
                {
                    "stats_period": period,
                    "stats_sent": sent,
                    "stats_delivered": values.get("delivered", 0),
                    "stats_read": values.get("read", 0),
                    "stats_replied": values.get("replied", 0),
                    "stats_failed": values.get("failed", 0),
                    "stats_optout": values.get("optout", 0),
                    "stats_clicks": click_count,
                    "stats_delivered_rate": _rate(values.get("delivered", 0), sent),
                    "stats_read_rate": _rate(values.get("read", 0), sent),
                    "stats_replied_rate": _rate(values.get("replied", 0), sent),
                    "stats_failed_rate": _rate(values.get("failed", 0), processed),
                    "stats_optout_rate": _rate(values.get("optout", 0), processed),
                    "stats_click_rate": _rate(click_count, sent),
                    "stats_has_tracked": template.id in tracked,
                }
            )

    def _stats_clicks(self, templates):
        """``({template id: clicks in the period}, {template ids with a tracked button})``, one query each."""
        # sudo: buttons and their trackers are read for counting only; link trackers are technical records
        buttons = (
            self.env["whatsapp.template.button"]
            .sudo()
            .search([("template_id", "in", templates.ids), ("url_type", "=", "tracked"),
                     ("button_type", "=", "url")])
        )  # fmt: skip
        tracked = set(buttons.template_id.ids)
        template_by_link = {b.link_tracker_id.id: b.template_id.id for b in buttons if b.link_tracker_id}
        clicks = {}
        if template_by_link:
            # sudo: click rows (IP, country) are not shown, only counted
            groups = (
                self.env["link.tracker.click"]
                .sudo()
                ._read_group(
                    [("link_id", "in", list(template_by_link)), *self._stats_date_domain()],
                    ["link_id"],
                    ["__count"],
                )
            )
            for link, count in groups:
                template_id = template_by_link[link.id]
                clicks[template_id] = clicks.get(template_id, 0) + count
        return clicks, tracked

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_stats_period(self):
        """Period buttons of the panel (context ``whatsapp_stats_period``): show the form for that period."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
            "context": {**self.env.context, "whatsapp_stats_period": self._stats_get_period()},
        }

    def action_open_stats_messages(self):
        """Stat buttons (context ``whatsapp_stats_counter``): the messages behind a figure, in the period."""
        self.ensure_one()
        counter = self.env.context.get("whatsapp_stats_counter")
        domain = [
            ("template_id", "=", self.id),
            ("direction", "=", "outbound"),
            *COUNTER_DOMAINS.get(counter, []),
            *self._stats_date_domain(),
        ]
        action = self.env["ir.actions.act_window"]._for_xml_id("whatsapp.whatsapp_message_action")
        action.update(
            {
                "name": self.env._("Messages of %(template)s", template=self.name),
                "domain": domain,
                "context": {"create": False},
            }
        )
        return action

    def action_open_stats_clicks(self):
        """Clicks stat button: the clicks of the template's tracked links in the period."""
        self.ensure_one()
        # sudo: the trackers of the buttons are technical records; the clicks list itself is read as the user
        links = self.sudo().button_ids.filtered(lambda b: b.url_type == "tracked").link_tracker_id
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Clicks of %(template)s", template=self.name),
            "res_model": "link.tracker.click",
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": [("link_id", "in", links.ids), *self._stats_date_domain()],
            "context": {"create": False},
        }


def _rate(part, whole):
    return round(100.0 * part / whole, 1) if whole else 0.0
