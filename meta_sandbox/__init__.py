"""Meta sandbox: a local stand-in for the WhatsApp Cloud API (Graph endpoints + signed webhooks).

Standalone (never imports Odoo). In-process use::

    from meta_sandbox import Sandbox
    sb = Sandbox().start()                     # free port on 127.0.0.1; sb.url
    sb.add_account(phone_number_id="1000001", waba_id="2000001", app_id="3000001",
                   token="sandbox-token", app_secret="sandbox-secret")
    sb.set_webhook("http://127.0.0.1:8069/whatsapp/webhook")
    ...
    sb.stop()

CLI: ``python3 -m meta_sandbox --port 8190 --callback URL``. The control API (``/_sandbox/...``) needs
``sb.control_token`` in the ``X-Sandbox-Token`` header (the CLI prints it; see ``control.refuse``).
Request/webhook validation against Meta's spec:
``meta_sandbox.spec.validate_request`` / ``validate_webhook``.
"""

from .sandbox import Sandbox
from .webhooks import sign

DEMO_ACCOUNT = {
    "phone_number_id": "1000001",
    "waba_id": "2000001",
    "app_id": "3000001",
    "token": "sandbox-token",
    "app_secret": "sandbox-secret",
    "display_phone_number": "+1 555 000 0001",
    "verified_name": "Sandbox Co",
}

__all__ = ["DEMO_ACCOUNT", "Sandbox", "sign"]
