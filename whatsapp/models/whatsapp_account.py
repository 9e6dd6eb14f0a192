"""``whatsapp.account``: a WhatsApp Business phone number connected through a Meta app.

Sections: credentials and the Graph client, sending (rate, queue pause, opt-out keywords), health (Meta's
phone number data, refreshed daily and by webhooks), onboarding facts, Meta's template list, and the
handlers of the webhook fields routed to an account (see ``whatsapp.webhook.event``).
"""

import functools
import json
import logging
import secrets
from datetime import UTC, datetime

from odoo import _lt, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError

from ..tools import meta_errors
from ..tools.graph_api import GraphClient
from ..tools.graph_errors import WhatsAppApiError
from ..tools.inbound_parser import AMBIGUOUS_OPTIN_KEYWORDS, digits, keyword_set
from ..tools.runtime import in_tests

_logger = logging.getLogger(__name__)

DEFAULT_API_VERSION = "v23.0"
DEFAULT_API_BASE_URL = "https://graph.facebook.com"
WEBHOOK_ROUTE = "/whatsapp/webhook"

# Meta error codes of a connection test -> actionable message (codes 200-299 are permissions):
# https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
CONNECTION_ERRORS = {
    "auth": _lt(
        "The access token is expired or invalid (Meta error %(code)s). Replace the temporary token with a "
        "permanent System User token generated in Meta Business Settings."
    ),
    "admin": _lt(
        "Meta refused the request (error %(code)s). Generate the token with an Admin system user that has the "
        "app and the WhatsApp Business Account assigned as assets, then check the Phone Number ID and Account ID."
    ),
    "wrong_id": _lt(
        "Meta does not know this Phone Number ID or Account ID (error %(code)s). Copy both again from "
        "WhatsApp › API Setup in the Meta developer console."
    ),
    "permission": _lt(
        "The token lacks permissions (Meta error %(code)s). Generate it again with both permissions "
        "whatsapp_business_messaging and whatsapp_business_management."
    ),
    "transient": _lt("Meta could not be reached: check the server's internet access and retry."),
    "unknown": _lt("Meta refused the connection test (error %(code)s): %(message)s"),
}


def in_company_lang(handler):
    """Run a webhook handler in the language of the account's company (:meth:`_whatsapp_company_lang`): the
    webhook runs as the superuser, whose language is English, and what it writes in chatters is read by the
    company's users."""

    @functools.wraps(handler)
    def wrapper(self, value, event):
        return handler(self.with_context(lang=self._whatsapp_company_lang()), value, event)

    return wrapper


DEFAULT_OPTOUT_KEYWORDS = (
    "STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, ARRET, ARRÊT, ARRÊTER, ARRETER, STOPP, BAJA, PARAR"
)
#: only explicit words: the blacklist is shared with SMS, and "yes" or "alta" answer many other questions
DEFAULT_OPTIN_KEYWORDS = "START, UNSTOP"

#: fields asked by the daily refresh (``messaging_limit_tier`` is deprecated), see ``PhoneNumber`` in
#: meta_sandbox/spec/business-messaging-api_v23.0.yaml
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
#: throughput level -> messages per second at Meta (https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput)
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

#: ``user_preferences[].category`` of marketing messages, and its values
MARKETING_CATEGORY = "marketing_messages"
PREFERENCE_STATES = {"stop": "stopped", "resume": "resumed"}


