from odoo import _lt, api, models
from odoo.exceptions import ValidationError

from ..tools import template_tools as tt

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
    """Validation of templates: the content rules Meta enforces (``tools/template_tools.py``) raised as
    messages naming their field, duplicates on an account, the recipient's phone field."""

    _inherit = "whatsapp.template"

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
