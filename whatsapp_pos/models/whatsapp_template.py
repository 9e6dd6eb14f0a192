import hashlib

from odoo import models
from odoo.exceptions import UserError

from .pos_order import RECEIPT_PREFIX


class WhatsAppTemplate(models.Model):
    _inherit = "whatsapp.template"

    def _get_header_media(self, record):
        """The image header of the receipt template of an order's POS is the receipt as the POS rendered it:
        given by the receipt screen (context ``whatsapp_pos_receipt_images`` ``{order id: JPEG bytes}``), else
        the last receipt kept on the order. That template's own image is only Meta's sample. Other templates,
        and a file chosen in the composer (context ``whatsapp_header_attachment_id``), keep the usual header."""
        if (
            record._name != "pos.order"
            or self.header_type != "image"
            or self.env.context.get("whatsapp_header_attachment_id")
        ):
            return super()._get_header_media(record)
        images = record.env.context.get("whatsapp_pos_receipt_images") or self.env.context.get(
            "whatsapp_pos_receipt_images"
        )
        # sudo: which template is the POS's receipt template is a setting, whoever sends
        if (
            record.id not in (images or {})
            and record.config_id.sudo().whatsapp_receipt_template_id.id != self.id
        ):
            return super()._get_header_media(record)
        data = (images or {}).get(record.id)
        if not data:
            attachment = record._whatsapp_receipt_attachment()
            data = attachment.raw if attachment else None
        if not data:
            raise UserError(
                self.env._(
                    "No receipt image for %(order)s: send the receipt from the POS receipt screen.",
                    order=record.name,
                )
            )
        return {
            "data": data,
            "mimetype": "image/jpeg",
            "filename": f"{RECEIPT_PREFIX}{(record.pos_reference or record.name).replace('/', '-')}.jpg",
            "cache_key": f"pos-receipt-{record.id}-{hashlib.sha1(data).hexdigest()}",  # noqa: S324 - cache key
        }
