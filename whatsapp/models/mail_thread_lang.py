from odoo import models


class MailThread(models.AbstractModel):
    """Per-recipient template language for :meth:`_whatsapp_send_template`.

    Before sending, the records are split by the approved variant of the template (same Meta name, account
    and model) in their partner's language; each group is sent by the thread API in one batch. The
    returned messages keep the order of ``self``.
    """

    _inherit = "mail.thread"

    def _whatsapp_send_template(self, template, free_text=None, queue=None, numbers=None):
        if len(self) == 0 or self.env.context.get("whatsapp_lang_resolved"):
            return super()._whatsapp_send_template(
                template, free_text=free_text, queue=queue, numbers=numbers
            )
        template.ensure_one()
        groups = template._whatsapp_variants_for_records(self) if template.status == "approved" else []
        if len(groups) <= 1:
            variant = groups[0][0] if groups else template
            return super()._whatsapp_send_template(variant, free_text=free_text, queue=queue, numbers=numbers)
        by_record = {}
        for variant, records in groups:
            messages = super(
                MailThread, records.with_context(whatsapp_lang_resolved=True)
            )._whatsapp_send_template(
                variant.with_context(whatsapp_lang_resolved=True),
                free_text=free_text,
                queue=queue,
                numbers=numbers,
            )
            by_record.update(zip(records.ids, messages, strict=True))
        return (
            self.env["whatsapp.message"]
            .concat(*(by_record[record_id] for record_id in self.ids))
            .with_env(self.env)
        )
