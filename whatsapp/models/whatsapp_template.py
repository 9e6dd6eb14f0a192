import logging

from odoo import _lt, api, fields, models
from odoo.exceptions import ValidationError

from ..tools import template_tools as tt

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
    """A WhatsApp message template: its content, its approval by Meta and how records fill its variables.

    Meta-side operations (submit, sync, webhooks) live in ``whatsapp_template_meta.py``, the rendering used by
    the composer in ``whatsapp_template_render.py``; pure rules in ``tools/template_tools.py``.
    """

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
            keys += [("header", n, None) for n in sorted(set(tt.parse_placeholders(self.header_text)))]
        elif self.header_type == "location":
            keys += [("location", n, None) for n in range(1, len(tt.LOCATION_PARTS) + 1)]
        keys += [("body", n, None) for n in sorted(set(tt.parse_placeholders(self.body)))]
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
        issues = tt.check_name(self.template_name)
        issues += tt.check_texts(self.header_type, self.header_text, self.body, self.footer)
        issues += tt.check_buttons([button._to_rule_dict() for button in self.button_ids])
        if self.header_type in tt.HEADER_MEDIA_RULES:
            for attachment in self.header_attachment_ids:
                issues += tt.check_header_media(self.header_type, attachment.mimetype, attachment.file_size)
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
            if template.header_type in tt.HEADER_MEDIA_RULES:
                issues = []
                for attachment in template.header_attachment_ids:
                    issues += tt.check_header_media(
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
