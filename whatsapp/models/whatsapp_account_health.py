"""Account health: Meta's phone number data (quality, messaging limit, throughput, display name).

Refreshed from ``GET /{phone-number-id}`` (Test Connection and a daily cron, ``cloud-api-facts.md`` §2, §7)
and live from the ``phone_number_quality_update`` and ``phone_number_name_update`` webhooks (§5.6). A drop of
the quality rating or of the messaging limit is posted on the account and notified to its administrators.
The sending rate follows the throughput level (§7.1) unless an administrator set a lower one.
"""

import logging

from odoo import _lt, api, fields, models

from ..tools.graph_api import WhatsAppApiError

_logger = logging.getLogger(__name__)

#: fields asked by the daily refresh (``messaging_limit_tier`` is deprecated, §2)
HEALTH_FIELDS = (
    "verified_name,display_phone_number,quality_rating,name_status,platform_type,throughput,"
    "whatsapp_business_manager_messaging_limit"
)
QUALITY_RATINGS = [("unknown", "Unknown"), ("green", "High"), ("yellow", "Medium"), ("red", "Low")]
QUALITY_RANK = {"green": 3, "yellow": 2, "red": 1}
#: Meta's quality_rating -> ours (NA = not rated yet)
META_QUALITY = {"GREEN": "green", "YELLOW": "yellow", "RED": "red", "UNKNOWN": "unknown", "NA": "unknown"}
MESSAGING_LIMITS = [
    ("unknown", "Unknown"),
    ("tier_50", "50 customers / 24 h"),
    ("tier_250", "250 customers / 24 h"),
    ("tier_1k", "1,000 customers / 24 h"),
    ("tier_2k", "2,000 customers / 24 h"),
    ("tier_10k", "10,000 customers / 24 h"),
    ("tier_100k", "100,000 customers / 24 h"),
    ("tier_unlimited", "Unlimited"),
]
LIMIT_RANK = {key: rank for rank, (key, _label) in enumerate(MESSAGING_LIMITS) if key != "unknown"}
#: numeric limits (newer payloads give numbers) -> tier
LIMIT_BY_NUMBER = {50: "tier_50", 250: "tier_250", 1000: "tier_1k", 2000: "tier_2k", 10000: "tier_10k",
                   100000: "tier_100k"}  # fmt: skip
THROUGHPUT_LEVELS = [
    ("unknown", "Unknown"),
    ("standard", "Standard (80 messages/s)"),
    ("high", "High (1,000 messages/s)"),
    ("coexistence", "Coexistence (20 messages/s)"),
    ("not_applicable", "Not Applicable"),
]
#: throughput level -> messages per second at Meta (§7.1)
LEVEL_MPS = {"standard": 80, "high": 1000, "coexistence": 20}
DEFAULT_MPS = 80
NAME_STATUSES = [
    ("unknown", "Unknown"),
    ("approved", "Approved"),
    ("available_without_review", "Available Without Review"),
    ("pending_review", "Pending Review"),
    ("declined", "Declined"),
    ("expired", "Expired"),
    ("none", "None"),
]
#: name_status of the phone number info, and decision of the name webhook -> ours
META_NAME_STATUS = {
    "APPROVED": "approved",
    "AVAILABLE_WITHOUT_REVIEW": "available_without_review",
    "PENDING_REVIEW": "pending_review",
    "PENDING": "pending_review",
    "DEFERRED": "pending_review",
    "DECLINED": "declined",
    "REJECTED": "declined",
    "EXPIRED": "expired",
    "NONE": "none",
}
DROP_MESSAGES = {
    "quality": _lt("The quality rating of %(number)s dropped from %(old)s to %(new)s."),
    "limit": _lt("The messaging limit of %(number)s dropped from %(old)s to %(new)s."),
}


def digits(value):
    return "".join(c for c in str(value or "") if c.isdigit())


