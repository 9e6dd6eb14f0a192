"""The phone emulator: a page where a person plays the customer, and the control endpoints it uses.

GET  /emulator[?phone=33612345678&pnid=1000001]  the page (static files in ``emulator/``)
GET  /emulator/emulator.js | /emulator/emulator.css
GET  /_sandbox/conversations[?pnid=]             accounts + conversations (last message first)
GET  /_sandbox/chat?pnid=&phone=[&since=CURSOR]  rendered bubbles after CURSOR + status/reactions of all
POST /_sandbox/emulate  {pnid, phone, name?, kind, ...}  the customer acts; a signed webhook goes to Odoo
     kind: text {text, context?} | button {wamid, index} | button_reply {wamid, id} | list_reply {wamid, id}
           | media {media_id, caption?, context?} | location {location: {latitude, longitude, name?, address?},
           context?}   (``name`` at the top level is the customer's profile name, for every kind)
           | reaction {wamid, emoji}  (emoji "" removes the reaction)
POST /_sandbox/upload?pnid=&filename=             raw body + Content-Type -> {id, mime_type, sha256, ...}
GET  /_sandbox/media/<id>?token=                  the bytes of a stored media (token in the query: <img src>)

The page is served with the control token embedded; every endpoint needs it (see ``control.refuse``).
POST /_sandbox/read  {pnid, phone}                ``read`` statuses for business messages not yet read
"""

import html
from pathlib import Path
from urllib.parse import quote

from . import emulator_view as view
from .media import LIMITS
from .server import Response

STATIC = Path(__file__).with_name("emulator")
ASSETS = {
    "": ("index.html", "text/html; charset=utf-8"),
    "emulator.js": ("emulator.js", "text/javascript; charset=utf-8"),
    "emulator.css": ("emulator.css", "text/css; charset=utf-8"),
}
ENDPOINTS = ("conversations", "chat", "emulate", "upload", "media", "read")
UNREAD = ("accepted", "sent", "delivered")


class EmulatorError(Exception):
    pass


def _error(status, message):
    return Response(status, {"error": {"message": message}})


def handle(sb, req):
    """Response for the emulator's routes, None for any other request."""
    parts = req.parts
    if parts and parts[0] == "emulator" and req.method in ("GET", "HEAD"):
        asset = ASSETS.get("/".join(parts[1:]))
        if asset is None:
            return Response(404, b"Not Found", content_type="text/plain")
        body = (STATIC / asset[0]).read_bytes()
        if asset[0] == "index.html":
            # The page gets the control token embedded: only a page of the sandbox's own origin can read it
            # (no CORS, no framing); control.refuse checks every call the page makes with it.
            token = html.escape(sb.control_token, quote=True).encode()
            body = body.replace(b"{{SANDBOX_CONTROL_TOKEN}}", token)
            return Response(200, body, content_type=asset[1], headers={"Cache-Control": "no-store"})
        return Response(200, body, content_type=asset[1], headers={"Cache-Control": "no-cache"})
    if len(parts) < 2 or parts[0] != "_sandbox" or parts[1] not in ENDPOINTS:
        return None
    route = _ROUTES.get((req.method, parts[1]))
    if route is None:
        return _error(405, f"{req.method} is not allowed on /_sandbox/{parts[1]}")
    try:
        return route(sb, req)
    except (EmulatorError, TypeError, ValueError) as e:
        return _error(400, str(e))


def _digits(value):
    digits = "".join(c for c in str(value or "") if c.isdigit())
    if not 6 <= len(digits) <= 15:
        raise EmulatorError(f"invalid phone number {value!r}: use 6 to 15 digits (country code first)")
    return digits


def _account(sb, pnid):
    accounts = sb.state.accounts
    if not accounts:
        raise EmulatorError("the sandbox has no account")
    pnid = str(pnid or next(iter(accounts)))
    if pnid not in accounts:
        raise EmulatorError(f"unknown phone_number_id {pnid}")
    return accounts[pnid]


def _templates(sb):
    with sb.state.lock:
        return dict(sb.state.templates)


# reading ------------------------------------------------------------------------------------------------
def conversations(sb, req):
    pnid = req.query.get("pnid")
    templates = _templates(sb)
    with sb.state.lock:
        items = [(k, list(v)) for k, v in sb.state.conversations.items() if not pnid or k[0] == pnid]
        names = dict(sb.state.customers)
    out = []
    for (acc_id, wa_id), records in items:
        shown = [r for r in records if r.get("type") != "reaction"] or records
        last = view.render(shown[-1], templates)
        out.append(
            {
                "phone_number_id": acc_id,
                "wa_id": wa_id,
                "name": names.get(wa_id),
                "count": len(shown),
                "last": {"direction": last["direction"], "time": last["time"], "preview": view.preview(last)},
            }
        )
    out.sort(key=lambda c: c["last"]["time"] or 0, reverse=True)
    accounts = [
        {"id": a.phone_number_id, "display_phone_number": a.display_phone_number, "name": a.verified_name}
        for a in sb.state.accounts.values()
    ]
    return Response(200, {"accounts": accounts, "conversations": out})


