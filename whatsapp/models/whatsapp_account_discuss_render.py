"""HTML shown in Discuss for each kind of inbound WhatsApp message (from a parsed ``Inbound``)."""

from markupsafe import Markup, escape
from odoo import _lt, api, models
from odoo.tools import plaintext2html

KIND_LABELS = {
    "image": _lt("Image"),
    "audio": _lt("Audio"),
    "voice": _lt("Voice message"),
    "video": _lt("Video"),
    "document": _lt("Document"),
    "sticker": _lt("Sticker"),
}


class WhatsAppAccount(models.Model):
    _inherit = "whatsapp.account"

    @api.model
    def _wa_italic(self, text):
        return Markup('<p><i class="o_whatsapp_notice">%s</i></p>') % text

    @api.model
    def _wa_text_html(self, text):
        return plaintext2html(text) if text else Markup()

    @api.model
    def _wa_kind_label(self, kind, voice=False):
        return str(KIND_LABELS["voice" if voice else kind]) if kind in KIND_LABELS else kind

    @api.model
    def _wa_inbound_body(self, parsed):
        """HTML body of the chat message for one parsed inbound message (never empty)."""
        kind = parsed.kind
        parts = []
        if parsed.forwarded:
            parts.append(self._wa_italic(self.env._("Forwarded")))
        if kind in ("text", "reaction_orphan"):
            parts.append(self._wa_text_html(parsed.text))
        elif parsed.is_media:
            label = self._wa_kind_label(kind, parsed.media.get("voice"))
            parts.append(self._wa_media_placeholder(label, parsed.media.get("filename"), pending=True))
            parts.append(self._wa_text_html(parsed.text))
        elif kind == "location":
            parts.append(self._wa_location_html(parsed.location))
        elif kind == "contacts":
            parts.append(self._wa_contacts_html(parsed.contacts))
        elif kind in ("button", "interactive"):
            parts.append(
                Markup('<p><span class="o_whatsapp_reply">%s</span> <b>%s</b></p>')
                % (self.env._("Replied:"), parsed.text)
            )
        elif kind == "order":
            parts.append(self._wa_order_html(parsed.order))
        elif kind == "request_welcome":
            parts.append(self._wa_italic(self.env._("The customer opened the chat.")))
        else:
            parts.append(self._wa_unsupported_html(parsed))
        if parsed.referral:
            referral = parsed.referral
            parts.append(
                self._wa_italic(
                    self.env._(
                        "From an ad: %(headline)s %(body)s %(url)s",
                        headline=referral.get("headline") or "",
                        body=referral.get("body") or "",
                        url=referral.get("source_url") or "",
                    )
                )
            )
        body = Markup("").join(p for p in parts if p)
        return body or self._wa_unsupported_html(parsed)

    @api.model
    def _wa_media_placeholder(self, label, filename=None, pending=True, failed=False):
        if failed:
            text = self.env._("%(kind)s could not be downloaded from WhatsApp.", kind=label)
        else:
            text = self.env._("%(kind)s: downloading…", kind=label)
        if filename:
            text = f"{text} ({filename})"
        css = "o_whatsapp_media_failed" if failed else "o_whatsapp_media_pending"
        return Markup('<p><i class="%s">%s</i></p>') % (css, text)

    @api.model
    def _wa_media_body(self, message, done=True):
        """Body of a media message once its file arrived (caption only) or failed for good."""
        caption = ((message.payload or {}).get(message.wa_kind) or {}).get("caption") or ""
        text = self._wa_text_html(caption)
        if done:
            return text
        voice = ((message.payload or {}).get(message.wa_kind) or {}).get("voice")
        label = self._wa_kind_label(message.wa_kind, voice)
        return self._wa_media_placeholder(label, message.media_filename, failed=True) + text

    @api.model
    def _wa_location_html(self, location):
        name = location.get("name") or self.env._("Location")
        lines = [
            Markup('📍 <a href="%s" target="_blank" rel="noopener">%s</a>')
            % (location.get("map_url") or "#", name)
        ]
        if location.get("address"):
            lines.append(escape(location["address"]))
        if location.get("url"):
            lines.append(
                Markup('<a href="%s" target="_blank" rel="noopener">%s</a>')
                % (location["url"], location["url"])
            )
        return Markup('<p class="o_whatsapp_location">%s</p>') % Markup("<br/>").join(lines)

    @api.model
    def _wa_contacts_html(self, contacts):
        cards = []
        for contact in contacts:
            lines = [Markup("<b>%s</b>") % (contact.get("name") or "?")]
            if contact.get("org"):
                lines.append(escape(contact["org"]))
            lines += [escape(p["phone"] or ("+" + p["wa_id"])) for p in contact.get("phones") or []]
            lines += [escape(email) for email in contact.get("emails") or []]
            cards.append(
                Markup('<div class="o_whatsapp_contact border rounded p-2 mb-1">%s</div>')
                % Markup("<br/>").join(lines)
            )
        header = self._wa_italic(self.env._("Shared contact(s):"))
        return header + Markup("").join(cards)

    @api.model
    def _wa_order_html(self, order):
        rows = Markup("").join(
            Markup("<li>%s × %s — %s %s</li>")
            % (item["quantity"], item["product"], item["price"], item["currency"])
            for item in order.get("items") or []
        )
        totals = ", ".join(
            f"{amount:g} {currency}" for currency, amount in (order.get("totals") or {}).items()
        )
        html = Markup("<p><b>%s</b></p><ul>%s</ul><p>%s</p>") % (
            self.env._("Order (catalog %(catalog)s)", catalog=order.get("catalog_id") or "?"),
            rows,
            self.env._("Total: %(total)s", total=totals or "0"),
        )
        if order.get("text"):
            html += self._wa_text_html(order["text"])
        return html

    @api.model
    def _wa_unsupported_html(self, parsed):
        kind = parsed.unsupported_type or parsed.kind
        text = self.env._("The customer sent a message WhatsApp cannot deliver here (%(kind)s).", kind=kind)
        if parsed.error:
            text = self.env._(
                "%(text)s WhatsApp says: %(title)s %(details)s (error %(code)s)",
                text=text,
                title=parsed.error.get("title") or "",
                details=parsed.error.get("details") or "",
                code=parsed.error.get("code") or "?",
            )
        body = Markup('<p><i class="o_whatsapp_unsupported">⚠ %s</i></p>') % text
        if parsed.text:
            body += self._wa_text_html(parsed.text)
        return body
