from odoo import models

from ..models.whatsapp_template_lang import lang_rank


class WhatsAppComposer(models.TransientModel):
    """The template proposed first is in the recipient's language (one recipient with a partner
    language), else in the sender's: among the templates sharing a Meta name, the best fitting language
    comes first; the names keep their order (sequence). At send time each recipient still gets the
    approved variant in their own language (``mail.thread._whatsapp_send_template``)."""

    _inherit = "whatsapp.composer"

    def _find_templates(self):
        templates = super()._find_templates()
        if len(templates) < 2:
            return templates
        records = self._get_records()
        lang = templates[:1]._whatsapp_preferred_lang(records)
        first_seen = {}
        for template in templates:
            first_seen.setdefault(template.template_name or template.id, len(first_seen))

        def key(indexed):
            index, template = indexed
            rank = lang_rank(template.lang_code, lang)
            return (first_seen[template.template_name or template.id], 2 if rank is None else rank, index)

        ordered = sorted(enumerate(templates), key=key)
        return templates.browse([template.id for _index, template in ordered])
