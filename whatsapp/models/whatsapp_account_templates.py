import logging

from odoo import models
from odoo.exceptions import UserError

from ..tools.graph_api import WhatsAppApiError

_logger = logging.getLogger(__name__)


class WhatsAppAccount(models.Model):
    """Templates of an account: Sync Templates and the four template webhooks."""

    _inherit = "whatsapp.account"

    def button_sync_whatsapp_template(self):
        """Seed: Sync Templates. Creates what is missing, updates what exists (every page of Meta's list)."""
        self.ensure_one()
        try:
            datas = self._get_client().list_templates()
        except WhatsAppApiError as err:
            raise UserError(
                self.env._(
                    "Meta refused to list the templates of %(account)s (error %(code)s): %(message)s\n%(hint)s",
                    account=self.name,
                    code=err.code or err.http_status or "-",
                    message=err.user_message or err.message or err.title,
                    hint=getattr(err, "hint", "") or self.env._("Check the account with Test Connection."),
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
    # WEBHOOKS
    # ------------------------------------------------------------

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

    def _webhook_message_template_status_update(self, value, event):
        template = self._find_webhook_template(value)
        if template:
            template._apply_status_event(value)

    def _webhook_message_template_quality_update(self, value, event):
        template = self._find_webhook_template(value)
        if template:
            template._apply_quality_event(value)

    def _webhook_template_category_update(self, value, event):
        template = self._find_webhook_template(value)
        if template:
            template._apply_category_event(value)

    def _webhook_message_template_components_update(self, value, event):
        template = self._find_webhook_template(value)
        if template:
            template._apply_components_event(value)
