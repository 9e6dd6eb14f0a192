"""Meta's JSON for message templates, both ways (no ORM, unit-tested with pytest).

The body of a template creation or update, and the plain values of a template Meta lists (for sync).
Callers import these names from ``template_tools``.
"""

from .template_rules import HEADER_MEDIA_RULES


def button_meta_url(button):
    """URL registered on Meta for a URL button dict (static: as is; dynamic and tracked: ends in ``{{1}}``)."""
    url = button.get("website_url") or ""
    if button.get("url_type") == "tracked":
        return (button.get("tracker_host") or "").rstrip("/") + "/r/{{1}}"
    if button.get("url_type") == "dynamic" and "{{1}}" not in url:
        return url + "{{1}}"
    return url


def build_create_payload(
    name,
    language,
    category,
    body,
    body_examples,
    header=None,
    footer=None,
    buttons=(),
    include_name=True,
):
    """Body of ``POST /{WABA}/message_templates`` (or of an update when ``include_name`` is False).

    :param header: None or a dict ``{"type": "text", "text": ..., "example": str|None}``,
        ``{"type": "image"|"video"|"document", "handle": str}`` or ``{"type": "location"}``
    :param body_examples: list of sample values, in placeholder order
    :param buttons: ordered dicts as for :func:`check_buttons`, plus ``example`` for dynamic/tracked URLs
    """
    components = []
    if header:
        if header["type"] == "text":
            comp = {"type": "HEADER", "format": "TEXT", "text": header["text"]}
            if header.get("example") is not None:
                comp["example"] = {"header_text": [header["example"]]}
            components.append(comp)
        elif header["type"] == "location":
            components.append({"type": "HEADER", "format": "LOCATION"})
        else:
            components.append(
                {
                    "type": "HEADER",
                    "format": HEADER_MEDIA_RULES[header["type"]][0],
                    "example": {"header_handle": [header["handle"]]},
                }
            )
    body_comp = {"type": "BODY", "text": body}
    if body_examples:
        body_comp["example"] = {"body_text": [list(body_examples)]}
    components.append(body_comp)
    if footer:
        components.append({"type": "FOOTER", "text": footer})
    if buttons:
        meta_buttons = []
        for button in buttons:
            if button["button_type"] == "quick_reply":
                meta_buttons.append({"type": "QUICK_REPLY", "text": button["name"]})
            elif button["button_type"] == "phone_number":
                meta_buttons.append(
                    {
                        "type": "PHONE_NUMBER",
                        "text": button["name"],
                        "phone_number": button["call_number"],
                    }
                )
            else:
                meta_button = {
                    "type": "URL",
                    "text": button["name"],
                    "url": button_meta_url(button),
                }
                if button.get("url_type") in ("dynamic", "tracked"):
                    meta_button["example"] = [button["example"]]
                meta_buttons.append(meta_button)
        components.append({"type": "BUTTONS", "buttons": meta_buttons})
    payload = {"category": category.upper(), "components": components}
    if include_name:
        payload = {
            "name": name,
            "language": language,
            "parameter_format": "POSITIONAL",
            **payload,
        }
    return payload


def parse_meta_template(data):
    """Plain values of a template as returned by Meta's list/get endpoints (for sync)."""
    values = {
        "meta_uid": str(data.get("id") or ""),
        "template_name": data.get("name") or "",
        "lang_code": data.get("language") or "en_US",
        "meta_status": (data.get("status") or "").upper(),
        "meta_category": (data.get("category") or "").upper(),
        "meta_quality": ((data.get("quality_score") or {}).get("score") or "UNKNOWN").upper(),
        "rejected_reason": data.get("rejected_reason") or "",
        "header_type": "none",
        "header_text": False,
        "body": "",
        "footer": False,
        "buttons": [],
    }
    for comp in data.get("components") or []:
        kind = (comp.get("type") or "").upper()
        if kind == "HEADER":
            fmt = (comp.get("format") or "TEXT").upper()
            values["header_type"] = {
                "IMAGE": "image",
                "VIDEO": "video",
                "DOCUMENT": "document",
            }.get(fmt, "location" if fmt == "LOCATION" else "text")
            if fmt == "TEXT":
                values["header_text"] = comp.get("text") or ""
        elif kind == "BODY":
            values["body"] = comp.get("text") or ""
        elif kind == "FOOTER":
            values["footer"] = comp.get("text") or ""
        elif kind == "BUTTONS":
            values["buttons"] = [parse_meta_button(b) for b in comp.get("buttons") or []]
    return values


def parse_meta_button(button):
    kind = (button.get("type") or "").upper()
    values = {"name": button.get("text") or "", "button_type": "quick_reply"}
    if kind == "URL":
        url = button.get("url") or ""
        values.update(
            button_type="url",
            url_type="dynamic" if "{{1}}" in url else "static",
            website_url=url.replace("{{1}}", ""),
        )
    elif kind == "PHONE_NUMBER":
        values.update(button_type="phone_number", call_number=button.get("phone_number") or "")
    return values
