"""Split what an operator posts in Discuss into the messages WhatsApp accepts (no Odoo).

One Discuss post may hold text and several files; a WhatsApp message holds one file at most, and only
images, videos and documents carry a caption (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types).
Rules:

* one file that takes a caption and a text of at most 1,024 characters: one message, the text as caption;
* otherwise the text goes first (split in chunks of 4,096 characters), then one message per file, without
  caption; audio and stickers never carry one;
* the MIME type decides the kind: JPEG/PNG are images, WebP a sticker, MP4/3GPP videos, the audio types Meta
  accepts audio, anything else a document (which keeps its file name).
"""

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
IMAGE_TYPES = ("image/jpeg", "image/png")
STICKER_TYPES = ("image/webp",)
VIDEO_TYPES = ("video/mp4", "video/3gpp")
AUDIO_TYPES = ("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg")
CAPTION_KINDS = ("image", "video", "document")


def media_kind(mimetype):
    """WhatsApp message type for a file of this MIME type."""
    mimetype = (mimetype or "").split(";")[0].strip().lower()
    if mimetype in IMAGE_TYPES:
        return "image"
    if mimetype in STICKER_TYPES:
        return "sticker"
    if mimetype in VIDEO_TYPES:
        return "video"
    if mimetype in AUDIO_TYPES:
        return "audio"
    return "document"


def split_text(text, limit=TEXT_LIMIT):
    """Chunks of at most ``limit`` characters, cut at a line break or a space when possible."""
    text = (text or "").strip()
    chunks = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return chunks


def split_post(text, files):
    """Messages to send for one post.

    :param str text: the post's plain text
    :param list files: ``[(key, mimetype, filename)]`` in the order of the post
    :return: ``[{"type": "text", "text": str} | {"type": kind, "file": key, "filename": str, "caption": str}]``
    """
    text = (text or "").strip()
    if len(files) == 1:
        key, mimetype, filename = files[0]
        kind = media_kind(mimetype)
        if kind in CAPTION_KINDS and len(text) <= CAPTION_LIMIT:
            return [{"type": kind, "file": key, "filename": filename, "caption": text}]
    parts = [{"type": "text", "text": chunk} for chunk in split_text(text)]
    for key, mimetype, filename in files:
        parts.append({"type": media_kind(mimetype), "file": key, "filename": filename, "caption": ""})
    return parts
