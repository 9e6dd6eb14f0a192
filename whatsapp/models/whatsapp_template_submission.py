import logging
from datetime import timedelta

from odoo import fields, models
from odoo.exceptions import UserError

from ..tools import template_tools as tt
from ..tools.graph_api import WhatsAppApiError

_logger = logging.getLogger(__name__)

EDITS_PER_DAY = 1
EDITS_PER_30_DAYS = 10
TEMPLATE_EXISTS_SUBCODE = 2388024  # Meta: content in this language already exists for this template name


class WhatsAppTemplate(models.Model):
    """Submission of templates to Meta: checks, Meta's edit limits, the create/update payload and its media
    sample. Sync and webhook events (Meta -> Odoo) live in ``whatsapp_template_meta.py``."""

    _inherit = "whatsapp.template"

    # ------------------------------------------------------------
    # SUBMISSION
    # ------------------------------------------------------------

    def button_submit_template(self):
        """Create the template on Meta (or update it when it already exists there): status becomes Pending."""
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
            template.message_post(body=self.env._("Submitted to Meta for approval."))
        return True

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
            if not tt.parse_placeholders(self.header_text):
                header.pop("example")
        elif self.header_type == "location":
            header = {"type": "location"}
        elif self.header_type in tt.HEADER_MEDIA_RULES:
            if header_handle is None:
                data, mimetype, filename = self._get_header_sample()
                client = client or self.account_id._get_client()
                header_handle = client.resumable_upload(data, mimetype, filename)
            header = {"type": self.header_type, "handle": header_handle}
        body_examples = [samples.get(("body", n), "") for n in sorted(set(tt.parse_placeholders(self.body)))]
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
        return tt.build_create_payload(
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
            hint=getattr(err, "hint", "") or self.env._("Fix the template and submit it again."),
        )