class WhatsAppAccount(models.Model):
    """A WhatsApp Business phone number connected through a Meta app.

    Several accounts may share one WhatsApp Business Account (WABA, ``account_uid``): one record per phone
    number (``phone_uid``), e.g. one per department. Webhook changes are routed to the account by phone
    number (``messages``) or by WABA (every other field), see ``whatsapp.webhook.event``.
    """

    _name = "whatsapp.account"
    _description = "WhatsApp Business Account"
    _inherit = ["mail.thread"]
    _order = "name, id"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    phone_uid = fields.Char(
        "Phone Number ID",
        required=True,
        index=True,  # the uniqueness check looks it up across companies
        tracking=True,
        help="Meta console: WhatsApp › API Setup › Phone number ID.",
    )
    account_uid = fields.Char(
        "Account ID", required=True, tracking=True, help="Meta console: WhatsApp Business Account ID (WABA)."
    )
    app_uid = fields.Char(
        "App ID", required=True, tracking=True, help="Meta console: App settings › Basic › App ID."
    )
    token = fields.Char(
        "Access Token",
        required=True,
        groups="whatsapp.group_whatsapp_admin",
        help="A permanent System User token with the permissions whatsapp_business_messaging and "
        "whatsapp_business_management.",
    )
    app_secret = fields.Char(
        "App Secret",
        required=True,
        groups="whatsapp.group_whatsapp_admin",
        help="Meta console: App settings › Basic › App secret. Used to verify the signature of webhooks.",
    )
    api_version = fields.Char(
        "Graph API Version",
        required=True,
        default=DEFAULT_API_VERSION,
        tracking=True,
        groups="whatsapp.group_whatsapp_admin",
    )
    api_base_url = fields.Char(
        "API Base URL",
        required=True,
        default=DEFAULT_API_BASE_URL,
        groups="whatsapp.group_whatsapp_admin",
        help="Technical: Meta's Graph API by default; point it at the Meta sandbox to test without Meta.",
    )
    callback_url = fields.Char("Callback URL", compute="_compute_callback_url")
    webhook_verify_token = fields.Char(
        "Webhook Verify Token",
        default=lambda self: secrets.token_urlsafe(24),
        required=True,
        copy=False,
        groups="whatsapp.group_whatsapp_admin",
    )
    notify_user_ids = fields.Many2many(
        "res.users",
        "whatsapp_account_notify_users_rel",
        string="Notify Users",
        required=True,
        tracking=True,
        default=lambda self: self.env.user,
        domain="[('share', '=', False)]",
        help="Internal users notified of incoming conversations and account events.",
    )
    allowed_company_ids = fields.Many2many(
        "res.company",
        "whatsapp_account_company_rel",
        string="Allowed Companies",
        required=True,
        default=lambda self: self.env.company,
    )
    # Meta's account status, fed by `account_update` webhooks (see _webhook_account_update)
    meta_status = fields.Selection(
        [("ok", "OK"), ("restricted", "Restricted"), ("banned", "Banned"), ("deleted", "Deleted")],
        string="Meta Status",
        default="ok",
        readonly=True,
        tracking=True,
    )
    meta_restriction = fields.Text("Restrictions", readonly=True)
    meta_last_event = fields.Text("Last Account Event", readonly=True)
    meta_last_event_date = fields.Datetime("Last Account Event On", readonly=True)
    # sending (queue, opt-out keywords)
    rate_limit = fields.Integer(
        "Messages per Second",
        default=80,
        required=True,
        help="Throughput of this phone number at Meta (80 by default, up to 1,000 once Meta upgraded it). "
        "Sends never exceed it.",
    )
    queue_paused = fields.Boolean(
        "Sending Paused",
        readonly=True,
        copy=False,
        help="Set when Meta refuses the account itself (token, lock, restriction): messages wait in the queue "
        "instead of failing one by one. Cleared by a successful Test Connection or by Resume Sending.",
    )
    queue_pause_reason = fields.Text("Pause Reason", readonly=True, copy=False)
    queue_paused_date = fields.Datetime("Paused On", readonly=True, copy=False)
    optout_keywords = fields.Char(
        "Opt-out Keywords",
        default=DEFAULT_OPTOUT_KEYWORDS,
        help="Comma-separated. An inbound message equal to one of them (case and accents ignored) blacklists "
        "the number.",
    )
    optin_keywords = fields.Char(
        "Opt-in Keywords",
        default=DEFAULT_OPTIN_KEYWORDS,
        help="Comma-separated. Only these remove a number from the blacklist (shared with SMS): explicit "
        "words only, never an everyday answer such as YES.",
    )
    optout_reply = fields.Char(
        "Opt-out Confirmation",
        translate=True,
        default=lambda self: self.env._(
            "You will no longer receive messages from us. Reply START to subscribe again."
        ),
    )
    optin_reply = fields.Char(
        "Opt-in Confirmation",
        translate=True,
        default=lambda self: self.env._(
            "Your number was removed from our opt-out list: you may receive our messages again. Reply STOP to "
            "unsubscribe."
        ),
    )
    status_error_code = fields.Integer("Last Status Error Code", readonly=True, copy=False)
    status_error = fields.Text("Last Status Error", readonly=True, copy=False)
    status_error_date = fields.Datetime("Last Status Error On", readonly=True, copy=False)
    # health, from Meta's phone number data (see _update_from_phone_info)
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
    # onboarding: facts observed by Odoo, never ticked by hand; changing what they proved clears them
    connection_verified_at = fields.Datetime(
        "Connection Verified On",
        readonly=True,
        copy=False,
        help="Last successful Test Connection with the current token and ids.",
    )
    webhook_verified_at = fields.Datetime(
        "Webhook Verified On",
        readonly=True,
        copy=False,
        help="Last time Meta verified the callback URL with this account's Webhook Verify Token.",
    )
    #: fields of the webhook's cached routing and signature table (:meth:`_webhook_signing_accounts`)
    WEBHOOK_TABLE_FIELDS = frozenset({"active", "phone_uid", "account_uid", "app_secret"})
    #: fields whose change voids the last successful Test Connection
    _CONNECTION_FIELDS = ("token", "phone_uid", "account_uid", "app_uid", "api_base_url")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("api_base_url", DEFAULT_API_BASE_URL) != DEFAULT_API_BASE_URL:
                self._check_can_set_api_base_url()
        accounts = super().create(vals_list)
        self.env.registry.clear_cache()  # _webhook_signing_accounts
        return accounts

    def write(self, vals):
        if "api_base_url" in vals:
            self._check_can_set_api_base_url()
        if any(fname in vals for fname in self._CONNECTION_FIELDS) and "connection_verified_at" not in vals:
            vals = dict(vals, connection_verified_at=False)
        if "webhook_verify_token" in vals and "webhook_verified_at" not in vals:
            vals = dict(vals, webhook_verified_at=False)
        res = super().write(vals)
        if self.WEBHOOK_TABLE_FIELDS.intersection(vals):
            self.env.registry.clear_cache()  # _webhook_signing_accounts
        return res

    @api.constrains("optin_keywords")
    def _check_optin_keywords(self):
        for account in self:
            ambiguous = keyword_set(account.optin_keywords) & AMBIGUOUS_OPTIN_KEYWORDS
            if ambiguous:
                raise ValidationError(
                    self.env._(
                        "Opt-in keywords must be explicit (such as START or UNSTOP): %(words)s would subscribe "
                        "again customers answering another question.",
                        words=", ".join(sorted(ambiguous)).upper(),
                    )
                )

    def _check_can_set_api_base_url(self):
        """The API base URL is where the account's token is sent: Settings administrators only (a WhatsApp
        administrator could otherwise send another administrator's token to a host of theirs)."""
        if not self.env.su and not self.env.user.has_group("base.group_system"):
            raise AccessError(
                self.env._("Only Settings administrators may change the API base URL of an account.")
            )

    def unlink(self):
        self.env.registry.clear_cache()  # _webhook_signing_accounts
        return super().unlink()

    @api.model
    @tools.ormcache()
    def _webhook_signing_accounts(self):
        """``((id, phone_uid, account_uid, app_secret, active), ...)`` of every account, for the webhook.

        Archived accounts are in it so that the payloads Meta still sends for them are verified and kept
        (ignored), rather than refused and retried by Meta for days; only active accounts receive changes.
        Cached per registry: the webhook routes and verifies every request without a query. Creating,
        deleting or changing one of ``WEBHOOK_TABLE_FIELDS`` clears it, in every worker through Odoo's cache
        signaling. Raw SQL: the secrets are admin-only fields, used by the webhook for the HMAC only.
        """
        self.flush_model(self.WEBHOOK_TABLE_FIELDS)
        self.env.cr.execute("SELECT id, phone_uid, account_uid, app_secret, active FROM whatsapp_account")
        return tuple(self.env.cr.fetchall())

    @api.depends_context("uid")
    def _compute_callback_url(self):
        base_url = (
            self.env["ir.config_parameter"].sudo().get_param("web.base.url") or ""
        )  # sudo: system param
        for account in self:
            account.callback_url = base_url.rstrip("/") + WEBHOOK_ROUTE

    @api.depends("rate_limit", "throughput_level")
    def _compute_effective_rate(self):
        for account in self:
            account.effective_rate = account._whatsapp_effective_rate()

    @api.constrains("phone_uid", "active")
    def _check_phone_uid_unique(self):
        # sudo: across every company (the companies' rule would hide another company's account, and the webhook
        # would then route one number to two accounts); phone_uid is indexed
        accounts = self.sudo()
        for account in self.filtered("active"):
            if accounts.search_count([("phone_uid", "=", account.phone_uid), ("id", "!=", account.id)]):
                raise ValidationError(
                    self.env._(
                        "Phone Number ID %(phone)s is already used by another account.",
                        phone=account.phone_uid,
                    )
                )

    @api.constrains("rate_limit")
    def _check_rate_limit(self):
        for account in self:
            if not 1 <= account.rate_limit <= 1000:
                raise ValidationError(
                    self.env._("The sending rate must be between 1 and 1,000 messages per second.")
                )

    def copy_data(self, default=None):
        # the copy keeps the credentials (another number of the same app) but is archived until its own
        # Phone Number ID is set: one active account per phone number
        vals_list = super().copy_data(default=default)
        for account, vals in zip(self, vals_list, strict=True):
            if "name" not in (default or {}):
                vals["name"] = self.env._("%(name)s (copy)", name=account.name)
            if "active" not in (default or {}):
                vals["active"] = False
        return vals_list

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_regenerate_verify_token(self):
        for account in self:
            account.webhook_verify_token = secrets.token_urlsafe(24)

    def _demo_generate_secrets(self):
        """Demo data: a random app secret and verify token for each account, generated at install.

        A secret published in the demo file would let anyone forge webhooks to every demo database reachable
        from the internet. ``./dev run`` reads the generated app secret and gives it to the Meta sandbox.
        """
        for account in self:
            account.write(
                {"app_secret": secrets.token_hex(32), "webhook_verify_token": secrets.token_urlsafe(24)}
            )

    def button_test_connection(self):
        """Check that the token works and that the phone number belongs to the WABA; on success store
        Meta's phone number data, resume a paused queue and record the verification (onboarding).

        :return: a green notification naming the verified number
        :raise UserError: with what to do, for every failure
        """
        self.ensure_one()
        # rights first: the call to Meta runs with the account's token whoever clicks (a refused user must not
        # spend Meta's rate or edit limits, nor learn anything from the answer)
        self.check_access("write")
        client = self._get_client()
        try:
            phone = client.phone_number_info()
            numbers = client.list_phone_numbers()
        except WhatsAppApiError as err:
            raise UserError(self._connection_error_message(err)) from None
        if not any(str(number.get("id")) == self.phone_uid for number in numbers):
            raise UserError(
                self.env._(
                    "The phone number %(phone)s does not belong to the WhatsApp Business Account %(waba)s. "
                    "Copy both IDs again from WhatsApp › API Setup in the Meta developer console.",
                    phone=self.phone_uid,
                    waba=self.account_uid,
                )
            )
        self._update_from_phone_info(phone)
        self.action_resume_queue()
        self.connection_verified_at = fields.Datetime.now()
        label = " ".join(filter(None, [phone.get("verified_name"), phone.get("display_phone_number")]))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Connection successful"),
                "message": self.env._("Connected to %(number)s.", number=label or self.phone_uid),
                "sticky": False,
            },
        }

    def _connection_error_message(self, err):
        """Map a WhatsAppApiError of the connection test to an actionable message (never the token)."""
        code = err.code
        if err.category == "transient" or err.http_status is None:
            key = "transient"
        elif code in (190, 0):
            key = "auth"
        elif code == 100 and err.subcode == 33:
            key = "wrong_id"
        elif code == 100:
            # Meta answers 100 (no subcode 33) when the system user is not an admin of the assets.
            key = "admin"
        elif code == 10 or (isinstance(code, int) and 200 <= code <= 299) or code == 3:
            key = "permission"
        else:
            key = "unknown"
        return str(CONNECTION_ERRORS[key]) % {"code": code, "message": err.message or err.title or ""}

    def _on_webhook_verified(self):
        """Called by the webhook controller when Meta's subscription handshake used this account's token."""
        self.write({"webhook_verified_at": fields.Datetime.now()})

    def button_sync_whatsapp_template(self):
        """Sync Templates: creates what is missing, updates what exists (every page of Meta's list)."""
        self.ensure_one()
        # rights first: the call to Meta runs with the account's token whoever clicks (a refused user must not
        # spend Meta's rate or edit limits, nor learn anything from the answer)
        self.check_access("write")
        try:
            datas = self._get_client().list_templates()
        except WhatsAppApiError as err:
            raise UserError(
                self.env._(
                    "Meta refused to list the templates of %(account)s (error %(code)s): %(message)s\n%(hint)s",
                    account=self.name,
                    code=err.code or err.http_status or "-",
                    message=err.user_message or err.message or err.title,
                    hint=meta_errors.hint(err.code, err.subcode, self.env._)
                    or self.env._("Check the account with Test Connection."),
                )
            ) from None
        created, updated, skipped = self.env["whatsapp.template"]._sync_from_meta(self, datas)
        message = self.env._(
            "%(created)s templates created, %(updated)s templates updated.", created=created, updated=updated
        )
        if skipped:
            message += " " + self.env._(
                "Skipped (language unknown to this version): %(names)s.", names=", ".join(skipped)
            )
        return self.env["whatsapp.template"]._notify(message)

    # ------------------------------------------------------------
    # GRAPH CLIENT
    # ------------------------------------------------------------

    def _get_client(self):
        """:return: a ``GraphClient`` bound to this account; loopback only while tests run."""
        self.ensure_one()
        # sudo: the token and the API settings are admin-only fields, but any WhatsApp user sending a message
        # needs a client; the secrets never leave this object.
        account = self.sudo()
        return GraphClient(
            base_url=account.api_base_url or DEFAULT_API_BASE_URL,
            version=account.api_version or DEFAULT_API_VERSION,
            token=account.token,
            phone_number_id=account.phone_uid,
            waba_id=account.account_uid,
            app_id=account.app_uid,
            only_loopback=in_tests(),
        )

    def _get_admin_partners(self):
        """Partners told about account events: the notify users and the WhatsApp administrators."""
        admins = self.env.ref("whatsapp.group_whatsapp_admin").users.filtered(
            lambda u: not u.share and u.active
        )
        users = (self.notify_user_ids | admins).filtered(
            lambda u: not self.allowed_company_ids or u.company_ids & self.allowed_company_ids
        )
        return users.partner_id - self.env.ref("base.partner_root")

    def _whatsapp_company_lang(self):
        """The language of the account's company (of its first company, else the main company): the one
        chatter entries written without a user (webhooks, as the superuser) are written in."""
        companies = self.allowed_company_ids.sorted(lambda c: (c.sequence, c.id))[:1]
        companies = companies or self.env.ref("base.main_company", raise_if_not_found=False)
        return (companies and companies.partner_id.lang) or self.env.lang or "en_US"

    @api.model
    def _format_unix(self, timestamp):
        try:
            return fields.Datetime.to_string(
                datetime.fromtimestamp(int(timestamp), tz=UTC).replace(tzinfo=None)
            )
        except (TypeError, ValueError, OverflowError, OSError):
            return self.env._("no end date")

    # ------------------------------------------------------------
    # SENDING: rate, queue pause / resume
    # ------------------------------------------------------------

    def _whatsapp_effective_rate(self):
        """Messages per second of the queue: the throughput level's rate, capped by the administrator's."""
        self.ensure_one()
        level_mps = LEVEL_MPS.get(self.throughput_level, 1000)
        return max(1, min(self.rate_limit or DEFAULT_MPS, level_mps, 1000))

    def _whatsapp_pause_queue(self, error):
        """Pause sending for an account-level error and tell the administrators (once per pause)."""
        reason = str(error)
        hint = meta_errors.hint(getattr(error, "code", None), getattr(error, "subcode", None), self.env._)
        for account in self.filtered(lambda a: not a.queue_paused):
            account.write(
                {
                    "queue_paused": True,
                    "queue_pause_reason": reason,
                    "queue_paused_date": fields.Datetime.now(),
                }
            )
            _logger.warning("WhatsApp account %s: sending paused: %s", account.id, reason)
            account.message_post(
                body=self.env._(
                    "Sending is paused: Meta refused the account (%(reason)s). %(hint)s Queued messages wait; "
                    "they leave as soon as Test Connection succeeds or an administrator resumes sending.",
                    reason=reason,
                    hint=hint,
                ),
                partner_ids=account._get_admin_partners().ids,
                subtype_xmlid="mail.mt_comment",
            )

    def action_resume_queue(self):
        """Resume sending (button for administrators), then send what waited."""
        self.check_access("write")  # administrators: also when nothing is paused (no write below then)
        paused = self.filtered("queue_paused")
        paused.write({"queue_paused": False, "queue_pause_reason": False, "queue_paused_date": False})
        for account in paused:
            account.message_post(body=self.env._("Sending resumed."), subtype_xmlid="mail.mt_note")
        if paused:
            self.env.ref("whatsapp.ir_cron_whatsapp_message_queue")._trigger()
        return True

    # ------------------------------------------------------------
    # HEALTH: phone number info (Test Connection, daily cron), drops
    # ------------------------------------------------------------

    def _update_from_phone_info(self, phone_info):
        """Store the health fields of a ``GET /{phone-number-id}`` answer (absent keys are left as they are)."""
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
            vals["throughput_level"] = "coexistence"  # fixed 20 mps next to the WhatsApp Business app
        elif level:
            vals["throughput_level"] = {"STANDARD": "standard", "HIGH": "high"}.get(
                str(level).upper(), "not_applicable"
            )
        if phone_info.get("name_status"):
            vals["name_status"] = META_NAME_STATUS.get(str(phone_info["name_status"]).upper(), "unknown")
        self._health_apply(vals)

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

    # ------------------------------------------------------------
    # WEBHOOK HANDLERS (routed by whatsapp.webhook.event)
    # ------------------------------------------------------------

    def _webhook_messages(self, value, event):
        """``messages`` changes: statuses, system-level errors and inbound messages.

        :param dict value: the change's value (``metadata``, ``contacts``, ``messages`` | ``statuses`` |
            ``errors``)
        :param event: the ``whatsapp.webhook.event`` being processed
        """
        self.ensure_one()
        if value.get("statuses"):
            self.env["whatsapp.message"]._apply_meta_statuses(self, value["statuses"])
        if value.get("errors"):
            self._whatsapp_record_status_errors(value["errors"])
        if value.get("messages"):
            self.env["whatsapp.message"]._receive_inbound(self, value)

    def _whatsapp_record_status_errors(self, errors):
        """Record ``value.errors[]`` (system-level, e.g. throughput 130429) on the account."""
        error = errors[-1] if isinstance(errors[-1], dict) else {}
        details = (error.get("error_data") or {}).get("details") or ""
        text = " ".join(filter(None, [error.get("title") or error.get("message"), details]))
        self.write(
            {
                "status_error_code": int(error.get("code") or 0),
                "status_error": text,
                "status_error_date": fields.Datetime.now(),
            }
        )
        _logger.info("WhatsApp account %s: Meta reported error %s: %s", self.id, error.get("code"), text)

    @in_company_lang
    def _webhook_account_update(self, value, event):
        """Store an ``account_update`` event on the account and tell the administrators; a restricted,
        banned or deleted account pauses its sending queue.

        :param dict value: the ``value`` of the change, e.g. ``{"event": "ACCOUNT_RESTRICTION",
            "restriction_info": [{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
            "expiration": 1700000000}]}``
        :param event: the ``whatsapp.webhook.event`` being processed
        """
        self.ensure_one()
        name = str(value.get("event") or "UNKNOWN")
        vals = {"meta_last_event": name, "meta_last_event_date": fields.Datetime.now()}
        details = []
        if name == "ACCOUNT_VIOLATION":
            violation = value.get("violation_info") or {}
            details.append(self.env._("Violation: %(type)s", type=violation.get("violation_type") or "?"))
        elif name == "ACCOUNT_RESTRICTION":
            restrictions = value.get("restriction_info") or []
            lines = [
                self.env._(
                    "%(type)s until %(date)s",
                    type=item.get("restriction_type") or "?",
                    date=self._format_unix(item.get("expiration")),
                )
                for item in restrictions
                if isinstance(item, dict)
            ]
            details.extend(lines)
            vals["meta_restriction"] = "\n".join(lines)
            vals["meta_status"] = "restricted" if lines else "ok"
        elif name == "DISABLED_UPDATE" or "ban_info" in value:
            ban = value.get("ban_info") or {}
            state = ban.get("waba_ban_state") or "?"
            details.append(
                self.env._(
                    "Ban state: %(state)s (%(date)s)", state=state, date=ban.get("waba_ban_date") or "?"
                )
            )
            vals["meta_status"] = "ok" if state in ("REINSTATE", "REINSTATED") else "banned"
        elif name == "ACCOUNT_DELETED":
            vals["meta_status"] = "deleted"
        else:
            _logger.info(
                "WhatsApp account %s: account_update event %s stored without specific handling", self.id, name
            )
        if not details:
            details.append(json.dumps(value, sort_keys=True)[:1000])
        vals["meta_last_event"] = "\n".join([name, *details])
        self.write(vals)
        self.message_post(
            body=self.env._(
                "Meta account event %(event)s: %(details)s", event=name, details="; ".join(details)
            ),
            partner_ids=self._get_admin_partners().ids,
            subtype_xmlid="mail.mt_comment",
        )
        if self.meta_status in ("restricted", "banned", "deleted"):
            self._whatsapp_pause_queue(self.meta_last_event or self.meta_status)

    @in_company_lang
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

    @in_company_lang
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

    def _webhook_user_preferences(self, value, event):
        """Record each marketing preference of the change.

        :param dict value: ``{"messaging_product", "metadata", "contacts", "user_preferences": [{"wa_id",
            "detail", "category": "marketing_messages", "value": "stop" | "resume", "timestamp"}]}``; the
            change reaches every account of the WABA and is applied by number, so a repeat is a no-op.
        :param event: the ``whatsapp.webhook.event`` being processed
        """
        self.ensure_one()
        Preference = self.env["whatsapp.marketing.preference"]
        Message = self.env["whatsapp.message"]
        for item in value.get("user_preferences") or []:
            if not isinstance(item, dict) or item.get("category") != MARKETING_CATEGORY:
                continue
            state = PREFERENCE_STATES.get(str(item.get("value") or "").lower())
            if not state or not (item.get("wa_id") or item.get("user_id")):
                _logger.info("WhatsApp account %s: user preference %r not understood, skipped", self.id, item)
                continue
            Preference._set_preference(
                item.get("wa_id"),
                state,
                "webhook",
                account=self,
                date=Message._status_datetime(item.get("timestamp")),
                detail=item.get("detail"),
                bsuid=item.get("user_id"),
            )

    def _find_webhook_template(self, value):
        """Template of a template webhook: by Meta id among the accounts of the same WABA, archived included."""
        self.ensure_one()
        uid = str(value.get("message_template_id") or "")
        template = self.env["whatsapp.template"]
        if uid:
            template = template.with_context(active_test=False).search(
                [("meta_uid", "=", uid), ("account_id.account_uid", "=", self.account_uid)], limit=1
            )
        if not template and value.get("message_template_name"):
            template = template.with_context(active_test=False).search(
                [
                    ("template_name", "=", value["message_template_name"]),
                    ("lang_code", "=", value.get("message_template_language")),
                    ("account_id.account_uid", "=", self.account_uid),
                ],
                limit=1,
            )
        if not template:
            _logger.info(
                "WhatsApp account %s: template webhook for unknown template %s, kept in the inbox",
                self.id,
                uid,
            )
        return template

    @in_company_lang
    def _webhook_message_template_status_update(self, value, event):
        template = self._find_webhook_template(value)
        if template:
            template._apply_status_event(value)

    @in_company_lang
    def _webhook_message_template_quality_update(self, value, event):
        template = self._find_webhook_template(value)
        if template:
            template._apply_quality_event(value)

    @in_company_lang
    def _webhook_template_category_update(self, value, event):
        template = self._find_webhook_template(value)
        if template:
            template._apply_category_event(value)

    @in_company_lang
    def _webhook_message_template_components_update(self, value, event):
        template = self._find_webhook_template(value)
        if template:
            template._apply_components_event(value)
