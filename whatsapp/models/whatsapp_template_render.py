import hashlib

from markupsafe import Markup, escape
from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools.safe_eval import safe_eval, time

from ..tools import template_tools as tt


class WhatsAppTemplate(models.Model):
    """Rendering of a template for a record: Meta send components, header media, chatter text, preview.

    Everything here runs with the current user's rights (never sudo for record values): the sender only
    sends what they may read.
    """

    _inherit = "whatsapp.template"

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
        """Raw number read from the phone field path of ``record`` (False when empty)."""
        self.ensure_one()
        value = record
        for part in (self.phone_field or "").split("."):
            if not value or part not in value._fields:
                return False
            # the first record, keeping the prefetch set (a plain value[:1] reads one record per query)
            value = (value if len(value) == 1 else value[:1].with_prefetch(value._prefetch_ids))[part]
        return value or False

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

    def _get_header_media(self, record):
        """None or ``{"data", "mimetype", "filename", "cache_key"}`` of the media header for ``record``."""
        self.ensure_one()
        if self.header_type not in tt.HEADER_MEDIA_RULES:
            return None
        if self.report_id and self.header_type == "document":
            content, report_format = self.env["ir.actions.report"]._render(
                self.report_id.report_name, record.ids
            )
            name = self.report_id.name
            if self.report_id.print_report_name:
                name = safe_eval(self.report_id.print_report_name, {"object": record, "time": time}) or name
            digest = hashlib.sha256(content).hexdigest()
            filename = f"{name}.{'pdf' if report_format == 'pdf' else report_format}"
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

    def _render_preview_html(self, values=None):
        """HTML preview as WhatsApp shows it, with the sample values (or ``values`` ``{variable: str}``)."""
        self.ensure_one()
        if values is None:
            values = {variable: variable.demo_value or variable.name for variable in self.variable_ids}
        numbered = {t: {} for t in ("header", "body")}
        for variable, value in values.items():
            if variable.line_type in numbered:
                numbered[variable.line_type][variable.position] = value
        parts = [Markup('<div class="o_whatsapp_preview p-2 rounded" style="background:#e5ddd5;">')]
        parts.append(Markup('<div class="bg-white rounded p-2 shadow-sm" style="max-width:320px;">'))
        if self.header_type == "text" and self.header_text:
            header = escape(tt.fill_placeholders(self.header_text, numbered["header"]))
            parts.append(Markup('<div class="fw-bold mb-1 o_wa_header">%s</div>') % header)
        elif self.header_type in ("image", "video", "document", "location"):
            icon = {"image": "fa-picture-o", "video": "fa-video-camera", "document": "fa-file-text-o"}.get(
                self.header_type, "fa-map-marker"
            )
            label = dict(self._fields["header_type"]._description_selection(self.env))[self.header_type]
            parts.append(
                Markup(
                    '<div class="bg-light text-center p-3 mb-1 o_wa_header"><i class="fa %s fa-2x"/><br/>%s</div>'
                )
                % (icon, label)
            )
        body = tt.fill_placeholders(self.body or "", numbered["body"])
        parts.append(Markup('<div class="o_wa_body">%s</div>') % Markup(tt.markup_to_html(body)))
        if self.footer:
            parts.append(Markup('<div class="text-muted small mt-1 o_wa_footer">%s</div>') % self.footer)
        parts.append(Markup("</div>"))
        for button in self.button_ids:
            icon = {"url": "fa-external-link", "phone_number": "fa-phone"}.get(button.button_type, "fa-reply")
            parts.append(
                Markup(
                    '<div class="bg-white rounded text-center text-info mt-1 p-1 o_wa_button" style="max-width:320px;">'
                    '<i class="fa %s"/> %s</div>'
                )
                % (icon, button.name or "")
            )
        parts.append(Markup("</div>"))
        return Markup("").join(parts)
