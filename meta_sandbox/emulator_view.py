"""What the customer's phone shows: sandbox message records turned into chat bubbles (plain JSON).

Business templates are resolved against the sandbox's stored template definitions (header, body with the
send-time parameters substituted, footer, buttons); media point to the sandbox media store
(``/_sandbox/media/<id>``); reactions are folded onto the message they target.
"""

import re

from .templates import NAMED_RE, POSITIONAL_RE

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
_VAR = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def media_url(obj):
    """Where the page loads a media object (``{id}`` from the store or ``{link}``)."""
    if obj.get("id"):
        return "/_sandbox/media/" + str(obj["id"])
    return obj.get("link")


def map_url(lat, lon):
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"


def _param_text(param):
    """Displayed value of one template parameter (text, currency, date_time...)."""
    ptype = param.get("type", "text")
    if ptype == "text":
        return str(param.get("text", ""))
    if ptype in ("currency", "date_time"):
        return str((param.get(ptype) or {}).get("fallback_value", ""))
    if ptype == "payload":
        return str(param.get("payload", ""))
    if ptype == "coupon_code":
        return str(param.get("coupon_code", ""))
    return str(param.get(ptype) or "")


def substitute(text, params, named=False):
    """Replace ``{{1}}``/``{{name}}`` in ``text`` by the send-time parameters."""
    if not text:
        return text or ""
    if named:
        values = {p.get("parameter_name"): _param_text(p) for p in params}
        return NAMED_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)
    values = [_param_text(p) for p in params]

    def repl(m):
        i = int(m.group(1)) - 1
        return values[i] if 0 <= i < len(values) else m.group(0)

    return POSITIONAL_RE.sub(repl, text)


def _media_header(kind, obj):
    obj = obj or {}
    return {
        "type": kind,
        "url": media_url(obj),
        "filename": obj.get("filename"),
        "mime_type": obj.get("mime_type"),
    }


def _location(loc):
    loc = loc or {}
    lat, lon = loc.get("latitude"), loc.get("longitude")
    return {
        "latitude": lat,
        "longitude": lon,
        "name": loc.get("name"),
        "address": loc.get("address"),
        "url": loc.get("url") or map_url(lat, lon),
    }


def render_template(tmpl, sent):
    """View of a template message: ``tmpl`` is the stored Template (or None), ``sent`` the send payload."""
    comps = {str(c.get("type", "")).lower(): c for c in sent.get("components") or []}
    buttons_sent = {
        int(c.get("index", 0)): c
        for c in sent.get("components") or []
        if str(c.get("type")).lower() == "button"
    }
    view = {"template": sent.get("name"), "language": (sent.get("language") or {}).get("code")}
    if tmpl is None:
        view["text"] = f"[template {sent.get('name')}]"
        return view
    named = tmpl.parameter_format == "NAMED"
    for comp in tmpl.components:
        ctype = str(comp.get("type", "")).upper()
        params = (comps.get(ctype.lower()) or {}).get("parameters") or []
        if ctype == "HEADER":
            fmt = str(comp.get("format", "TEXT")).upper()
            if fmt == "TEXT":
                view["header"] = {"type": "text", "text": substitute(comp.get("text"), params, named)}
            elif fmt == "LOCATION":
                loc = params[0].get("location") if params else None
                view["header"] = {"type": "location", **_location(loc)}
            else:
                kind = fmt.lower()
                view["header"] = _media_header(kind, params[0].get(kind) if params else None)
        elif ctype == "BODY":
            view["text"] = substitute(comp.get("text"), params, named)
        elif ctype == "FOOTER":
            view["footer"] = comp.get("text") or ""
        elif ctype == "BUTTONS":
            view["buttons"] = [
                _template_button(i, b, buttons_sent.get(i)) for i, b in enumerate(comp.get("buttons") or [])
            ]
    return view