def chat(sb, req):
    """Incremental: ``since`` is the ``cursor`` of the previous answer ("<count>:<last wamid>")."""
    acc = _account(sb, req.query.get("pnid"))
    phone = _digits(req.query.get("phone"))
    with sb.state.lock:
        records = list(sb.state.conversations.get((acc.phone_number_id, phone), []))
        name = sb.state.customers.get(phone)
    start, reset = 0, True
    count, _, last = (req.query.get("since") or "").partition(":")
    if count.isdigit() and 0 < int(count) <= len(records) and records[int(count) - 1]["wamid"] == last:
        start, reset = int(count), False
    elif count == "0" and not last:
        reset = False
    templates = _templates(sb)
    visible = [r for r in records if r.get("type") != "reaction"]
    bubbles = [view.render(r, templates) for r in records[start:] if r.get("type") != "reaction"]
    folded = view.reactions(records)
    updates = {
        r["wamid"]: {"status": r.get("status"), "reactions": folded.get(r["wamid"], {})} for r in visible
    }
    cursor = f"{len(records)}:{records[-1]['wamid']}" if records else "0:"
    return Response(
        200,
        {
            "phone_number_id": acc.phone_number_id,
            "wa_id": phone,
            "name": name,
            "business": acc.verified_name,
            "cursor": cursor,
            "reset": reset,
            "messages": bubbles,
            "updates": updates,
        },
    )


def media(sb, req):
    item = sb.state.media.get(req.parts[2]) if len(req.parts) == 3 else None
    if item is None:
        return Response(404, b"Not Found", content_type="text/plain")
    headers = {
        "Content-Disposition": content_disposition(item.filename),
        "Cache-Control": "private, max-age=3600",
    }
    return Response(200, item.data, content_type=item.mime_type, headers=headers)


def content_disposition(filename, disposition="inline"):
    """``Content-Disposition`` for a file name chosen by whoever uploaded it (RFC 6266): a plain-ASCII
    fallback without quotes, backslashes or control characters, and the exact name UTF-8 percent-encoded."""
    name = str(filename or "file")
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;%' else "_" for c in name)
    return f"{disposition}; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{quote(name, safe='')}"


# acting -------------------------------------------------------------------------------------------------
def upload(sb, req):
    acc = _account(sb, req.query.get("pnid"))
    mime = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    if mime not in LIMITS:
        raise EmulatorError(f"WhatsApp does not accept files of type {mime or 'unknown'!r}")
    if not req.body:
        raise EmulatorError("the file is empty")
    if len(req.body) > LIMITS[mime]:
        raise EmulatorError(
            f"the file is too large for {mime} ({LIMITS[mime] // (1024 * 1024) or 0.5} MB max)"
        )
    item = sb.add_media(
        req.body, mime, req.query.get("filename") or "file", phone_number_id=acc.phone_number_id
    )
    return Response(
        200,
        {
            "id": item.id,
            "mime_type": mime,
            "sha256": item.sha256,
            "filename": item.filename,
            "size": len(req.body),
        },
    )


def read(sb, req):
    data = req.json() or {}
    acc = _account(sb, data.get("pnid"))
    phone = _digits(data.get("phone"))
    with sb.state.lock:
        records = list(sb.state.conversations.get((acc.phone_number_id, phone), []))
    wamids = [
        r["wamid"]
        for r in records
        if r["direction"] == "out" and r.get("type") != "reaction" and r.get("status") in UNREAD
    ]
    for wamid in wamids:
        sb.status(wamid, "read")
    return Response(200, {"read": wamids})


def _target(sb, acc, phone, wamid, outbound=True):
    record = sb.state.messages_by_wamid.get(str(wamid or ""))
    if record is None or record["phone_number_id"] != acc.phone_number_id or record["wa_id"] != phone:
        raise EmulatorError(f"message {wamid!r} is not in this conversation")
    if outbound and record["direction"] != "out":
        raise EmulatorError(f"message {wamid!r} was not sent by the business")
    return record


def _context(sb, acc, phone, wamid):
    _target(sb, acc, phone, wamid, outbound=False)
    return {"from": acc.display_digits, "id": wamid}


