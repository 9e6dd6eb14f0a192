from datetime import datetime, timedelta

from freezegun import freeze_time
from odoo.tests import tagged

from .common_discuss import WhatsAppDiscussCase

T0 = datetime(2026, 3, 2, 9, 0, 0)
URL = "http://127.0.0.1:9/media/file"


@tagged("whatsapp", "post_install", "-at_install")
class TestDiscussMedia(WhatsAppDiscussCase):
    def get_media(self, method, path, kwargs):
        return {"url": URL, "mime_type": "image/jpeg", "file_size": 4}

    def test_download_retried_after_failure(self):
        with freeze_time(T0):
            inbound = self.receive(
                self._inbound("image", {"id": "1001", "mime_type": "image/jpeg", "caption": "Pic"})
            )
            self.assertEqual(inbound.media_state, "pending")
            self.assertIn("downloading", str(inbound.mail_message_id.body))
            with self.mock_graph(
                responses={("GET", "1001"): self.meta_error(None, http_status=None, category="transient")}
            ):
                self.env["whatsapp.message"]._cron_download_media()
        self.assertEqual((inbound.media_state, inbound.media_attempts), ("pending", 1))
        self.assertEqual(inbound.media_next_attempt, T0 + timedelta(minutes=1))
        with freeze_time(T0 + timedelta(seconds=30)), self.mock_graph() as calls:
            self.env["whatsapp.message"]._cron_download_media()
        self.assertFalse(calls, "not due yet")
        with (
            freeze_time(T0 + timedelta(minutes=2)),
            self.mock_graph(responses={("GET", "1001"): self.get_media, ("GET", URL): b"JPEG"}),
        ):
            self.env["whatsapp.message"]._cron_download_media()
        self.assertEqual(inbound.media_state, "done")
        attachment = inbound.mail_message_id.attachment_ids
        self.assertEqual((attachment.raw, attachment.mimetype), (b"JPEG", "image/jpeg"))
        self.assertEqual(attachment.res_model, "discuss.channel")
        self.assertNotIn("downloading", str(inbound.mail_message_id.body))
        self.assertIn("Pic", str(inbound.mail_message_id.body))

    def test_document_keeps_filename_and_gives_up(self):
        inbound = self.receive(
            self._inbound("document", {"id": "1002", "mime_type": "application/pdf", "filename": "q.pdf"})
        )
        with self.mock_graph(responses={("GET", "1002"): self.get_media, ("GET", URL): b"%PDF"}):
            self.env["whatsapp.message"]._cron_download_media()
        self.assertEqual(inbound.mail_message_id.attachment_ids.name, "q.pdf")
        lost = self.receive(self._inbound("video", {"id": "1003", "mime_type": "video/mp4"}))
        for attempt in range(6):
            with (
                freeze_time(datetime.now() + timedelta(days=attempt + 1)),
                self.mock_graph(responses={("GET", "1003"): self.meta_error(100, message="Media not found")}),
            ):
                self.env["whatsapp.message"]._cron_download_media()
        self.assertEqual(lost.media_state, "failed")
        self.assertIn("could not be downloaded", str(lost.mail_message_id.body))