class WhatsAppAccount(models.Model):
    _inherit = "whatsapp.account"

    display_phone_number = fields.Char("Display Number", readonly=True, copy=False)
    verified_name = fields.Char("Verified Name", readonly=True, copy=False)
    quality_rating = fields.Selection(
        QUALITY_RATINGS, default="unknown", readonly=True, copy=False, tracking=True,
        help="Meta's quality rating of the phone number, based on how customers received recent messages.",
    )  # fmt: skip
    messaging_limit = fields.Selection(
        MESSAGING_LIMITS, default="unknown", readonly=True, copy=False, tracking=True,
        help="How many different customers Meta lets this business reach with templates in 24 hours "
        "(messages inside an open 24-hour window do not count).",
    )  # fmt: skip
    throughput_level = fields.Selection(
        THROUGHPUT_LEVELS, default="unknown", readonly=True, copy=False, tracking=True,
        help="Messages per second Meta accepts from this number. The sending rate follows it.",
    )  # fmt: skip
    name_status = fields.Selection(
        NAME_STATUSES, "Display Name Status", default="unknown", readonly=True, copy=False, tracking=True
    )
    health_checked_at = fields.Datetime("Health Checked On", readonly=True, copy=False)
    effective_rate = fields.Integer(
        "Effective Rate", compute="_compute_effective_rate",
        help="Messages per second the queue sends at: the throughput level's rate, or the rate set above if "
        "lower.",
    )  # fmt: skip

    @api.depends("rate_limit", "throughput_level")
    def _compute_effective_rate(self):
        for account in self:
            account.effective_rate = account._whatsapp_effective_rate()

    def _whatsapp_effective_rate(self):
        """Messages per second of the queue: the throughput level's rate, capped by the administrator's."""
        self.ensure_one()
        level_mps = LEVEL_MPS.get(self.throughput_level, 1000)
        return max(1, min(self.rate_limit or DEFAULT_MPS, level_mps, 1000))

    # ------------------------------------------------------------
    # PHONE NUMBER INFO (Test Connection, daily cron)
    # ------------------------------------------------------------

    def _update_from_phone_info(self, phone_info):
        """Store the health fields of a ``GET /{phone-number-id}`` answer (absent keys are left as they are)."""
        res = super()._update_from_phone_info(phone_info)
        self.ensure_one()
        vals = {"health_checked_at": fields.Datetime.now()}
        for key in ("display_phone_number", "verified_name"):
            if phone_info.get(key):
                vals[key] = phone_info[key]
        if phone_info.get("quality_rating"):
            vals["quality_rating"] = META_QUALITY.get(str(phone_info["quality_rating"]).upper(), "unknown")
        limit = self._parse_messaging_limit(
            phone_info.get("whatsapp_business_manager_messaging_limit")
            or phone_info.get("messaging_limit_tier")
        )
        if limit:
            vals["messaging_limit"] = limit
        throughput = phone_info.get("throughput")
        level = throughput.get("level") if isinstance(throughput, dict) else throughput
        if phone_info.get("is_on_biz_app") is True:
            vals["throughput_level"] = "coexistence"  # fixed 20 mps next to the WhatsApp Business app (§7.1)
        elif level:
            vals["throughput_level"] = {"STANDARD": "standard", "HIGH": "high"}.get(
                str(level).upper(), "not_applicable"
            )
        if phone_info.get("name_status"):
            vals["name_status"] = META_NAME_STATUS.get(str(phone_info["name_status"]).upper(), "unknown")
        self._health_apply(vals)
        return res

    @api.model
    def _parse_messaging_limit(self, raw):
        """``TIER_1K`` / ``{"current_limit": "TIER_1K"}`` / ``1000`` -> ``tier_1k`` (None when unknown)."""
        if isinstance(raw, dict):
            raw = raw.get("current_limit") or raw.get("tier") or raw.get("value")
        if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
            return LIMIT_BY_NUMBER.get(int(raw), "tier_unlimited" if int(raw) > 100000 else None)
        key = str(raw or "").lower()
        return key if key in LIMIT_RANK else None

    @api.model
    def _cron_refresh_health(self):
        """Daily: refresh the health of every active account; one account's failure does not stop the others."""
        for account in self.search([]):
            try:
                info = account._get_client().phone_number_info(fields=HEALTH_FIELDS)
            except WhatsAppApiError as err:
                _logger.warning("WhatsApp account %s: health refresh failed: %s", account.id, err)
                continue
            account._update_from_phone_info(info)

    # ------------------------------------------------------------
    # WEBHOOKS
    # ------------------------------------------------------------

    def _webhook_phone_number_quality_update(self, value, event):
        """``{"display_phone_number", "event": FLAGGED|UNFLAGGED|UPGRADE|DOWNGRADE|ONBOARDING|
        THROUGHPUT_UPGRADE, "current_limit": "TIER_10K"}``: sent to every account of the WABA, applied by the
        one of that number."""
        self.ensure_one()
        if not self._health_is_target(value.get("display_phone_number")):
            return
        name = str(value.get("event") or "").upper()
        vals = {}
        limit = self._parse_messaging_limit(
            value.get("current_limit") or value.get("max_daily_conversations_per_business")
        )
        if limit:
            vals["messaging_limit"] = limit
        if name == "FLAGGED":
            vals["quality_rating"] = "red"  # Meta flags a number whose quality became low
        elif name == "UNFLAGGED" and self.quality_rating in ("red", "unknown"):
            vals["quality_rating"] = "yellow"  # unflagged once the quality is back to medium at least
        elif name == "THROUGHPUT_UPGRADE":
            vals["throughput_level"] = "high"
        self._health_apply(vals, reason=name)

    def _webhook_phone_number_name_update(self, value, event):
        """``{"display_phone_number", "decision": APPROVED|REJECTED|DEFERRED, "requested_verified_name",
        "rejection_reason"?}``."""
        self.ensure_one()
        if not self._health_is_target(value.get("display_phone_number")):
            return
        decision = str(value.get("decision") or "").upper()
        status = META_NAME_STATUS.get(decision, "unknown")
        vals = {"name_status": status}
        requested = value.get("requested_verified_name")
        if status == "approved" and requested:
            vals["verified_name"] = requested
        self._health_apply(vals)
        body = self.env._(
            "Meta's decision on the display name “%(name)s”: %(decision)s. %(reason)s",
            name=requested or self.verified_name or "",
            decision=decision or "?",
            reason=value.get("rejection_reason") or "",
        )
        partners = self._get_admin_partners() if status == "declined" else self.env["res.partner"]
        self.message_post(body=body, partner_ids=partners.ids, subtype_xmlid="mail.mt_comment")

    def _health_is_target(self, display_number):
        """Account-level webhooks reach every account of the WABA: is this one the number concerned?"""
        if self.display_phone_number:
            return digits(self.display_phone_number) == digits(display_number)
        # never refreshed: only the WABA's single active account may claim it
        others = self.search_count(
            [("account_uid", "=", self.account_uid), ("id", "!=", self.id), ("active", "=", True)]
        )
        if others:
            _logger.info(
                "WhatsApp account %s: %s not matched (display number unknown: run Test Connection)",
                self.id,
                display_number,
            )
        return not others

    # ------------------------------------------------------------
    # APPLY, DETECT DROPS
    # ------------------------------------------------------------

    def _health_apply(self, vals, reason=None):
        """Write health values; the rate follows the throughput level; drops are posted and notified."""
        self.ensure_one()
        drops = []
        new_quality = vals.get("quality_rating")
        if QUALITY_RANK.get(self.quality_rating, 0) > QUALITY_RANK.get(new_quality, 99):
            drops.append(("quality", self.quality_rating, new_quality))
        new_limit = vals.get("messaging_limit")
        if LIMIT_RANK.get(self.messaging_limit, 0) > LIMIT_RANK.get(new_limit, 99):
            drops.append(("limit", self.messaging_limit, new_limit))
        new_level = vals.get("throughput_level")
        if new_level and new_level != self.throughput_level:
            # the rate follows the level unless an administrator set one lower than the old level's
            old_mps = LEVEL_MPS.get(self.throughput_level, DEFAULT_MPS)
            if new_level in LEVEL_MPS and self.rate_limit >= old_mps:
                vals["rate_limit"] = LEVEL_MPS[new_level]
        self.write(vals)
        if drops:
            self._health_notify_drops(drops, reason)

    def _health_notify_drops(self, drops, reason=None):
        labels = {
            "quality": dict(self._fields["quality_rating"]._description_selection(self.env)),
            "limit": dict(self._fields["messaging_limit"]._description_selection(self.env)),
        }
        lines = [
            str(DROP_MESSAGES[kind])
            % {
                "number": self.display_phone_number or self.phone_uid,
                "old": labels[kind].get(old, old),
                "new": labels[kind].get(new, new),
            }
            for kind, old, new in drops
        ]
        if reason:
            lines.append(self.env._("Meta event: %(event)s.", event=reason))
        lines.append(
            self.env._(
                "Check the templates' quality and the messages customers block or report before sending more "
                "marketing messages."
            )
        )
        _logger.warning("WhatsApp account %s: health dropped: %s", self.id, drops)
        self.message_post(
            body=" ".join(lines), partner_ids=self._get_admin_partners().ids, subtype_xmlid="mail.mt_comment"
        )
