import json
import logging
import secrets
from datetime import UTC, datetime

from odoo import _lt, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.modules import module
from odoo.tools import config

from ..tools.graph_api import GraphClient, WhatsAppApiError

_logger = logging.getLogger(__name__)

DEFAULT_API_VERSION = "v23.0"
DEFAULT_API_BASE_URL = "https://graph.facebook.com"
WEBHOOK_ROUTE = "/whatsapp/webhook"

# Meta error codes of a connection test -> actionable message (Meta facts §6; codes 200-299 are permissions).
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


def _in_tests():
    """True while Odoo runs tests: no request may then leave the machine."""
    return bool(module.current_test or config["test_enable"])


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
    # Account health, fed by `account_update` webhooks (see _webhook_account_update).
    # (Quality rating and messaging limit from phone_number_info() will be added next to these.)
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

    #: fields of the webhook's cached routing and signature table (:meth:`_webhook_signing_accounts`)
    WEBHOOK_TABLE_FIELDS = frozenset({"active", "phone_uid", "account_uid", "app_secret"})

    @api.model_create_multi
    def create(self, vals_list):
        accounts = super().create(vals_list)
        self.env.registry.clear_cache()  # _webhook_signing_accounts
        return accounts

    def write(self, vals):
        res = super().write(vals)
        if self.WEBHOOK_TABLE_FIELDS.intersection(vals):
            self.env.registry.clear_cache()  # _webhook_signing_accounts
        return res

    def unlink(self):
        self.env.registry.clear_cache()  # _webhook_signing_accounts
        return super().unlink()

    @api.model
    @tools.ormcache()
    def _webhook_signing_accounts(self):
        """``((id, phone_uid, account_uid, app_secret), ...)`` of the active accounts, for the webhook.

        Cached per registry: the webhook routes and verifies every request without a query. Creating,
        deleting or changing one of ``WEBHOOK_TABLE_FIELDS`` clears it, in every worker through Odoo's cache
        signaling. Raw SQL: the secrets are admin-only fields, used by the webhook for the HMAC only.
        """
        self.flush_model(self.WEBHOOK_TABLE_FIELDS)
        self.env.cr.execute(
            "SELECT id, phone_uid, account_uid, app_secret FROM whatsapp_account WHERE active"
        )
        return tuple(self.env.cr.fetchall())

    @api.depends_context("uid")
    def _compute_callback_url(self):
        base_url = (
            self.env["ir.config_parameter"].sudo().get_param("web.base.url") or ""
        )  # sudo: system param
        for account in self:
            account.callback_url = base_url.rstrip("/") + WEBHOOK_ROUTE

    @api.constrains("phone_uid", "active")
    def _check_phone_uid_unique(self):
        for account in self.filtered("active"):
            if self.search_count([("phone_uid", "=", account.phone_uid), ("id", "!=", account.id)]):
                raise ValidationError(
                    self.env._(
                        "Phone Number ID %(phone)s is already used by another account.",
                        phone=account.phone_uid,
                    )
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

    def button_test_connection(self):
        """Check that the token works and that the phone number belongs to the WABA.

        :return: a green notification naming the verified number
        :raise UserError: with what to do, for every failure
        """
        self.ensure_one()
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

    def _update_from_phone_info(self, phone_info):
        """Hook for the quality rating / messaging limit fields (filled from ``phone_number_info()``)."""

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
            only_loopback=_in_tests(),
        )

    # ------------------------------------------------------------
    # WEBHOOK: account_update
    # ------------------------------------------------------------

    def _webhook_account_update(self, value, event):
        """Store an ``account_update`` event on the account and tell the administrators.

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

    def _get_admin_partners(self):
        """Partners told about account events: the notify users and the WhatsApp administrators."""
        admins = self.env.ref("whatsapp.group_whatsapp_admin").users.filtered(
            lambda u: not u.share and u.active
        )
        users = (self.notify_user_ids | admins).filtered(
            lambda u: not self.allowed_company_ids or u.company_ids & self.allowed_company_ids
        )
        return users.partner_id - self.env.ref("base.partner_root")

    @api.model
    def _format_unix(self, timestamp):
        try:
            return fields.Datetime.to_string(
                datetime.fromtimestamp(int(timestamp), tz=UTC).replace(tzinfo=None)
            )
        except (TypeError, ValueError, OverflowError, OSError):
            return self.env._("no end date")
