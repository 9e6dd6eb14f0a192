import hmac
import logging

from odoo.http import Controller, request, route

from .webhook import PATH, dispatch_after, receive, reply

_logger = logging.getLogger(__name__)


class WhatsAppWebhookController(Controller):
    @route(
        PATH,
        type="http",
        auth="none",  # Meta has no session: the verify token (GET) or the signature (POST) authenticates it
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        readonly=False,  # auth="none" routes are read-only by default; this one writes the inbox
    )
    def whatsapp_webhook(self, **kwargs):
        """One callback URL for every account (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks)."""
        try:
            if request.httprequest.method == "GET":
                # the rare handshake runs as the public user, as an auth="public" route would
                request.update_env(user=request.env.ref("base.public_user").id)
                return self._webhook_verify()
            return self._webhook_receive()
        except Exception:
            _logger.exception("WhatsApp webhook: unexpected error")
            return reply(500)

    def _webhook_verify(self):
        """Subscription handshake: echo ``hub.challenge`` when ``hub.verify_token`` is an active account's, and
        record on that account that Meta verified the callback URL."""
        args = request.httprequest.args
        token = args.get("hub.verify_token", "")
        if args.get("hub.mode") != "subscribe" or not token:
            return reply(403)
        # sudo: Meta has no Odoo session; the verify tokens are admin-only fields, compared here only.
        accounts = request.env["whatsapp.account"].sudo().search([])
        verified = accounts.filtered(
            lambda acc: hmac.compare_digest(token.encode(), (acc.webhook_verify_token or "").encode())
        )
        if not verified:
            _logger.warning("WhatsApp webhook: verification refused (unknown verify token)")
            return reply(403)
        verified._on_webhook_verified()  # the onboarding checklist's "webhook verified" step
        return request.make_response(args.get("hub.challenge", ""), headers=[("Content-Type", "text/plain")])

    def _webhook_receive(self):
        """The POST: see :func:`.webhook.receive`."""
        status, event_ids = receive(request.env, request.httprequest)
        return dispatch_after(reply(status), request.env.registry, event_ids)
