from odoo import models

from ..tools import template_tools as tt


class WhatsAppTemplate(models.Model):
    """The composer may replace the header file of a media template by one the sender attached."""

    _inherit = "whatsapp.template"

    def _get_header_media(self, record):
        """The composer's file (context ``whatsapp_header_attachment_id``) instead of the template's one.

        The attachment is read with the sender's rights: one may only send a file one may read.
        """
        attachment_id = self.env.context.get("whatsapp_header_attachment_id")
        if not attachment_id or self.header_type not in tt.HEADER_MEDIA_RULES:
            return super()._get_header_media(record)
        attachment = self.env["ir.attachment"].browse(attachment_id)
        return {
            "data": attachment.raw,
            "mimetype": attachment.mimetype,
            "filename": attachment.name,
            "cache_key": attachment.checksum,
        }
