"""Meta's message objects of outbound messages (no Odoo): the one place their bodies are built.

Every outbound ``whatsapp.message`` stores the object Meta's ``POST /{phone-number-id}/messages`` expects,
without recipient (``payload``); :func:`for_send` completes it when the queue sends it. Builders: templates
(the thread API, hence the composer and the bridges), free text (Discuss posts, opt-out confirmations), media
(Discuss files), reactions (Discuss), and replies (any of them quoting a message, ``reply_to``).

Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages (the spec in the repository:
``meta_sandbox/spec/business-messaging-api_v23.0.yaml``).
"""

import copy

from .inbound_parser import MEDIA_KINDS
from .outbound_split import CAPTION_KINDS, CAPTION_LIMIT


def text(body, reply_to=None):
    """A free-form text message (links are not previewed)."""
    return _reply({"type": "text", "text": {"body": body, "preview_url": False}}, reply_to)


def media(kind, media_id=None, filename=None, caption=None, reply_to=None):
    """A free-form media message; without ``media_id`` (not uploaded yet) the queue adds it when sending."""
    obj = media_object(kind, media_id, filename, caption)
    if media_id is None:
        obj.pop("id")
    return _reply({"type": kind, kind: obj}, reply_to)


def media_object(kind, media_id, filename=None, caption=None):
    """The ``{kind: {...}}`` object of a media message: caption only where allowed, file name of documents."""
    obj = {"id": media_id}
    if caption and kind in CAPTION_KINDS:
        obj["caption"] = caption[:CAPTION_LIMIT]
    if kind == "document" and filename:
        obj["filename"] = filename
    return obj


def template(name, lang_code, components):
    """A template message; a media header is added by :func:`for_send` once its file is uploaded."""
    return {
        "type": "template",
        "template": {"name": name, "language": {"code": lang_code}, "components": components},
    }


def reaction(message_id, emoji):
    """A reaction to the message ``message_id`` (wamid); ``""`` removes the business's reaction."""
    return {"type": "reaction", "reaction": {"message_id": message_id, "emoji": emoji}}


def _reply(payload, reply_to):
    if reply_to:
        payload["context"] = {"message_id": reply_to}
    return payload


def for_send(payload, number, uuid, media_id=None, header_kind=None, header_filename=None, bsuid=None):
    """The object sent to Meta for a stored ``payload``: a copy with the recipient, our uuid (echoed in every
    status as ``biz_opaque_callback_data``) and the uploaded media, if any.

    :param str number: E.164 number of the recipient (``to``)
    :param str bsuid: business-scoped user id of a recipient known without a number (a WhatsApp username):
        sent as ``recipient`` when there is no number
    :param str uuid: our id of the message
    :param media_id: Meta's id of the uploaded file: a template's header, or a media message's file
    :param header_kind: ``image``, ``video`` or ``document``: the kind of a template's media header
    :param header_filename: file name of a template's document header
    """
    payload = copy.deepcopy(payload or {})
    if number or not bsuid:
        payload["to"] = (number or "").lstrip("+")
    else:
        payload["recipient"] = bsuid
    payload["biz_opaque_callback_data"] = uuid
    if media_id and payload.get("type") == "template":
        kind = (header_kind or "image").lower()
        header_media = {"id": media_id}
        if kind == "document" and header_filename:
            header_media["filename"] = header_filename
        body = payload.setdefault("template", {})
        body["components"] = [
            {"type": "header", "parameters": [{"type": kind, kind: header_media}]},
            *[c for c in body.get("components") or [] if c.get("type") != "header"],
        ]
    kind = payload.get("type")
    if media_id and kind in MEDIA_KINDS:
        uploaded = payload.get(kind) or {}
        payload[kind] = {**media_object(kind, media_id, uploaded.get("filename"), uploaded.get("caption"))}
    return payload
