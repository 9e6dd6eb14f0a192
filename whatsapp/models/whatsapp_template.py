"""``whatsapp.template``: a WhatsApp message template, its approval by Meta and how records fill it.

Sections: fields and computes; life cycle (creation and edition rules, the "WhatsApp" list action of Allow
Multi); validation (the content rules Meta enforces, from ``tools/template_rules.py``, raised as messages
naming their field); rendering for a record (Meta send components, header media, chatter text, preview);
language variants; submission to Meta; sync from Meta and the template webhooks; analytics.

Rendering runs with the current user's rights (never sudo for record values): the sender only sends what
they may read.
"""

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from markupsafe import Markup
from odoo import _lt, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.safe_eval import safe_eval, time

from ..tools import meta_errors, template_payloads, template_preview, template_rules
from ..tools import template_tools as tt
from ..tools.graph_errors import WhatsAppApiError

_logger = logging.getLogger(__name__)

STATUSES = [
    ("draft", "Draft"),
    ("pending", "Pending"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("paused", "Paused"),
    ("disabled", "Disabled"),
    ("in_appeal", "In Appeal"),
    ("pending_deletion", "Pending Deletion"),
    ("deleted", "Deleted"),
    ("limit_exceeded", "Limit Exceeded"),
    ("archived", "Archived"),
]

#: statuses in which an administrator may still change the content (the others are Meta's to change)
EDITABLE_STATUSES = ("draft", "rejected", "paused", "approved")
#: fields whose change makes an already submitted template need a new submission
CONTENT_FIELDS = {
    "body",
    "header_type",
    "header_text",
    "header_attachment_ids",
    "report_id",
    "footer",
    "button_ids",
    "category",
}
MULTI_ACTION_CODE = 'action = env["whatsapp.template"]._action_open_composer_multi(records)'

EDITS_PER_DAY = 1
EDITS_PER_30_DAYS = 10
TEMPLATE_EXISTS_SUBCODE = 2388024  # Meta: content in this language already exists for this template name

_MISSING = object()

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

#: issue code of template_tools -> message; %(field)s is the label of the field concerned
ISSUE_MESSAGES = {
    "name_required": _lt("%(field)s: a Meta template name is required."),
    "name_too_long": _lt("%(field)s: at most %(max)s characters."),
    "name_format": _lt(
        "%(field)s: “%(name)s” may only contain lowercase letters a–z, digits and underscores, and must start "
        "with a letter."
    ),
    "placeholder_malformed": _lt(
        "%(field)s: “%(placeholder)s” is not a valid placeholder; use numbered ones: {{1}}, {{2}}…"
    ),
    "placeholder_too_many": _lt("%(field)s: at most %(max)s placeholder ({{1}})."),
    "placeholder_repeated": _lt("%(field)s: the placeholder %(placeholder)s is used more than once."),
    "placeholder_gap": _lt(
        "%(field)s: placeholders must be numbered from {{1}} without gaps (found %(found)s, %(placeholder)s is "
        "missing)."
    ),
    "placeholder_adjacent": _lt(
        "%(field)s: placeholders must be separated by text (%(placeholder)s): Meta rejects adjacent ones."
    ),
    "placeholder_at_start": _lt(
        "%(field)s: the text may not start with a placeholder; add some words before it."
    ),
    "placeholder_at_end": _lt("%(field)s: the text may not end with a placeholder; add some words after it."),
    "body_required": _lt("%(field)s: the body of the message is required."),
    "too_long": _lt("%(field)s: at most %(max)s characters (currently %(length)s)."),
    "header_text_required": _lt("%(field)s: a text header needs a text."),
    "header_newline": _lt("%(field)s: a header is a single line, without line breaks."),
    "footer_placeholder": _lt("%(field)s: the footer may not contain placeholders."),
    "media_type": _lt("%(field)s: %(mimetype)s files are not accepted by WhatsApp here; use %(allowed)s."),
    "media_size": _lt("%(field)s: the file is too large for WhatsApp (at most %(max_mb)s MB)."),
    "buttons_too_many": _lt("%(field)s: at most %(max)s buttons."),
    "buttons_url_too_many": _lt("%(field)s: at most %(max)s Visit Website buttons."),
    "buttons_phone_too_many": _lt("%(field)s: at most %(max)s Call Number button."),
    "buttons_quick_reply_grouped": _lt(
        "%(field)s: Quick Reply buttons must be grouped together, all before or all after the other buttons."
    ),
    "button_text_required": _lt("%(field)s: every button needs a text."),
    "button_text_too_long": _lt("%(field)s: the text of button “%(name)s” exceeds %(max)s characters."),
    "button_text_duplicate": _lt("%(field)s: two buttons are named “%(name)s”; button texts must be unique."),
    "button_phone_invalid": _lt(
        "%(field)s: “%(number)s” (button “%(name)s”) is not a valid phone number; use the international "
        "format, e.g. +32 470 12 34 56."
    ),
    "button_url_invalid": _lt(
        "%(field)s: “%(url)s” (button “%(name)s”) must be a web address starting with https://."
    ),
    "button_url_too_long": _lt("%(field)s: the URL of button “%(name)s” exceeds %(max)s characters."),
    "button_url_dynamic": _lt(
        "%(field)s: a dynamic URL (button “%(name)s”) may only end with the placeholder {{1}}, e.g. "
        "https://example.com/order/{{1}}."
    ),
    "button_url_static_placeholder": _lt(
        "%(field)s: the static URL of button “%(name)s” may not contain placeholders; choose the Dynamic URL type."
    ),
}


class WhatsAppTemplate(models.Model):
    """A WhatsApp message template: its content, its approval by Meta and how records fill its variables."""

    _name = "whatsapp.template"
    _description = "WhatsApp Template"
    _inherit = ["mail.thread"]
    _order = "sequence, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10, help="The first available template is proposed by default.")
    active = fields.Boolean(default=True)
    template_name = fields.Char(
        "Meta Template Name",
        compute="_compute_template_name",
        store=True,
        readonly=False,
        copy=False,
        help="Name of the template on Meta: lowercase letters, digits and underscores. It cannot change once "
        "the template has been submitted.",
    )
    lang_code = fields.Selection(
        tt.META_LANGUAGES,
        "Language",
        required=True,
        default=lambda self: self._default_lang_code(),
        tracking=True,
    )
    account_id = fields.Many2one(
        "whatsapp.account",
        "Account",
        default=lambda self: self.env["whatsapp.account"].search([], limit=1),
        ondelete="cascade",
        index=True,
        tracking=True,
    )
    allowed_company_ids = fields.Many2many(related="account_id.allowed_company_ids", string="Companies")
    model_id = fields.Many2one(
        "ir.model",
        "Applies to",
        required=True,
        ondelete="cascade",
        default=lambda self: self.env["ir.model"]._get_id("res.partner"),
        domain=[("transient", "=", False)],
        help="The kind of record this template is sent from. Changing it requires Settings administrator rights.",
    )
    model = fields.Char(related="model_id.model", string="Model", store=True, index=True, precompute=True)
    phone_field = fields.Char(
        "Phone Field",
        compute="_compute_phone_field",
        store=True,
        readonly=False,
        precompute=True,
        required=True,
        help="Path of the field holding the recipient's number, e.g. mobile or partner_id.mobile.",
    )
    category = fields.Selection(
        [("marketing", "Marketing"), ("utility", "Utility"), ("authentication", "Authentication")],
        required=True,
        default="marketing",
        tracking=True,
        help="Marketing: promotions or information about your business, products or services, or any message "
        "that isn't utility or authentication.\n"
        "Utility: messages about a specific transaction, account, order or customer request.\n"
        "Authentication: one-time passwords your customers use to authenticate a transaction or login.\n"
        "A wrong category can get the template rejected or re-categorised by Meta.",
    )
    allowed_user_ids = fields.Many2many(
        "res.users",
        string="Allowed Users",
        domain=[("share", "=", False)],
        help="Users who may send this template. Leave empty to allow every WhatsApp user.",
    )
    allow_multi = fields.Boolean(
        "Allow Multi",
        help="Adds a WhatsApp action to the list view of the model, to send to a selection at once.",
    )
    multi_action_id = fields.Many2one("ir.actions.server", "Multi Send Action", readonly=True, copy=False)
    # content
    header_type = fields.Selection(
        [
            ("none", "None"),
            ("text", "Text"),
            ("image", "Image"),
            ("video", "Video"),
            ("document", "Document"),
            ("location", "Location"),
        ],
        required=True,
        default="none",
    )
    header_text = fields.Char("Header Message", help="At most 60 characters and one placeholder {{1}}.")
    header_attachment_ids = fields.Many2many(
        "ir.attachment", string="Header File", help="Sent as header, and as sample to Meta for the approval."
    )
    report_id = fields.Many2one(
        "ir.actions.report",
        "Header Document",
        domain="[('model', '=', model), ('report_type', '=', 'qweb-pdf')]",
        ondelete="set null",
        help="A document rendered for each record (e.g. the quotation) and sent as header.",
    )
    body = fields.Text(required=True, help="Placeholders {{1}}, {{2}}… are filled from the Variables tab.")
    footer = fields.Char(help="At most 60 characters, no placeholder.")
    button_ids = fields.One2many("whatsapp.template.button", "template_id", "Buttons", copy=True)
    variable_ids = fields.One2many(
        "whatsapp.template.variable",
        "template_id",
        "Variables",
        compute="_compute_variable_ids",
        store=True,
        readonly=False,
        copy=True,
    )
    # Meta
    status = fields.Selection(
        STATUSES, default="draft", required=True, readonly=True, copy=False, tracking=True
    )
    meta_status_raw = fields.Char(
        "Meta Status", readonly=True, copy=False, help="Last status value sent by Meta."
    )
    rejected_reason = fields.Char("Meta Reason", readonly=True, copy=False)
    quality = fields.Selection(
        [("unknown", "Unknown"), ("green", "High"), ("yellow", "Medium"), ("red", "Low")],
        default="unknown",
        readonly=True,
        copy=False,
        tracking=True,
    )
    meta_uid = fields.Char("Meta Template ID", readonly=True, copy=False, index="btree_not_null")
    approved_before_edit = fields.Boolean(readonly=True, copy=False)
    meta_edit_dates = fields.Json("Edits of the approved template", readonly=True, copy=False)
    disable_date = fields.Datetime("Disabled On", readonly=True, copy=False)
    preview_html = fields.Html("Preview", compute="_compute_preview_html", sanitize=False)
    # analytics (period: context key whatsapp_stats_period)
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

    @api.model
    def _default_lang_code(self):
        return tt.meta_lang_from_odoo(self.env.context.get("lang") or self.env.user.lang)

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends("name")
    def _compute_template_name(self):
        for template in self:
            if not template.meta_uid and template.status == "draft":
                template.template_name = tt.meta_name_slug(template.name) or template.template_name

    @api.depends("model")
    def _compute_phone_field(self):
        for template in self:
            if (
                template.phone_field
                and template._check_field_path(template.model, template.phone_field) is None
            ):
                continue
            model = self.env.get(template.model) if template.model else None
            candidates = ("mobile", "phone", "partner_id.mobile", "partner_id.phone")
            template.phone_field = next(
                (
                    path
                    for path in candidates
                    if model is not None and template._check_field_path(model._name, path) is None
                ),
                False,
            )

    @api.depends("header_type", "header_text", "body", "button_ids.button_type", "button_ids.url_type")
    def _compute_variable_ids(self):
        for template in self:
            wanted = template._expected_variable_keys()
            existing = {}
            for variable in template.variable_ids:
                existing.setdefault(variable._match_key(), variable)
            existing_records = self.env["whatsapp.template.variable"].concat(*existing.values())
            commands = [
                fields.Command.delete(variable.id) for key, variable in existing.items() if key not in wanted
            ]
            commands += [
                fields.Command.delete(variable.id) for variable in template.variable_ids - existing_records
            ]
            for key in wanted:
                if key not in existing:
                    line_type, position, button = key
                    commands.append(
                        fields.Command.create(
                            {
                                "line_type": line_type,
                                "position": position,
                                "button_id": button.id if button else False,
                                "field_type": "free_text",
                            }
                        )
                    )
            if commands:
                template.variable_ids = commands

    def _expected_variable_keys(self):
        """(line_type, position, button) of every variable the content needs, in display order."""
        self.ensure_one()
        keys = []
        if self.header_type == "text":
            keys += [
                ("header", n, None) for n in sorted(set(template_rules.parse_placeholders(self.header_text)))
            ]
        elif self.header_type == "location":
            keys += [("location", n, None) for n in range(1, len(template_rules.LOCATION_PARTS) + 1)]
        keys += [("body", n, None) for n in sorted(set(template_rules.parse_placeholders(self.body)))]
        for button in self.button_ids:
            if button.button_type == "url" and button.url_type == "dynamic":
                keys.append(("button", 1, button))
        return keys

    @api.depends(
        "header_type",
        "header_text",
        "body",
        "footer",
        "button_ids",
        "button_ids.name",
        "variable_ids.demo_value",
    )
    def _compute_preview_html(self):
        for template in self:
            template.preview_html = template._render_preview_html()

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        default_model = self.env["ir.model"]._get_id("res.partner")
        for vals in vals_list:
            if vals.get("model_id", default_model) != default_model:
                self._check_can_change_model()
        templates = super().create(vals_list)
        templates._compute_variable_ids()  # reconcile lines given in vals with the placeholders
        templates.filtered("allow_multi")._update_multi_action()
        return templates

    def write(self, vals):
        if "model_id" in vals and any(t.model_id.id != vals["model_id"] for t in self):
            self._check_can_change_model()
        if CONTENT_FIELDS & set(vals) and not self.env.context.get("whatsapp_template_sync"):
            self._mark_content_changed()
        result = super().write(vals)
        if {"allow_multi", "model_id", "active"} & set(vals):
            self._update_multi_action()
        return result

    def unlink(self):
        actions = self.multi_action_id
        result = super().unlink()
        self.browse()._cleanup_multi_actions(actions)
        return result

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        for template, vals in zip(self, vals_list, strict=True):
            vals.setdefault("name", self.env._("%(name)s (copy)", name=template.name))
        return vals_list

    def _check_can_change_model(self):
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(
                self.env._(
                    "Applies to: only Settings administrators may choose the model of a WhatsApp template; "
                    "ask one to set it."
                )
            )

    def _mark_content_changed(self):
        """An edited submitted template goes back to draft until it is submitted again."""
        locked = self.filtered(lambda t: t.status not in EDITABLE_STATUSES)
        if locked:
            raise UserError(
                self.env._(
                    "The template “%(name)s” is %(status)s on Meta and cannot be edited now. Wait for Meta's "
                    "decision or sync the template, or duplicate it to start a new one.",
                    name=locked[0].name,
                    status=dict(STATUSES)[locked[0].status],
                )
            )
        for template in self.filtered(lambda t: t.meta_uid and t.status != "draft"):
            template.approved_before_edit = template.status == "approved"
            template.status = "draft"

    # ------------------------------------------------------------
    # ALLOW MULTI
    # ------------------------------------------------------------

    def _update_multi_action(self):
        """One "WhatsApp" action on the list view of each model having a template with Allow Multi."""
        # sudo: binding actions are technical records that WhatsApp administrators may not create themselves
        Action = self.env["ir.actions.server"].sudo()
        Template = self.sudo().with_context(active_test=True)  # sudo: see every template of the model
        for model in set(self.mapped("model")) | set(self.sudo().multi_action_id.model_id.mapped("model")):
            templates = Template.search([("model", "=", model), ("allow_multi", "=", True)])
            action = Action.search(
                [("model_id.model", "=", model), ("code", "=", MULTI_ACTION_CODE)], limit=1
            )
            if templates and not action:
                model_id = self.env["ir.model"]._get_id(model)
                action = Action.create(
                    {
                        "name": self.env._("WhatsApp"),
                        "model_id": model_id,
                        "binding_model_id": model_id,
                        "binding_view_types": "list",
                        "state": "code",
                        "code": MULTI_ACTION_CODE,
                        "groups_id": [(6, 0, [self.env.ref("whatsapp.group_whatsapp_user").id])],
                    }
                )
            elif not templates and action:
                action.unlink()
                action = Action
            stale = Template.search([("model", "=", model), ("multi_action_id", "!=", action.id or False)])
            (stale & templates).write({"multi_action_id": action.id})
            (stale - templates).filtered("multi_action_id").write({"multi_action_id": False})

    def _cleanup_multi_actions(self, actions):
        for action in actions.sudo().exists():  # sudo: see _update_multi_action
            if not self.sudo().search_count(
                [("model", "=", action.model_id.model), ("allow_multi", "=", True)]
            ):
                action.unlink()

    @api.model
    def _action_open_composer_multi(self, records):
        """Open the WhatsApp composer on a selection of records (target of the list action)."""
        if "whatsapp.composer" not in self.env:
            raise UserError(self.env._("The WhatsApp composer is not available."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send WhatsApp"),
            "res_model": "whatsapp.composer",
            "view_mode": "form",
            "target": "new",
            "context": {
                "active_model": records._name,
                "active_ids": records.ids,
                "default_res_model": records._name,
                "default_res_ids": records.ids,
            },
        }

    # ------------------------------------------------------------
    # VALIDATION
    # ------------------------------------------------------------

    def _raise_issues(self, issues):
        """Raise one ValidationError listing every issue, each naming its field."""
        if not issues:
            return
        lines = []
        for issue in issues:
            field = self._fields.get(issue.field)
            label = field._description_string(self.env) if field else issue.field
            lines.append(
                str(ISSUE_MESSAGES[issue.code]) % {"field": label, **issue.params}
            )  # _lt: translated
        raise ValidationError("\n".join(dict.fromkeys(lines)))

    def _get_content_issues(self):
        """Issues of the content that Meta would reject (names, texts, buttons, header file)."""
        self.ensure_one()
        issues = template_rules.check_name(self.template_name)
        issues += template_rules.check_texts(self.header_type, self.header_text, self.body, self.footer)
        issues += template_rules.check_buttons([button._to_rule_dict() for button in self.button_ids])
        if self.header_type in template_rules.HEADER_MEDIA_RULES:
            for attachment in self.header_attachment_ids:
                issues += template_rules.check_header_media(
                    self.header_type, attachment.mimetype, attachment.file_size
                )
        return issues

    @api.constrains("template_name", "header_type", "header_text", "body", "footer", "button_ids", "status")
    def _check_content(self):
        if self.env.context.get("whatsapp_template_sync"):
            return  # Meta's own content, as Meta accepted it
        for template in self.filtered(lambda t: t.status == "draft"):
            template._raise_issues(template._get_content_issues())

    @api.constrains("header_attachment_ids", "header_type")
    def _check_header_attachment(self):
        for template in self:
            if len(template.header_attachment_ids) > 1:
                raise ValidationError(
                    self.env._(
                        "%(field)s: a header holds a single file.",
                        field=self._fields["header_attachment_ids"].string,
                    )
                )
            if template.header_type in template_rules.HEADER_MEDIA_RULES:
                issues = []
                for attachment in template.header_attachment_ids:
                    issues += template_rules.check_header_media(
                        template.header_type, attachment.mimetype, attachment.file_size
                    )
                template._raise_issues(issues)

    @api.constrains("template_name", "lang_code", "account_id", "active")
    def _check_duplicate(self):
        for template in self.filtered("account_id"):
            duplicate = self.with_context(active_test=False).search(
                [
                    ("id", "!=", template.id),
                    ("account_id", "=", template.account_id.id),
                    ("template_name", "=", template.template_name),
                    ("lang_code", "=", template.lang_code),
                ],
                limit=1,
            )
            if duplicate:
                raise ValidationError(
                    self.env._(
                        "Duplicate template is not allowed for one Meta account.\n"
                        "“%(other)s” already uses the Meta template name “%(meta_name)s” in %(lang)s on the account "
                        "%(account)s. Rename the Meta template name of the duplicate in Odoo (or delete it), then "
                        "sync the templates again.",
                        other=duplicate.name,
                        meta_name=template.template_name,
                        lang=template.lang_code,
                        account=template.account_id.name,
                    )
                )

    @api.constrains("report_id", "model_id")
    def _check_report_model(self):
        """The header document must be a PDF report of the template's model: the report is rendered for the
        ids of the records the template is sent from (a report of another model would print other records,
        whatever the view's domain proposes; RPC ignores it)."""
        for template in self.filtered("report_id"):
            report = template.report_id.sudo()  # sudo: compare its model, whoever may read report actions
            if report.model != template.model or report.report_type != "qweb-pdf":
                raise ValidationError(
                    self.env._(
                        "Header Document: “%(report)s” is not a PDF report of %(model)s.",
                        report=report.name,
                        model=template.model,
                    )
                )

    @api.constrains("phone_field", "model_id")
    def _check_phone_field(self):
        for template in self:
            error = template._check_field_path(template.model, template.phone_field)
            if error:
                raise ValidationError(
                    self.env._(
                        "Phone Field: %(error)s Choose the field holding the phone number on %(model)s (e.g. "
                        "Mobile or Phone) after changing “Applies to”.",
                        error=error,
                        model=self.env[template.model]._description
                        if template.model in self.env
                        else template.model,
                    )
                )

    @api.model
    def _check_field_path(self, model_name, path):
        """None when ``path`` is a valid dotted field path on ``model_name``, else why (a sentence)."""
        if not path:
            return self.env._("a field is required.")
        model = self.env.get(model_name) if model_name else None
        if model is None:
            return self.env._("the model %(model)s does not exist.", model=model_name)
        for part in path.split("."):
            field = model._fields.get(part)
            if field is None:
                return self.env._(
                    "“%(path)s” is not a field of %(model)s (no field “%(part)s”).",
                    path=path,
                    model=model._description or model._name,
                    part=part,
                )
            if field.relational:
                model = self.env[field.comodel_name]
            elif part != path.split(".")[-1]:
                return self.env._("“%(path)s”: “%(part)s” is not a relation.", path=path, part=part)
        return None

    # ------------------------------------------------------------
    # PUBLIC API (used by the composer and the thread API)
    # ------------------------------------------------------------

    @api.model
    def _find_available(self, model):
        """Approved templates of ``model`` the current user may use, default (first by sequence) first."""
        domain = [
            ("model", "=", model),
            ("status", "=", "approved"),
            "|",
            ("allowed_user_ids", "=", False),
            ("allowed_user_ids", "in", self.env.user.ids),
            ("account_id.allowed_company_ids", "in", self.env.companies.ids),
        ]
        return self.search(domain, order="sequence, id")

    def _get_recipient_number(self, record):
        """Raw number of ``record`` (False when none): the template's phone field, else the usual number
        fields (as ``mail.thread._phone_get_number_fields``: mobile, then phone) of the record that field is
        read on (the partner of ``partner_id.mobile``), else of ``record`` itself."""
        self.ensure_one()
        path = (self.phone_field or "").split(".") if self.phone_field else []
        holder = record
        for part in path[:-1]:
            if not holder or part not in holder._fields:
                holder = None
                break
            # the first record, keeping the prefetch set (a plain value[:1] reads one record per query)
            holder = (holder if len(holder) == 1 else holder[:1].with_prefetch(holder._prefetch_ids))[part]
        candidates = []  # (record, field names) in order
        if holder is not None and holder:
            holder = holder if len(holder) == 1 else holder[:1].with_prefetch(holder._prefetch_ids)
            candidates.append((holder, path[-1:] + self._usual_number_fields(holder)))
        if holder is None or holder != record:
            candidates.append((record, self._usual_number_fields(record)))
        for current, names in candidates:
            current = current if len(current) == 1 else current[:1].with_prefetch(current._prefetch_ids)
            for name in names:
                if name in current._fields and current[name]:
                    return current[name]
        return False

    @api.model
    def _usual_number_fields(self, record):
        """Number fields of ``record``'s model, in order (``_phone_get_number_fields``: mobile, then phone)."""
        return [name for name in record._phone_get_number_fields() if name in record._fields]

    def _get_recipient_field_info(self, record, field_name=None):
        """Where the number of ``record`` is read, for a user to fix it: ``(holder, label)``, the record
        holding the number field (``record`` or the record at the end of the path, e.g. the customer of an
        order) and the field's label (e.g. "Mobile").

        :param str field_name: a field of ``record`` used instead of the template's phone field
        """
        self.ensure_one()
        path = [field_name] if field_name else (self.phone_field or "").split(".")
        holder = record
        for part in path[:-1]:
            if not holder or part not in holder._fields:
                break
            holder = holder[:1][part]
        field = holder._fields.get(path[-1]) if holder else None
        return holder[:1] or record, (field.get_description(self.env)["string"] if field else path[-1])

    def _get_variable_values(self, record, free_text=None, checked=False):
        """``{variable: value}`` for ``record`` (free text from the composer).

        :param checked: the caller checked the rights of a batch including ``record`` (see below)
        """
        self.ensure_one()
        return {variable: variable._get_value(record, free_text, checked) for variable in self.variable_ids}

    def _get_variable_values_batch(self, records, free_text=None):
        """``{record id: {variable: value}}``: the values of every record, computed once per record.

        The sender's rights are checked once per hop of each field path for all ``records`` (the same
        records and fields as record by record, so the same AccessError) and the paths are prefetched.
        """
        self.ensure_one()
        for variable in self.variable_ids:
            variable._check_path_access(records)
        return {record.id: self._get_variable_values(record, free_text, checked=True) for record in records}

    def _get_send_components(self, record, free_text=None):
        """Meta *send* components for ``record``: header text/location, body, dynamic and tracked URL buttons.

        A media header is left out: the sender adds it with the uploaded media id.
        """
        self.ensure_one()
        values = self._get_variable_values(record, free_text)
        return self._build_send_components(values)

    def _build_send_components(self, values):
        components = []
        by_type = {}
        for variable, value in values.items():
            by_type.setdefault(variable.line_type, []).append((variable, value))
        if self.header_type == "text" and by_type.get("header"):
            components.append(
                {"type": "header", "parameters": [{"type": "text", "text": by_type["header"][0][1]}]}
            )
        elif self.header_type == "location":
            location = {variable._location_part(): value for variable, value in by_type.get("location", [])}
            components.append(
                {
                    "type": "header",
                    "parameters": [{"type": "location", "location": self._location_param(location)}],
                }
            )
        body = sorted(by_type.get("body", []), key=lambda item: item[0].position)
        if body:
            components.append(
                {"type": "body", "parameters": [{"type": "text", "text": value} for _var, value in body]}
            )
        button_values = {variable.button_id: value for variable, value in by_type.get("button", [])}
        for index, button in enumerate(self.button_ids):
            if button.button_type != "url" or button.url_type == "static":
                continue
            suffix = (
                button._get_tracked_suffix() if button.url_type == "tracked" else button_values.get(button)
            )
            if suffix is None:
                continue
            components.append(
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": str(index),
                    "parameters": [{"type": "text", "text": suffix}],
                }
            )
        return components

    def _location_param(self, location):
        try:
            latitude, longitude = float(location.get("latitude")), float(location.get("longitude"))
        except (TypeError, ValueError):
            raise UserError(
                self.env._(
                    "Template “%(name)s”: the location header needs numeric latitude and longitude "
                    "(got %(lat)s, %(lng)s).",
                    name=self.name,
                    lat=location.get("latitude"),
                    lng=location.get("longitude"),
                )
            ) from None
        return {
            "latitude": latitude,
            "longitude": longitude,
            "name": location.get("name") or "",
            "address": location.get("address") or "",
        }

    def _report_filename(self, record, extension="pdf"):
        """The file name of the header report for ``record``, as its print name gives it (``Quotation -
        S00042.pdf``)."""
        name = self.report_id.name
        if self.report_id.print_report_name:
            name = safe_eval(self.report_id.print_report_name, {"object": record, "time": time}) or name
        return f"{name}.{extension}"

    def _get_header_media(self, record):
        """None or ``{"data", "mimetype", "filename", "cache_key"}`` of the media header for ``record``.

        The composer's file (context ``whatsapp_header_attachment_id``) replaces the template's one; it is
        read with the sender's rights: one may only send a file one may read.
        """
        self.ensure_one()
        if self.header_type not in template_rules.HEADER_MEDIA_RULES:
            return None
        attachment_id = self.env.context.get("whatsapp_header_attachment_id")
        if attachment_id:
            attachment = self.env["ir.attachment"].browse(attachment_id)
            return {
                "data": attachment.raw,
                "mimetype": attachment.mimetype,
                "filename": attachment.name,
                "cache_key": attachment.checksum,
            }
        if self.report_id and self.header_type == "document":
            # rendered with the sender's rights (the record's environment), never the template's: a bridge may
            # read the template with sudo (a POS cashier sends what an administrator configured), the document
            # must still be one the sender may read
            content, report_format = record.env["ir.actions.report"]._render(
                self.report_id.report_name, record.ids
            )
            digest = hashlib.sha256(content).hexdigest()
            filename = self._report_filename(record, "pdf" if report_format == "pdf" else report_format)
            return {
                "data": content,
                "mimetype": "application/pdf" if report_format == "pdf" else "text/html",
                "filename": filename,
                "cache_key": f"report-{self.report_id.id}-{record._name}-{record.id}-{digest}",
            }
        attachment = self.header_attachment_ids[:1]
        if not attachment:
            return None
        # sudo: header files are attached to the template, readable by anyone who may send it
        attachment = attachment.sudo()
        return {
            "data": attachment.raw,
            "mimetype": attachment.mimetype,
            "filename": attachment.name,
            "cache_key": attachment.checksum,
        }

    def _render_body(self, record, free_text=None):
        """Final plain text of the message (header, body, footer, buttons) for the chatter."""
        self.ensure_one()
        values = self._get_variable_values(record, free_text)
        return self._render_text(values)

    def _render_text(self, values):
        numbered = {t: {} for t in ("header", "body")}
        for variable, value in values.items():
            if variable.line_type in numbered:
                numbered[variable.line_type][variable.position] = value
        parts = []
        if self.header_type == "text":
            parts.append(tt.fill_placeholders(self.header_text, numbered["header"]))
        elif self.header_type == "location":
            location = {v._location_part(): value for v, value in values.items() if v.line_type == "location"}
            parts.append(" ".join(filter(None, [location.get("name"), location.get("address")])))
        parts.append(tt.fill_placeholders(self.body, numbered["body"]))
        if self.footer:
            parts.append(self.footer)
        buttons = [f"[{button.name}]" for button in self.button_ids]
        if buttons:
            parts.append(" ".join(buttons))
        return "\n\n".join(part for part in parts if part)

    # ------------------------------------------------------------
    # PREVIEW
    # ------------------------------------------------------------

    def _render_preview_html(self, values=None, record=None):
        """HTML preview as WhatsApp shows it, with the sample values (or ``values`` ``{variable: str}``).

        Built by ``tools/template_preview.py`` (well-formed, escaped); a document header shows the file sent
        (the header file, else the report's file name for ``record``, else the report's name), a location its
        place and address.
        """
        self.ensure_one()
        if values is None:
            values = {variable: variable.demo_value or variable.name for variable in self.variable_ids}
        numbered = {t: {} for t in ("header", "body")}
        location = {}
        for variable, value in values.items():
            if variable.line_type in numbered:
                numbered[variable.line_type][variable.position] = value
            elif variable.line_type == "location":
                location[variable._location_part()] = value
        header_types = dict(self._fields["header_type"]._description_selection(self.env))
        label = header_types.get(self.header_type)
        detail = image_url = None
        attachment = self.header_attachment_ids[:1]
        if self.header_type == "document":
            if attachment:
                label = attachment.name
            elif self.report_id and record:
                label = self._report_filename(record)
            elif self.report_id:
                label = self.env._("%(report)s (PDF of the record)", report=self.report_id.name)
            detail = (
                "PDF"
                if (attachment.mimetype or "application/pdf") == "application/pdf"
                else attachment.mimetype
            )
        elif self.header_type == "location":
            label = location.get("name") or label
            detail = location.get("address")
        elif self.header_type == "image" and attachment:
            image_url = f"/web/image/ir.attachment/{attachment.id}/datas"
        header = template_preview.header_html(
            self.header_type,
            text=tt.fill_placeholders(self.header_text or "", numbered["header"]),
            label=label,
            detail=detail,
            image_url=image_url,
        )
        return template_preview.preview_html(
            header,
            tt.fill_placeholders(self.body or "", numbered["body"]),
            footer=self.footer,
            buttons=[(button.button_type, button.name) for button in self.button_ids],
            time_label=fields.Datetime.context_timestamp(self, fields.Datetime.now()).strftime("%H:%M"),
        )

    # ------------------------------------------------------------
    # LANGUAGE VARIANTS
    # ------------------------------------------------------------
    # Templates of one account and model sharing a Meta name, one per language: Meta identifies a template
    # by name *and* language; Odoo keeps one record per language. When sending, each recipient gets the
    # approved variant in its partner's language when there is one (``_whatsapp_variants_for_records``),
    # else the template chosen by the sender.

    def _whatsapp_lang_variants(self):
        """Approved templates with the same Meta name, account and model as ``self``, ``self`` first,
        that the current user may send."""
        self.ensure_one()
        if not self.template_name:
            return self
        others = self.search(
            [
                ("id", "!=", self.id),
                ("template_name", "=", self.template_name),
                ("account_id", "=", self.account_id.id),
                ("model_id", "=", self.model_id.id),
                ("status", "=", "approved"),
                "|",
                ("allowed_user_ids", "=", False),
                ("allowed_user_ids", "in", self.env.user.ids),
            ],
            order="sequence, id",
        )
        return self | others

    def _whatsapp_best_variant(self, variants, lang):
        """The variant of ``variants`` best fitting Odoo language ``lang``; ``self`` on ties or no match."""
        self.ensure_one()
        best, best_rank = self, tt.lang_rank(self.lang_code, lang)
        for variant in variants - self:
            rank = tt.lang_rank(variant.lang_code, lang)
            if rank is not None and (best_rank is None or rank < best_rank):
                best, best_rank = variant, rank
        return best

    def _whatsapp_variants_for_records(self, records):
        """Split ``records`` by the template each one should receive: ``[(template, records)]``, in the
        order of first appearance, ``self`` for records whose partner language has no approved variant.

        One search for the variants, one read of the partners' languages: it stays batched.
        """
        self.ensure_one()
        variants = self._whatsapp_lang_variants() if records else self
        if len(variants) == 1:
            return [(self, records)] if records else []
        partners = self._whatsapp_recipient_partners(records)
        groups = {}
        for record in records:
            lang = partners.get(record.id) and partners[record.id].lang
            template = self._whatsapp_best_variant(variants, lang) if lang else self
            groups.setdefault(template, []).append(record.id)
        return [(template, records.browse(ids)) for template, ids in groups.items()]

    def _whatsapp_recipient_partners(self, records):
        """``{record id: res.partner}`` of the person each record's message goes to: the record itself for
        a contact, the partner holding the template's phone field (``partner_id.mobile``), else the
        first partner ``mail.thread`` names for the record."""
        if records._name == "res.partner":
            return {record.id: record for record in records}
        path = (self[:1].phone_field or "").split(".")[:-1]
        result = {}
        if path:
            for record in records:
                value = record
                for part in path:
                    if not value or part not in value._fields:
                        value = None
                        break
                    value = value[:1][part]
                if value is not None and value._name == "res.partner" and value:
                    result[record.id] = value[:1]
        missing = records.filtered(lambda r: r.id not in result)
        if missing and hasattr(missing, "_mail_get_partners"):
            for record_id, partners in missing._mail_get_partners().items():
                if partners:
                    result[record_id] = partners[:1]
        return result

    def _whatsapp_preferred_lang(self, records=None):
        """Odoo language to propose a template in: the single recipient's, else the sender's."""
        if records is not None and len(records) == 1:
            partner = self[:1]._whatsapp_recipient_partners(records).get(records.id)
            if partner and partner.lang:
                return partner.lang
        return self.env.context.get("lang") or self.env.user.lang

    # ------------------------------------------------------------
    # SUBMISSION
    # ------------------------------------------------------------

    def button_submit_template(self):
        """Create the template on Meta (or update it when it already exists there): status becomes Pending."""
        # rights first: before this, Meta received the edit and the access check failed only on the write
        # after it (Meta's edit limit used up, an approved template put back in review)
        self.check_access("write")
        for template in self:
            template._check_submittable()
            client = template.account_id._get_client()
            try:
                payload = template._get_meta_create_payload(client=client)
                if template.meta_uid:
                    payload = {key: payload[key] for key in ("category", "components")}
                    result = client.update_template(template.meta_uid, payload)
                else:
                    result = template._create_on_meta(client, payload)
            except WhatsAppApiError as err:
                raise UserError(template._meta_error_message(err)) from None
            vals = {"status": "pending", "rejected_reason": False, "meta_status_raw": False}
            if not template.meta_uid:
                vals["meta_uid"] = str(result.get("id") or "")
            raw_status = (result.get("status") or "").upper()
            if tt.META_STATUS_TO_STATUS.get(raw_status):
                vals["status"] = tt.META_STATUS_TO_STATUS[raw_status]
            if template.approved_before_edit:
                vals["meta_edit_dates"] = [
                    *template._recent_edit_dates(),
                    fields.Datetime.to_string(fields.Datetime.now()),
                ]
                vals["approved_before_edit"] = False
            template.with_context(whatsapp_template_sync=True).write(vals)
            # the submitter follows the template: Meta's decision, posted by the webhook, reaches them
            template.message_subscribe(partner_ids=self.env.user.partner_id.ids)
            template.message_post(body=template._submit_outcome_text(), subtype_xmlid="mail.mt_note")
        if len(self) == 1:
            return self._notify(
                self._submit_outcome_text(),
                reload=True,
                title=self.env._("Submitted to Meta"),
                kind="success" if self.status == "approved" else "info",
            )
        return True

    def _submit_outcome_text(self):
        """What a submit did, in the user's words: approved at once, or waiting for Meta's review."""
        self.ensure_one()
        if self.status == "approved":
            return self.env._("Meta approved “%(name)s” at once: it can be sent.", name=self.name)
        return self.env._(
            "“%(name)s” is waiting for Meta's review (usually a few minutes, up to 24 hours). Its status "
            "changes by itself when Meta decides; if Meta rejects it, the reason shows on the template: edit "
            "it and submit it again.",
            name=self.name,
        )

    def _create_on_meta(self, client, payload):
        """Create the template on Meta, idempotently.

        A submit can reach Meta and still be rolled back here (a concurrent approval webhook makes the
        transaction fail and Odoo retries the call): Meta then answers that the name and language already
        exist. When Meta's template has our body, it is ours: adopt its id and status instead of failing. A
        different template of the same name stays an error (rename this one).
        """
        self.ensure_one()
        try:
            return client.create_template(payload)
        except WhatsAppApiError as err:
            if err.subcode != TEMPLATE_EXISTS_SUBCODE:
                raise
            body = next(
                (c.get("text") for c in payload.get("components", []) if c.get("type") == "BODY"), None
            )
            for data in client.list_templates():
                remote_body = next(
                    (c.get("text") for c in data.get("components") or [] if c.get("type") == "BODY"), None
                )
                if (
                    data.get("name") == self.template_name
                    and data.get("language") == self.lang_code
                    and remote_body == body
                ):
                    _logger.info(
                        "WhatsApp template %s: already on Meta (%s), adopted", self.id, data.get("id")
                    )
                    return data
            raise

    def _check_submittable(self):
        self.ensure_one()
        if not self.account_id:
            raise UserError(self.env._("Account: choose the WhatsApp account the template belongs to."))
        self._raise_issues(self._get_content_issues())
        missing = self.variable_ids.filtered(lambda v: v.line_type != "location" and not v.demo_value)
        if missing:
            raise UserError(
                self.env._(
                    "Variables: Meta needs a sample value for every placeholder to review the template; fill the "
                    "Sample Value of %(names)s.",
                    names=", ".join(missing.mapped("name")),
                )
            )
        if self.header_type in ("image", "video") and not self.header_attachment_ids:
            raise UserError(
                self.env._("Header File: Meta needs a sample file to review a media header; add one.")
            )
        if self.header_type == "document" and not (self.header_attachment_ids or self.report_id):
            raise UserError(self.env._("Header: choose a document to send, a file or a report."))
        if self.approved_before_edit:
            self._check_edit_limits()

    def _recent_edit_dates(self):
        limit = fields.Datetime.now() - timedelta(days=30)
        return [d for d in (self.meta_edit_dates or []) if fields.Datetime.to_datetime(d) > limit]

    def _check_edit_limits(self):
        """Meta accepts at most 1 edit per 24 h and 10 per 30 days of an approved template."""
        dates = sorted(fields.Datetime.to_datetime(d) for d in self._recent_edit_dates())
        now = fields.Datetime.now()
        last_day = [d for d in dates if d > now - timedelta(days=1)]
        if len(last_day) >= EDITS_PER_DAY:
            raise UserError(
                self.env._(
                    "Meta accepts one edit of an approved template per 24 hours: submit it again after %(date)s "
                    "(UTC), or duplicate it to create a new template.",
                    date=fields.Datetime.to_string(last_day[0] + timedelta(days=1)),
                )
            )
        if len(dates) >= EDITS_PER_30_DAYS:
            raise UserError(
                self.env._(
                    "Meta accepts %(count)s edits of an approved template per 30 days: submit it again after "
                    "%(date)s (UTC), or duplicate it to create a new template.",
                    count=EDITS_PER_30_DAYS,
                    date=fields.Datetime.to_string(dates[0] + timedelta(days=30)),
                )
            )

    def _get_meta_create_payload(self, header_handle=None, client=None):
        """Body of Meta's create (and, without name and language, update) request.

        :param header_handle: handle of the media sample; uploaded with the resumable upload when not given
        """
        self.ensure_one()
        samples = {(v.line_type, v.position): v.demo_value or "" for v in self.variable_ids}
        header = None
        if self.header_type == "text":
            header = {"type": "text", "text": self.header_text, "example": samples.get(("header", 1))}
            if not template_rules.parse_placeholders(self.header_text):
                header.pop("example")
        elif self.header_type == "location":
            header = {"type": "location"}
        elif self.header_type in template_rules.HEADER_MEDIA_RULES:
            if header_handle is None:
                data, mimetype, filename = self._get_header_sample()
                client = client or self.account_id._get_client()
                header_handle = client.resumable_upload(data, mimetype, filename)
            header = {"type": self.header_type, "handle": header_handle}
        body_examples = [
            samples.get(("body", n), "") for n in sorted(set(template_rules.parse_placeholders(self.body)))
        ]
        buttons = []
        button_samples = {
            v.button_id: v.demo_value or "" for v in self.variable_ids if v.line_type == "button"
        }
        for button in self.button_ids:
            values = button._to_rule_dict()
            if button.url_type == "dynamic":
                values["example"] = (button.website_url or "").replace("{{1}}", "") + button_samples.get(
                    button, ""
                )
            elif button.url_type == "tracked":
                values["example"] = values["tracker_host"].rstrip("/") + "/r/sample"
            buttons.append(values)
        return template_payloads.build_create_payload(
            self.template_name,
            self.lang_code,
            self.category,
            self.body,
            body_examples,
            header=header,
            footer=self.footer or None,
            buttons=buttons,
        )

    def _get_header_sample(self):
        """(data, mimetype, filename) of the media sample sent to Meta for the review."""
        attachment = self.header_attachment_ids[:1].sudo()  # sudo: read the template's own file
        if attachment:
            return attachment.raw, attachment.mimetype, attachment.name
        return tt.SAMPLE_PDF, "application/pdf", "sample.pdf"

    def _meta_error_message(self, err):
        return self.env._(
            "Meta refused the template “%(name)s” (error %(code)s): %(message)s\n%(hint)s",
            name=self.name,
            code=err.code or err.http_status or "-",
            message=err.user_message or err.message or err.title,
            hint=meta_errors.hint(err.code, err.subcode, self.env._)
            or self.env._("Fix the template and submit it again."),
        )

    # ------------------------------------------------------------
    # SYNC
    # ------------------------------------------------------------

    def button_sync_template(self):
        """Sync Template: update this template from Meta."""
        self.ensure_one()
        # rights first: the call to Meta runs with the account's token whoever clicks (a refused user must not
        # spend Meta's rate or edit limits, nor learn anything from the answer)
        self.check_access("write")
        client = self.account_id._get_client()
        try:
            if self.meta_uid:
                datas = [client.get_template(self.meta_uid)]
            else:
                datas = [
                    data
                    for data in client.list_templates()
                    if data.get("name") == self.template_name and data.get("language") == self.lang_code
                ]
        except WhatsAppApiError as err:
            raise UserError(self._meta_error_message(err)) from None
        if not datas:
            raise UserError(
                self.env._(
                    "“%(name)s” does not exist on Meta yet: submit it for approval first.",
                    name=self.template_name,
                )
            )
        self._apply_meta_data(template_payloads.parse_meta_template(datas[0]))
        return self._notify(self.env._("Template synchronized."), reload=True)

    @api.model
    def _sync_from_meta(self, account, datas):
        """Create or update the templates of ``account`` from Meta's list. :return: (created, updated, skipped)"""
        Template = self.with_context(active_test=False, whatsapp_template_sync=True)
        parsed = [template_payloads.parse_meta_template(data) for data in datas]
        existing = Template.search(
            [("account_id", "=", account.id), ("meta_uid", "in", [values["meta_uid"] for values in parsed])]
        )
        by_uid = {template.meta_uid: template for template in existing}
        created = updated = 0
        skipped = []
        for values in parsed:
            if values["lang_code"] not in tt.META_LANGUAGE_CODES:
                _logger.warning(
                    "WhatsApp sync: template %s has an unknown language %s",
                    values["meta_uid"],
                    values["lang_code"],
                )
                skipped.append(f"{values['template_name']} ({values['lang_code']})")
                continue
            template = by_uid.get(values["meta_uid"])
            if template:
                template._apply_meta_data(values)
                updated += 1
            else:
                template = Template.create({"account_id": account.id, **Template._prepare_meta_vals(values)})
                by_uid[template.meta_uid] = template
                created += 1
        return created, updated, skipped

    def _apply_meta_data(self, values):
        self.ensure_one()
        self.with_context(whatsapp_template_sync=True).write(self._prepare_meta_vals(values))

    def _prepare_meta_vals(self, values):
        """Odoo values of a template parsed from Meta (``template_tools.parse_meta_template``)."""
        vals = {
            "meta_uid": values["meta_uid"],
            "template_name": values["template_name"],
            "lang_code": values["lang_code"],
            "body": values["body"],
            "header_type": values["header_type"],
            "header_text": values["header_text"],
            "footer": values["footer"],
            "quality": tt.META_QUALITY_TO_QUALITY.get(values["meta_quality"], self.quality or "unknown"),
            "rejected_reason": values["rejected_reason"]
            if values["rejected_reason"] not in ("", "NONE")
            else False,
            "button_ids": self._prepare_button_commands(values["buttons"]),
        }
        if not self:
            vals["name"] = values["template_name"]
        category = tt.META_CATEGORY_TO_CATEGORY.get(values["meta_category"])
        if category:
            vals["category"] = category
        status = tt.META_STATUS_TO_STATUS.get(values["meta_status"], _MISSING)
        if status is _MISSING:
            _logger.warning(
                "WhatsApp sync: unknown template status %r kept as raw value", values["meta_status"]
            )
            vals["meta_status_raw"] = values["meta_status"]
            if not self:
                vals["status"] = "pending"
        elif status:
            vals.update(status=status, meta_status_raw=False)
        return vals

    def _prepare_button_commands(self, remote_buttons):
        existing = list(self.button_ids) if self else []
        commands = []
        for index, remote in enumerate(remote_buttons):
            remote = dict(remote, sequence=index + 1)
            local = existing[index] if index < len(existing) else None
            if local and local.url_type == "tracked" and remote.get("website_url", "").endswith("/r/"):
                remote.update(url_type="tracked", website_url=local.website_url)
            if local and local.button_type == remote["button_type"]:
                changed = {key: value for key, value in remote.items() if local[key] != value}
                if changed:
                    commands.append(fields.Command.update(local.id, changed))
            else:
                if local:
                    commands.append(fields.Command.delete(local.id))
                commands.append(fields.Command.create(remote))
        commands += [fields.Command.delete(button.id) for button in existing[len(remote_buttons) :]]
        return commands

    def _notify(self, message, reload=False, title=None, kind="success"):
        action = {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": kind, "message": message, "sticky": False},
        }
        if title:
            action["params"]["title"] = title
        if reload:
            action["params"]["next"] = {"type": "ir.actions.client", "tag": "soft_reload"}
        return action

    # ------------------------------------------------------------
    # WEBHOOK EVENTS (called by the whatsapp.account handlers of the template fields)
    # ------------------------------------------------------------

    def _apply_status_event(self, value):
        """``message_template_status_update``: status, reason, pause, disable date; unknown values kept raw."""
        self.ensure_one()
        raw = str(value.get("event") or "").upper()
        status = tt.META_STATUS_TO_STATUS.get(raw, _MISSING)
        vals = {"meta_status_raw": raw}
        notes = []
        if status is _MISSING:
            _logger.warning("WhatsApp template %s: unknown status event %r, status kept", self.id, raw)
            notes.append(
                self.env._(
                    "Meta sent the status “%(raw)s”, unknown to this version: the status stays %(status)s.",
                    raw=raw,
                    status=dict(self._fields["status"]._description_selection(self.env))[self.status],
                )
            )
        elif status:
            vals["status"] = status
            notes.append(
                self.env._(
                    "Status: %(status)s (Meta: %(raw)s).",
                    status=dict(self._fields["status"]._description_selection(self.env))[status],
                    raw=raw,
                )
            )
        else:
            notes.append(self.env._("Meta event: %(status)s.", status=raw))
        reason = value.get("reason")
        if reason and reason != "NONE":
            vals["rejected_reason"] = reason
            notes.append(self.env._("Reason: %(reason)s.", reason=reason))
        elif status == "approved":
            vals["rejected_reason"] = False
        rejection = value.get("rejection_info") or {}
        if rejection.get("reason") or rejection.get("recommendation"):
            notes.append(" ".join(filter(None, [rejection.get("reason"), rejection.get("recommendation")])))
        other = value.get("other_info") or {}
        if other.get("title") or other.get("description"):
            notes.append(" ".join(filter(None, [other.get("title"), other.get("description")])))
        disable_date = (value.get("disable_info") or {}).get("disable_date")
        if disable_date:
            vals["disable_date"] = _parse_date(disable_date)
            notes.append(self.env._("Disabled on: %(date)s.", date=disable_date))
        if status == "rejected":
            notes.append(self.env._("Edit the template and submit it again for approval."))
        elif status == "paused":
            notes.append(self.env._("It cannot be sent until Meta lifts the pause."))
        self.with_context(whatsapp_template_sync=True).write(vals)
        # Meta's decisions notify the followers (who created and who submitted the template); other events
        # are notes
        decision = status in ("approved", "rejected", "paused", "disabled")
        self.message_post(
            body=Markup("<br/>").join(notes), subtype_xmlid="mail.mt_comment" if decision else "mail.mt_note"
        )

    def _apply_quality_event(self, value):
        self.ensure_one()
        raw = str(value.get("new_quality_score") or "").upper()
        quality = tt.META_QUALITY_TO_QUALITY.get(raw)
        if quality:
            self.with_context(whatsapp_template_sync=True).write({"quality": quality})
            self.message_post(body=self.env._("Meta quality: %(quality)s.", quality=raw))
        else:
            _logger.warning("WhatsApp template %s: unknown quality %r", self.id, raw)
            self.message_post(
                body=self.env._("Meta sent the quality “%(raw)s”, unknown to this version.", raw=raw)
            )

    def _apply_category_event(self, value):
        self.ensure_one()
        new = str(value.get("new_category") or "").upper()
        correct = str(value.get("correct_category") or "").upper()
        if correct and correct != new:
            when = value.get("category_update_timestamp")
            self.message_post(
                body=self.env._(
                    "Meta will change the category from %(new)s to %(correct)s (%(when)s).",
                    new=new,
                    correct=correct,
                    when=_parse_date(when) or when or "-",
                )
            )
            return
        category = tt.META_CATEGORY_TO_CATEGORY.get(new)
        if category:
            self.with_context(whatsapp_template_sync=True).write({"category": category})
            self.message_post(
                body=self.env._(
                    "Meta changed the category: %(previous)s → %(new)s.",
                    previous=value.get("previous_category") or "-",
                    new=new,
                )
            )
        else:
            _logger.warning("WhatsApp template %s: unknown category %r", self.id, new)
            self.message_post(
                body=self.env._("Meta sent the category “%(raw)s”, unknown to this version.", raw=new)
            )

    def _apply_components_event(self, value):
        self.ensure_one()
        vals = {}
        if "message_template_element" in value:
            vals["body"] = value["message_template_element"] or ""
        if value.get("message_template_title"):
            vals.update(header_type="text", header_text=value["message_template_title"] or "")
        if "message_template_footer" in value:
            vals["footer"] = value["message_template_footer"] or False
        if "message_template_buttons" in value:
            buttons = [
                template_payloads.parse_meta_button(
                    {
                        "type": button.get("message_template_button_type"),
                        "text": button.get("message_template_button_text"),
                        "url": button.get("message_template_button_url"),
                        "phone_number": button.get("message_template_button_phone_number"),
                    }
                )
                for button in value["message_template_buttons"] or []
            ]
            vals["button_ids"] = self._prepare_button_commands(buttons)
        self.with_context(whatsapp_template_sync=True).write(vals)
        self.message_post(body=self.env._("Meta updated the content of the template."))

    # ------------------------------------------------------------
    # ANALYTICS
    # ------------------------------------------------------------
    # Counts and rates of the template's messages, clicks of its tracked URL buttons. Every figure comes from
    # one ``_read_group`` over ``whatsapp.message`` (grouped by template, state and failure type; served by an
    # index of ``whatsapp.message.init``) and one over ``link.tracker.click``, whatever the number of
    # templates or messages. The period (7, 30, 90 days or all) is the context key ``whatsapp_stats_period``,
    # set by the period buttons of the panel. Definitions (outbound messages created in the period):
    #
    # * sent = accepted by Meta (sent, delivered, read or replied); delivered, read and replied count the
    #   messages that reached at least that state; rates of delivered, read, replied and clicks are per sent
    #   message;
    # * failed = failed or bounced (opted-out included); opted out = failed because the number opted out
    #   (blacklisted, or stopped marketing at Meta); their rates are per processed message (sent + failed).

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
            # sudo: the template's figures count every message sent with it (counts only, no content), also
            # those of records its reader may not open; the templates themselves were read with their rights
            groups = self.env["whatsapp.message"].sudo()._read_group(
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


def _parse_date(value):
    """Datetime of a Meta date (unix timestamp or ISO string), or False."""
    if value in (None, False, ""):
        return False
    try:
        return datetime.fromtimestamp(int(value), tz=UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    try:
        return fields.Datetime.to_datetime(str(value)[:19].replace("T", " "))
    except ValueError:
        return False


def _rate(part, whole):
    return round(100.0 * part / whole, 1) if whole else 0.0