def _template_button(index, button, sent):
    btype = str(button.get("type", "")).upper()
    params = (sent or {}).get("parameters") or []
    out = {"index": index, "type": btype.lower(), "text": button.get("text") or btype.title()}
    if btype == "QUICK_REPLY":
        out["payload"] = _param_text(params[0]) if params else out["text"]
    elif btype == "URL":
        suffix = _param_text(params[0]) if params else ""
        out["url"] = _VAR.sub(suffix, button.get("url") or "")
    elif btype == "PHONE_NUMBER":
        out["phone"] = button.get("phone_number")
    elif btype in ("COPY_CODE", "OTP"):
        out["type"] = "copy_code"
        out["code"] = _param_text(params[0]) if params else ""
        out["text"] = button.get("text") or "Copy code"
    return out


def _interactive(inter):
    view = {}
    header = inter.get("header") or {}
    htype = header.get("type")
    if htype == "text":
        view["header"] = {"type": "text", "text": header.get("text", "")}
    elif htype in MEDIA_TYPES:
        view["header"] = _media_header(htype, header.get(htype))
    view["text"] = (inter.get("body") or {}).get("text", "")
    if inter.get("footer"):
        view["footer"] = inter["footer"].get("text", "")
    action = inter.get("action") or {}
    itype = inter.get("type")
    if itype == "button":
        view["buttons"] = [
            {"type": "reply", "id": b["reply"]["id"], "text": b["reply"]["title"]}
            for b in action.get("buttons") or []
            if b.get("reply")
        ]
    elif itype == "list":
        view["list"] = {"button": action.get("button", "Options"), "sections": action.get("sections") or []}
    elif itype == "cta_url":
        params = action.get("parameters") or {}
        view["buttons"] = [
            {"type": "url", "text": params.get("display_text", "Open"), "url": params.get("url")}
        ]
    return view


def _content(record, templates):
    """The kind-specific part of a bubble."""
    payload, mtype = record["payload"], record.get("type") or "text"
    obj = payload.get(mtype) if isinstance(payload.get(mtype), dict) else {}
    if mtype == "text":
        return {"text": obj.get("body", "")}
    if mtype in MEDIA_TYPES:
        return {
            "media": {
                "type": mtype,
                "url": media_url(obj),
                "filename": obj.get("filename"),
                "mime_type": obj.get("mime_type"),
                "voice": obj.get("voice"),
            },
            "text": obj.get("caption", ""),
        }
    if mtype == "location":
        return {"location": _location(obj)}
    if mtype == "template":
        return render_template(templates.get(record.get("template_id", "")), obj)
    if mtype == "interactive":
        if record["direction"] == "in":  # a customer's answer to buttons or a list
            reply = obj.get(obj.get("type")) or {}
            return {"text": reply.get("title", ""), "reply_id": reply.get("id")}
        return _interactive(obj)
    if mtype == "button":
        return {"text": obj.get("text", ""), "payload": obj.get("payload")}
    if mtype == "contacts":
        names = [(c.get("name") or {}).get("formatted_name", "?") for c in payload.get("contacts") or []]
        return {"text": "Contact: " + ", ".join(names)}
    return {"text": f"[{mtype}]"}


def preview(view):
    """One line for the conversation list."""
    if view.get("text"):
        return view["text"].splitlines()[0][:80]
    if view.get("media"):
        return view["media"].get("filename") or view["media"]["type"]
    if view.get("location"):
        return "Location " + (view["location"].get("name") or "")
    return view.get("type", "")


def render(record, templates):
    """One bubble: the common keys plus the kind-specific content."""
    payload = record["payload"]
    context = payload.get("context") or {}
    view = {
        "wamid": record["wamid"],
        "direction": record["direction"],
        "type": record.get("type"),
        "time": record.get("time"),
        "status": record.get("status"),
        "context": context.get("message_id") or context.get("id"),
    }
    view.update(_content(record, templates))
    return view


def reactions(records):
    """{target wamid: {"in": emoji, "out": emoji}}: the latest reaction of each side (removals drop it)."""
    out = {}
    for rec in records:
        if rec.get("type") != "reaction":
            continue
        reaction = rec["payload"].get("reaction") or {}
        target = out.setdefault(reaction.get("message_id"), {})
        if reaction.get("emoji"):
            target[rec["direction"]] = reaction["emoji"]
        else:
            target.pop(rec["direction"], None)
    return {k: v for k, v in out.items() if v}