def build_message(sb, acc, phone, data):
    """The Meta inbound ``messages[]`` object for one customer action (without from/id/timestamp)."""
    kind = data.get("kind")
    templates = _templates(sb)
    if kind == "text":
        text = str(data.get("text") or "").strip()
        if not text:
            raise EmulatorError("the message is empty")
        message = {"type": "text", "text": {"body": text[:4096]}}
    elif kind == "button":
        record = _target(sb, acc, phone, data.get("wamid"))
        bubble = view.render(record, templates)
        buttons = [b for b in bubble.get("buttons") or [] if b["type"] == "quick_reply"]
        button = next((b for b in buttons if b["index"] == int(data.get("index", -1))), None)
        if button is None:
            raise EmulatorError("that message has no such quick reply button")
        message = {"type": "button", "button": {"payload": button["payload"], "text": button["text"]}}
        data = {**data, "context": record["wamid"]}
    elif kind in ("button_reply", "list_reply"):
        record = _target(sb, acc, phone, data.get("wamid"))
        reply = _pick_reply(view.render(record, templates), kind, str(data.get("id")))
        message = {"type": "interactive", "interactive": {"type": kind, kind: reply}}
        data = {**data, "context": record["wamid"]}
    elif kind == "media":
        message = _media_message(sb, acc, data)
    elif kind == "location":
        # The place is ``location: {latitude, longitude, name?, address?}``: a top-level ``name`` is always the
        # customer's profile name, never the place's.
        place = data.get("location") if isinstance(data.get("location"), dict) else data
        if place.get("latitude") in (None, "") or place.get("longitude") in (None, ""):
            raise EmulatorError("a location needs a latitude and a longitude")
        loc = {"latitude": float(place["latitude"]), "longitude": float(place["longitude"])}
        if not (-90 <= loc["latitude"] <= 90 and -180 <= loc["longitude"] <= 180):
            raise EmulatorError("latitude must be within ±90 and longitude within ±180")
        if place is not data:
            loc.update({k: str(place[k]) for k in ("name", "address") if place.get(k)})
        elif data.get("address"):
            loc["address"] = str(data["address"])
        message = {"type": "location", "location": loc}
    elif kind == "reaction":
        record = _target(sb, acc, phone, data.get("wamid"), outbound=False)
        reaction = {"message_id": record["wamid"]}
        if data.get("emoji"):
            reaction["emoji"] = str(data["emoji"])
        return {"type": "reaction", "reaction": reaction}  # reactions never carry a context
    else:
        raise EmulatorError(f"unknown kind {kind!r}")
    if data.get("context"):
        message["context"] = _context(sb, acc, phone, data["context"])
    return message


def _pick_reply(bubble, kind, reply_id):
    if kind == "button_reply":
        for b in bubble.get("buttons") or []:
            if b["type"] == "reply" and b["id"] == reply_id:
                return {"id": b["id"], "title": b["text"]}
        raise EmulatorError("that message has no such reply button")
    for section in (bubble.get("list") or {}).get("sections") or []:
        for row in section.get("rows") or []:
            if row.get("id") == reply_id:
                # The spec requires ``description`` in list_reply: an empty one for a row without any.
                return {
                    "id": row["id"],
                    "title": row.get("title", ""),
                    "description": row.get("description") or "",
                }
    raise EmulatorError("that message has no such list row")


def _media_message(sb, acc, data):
    item = sb.state.media.get(str(data.get("media_id") or ""))
    if item is None or item.phone_number_id != acc.phone_number_id:
        raise EmulatorError("upload the file first (unknown media id)")
    mime = item.mime_type
    if mime == "image/webp":
        mtype = "sticker"
    elif mime.split("/")[0] in ("image", "video", "audio"):
        mtype = mime.split("/")[0]
    else:
        mtype = "document"
    obj = {"id": item.id, "mime_type": mime, "sha256": item.sha256}
    if mtype == "document":
        obj["filename"] = item.filename
    if mtype == "sticker":
        obj["animated"] = False
    if mtype == "audio":
        obj["voice"] = False
    if data.get("caption") and mtype in ("image", "video", "document"):
        obj["caption"] = str(data["caption"])
    return {"type": mtype, mtype: obj}


def emulate(sb, req):
    data = req.json() or {}
    if not isinstance(data, dict):
        raise EmulatorError("the body must be a JSON object")
    acc = _account(sb, data.get("pnid"))
    phone = _digits(data.get("phone"))
    message = build_message(sb, acc, phone, data)
    name = str(data.get("name") or "").strip() or None
    wamid = sb.inbound(acc.phone_number_id, {"from": phone, **message}, name=name)
    return Response(200, {"wamid": wamid, "message": sb.state.messages_by_wamid[wamid]["payload"]})


_ROUTES = {
    ("GET", "conversations"): conversations,
    ("GET", "chat"): chat,
    ("GET", "media"): media,
    ("HEAD", "media"): media,
    ("POST", "emulate"): emulate,
    ("POST", "upload"): upload,
    ("POST", "read"): read,
}
