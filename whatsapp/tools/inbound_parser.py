"""Inbound WhatsApp messages as plain Python values (no Odoo, no database).

Meta's webhook ``messages`` › ``messages[]`` objects are turned into one :class:`Inbound` each
(https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components): what kind of message it
is, the text to show, and the structured parts (media, location, contacts, reaction, order, system change,
error). The ORM then only sees clean values, like ``google_calendar/utils/google_event.py``. Every kind
Meta may send gives something visible: an unknown or unsupported kind becomes ``kind="unsupported"`` with
what came, never an empty result.

This module imports nothing from Odoo so it can be unit-tested with pytest alone.
"""

import unicodedata
from dataclasses import dataclass, field

#: kinds whose content is a file downloaded later with the media id
MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")
#: kinds that carry no content of their own (they act on another message)
ACTION_KINDS = ("reaction", "edit", "delete")
#: every kind this parser knows; anything else is shown as ``unsupported``
KNOWN_KINDS = (
    "text",
    *MEDIA_KINDS,
    "location",
    "contacts",
    "button",
    "interactive",
    "reaction",
    "order",
    "system",
    "request_welcome",
    "edit",
    "delete",
    "unsupported",
)


@dataclass
class Inbound:
    """One inbound message, ready to be shown.

    :ivar kind: one of ``KNOWN_KINDS``
    :ivar text: plain text to show (body, caption, button title...); may be empty for media
    :ivar body: the text stored on the ``whatsapp.message`` (lists, opt-out keywords): Meta's text, button
        text, reply title, caption or body, else ``[type]``
    :ivar wa_id: sender's WhatsApp id (digits), ``None`` for a username user without a number
    :ivar bsuid: sender's business-scoped user id, when Meta sent one
    :ivar profile_name: sender's WhatsApp profile name
    :ivar username: sender's WhatsApp username
    :ivar timestamp: unix seconds (int) or ``None``
    :ivar context_id: wamid of the quoted message (a reply), if any
    :ivar target_id: wamid of the message a reaction / edit / deletion applies to
    :ivar media: ``{"id", "mime_type", "sha256", "filename", "caption", "voice", "animated"}``
    :ivar location: ``{"latitude", "longitude", "name", "address", "url", "map_url"}``
    :ivar contacts: ``[{"name", "org", "phones": [{"phone", "wa_id", "type"}], "emails": [...], "urls": [...]}]``
    :ivar emoji: reaction emoji; ``""`` when the customer removed their reaction
    :ivar order: ``{"catalog_id", "text", "items": [{"product", "quantity", "price", "currency"}], "totals"}``
    :ivar system: ``{"type", "body", "new_wa_id", "new_bsuid"}``
    :ivar error: ``{"code", "title", "details"}`` of an unsupported / failed message
    :ivar reply_id: id of the tapped button / list row (``payload`` for template quick replies)
    :ivar unsupported_type: the kind Meta named for unsupported content (``unsupported.type``) or our raw type
    """

    wamid: str
    kind: str
    text: str = ""
    body: str = ""
    wa_id: str | None = None
    bsuid: str | None = None
    profile_name: str | None = None
    username: str | None = None
    timestamp: int | None = None
    context_id: str | None = None
    forwarded: bool = False
    target_id: str | None = None
    media: dict | None = None
    location: dict | None = None
    contacts: list = field(default_factory=list)
    emoji: str | None = None
    order: dict | None = None
    system: dict | None = None
    error: dict | None = None
    reply_id: str | None = None
    unsupported_type: str | None = None
    referral: dict | None = None

    @property
    def is_media(self):
        return self.kind in MEDIA_KINDS and bool(self.media and self.media.get("id"))


def _dict(value):
    return value if isinstance(value, dict) else {}


def _str(value):
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def digits(value):
    """Digits of a WhatsApp id / phone (``"+1 (983) 555-2319"`` -> ``"19835552319"``)."""
    return "".join(c for c in _str(value) if c.isdigit())


def find_contact(contacts, wa_id=None, bsuid=None):
    """The ``value.contacts[]`` entry of a sender (by wa_id, then by BSUID, then the only one)."""
    contacts = [c for c in contacts or [] if isinstance(c, dict)]
    for contact in contacts:
        if wa_id and digits(contact.get("wa_id")) == wa_id:
            return contact
        if bsuid and contact.get("user_id") == bsuid:
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def stored_body(message):
    """The text stored on the ``whatsapp.message`` of a Meta message object (see :attr:`Inbound.body`)."""
    kind = message.get("type")
    if kind == "text":
        return _dict(message.get("text")).get("body") or ""
    if kind == "button":
        return _dict(message.get("button")).get("text") or ""
    if kind == "interactive":
        inter = _dict(message.get("interactive"))
        return _dict(inter.get(inter.get("type") or "")).get("title") or ""
    payload = _dict(message.get(kind))
    return payload.get("caption") or payload.get("body") or f"[{kind}]"


