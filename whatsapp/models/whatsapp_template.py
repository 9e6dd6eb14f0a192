import logging

from odoo import api, fields, models

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


class WhatsAppTemplate(models.Model):
    """A WhatsApp message template: its content, its approval by Meta and how records fill its variables.

    The checks of the content live in ``whatsapp_template_validation.py``, the submission to Meta in
    ``whatsapp_template_submission.py``, the sync and webhooks in ``whatsapp_template_meta.py``, the rendering
    used by the composer in ``whatsapp_template_render.py``; pure rules in ``tools/template_tools.py``.
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
