from odoo import fields, models


class WhatsAppAccount(models.Model):
    """What the onboarding checklist of Settings › WhatsApp needs to know about an account.

    Both dates are facts observed by Odoo, never ticked by hand: the last successful *Test Connection*
    (the token works and the phone number belongs to the WABA) and the last subscription handshake of
    Meta's *Verify and save* on the callback URL (``GET /whatsapp/webhook`` with this account's verify
    token). Changing what they proved (token, ids, verify token) clears them.
    """

    _inherit = "whatsapp.account"

    connection_verified_at = fields.Datetime(
        "Connection Verified On",
        readonly=True,
        copy=False,
        help="Last successful Test Connection with the current token and ids.",
    )
    webhook_verified_at = fields.Datetime(
        "Webhook Verified On",
        readonly=True,
        copy=False,
        help="Last time Meta verified the callback URL with this account's Webhook Verify Token.",
    )

    _CONNECTION_FIELDS = ("token", "phone_uid", "account_uid", "app_uid", "api_base_url")

    def write(self, vals):
        if any(fname in vals for fname in self._CONNECTION_FIELDS) and "connection_verified_at" not in vals:
            vals = dict(vals, connection_verified_at=False)
        if "webhook_verify_token" in vals and "webhook_verified_at" not in vals:
            vals = dict(vals, webhook_verified_at=False)
        return super().write(vals)

    def button_test_connection(self):
        action = super().button_test_connection()  # raises a UserError when the test fails
        self.connection_verified_at = fields.Datetime.now()
        return action

    def _on_webhook_verified(self):
        """Called by the webhook controller when Meta's subscription handshake used this account's token."""
        self.write({"webhook_verified_at": fields.Datetime.now()})
