import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from unittest.mock import patch

from lxml import etree
from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common_discuss import WhatsAppDiscussCase


@tagged("post_install", "-at_install", "whatsapp")
class TestSecurityMedia(WhatsAppDiscussCase):
    """The token goes only to Meta; a customer's file is never served as something a browser would run."""

    def test_media_id_url_to_another_host(self):
        """A webhook whose media id is a URL to another host: that host receives nothing (no token, no call)."""
        other = _Recorder()
        try:
            inbound = self.receive(
                self._inbound("image", {"id": other.url + "/steal", "mime_type": "image/jpeg"})
            )
            self.assertEqual(inbound.media_state, "pending")
            for _attempt in range(6):
                inbound.media_next_attempt = False
                with mute_logger("odoo.addons.whatsapp"):
                    self.env["whatsapp.message"]._cron_download_media()
            self.assertEqual(other.hits, [], "no request reached the other host")
            self.assertEqual(inbound.media_state, "failed")
            self.assertIn("Not a Meta media id", inbound.media_error)
        finally:
            other.stop()

    def test_active_content_stored_as_download(self):
        """HTML, SVG or JavaScript sent by a customer is stored with a type no browser runs (never rendered
        inline on Odoo's domain): application/octet-stream, or text/plain when ir.attachment guesses markup."""
        for number, mimetype in enumerate(
            ("text/html", "image/svg+xml", "application/javascript", "text/xml")
        ):
            with self.subTest(mimetype=mimetype):
                media_id = str(2000 + number)
                inbound = self.receive(self._inbound("document", {"id": media_id, "mime_type": mimetype}))
                url = "http://127.0.0.1:9/media/file"
                responses = {
                    ("GET", media_id): {"url": url, "mime_type": mimetype},
                    ("GET", url): b"<script>",
                }
                with self.mock_graph(responses=responses):
                    self.env["whatsapp.message"]._cron_download_media()
                attachment = inbound.mail_message_id.attachment_ids
                self.assertIn(attachment.mimetype, ("application/octet-stream", "text/plain"), "inert types")

    def test_api_base_url_settings_administrators_only(self):
        """The API base URL is where the token goes: a WhatsApp administrator may not change it."""
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_wa_admin).api_base_url = "https://attacker.example"
        with self.assertRaises(AccessError):
            self.env["whatsapp.account"].with_user(self.user_wa_admin).create(
                {"name": "Mine", "phone_uid": "1", "account_uid": "2", "app_uid": "3", "token": "t",
                 "app_secret": "s", "api_base_url": "https://attacker.example"}
            )  # fmt: skip
        settings_admin = mail_new_test_user(
            self.env, login="wa_settings", groups="base.group_user,base.group_system", name="Sam Settings"
        )
        self.account.with_user(settings_admin).api_base_url = "http://127.0.0.1:8190"
        self.assertEqual(self.account.sudo().api_base_url, "http://127.0.0.1:8190")
        # the form says so: read-only for the WhatsApp administrator, editable for Settings administrators
        # (in debug mode, where the Technical group shows; fresh users: views are cached per set of groups)
        debug_request = SimpleNamespace(session=SimpleNamespace(debug="1"))
        for groups, readonly in (("whatsapp.group_whatsapp_admin", ["1"]), ("base.group_system", [None])):
            user = mail_new_test_user(
                self.env, login=f"tech_{groups}", groups=f"base.group_user,base.group_no_one,{groups}"
            )
            with patch("odoo.addons.base.models.ir_ui_view.request", debug_request):
                arch = self.env["whatsapp.account"].with_user(user).get_views([(False, "form")])
            arch = arch["views"]["form"]
            nodes = etree.fromstring(arch["arch"]).xpath("//field[@name='api_base_url']")
            self.assertEqual([node.get("readonly") for node in nodes], readonly, user.login)


class _Recorder:
    """A loopback HTTP server recording the requests it receives (there must be none)."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                hits.append((self.path, self.headers.get("Authorization")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
