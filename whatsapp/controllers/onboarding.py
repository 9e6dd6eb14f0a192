import hmac

from odoo.http import request

from .main import WhatsAppWebhookController


class WhatsAppWebhookOnboarding(WhatsAppWebhookController):
    """Records Meta's successful subscription handshake on the account (onboarding checklist)."""

    def _webhook_verify(self):
        response = super()._webhook_verify()
        if response.status_code == 200:
            token = request.httprequest.args.get("hub.verify_token", "")
            # sudo: Meta has no Odoo session; the verify tokens are admin-only fields, compared here only.
            accounts = request.env["whatsapp.account"].sudo().search([])
            accounts.filtered(
                lambda acc: hmac.compare_digest(token.encode(), (acc.webhook_verify_token or "").encode())
            )._on_webhook_verified()
        return response
