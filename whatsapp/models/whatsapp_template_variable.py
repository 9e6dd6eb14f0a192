from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import format_amount, format_date, format_datetime

from ..tools import template_rules

LINE_TYPES = [("header", "Header"), ("location", "Location"), ("body", "Body"), ("button", "Button")]
LINE_ORDER = {"header": 0, "location": 1, "body": 2, "button": 3}
EMPTY_VALUE = "-"  # Meta refuses empty parameters


class WhatsAppTemplateVariable(models.Model):
    """One placeholder of a template (header, body, dynamic URL button or a location field) and how a record
    fills it. Lines are created and removed by ``whatsapp.template._compute_variable_ids``."""

    _name = "whatsapp.template.variable"
    _description = "WhatsApp Template Variable"
    _order = "template_id, line_order, position, id"

    name = fields.Char(compute="_compute_name", store=True)
    template_id = fields.Many2one("whatsapp.template", required=True, ondelete="cascade", index=True)
    model = fields.Char(related="template_id.model")
    line_type = fields.Selection(LINE_TYPES, "Line", required=True, default="body")
    line_order = fields.Integer(compute="_compute_line_order", store=True)
    position = fields.Integer(
        default=1, help="Number of the placeholder; for a location 1-4 = name, address, latitude, longitude."
    )
    button_id = fields.Many2one("whatsapp.template.button", ondelete="cascade")
    key = fields.Char(
        compute="_compute_key",
        help="Stable key of the line, e.g. body-1, header-1, button-0, location-latitude.",
    )
    field_type = fields.Selection(
        [
            ("free_text", "Free Text"),
            ("field", "Field of Model"),
            ("portal_url", "Portal Link"),
            ("user_name", "User Name"),
            ("user_mobile", "User Mobile"),
        ],
        "Type",
        required=True,
        default="free_text",
        help="Free Text: typed by the sender in the composer (the sample is proposed).",
    )
    field_name = fields.Char("Field", help="Path of the field on the template's model, e.g. partner_id.name.")
    demo_value = fields.Char(
        "Sample Value", help="Sent to Meta as example for the approval and used in the preview."
    )

    @api.depends("line_type", "position", "button_id.name")
    def _compute_name(self):
        for variable in self:
            if variable.line_type == "location":
                variable.name = self.env._("location - %(part)s", part=variable._location_part())
            elif variable.line_type == "button":
                variable.name = self.env._("button “%(name)s” - {{1}}", name=variable.button_id.name or "")
            else:
                label = dict(self._fields["line_type"]._description_selection(self.env))[variable.line_type]
                variable.name = "%s - {{%s}}" % (label.lower(), variable.position)  # noqa: UP031 - braces

    @api.depends("line_type")
    def _compute_line_order(self):
        for variable in self:
            variable.line_order = LINE_ORDER.get(variable.line_type, 9)

    @api.depends("line_type", "position", "button_id", "template_id.button_ids")
    def _compute_key(self):
        for variable in self:
            if variable.line_type == "button":
                buttons = variable.template_id.button_ids.sorted(lambda b: (b.sequence, b.id or 0))
                index = list(buttons).index(variable.button_id) if variable.button_id in buttons else 0
                variable.key = f"button-{index}"
            elif variable.line_type == "location":
                variable.key = f"location-{variable._location_part()}"
            else:
                variable.key = f"{variable.line_type}-{variable.position}"

    def _model_label(self):
        return self.env[self.model]._description if self.model in self.env else self.model

    def _location_part(self):
        return template_rules.LOCATION_PARTS[
            min(max(self.position, 1), len(template_rules.LOCATION_PARTS)) - 1
        ]

    def _match_key(self):
        return (self.line_type, self.position, self.button_id or None)

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains("field_type", "field_name")
    def _check_field_name(self):
        Template = self.env["whatsapp.template"]
        is_admin = self.env.su or self.env.user.has_group("base.group_system")
        for variable in self:
            if variable.field_type == "portal_url" and variable.model:
                model = self.env.get(variable.model)
                if model is None or "access_url" not in model._fields:
                    raise ValidationError(
                        self.env._(
                            "Variable %(name)s: a Portal Link needs a model with a customer portal (quotation, "
                            "invoice…); %(model)s has none.",
                            name=variable.name,
                            model=variable._model_label(),
                        )
                    )
            if variable.field_type != "field":
                continue
            error = Template._check_field_path(variable.model, variable.field_name)
            if error:
                raise ValidationError(
                    self.env._("Variable %(name)s - Field: %(error)s", name=variable.name, error=error)
                )
            if not is_admin and variable.field_name not in self.env[variable.model]._whatsapp_safe_fields():
                raise ValidationError(
                    self.env._(
                        "Variable %(name)s - Field: “%(path)s” is not among the fields WhatsApp administrators "
                        "may use on %(model)s (%(allowed)s). Ask a Settings administrator to set it.",
                        name=variable.name,
                        path=variable.field_name,
                        model=variable._model_label(),
                        allowed=", ".join(self.env[variable.model]._whatsapp_safe_fields()) or "-",
                    )
                )

    @api.onchange("field_type")
    def _onchange_field_type(self):
        if self.field_type != "field":
            self.field_name = False

    # ------------------------------------------------------------
    # VALUES
    # ------------------------------------------------------------

    def _get_value(self, record, free_text=None, checked=False):
        """Value of this variable for ``record``, evaluated with the current user's rights.

        :param free_text: ``{variable id or key: value}`` typed in the composer
        :param checked: the caller ran :meth:`_check_path_access` on a set of records including ``record``
        :raise UserError: a free text value is missing
        """
        self.ensure_one()
        free_text = free_text or {}
        if self.field_type == "free_text":
            value = free_text.get(self.id, free_text.get(self.key, free_text.get(str(self.id))))
            if value is None or value is False or not str(value).strip():
                raise UserError(
                    self.env._(
                        "Template “%(template)s”: type a value for the variable %(name)s.",
                        template=self.template_id.name,
                        name=self.name,
                    )
                )
            return str(value)
        if self.field_type == "user_name":
            value = self.env.user.name
        elif self.field_type == "user_mobile":
            value = self.env.user.mobile or self.env.user.phone
        elif self.field_type == "portal_url":
            value = record.get_base_url() + record._get_share_url(redirect=True)
        else:
            value = self._read_path(record, self.field_name, checked=checked)
        return str(value) if value not in (None, False, "") else EMPTY_VALUE

    def _check_path_access(self, records):
        """Check the sender's rights at every hop of the field path for all ``records`` at once (one rule
        evaluation per hop instead of one per record and hop), prefetching each hop for all of them.

        :raise AccessError: the sender may not read one of the records or fields the path reaches
        """
        self.ensure_one()
        if self.field_type != "field" or not self.field_name:
            return
        value = records
        for part in self.field_name.split("."):
            if not isinstance(value, models.BaseModel) or not value:
                return
            value.check_access("read")
            value.check_field_access_rights("read", [part])
            value = value.mapped(part)

    def _read_path(self, record, path, checked=False):
        """Follow a dotted path on ``record`` and format the value as a user would read it.

        :param checked: the rights were checked for a batch including ``record`` (:meth:`_check_path_access`)
        """
        value = record
        owner = record  # the record holding the last field (for a monetary field's currency)
        field = None
        for part in (path or "").split("."):
            if not value:
                return False
            owner = value
            # the sender's rights at every hop, even for values already in the cache (read by sudo code earlier
            # in the transaction): a template must never leak what its sender may not read
            if not checked:
                value.check_access("read")
                value.check_field_access_rights("read", [part])
            field = value._fields[part]
            value = value.mapped(part) if len(value) > 1 else value[part]
        if isinstance(value, models.BaseModel):
            return ", ".join(value.mapped("display_name"))
        if field is not None and field.type == "date":
            return format_date(self.env, value)
        if field is not None and field.type == "datetime":
            return format_datetime(self.env, value)
        if field is not None and field.type == "selection" and value:
            return dict(field._description_selection(self.env)).get(value, value)
        if field is not None and field.type == "boolean":
            return self.env._("Yes") if value else self.env._("No")
        if field is not None and field.type == "monetary":
            currency = owner[:1][field.get_currency_field(owner)] if len(owner) <= 1 else None
            return format_amount(self.env, value, currency) if currency else f"{value:.2f}"
        if field is not None and field.type in ("integer", "monetary"):
            return str(value)  # 0 is a count or an amount; a float 0.0 stays empty (Odoo's unset coordinates)
        return value
