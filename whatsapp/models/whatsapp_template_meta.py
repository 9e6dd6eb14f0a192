import logging
from datetime import UTC, datetime

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools import template_tools as tt
from ..tools.graph_api import WhatsAppApiError

_logger = logging.getLogger(__name__)

_MISSING = object()


class WhatsAppTemplate(models.Model):
    """Meta -> Odoo side of templates: sync from Meta's list, and the status/quality/category/components
    events received by webhook (see ``whatsapp_account_templates.py``). The submission to Meta lives in
    ``whatsapp_template_submission.py``."""

    _inherit = "whatsapp.template"

    # ------------------------------------------------------------
    # SYNC
    # ------------------------------------------------------------

    def button_sync_template(self):
        """Update this template from Meta (seed: Sync Template)."""
        self.ensure_one()
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
        self._apply_meta_data(tt.parse_meta_template(datas[0]))
        return self._notify(self.env._("Template synchronized."), reload=True)

    @api.model
    def _sync_from_meta(self, account, datas):
        """Create or update the templates of ``account`` from Meta's list. :return: (created, updated, skipped)"""
        Template = self.with_context(active_test=False, whatsapp_template_sync=True)
        parsed = [tt.parse_meta_template(data) for data in datas]
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

    def _notify(self, message, reload=False):
        action = {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "success", "message": message, "sticky": False},
        }
        if reload:
            action["params"]["next"] = {"type": "ir.actions.client", "tag": "soft_reload"}
        return action

    # ------------------------------------------------------------
    # WEBHOOK EVENTS (called by whatsapp.account._webhook_*)
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
            notes.append(self.env._("Meta status: %(status)s.", status=raw))
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
        self.with_context(whatsapp_template_sync=True).write(vals)
        self.message_post(body="\n".join(notes))

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
                tt.parse_meta_button(
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
