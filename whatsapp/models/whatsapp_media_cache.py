import logging
from datetime import timedelta

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

#: Meta keeps uploaded media 30 days; we reuse an id for less than that.
MEDIA_ID_LIFETIME = timedelta(days=25)


class WhatsAppMediaCache(models.Model):
    """Media ids uploaded to Meta, per (file, account): a header image is uploaded once, not per recipient."""

    _name = "whatsapp.media.cache"
    _description = "WhatsApp Uploaded Media"
    _order = "id desc"

    account_id = fields.Many2one("whatsapp.account", required=True, index=True, ondelete="cascade")
    cache_key = fields.Char(required=True, help="Identifies the file (e.g. its checksum).")
    media_id = fields.Char("Meta Media ID", required=True)
    expires_at = fields.Datetime(required=True, index=True)

    _sql_constraints = [
        ("key_account_unique", "unique(cache_key, account_id)", "One media id per file and account."),
    ]

    @api.model
    def _get_media_ids(self, account, messages):
        """Media id for the header of each message, uploading each distinct file once.

        :param account: the sending ``whatsapp.account``
        :param messages: ``whatsapp.message`` records with ``header_cache_key`` and ``header_attachment_id``
        :return: ``{cache_key: media id (str) or the exception raised by the upload}``
        """
        keys = set(messages.mapped("header_cache_key"))
        if not keys:
            return {}
        now = fields.Datetime.now()
        cache = self.sudo().search(  # sudo: technical cache shared by every sender of the account
            [("account_id", "=", account.id), ("cache_key", "in", list(keys))]
        )
        result = {c.cache_key: c.media_id for c in cache if c.expires_at > now}
        missing = keys - set(result)
        if not missing:
            return result
        client = account._get_client()
        attachments = {
            m.header_cache_key: m.header_attachment_id for m in messages if m.header_cache_key in missing
        }
        for key in missing:
            attachment = attachments[
                key
            ].sudo()  # sudo: the attachment may belong to a record of another user
            try:
                result[key] = client.upload_media(attachment.raw, attachment.mimetype, attachment.name)
            except Exception as error:  # noqa: BLE001 - the queue classifies it (retry, fail, pause)
                result[key] = error
                continue
            cache.filtered(lambda c, k=key: c.cache_key == k).unlink()
            self.sudo().create(  # sudo: see above
                {
                    "account_id": account.id,
                    "cache_key": key,
                    "media_id": result[key],
                    "expires_at": now + MEDIA_ID_LIFETIME,
                }
            )
        return result

    @api.autovacuum
    def _gc_expired(self):
        self.sudo().search([("expires_at", "<", fields.Datetime.now())]).unlink()  # sudo: technical cache
