import logging

from odoo import models

_logger = logging.getLogger(__name__)

#: ``user_preferences[].category`` of marketing messages, and its values
MARKETING_CATEGORY = "marketing_messages"
PREFERENCE_STATES = {"stop": "stopped", "resume": "resumed"}


class WhatsAppAccount(models.Model):
    """``user_preferences`` webhook: a customer stops or resumes marketing messages from the WhatsApp app."""

    _inherit = "whatsapp.account"

    def _webhook_user_preferences(self, value, event):
        """Record each marketing preference of the change.

        :param dict value: ``{"messaging_product", "metadata", "contacts", "user_preferences": [{"wa_id",
            "detail", "category": "marketing_messages", "value": "stop" | "resume", "timestamp"}]}``; the
            change reaches every account of the WABA and is applied by number, so a repeat is a no-op.
        :param event: the ``whatsapp.webhook.event`` being processed
        """
        self.ensure_one()
        Preference = self.env["whatsapp.marketing.preference"]
        Message = self.env["whatsapp.message"]
        for item in value.get("user_preferences") or []:
            if not isinstance(item, dict) or item.get("category") != MARKETING_CATEGORY:
                continue
            state = PREFERENCE_STATES.get(str(item.get("value") or "").lower())
            if not state or not item.get("wa_id"):
                _logger.info("WhatsApp account %s: user preference %r not understood, skipped", self.id, item)
                continue
            Preference._set_preference(
                item["wa_id"],
                state,
                "webhook",
                account=self,
                date=Message._status_datetime(item.get("timestamp")),
                detail=item.get("detail"),
            )
