"""The HTML preview of a template as WhatsApp shows it: a chat bubble (header card or text, body with
WhatsApp's formatting, footer, time) and its buttons below, in a phone-wide column.

Pure: the caller passes what the template and its sample (or a record's) values give. The result is
well-formed HTML (every tag closed, text escaped): it is shown as is in the template's Preview tab and in
the composer. Its look is in ``static/src/views/template_preview.scss``.
"""

from markupsafe import Markup

from .template_tools import markup_to_html

#: Font Awesome icon of each header card and button type
HEADER_ICONS = {
    "image": "fa-picture-o",
    "video": "fa-play-circle",
    "document": "fa-file-text-o",
    "location": "fa-map-marker",
}
BUTTON_ICONS = {
    "url": "fa-external-link",
    "phone_number": "fa-phone",
    "copy_code": "fa-clone",
    "quick_reply": "fa-reply",
}


def _icon(name):
    return Markup('<i class="fa %s" role="img" aria-hidden="true"></i>') % name


def header_html(header_type, text=None, label=None, detail=None, image_url=None):
    """The header of the bubble.

    :param str header_type: ``text``, ``image``, ``video``, ``document``, ``location`` (anything else: none)
    :param str text: the header text (``text``), placeholders filled
    :param str label: what the card says: the file name of a document, the place of a location, else the
        header type's name
    :param str detail: a second line on the card (the address of a location, the file type of a document)
    :param str image_url: an image to show in an ``image`` card instead of the icon
    """
    if header_type == "text":
        if not text:
            return Markup()
        return Markup('<div class="o_whatsapp_preview_header_text">%s</div>') % Markup(markup_to_html(text))
    if header_type not in HEADER_ICONS:
        return Markup()
    if header_type == "image" and image_url:
        media = Markup('<img class="o_whatsapp_preview_image" src="%s" alt="%s"/>') % (image_url, label or "")
        return Markup('<div class="o_whatsapp_preview_media o_whatsapp_preview_image_card">%s</div>') % media
    if header_type in ("image", "video"):
        return Markup(
            '<div class="o_whatsapp_preview_media o_whatsapp_preview_%s_card">%s<span>%s</span></div>'
        ) % (header_type, _icon(HEADER_ICONS[header_type] + " fa-3x"), label or "")
    lines = Markup('<div class="o_whatsapp_preview_card_label">%s</div>') % (label or "")
    if detail:
        lines += Markup('<div class="o_whatsapp_preview_card_detail">%s</div>') % detail
    return Markup(
        '<div class="o_whatsapp_preview_card o_whatsapp_preview_%s_card">'
        '<div class="o_whatsapp_preview_card_icon">%s</div><div class="o_whatsapp_preview_card_text">%s</div></div>'
    ) % (header_type, _icon(HEADER_ICONS[header_type] + " fa-2x"), lines)


def preview_html(header="", body="", footer="", buttons=(), time_label=""):
    """The whole preview.

    :param header: ``header_html(...)``
    :param str body: the body text with WhatsApp's formatting, placeholders filled
    :param str footer: the footer text (shown as is, in grey)
    :param buttons: ``[(button_type, label)]`` in their order
    :param str time_label: the time shown in the bubble's corner (e.g. ``12:00``)
    """
    bubble = Markup(header or "")
    bubble += Markup('<div class="o_whatsapp_preview_body">%s</div>') % Markup(markup_to_html(body or ""))
    if footer:
        bubble += Markup('<div class="o_whatsapp_preview_footer">%s</div>') % footer
    bubble += Markup('<div class="o_whatsapp_preview_time">%s</div>') % (time_label or "")
    parts = Markup('<div class="o_whatsapp_preview_bubble">%s</div>') % bubble
    if buttons:
        items = Markup("").join(
            Markup('<div class="o_whatsapp_preview_button">%s <span>%s</span></div>')
            % (_icon(BUTTON_ICONS.get(button_type, "fa-reply")), label or "")
            for button_type, label in buttons
        )
        parts += Markup('<div class="o_whatsapp_preview_buttons">%s</div>') % items
    return Markup('<div class="o_whatsapp_preview">%s</div>') % parts
