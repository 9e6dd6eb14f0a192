from odoo import models

from ..tools import template_tools as tt


def lang_rank(meta_code, odoo_lang):
    """How well a template language fits an Odoo language: 0 exact, 1 same language, None otherwise.

    ``("fr", "fr_BE")`` -> 1 (Meta has ``fr_BE``), ``("fr", "fr_FR")`` -> 0 (Meta's code for fr_FR is ``fr``),
    ``("en_US", "fr_FR")`` -> None.
    """
    if not meta_code or not odoo_lang:
        return None
    if meta_code == tt.meta_lang_from_odoo(odoo_lang):
        return 0
    if meta_code.split("_")[0] == odoo_lang.split("_")[0]:
        return 1
    return None


class WhatsAppTemplate(models.Model):
    """Language variants: templates of one account and model sharing a Meta name, one per language.

    Meta identifies a template by name *and* language; Odoo keeps one record per language. When sending,
    each recipient gets the approved variant in its partner's language when there is one (see
    ``_whatsapp_variants_for_records``), else the template chosen by the sender.
    """

    _inherit = "whatsapp.template"

    def _whatsapp_lang_variants(self):
        """Approved templates with the same Meta name, account and model as ``self``, ``self`` first,
        that the current user may send."""
        self.ensure_one()
        if not self.template_name:
            return self
        others = self.search(
            [
                ("id", "!=", self.id),
                ("template_name", "=", self.template_name),
                ("account_id", "=", self.account_id.id),
                ("model_id", "=", self.model_id.id),
                ("status", "=", "approved"),
                "|",
                ("allowed_user_ids", "=", False),
                ("allowed_user_ids", "in", self.env.user.ids),
            ],
            order="sequence, id",
        )
        return self | others

    def _whatsapp_best_variant(self, variants, lang):
        """The variant of ``variants`` best fitting Odoo language ``lang``; ``self`` on ties or no match."""
        self.ensure_one()
        best, best_rank = self, lang_rank(self.lang_code, lang)
        for variant in variants - self:
            rank = lang_rank(variant.lang_code, lang)
            if rank is not None and (best_rank is None or rank < best_rank):
                best, best_rank = variant, rank
        return best

    def _whatsapp_variants_for_records(self, records):
        """Split ``records`` by the template each one should receive: ``[(template, records)]``, in the
        order of first appearance, ``self`` for records whose partner language has no approved variant.

        One search for the variants, one read of the partners' languages: it stays batched.
        """
        self.ensure_one()
        variants = self._whatsapp_lang_variants() if records else self
        if len(variants) == 1:
            return [(self, records)] if records else []
        partners = self._whatsapp_recipient_partners(records)
        groups = {}
        for record in records:
            lang = partners.get(record.id) and partners[record.id].lang
            template = self._whatsapp_best_variant(variants, lang) if lang else self
            groups.setdefault(template, []).append(record.id)
        return [(template, records.browse(ids)) for template, ids in groups.items()]

    def _whatsapp_recipient_partners(self, records):
        """``{record id: res.partner}`` of the person each record's message goes to: the record itself for
        a contact, the partner holding the template's phone field (``partner_id.mobile``), else the
        first partner ``mail.thread`` names for the record."""
        if records._name == "res.partner":
            return {record.id: record for record in records}
        path = (self[:1].phone_field or "").split(".")[:-1]
        result = {}
        if path:
            for record in records:
                value = record
                for part in path:
                    if not value or part not in value._fields:
                        value = None
                        break
                    value = value[:1][part]
                if value is not None and value._name == "res.partner" and value:
                    result[record.id] = value[:1]
        missing = records.filtered(lambda r: r.id not in result)
        if missing and hasattr(missing, "_mail_get_partners"):
            for record_id, partners in missing._mail_get_partners().items():
                if partners:
                    result[record_id] = partners[:1]
        return result

    def _whatsapp_preferred_lang(self, records=None):
        """Odoo language to propose a template in: the single recipient's, else the sender's."""
        if records is not None and len(records) == 1:
            partner = self[:1]._whatsapp_recipient_partners(records).get(records.id)
            if partner and partner.lang:
                return partner.lang
        return self.env.context.get("lang") or self.env.user.lang