#: parts of a MIME type a browser would run (HTML, SVG, XML with scripts, JavaScript) if served inline
ACTIVE_MIMETYPE_PARTS = ("html", "svg", "xml", "javascript", "ecmascript", "x-sh", "php")
SAFE_MIMETYPE = "application/octet-stream"


def safe_mimetype(mimetype):
    """The MIME type to store a customer's file with: what a browser could run on Odoo's domain when served
    inline (HTML, SVG, JavaScript...) becomes ``application/octet-stream``, always downloaded."""
    mimetype = (mimetype or "").split(";")[0].strip().lower()
    if not mimetype or "/" not in mimetype or any(part in mimetype for part in ACTIVE_MIMETYPE_PARTS):
        return SAFE_MIMETYPE
    return mimetype


def normalise_keyword(text):
    """How an inbound text is compared with opt-out / opt-in keywords: ``" Arrêt! "`` -> ``"arret"``."""
    text = unicodedata.normalize("NFKD", (text or "").strip().strip(".!").casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


#: everyday answers never taken as opt-in keywords (a customer answering a question would subscribe again to
#: the blacklist shared with SMS): refused in an account's list, and ignored in lists saved before that rule
AMBIGUOUS_OPTIN_KEYWORDS = frozenset(
    {"yes", "y", "ok", "oui", "si", "ja", "sim", "alta", "subscribe", "hi", "hello"}
)


def optin_keyword_set(keywords):
    """:func:`keyword_set` of an opt-in list, without :data:`AMBIGUOUS_OPTIN_KEYWORDS`."""
    return keyword_set(keywords) - AMBIGUOUS_OPTIN_KEYWORDS


def keyword_set(keywords):
    """The normalised keywords of a comma-separated list (``"STOP, Arrêt"`` -> ``{"stop", "arret"}``)."""
    return {normalise_keyword(k) for k in (keywords or "").split(",") if k.strip()}


def map_url(latitude, longitude):
    return f"https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=17/{latitude}/{longitude}"


def parse_error(errors):
    error = _dict((errors or [None])[0]) if isinstance(errors, list) else {}
    if not error:
        return None
    return {
        "code": _int(error.get("code")),
        "title": _str(error.get("title") or error.get("message")),
        "details": _str(_dict(error.get("error_data")).get("details")),
    }


def parse_contacts(cards):
    result = []
    for card in cards if isinstance(cards, list) else []:
        card = _dict(card)
        name = _dict(card.get("name"))
        formatted = _str(name.get("formatted_name")) or " ".join(
            filter(None, [_str(name.get("first_name")), _str(name.get("last_name"))])
        )
        result.append(
            {
                "name": formatted,
                "org": _str(_dict(card.get("org")).get("company")),
                "phones": [
                    {
                        "phone": _str(p.get("phone")),
                        "wa_id": digits(p.get("wa_id")) or None,
                        "type": _str(p.get("type")),
                    }
                    for p in card.get("phones") or []
                    if isinstance(p, dict) and (p.get("phone") or p.get("wa_id"))
                ],
                "emails": [
                    _str(e.get("email"))
                    for e in card.get("emails") or []
                    if isinstance(e, dict) and e.get("email")
                ],
                "urls": [
                    _str(u.get("url")) for u in card.get("urls") or [] if isinstance(u, dict) and u.get("url")
                ],
            }
        )
    return result


def parse_order(order):
    order = _dict(order)
    items, totals = [], {}
    for item in order.get("product_items") or []:
        item = _dict(item)
        quantity = _int(item.get("quantity")) or 0
        try:
            price = float(item.get("item_price") or 0)
        except (TypeError, ValueError):
            price = 0.0
        currency = _str(item.get("currency"))
        items.append(
            {
                "product": _str(item.get("product_retailer_id")),
                "quantity": quantity,
                "price": price,
                "currency": currency,
            }
        )
        totals[currency] = totals.get(currency, 0.0) + quantity * price
    return {
        "catalog_id": _str(order.get("catalog_id")),
        "text": _str(order.get("text")),
        "items": items,
        "totals": totals,
    }


def parse_message(message, contacts=None):
    """Parse one ``messages[]`` object of a ``messages`` webhook value.

    :param dict message: Meta's message object
    :param list contacts: the value's ``contacts[]`` (sender profile name, username, BSUID)
    :return: :class:`Inbound`
    """
    message = _dict(message)
    kind = _str(message.get("type")) or "unsupported"
    wa_id = digits(message.get("from")) or None
    bsuid = _str(message.get("from_user_id")) or None
    contact = find_contact(contacts, wa_id, bsuid)
    bsuid = bsuid or _str(contact.get("user_id")) or None
    wa_id = wa_id or digits(contact.get("wa_id")) or None
    profile = _dict(contact.get("profile"))
    context = _dict(message.get("context"))
    inbound = Inbound(
        wamid=_str(message.get("id")),
        kind=kind,
        body=stored_body(message),
        wa_id=wa_id,
        bsuid=bsuid,
        profile_name=_str(profile.get("name")) or None,
        username=_str(profile.get("username")) or None,
        timestamp=_int(message.get("timestamp")),
        context_id=_str(context.get("id")) or None,
        forwarded=bool(context.get("forwarded") or context.get("frequently_forwarded")),
        error=parse_error(message.get("errors")),
        referral=_dict(message.get("referral")) or None,
    )
    payload = message.get(kind)
    body = _dict(payload)
    if kind == "text":
        inbound.text = _str(body.get("body"))
    elif kind in MEDIA_KINDS:
        inbound.media = {
            "id": _str(body.get("id")) or None,
            "mime_type": _str(body.get("mime_type")).split(";")[0].strip() or None,
            "sha256": _str(body.get("sha256")) or None,
            "filename": _str(body.get("filename")) or None,
            "caption": _str(body.get("caption")),
            "voice": bool(body.get("voice")) or "codecs=opus" in _str(body.get("mime_type")),
            "animated": bool(body.get("animated")),
        }
        inbound.text = inbound.media["caption"]
    elif kind == "location":
        lat, lng = body.get("latitude"), body.get("longitude")
        inbound.location = {
            "latitude": lat,
            "longitude": lng,
            "name": _str(body.get("name")),
            "address": _str(body.get("address")),
            "url": _str(body.get("url")),
            "map_url": map_url(lat, lng) if lat is not None and lng is not None else None,
        }
        inbound.text = inbound.location["name"] or inbound.location["address"]
    elif kind == "contacts":
        inbound.contacts = parse_contacts(payload)
        inbound.text = ", ".join(c["name"] for c in inbound.contacts if c["name"])
    elif kind == "button":
        inbound.text = _str(body.get("text")) or _str(body.get("payload"))
        inbound.reply_id = _str(body.get("payload")) or None
    elif kind == "interactive":
        reply_type = _str(body.get("type"))
        reply = _dict(body.get(reply_type))
        if reply_type == "nfm_reply":
            inbound.text = _str(reply.get("body")) or _str(reply.get("name"))
            inbound.reply_id = _str(reply.get("name")) or None
        else:
            inbound.text = _str(reply.get("title"))
            if reply.get("description"):
                inbound.text = (
                    f"{inbound.text} ({_str(reply['description'])})"
                    if inbound.text
                    else _str(reply["description"])
                )
            inbound.reply_id = _str(reply.get("id")) or None
        if not inbound.text:
            inbound.kind, inbound.unsupported_type = "unsupported", f"interactive/{reply_type or '?'}"
    elif kind == "reaction":
        inbound.target_id = _str(body.get("message_id")) or None
        inbound.emoji = _str(body.get("emoji"))  # absent/empty: the reaction was removed
    elif kind == "order":
        inbound.order = parse_order(body)
        inbound.text = inbound.order["text"]
    elif kind == "system":
        inbound.system = {
            "type": _str(body.get("type")),
            "body": _str(body.get("body")),
            "new_wa_id": digits(body.get("wa_id") or body.get("new_wa_id")) or None,
            "new_bsuid": _str(body.get("user_id") or body.get("new_user_id")) or None,
        }
        inbound.text = inbound.system["body"]
    elif kind == "request_welcome":
        pass
    elif kind in ("edit", "edited", "message_edit"):
        # Meta's shape: {"edit": {"original_message_id", "message": {"type": "text"|"image"|..., <type>: {...}}}};
        # the new content is a message of its own (a text's body, a media's caption...), parsed as one.
        inbound.kind = "edit"
        inbound.target_id = _str(body.get("original_message_id") or body.get("message_id")) or None
        inner = body.get("message")
        if isinstance(inner, dict) and inner.get("type") not in (None, kind):
            inbound.text = parse_message({**inner, "id": inbound.wamid}).text
        inbound.text = inbound.text or _str(_dict(body.get("text")).get("body")) or _str(body.get("body"))
    elif kind in ("revoke", "delete", "deleted", "message_delete"):
        inbound.kind = "delete"
        inbound.target_id = _str(body.get("original_message_id") or body.get("message_id")) or None
    else:
        inbound.kind = "unsupported"
        inbound.unsupported_type = _str(body.get("type")) or (kind if kind != "unsupported" else None)
        if kind not in ("unsupported", "unknown") and isinstance(payload, dict):
            inbound.text = _str(body.get("body") or body.get("text") or body.get("caption"))
    if inbound.kind in ACTION_KINDS and not inbound.target_id:
        inbound.kind, inbound.unsupported_type = "unsupported", kind
    if inbound.error and inbound.kind in ("text", "button", "interactive") and not inbound.text:
        inbound.kind = "unsupported"
    return inbound
