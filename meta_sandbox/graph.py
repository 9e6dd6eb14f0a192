"""Graph API routing, authentication, phone-number and message endpoints."""

import re
import time

from . import media, templates
from .faults import fault_error
from .server import DropConnection, GraphError, Response
from .state import new_wamid

_VERSION = re.compile(r"^v\d+\.\d+$")
MESSAGES_PATH = "/{Version}/{Phone-Number-ID}/messages"
DEFAULT_PROFILE = {"about": "Sandbox", "vertical": "OTHER"}


def unsupported(method, node):
    return GraphError(
        400,
        100,
        f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        subcode=33,
        type_="GraphMethodException",
    )


def bad_token(message="Invalid OAuth access token - Cannot parse access token"):
    return GraphError(401, 190, message)


def invalid_param(message, code=100, details=None, http_status=400):
    prefix = f"(#{code}) "
    return GraphError(http_status, code, prefix + message, details=details)


def schema_error(sb, method, path_template, body):
    """Validate ``body`` against the spec; raise Meta's error (naming the problem) when invalid."""
    if not sb.validate:
        return
    from .spec import _format, request_schema_errors  # noqa: PLC0415

    errors = request_schema_errors(method, path_template, body)
    if not errors:
        return
    msgs = _format(errors)
    missing = any(e.validator == "required" for e in errors)
    if path_template == MESSAGES_PATH:
        code, title = (
            (131008, "Required parameter is missing") if missing else (131009, "Parameter value is not valid")
        )
        raise GraphError(400, code, f"(#{code}) {title}", details="; ".join(msgs))
    raise GraphError(400, 100, "(#100) Invalid parameter", details="; ".join(msgs), user_msg="; ".join(msgs))


def route(sb, req):
    """Return (group, handler, account) for a Graph request or raise GraphError."""
    parts = req.parts
    if not parts or not _VERSION.match(parts[0]):
        if parts and parts[0] == "media_download":
            acc = sb.state.media.get(parts[1]) if len(parts) > 1 else None
            acc = sb.state.accounts.get(acc.phone_number_id) if acc else None
            return "media", media.download, acc
        raise unsupported(req.method, "/".join(parts))
    rest = parts[1:]
    if not rest:
        raise unsupported(req.method, "")
    node, edge = rest[0], "/".join(rest[1:]) or None
    st = sb.state
    key = (req.method, edge)
    if node in st.accounts:
        acc = st.accounts[node]
        handler = {
            ("GET", None): ("phone", phone_info),
            ("POST", "messages"): ("messages", send_message),
            ("POST", "media"): ("media", media.upload),
            ("POST", "register"): ("phone", success),
            ("POST", "deregister"): ("phone", success),
            ("GET", "whatsapp_business_profile"): ("phone", profile_get),
            ("POST", "whatsapp_business_profile"): ("phone", profile_post),
        }.get(key)
        if handler:
            return handler[0], handler[1], acc
    acc = st.account_by_waba(node)
    if acc:
        handler = {
            ("GET", None): ("phone", waba_info),
            ("GET", "phone_numbers"): ("phone", phone_numbers),
            ("GET", "subscribed_apps"): ("phone", subscribed_apps),
            ("POST", "subscribed_apps"): ("phone", success),
            ("DELETE", "subscribed_apps"): ("phone", success),
            ("GET", "message_templates"): ("templates", templates.list_templates),
            ("POST", "message_templates"): ("templates", templates.create_template),
            ("DELETE", "message_templates"): ("templates", templates.delete_template),
        }.get(key)
        if handler:
            return handler[0], handler[1], acc
    acc = st.account_by_app(node)
    if acc and key == ("POST", "uploads"):
        return "uploads", media.start_upload, acc
    if node.startswith("upload:") and edge is None and node in st.uploads:
        acc = st.accounts.get(st.uploads[node]["phone_number_id"])
        return "uploads", (media.upload_chunk if req.method == "POST" else media.upload_status), acc
    if node in st.templates and edge is None and req.method in ("GET", "POST"):
        tmpl = st.templates[node]
        acc = st.account_by_waba(tmpl.waba_id)
        return "templates", (templates.get_template if req.method == "GET" else templates.edit_template), acc
    if node in st.media and edge is None and req.method in ("GET", "DELETE") and not st.media[node].deleted:
        acc = st.accounts.get(st.media[node].phone_number_id)
        return "media", (media.get_media if req.method == "GET" else media.delete_media), acc
    return None, None, None


def authenticate(sb, req, acc, scheme="Bearer"):
    auth = req.header("Authorization") or ""
    token = None
    for prefix in (scheme + " ", "Bearer ", "OAuth "):
        if auth.startswith(prefix):
            token = auth[len(prefix) :].strip()
            break
    if token is None:
        token = req.query.get("access_token")
    if not token:
        raise bad_token("An active access token must be used to query information about the current user.")
    owner = sb.state.account_by_token(token)
    if owner is None:
        raise bad_token()
    return owner


def handle(sb, req):
    arrived = req.received or time.time()  # when it reached the machine, as Meta's edge counts it
    group, handler, acc = route(sb, req)
    record = {
        "method": req.method,
        "path": req.path,
        "query": req.query,
        "headers": dict(req.headers.items()),
        "body": _body_for_record(req),
        "group": group,
        "time": arrived,
    }
    with sb.state.lock:
        sb.state.requests.append(record)
    try:
        resp = _answer(sb, req, group, handler, acc)
    except GraphError as e:
        record["status"] = e.http_status
        raise
    record["status"] = resp.status
    return resp


def _answer(sb, req, group, handler, acc):
    for fault in sb.faults.take(group) if group else ():
        delay = fault.pick_delay()
        if delay:
            sb.sleep(delay)
        if fault.kind == "timeout":
            if fault.drop or not sb.running:
                raise DropConnection()
            continue
        if fault.kind != "delay":
            status, code, subcode, message, type_ = fault_error(fault)
            details = message if code not in (190, 2, 130429) else None
            raise GraphError(status, code, message, subcode=subcode, type_=type_, details=details)
    if acc is not None and acc.latency:
        sb.sleep(acc.latency)
    token_owner = authenticate(sb, req, acc)
    if handler is None or acc is None or token_owner.token != acc.token:
        raise unsupported(req.method, req.parts[1] if len(req.parts) > 1 else req.path)
    return handler(sb, req, acc)


def _body_for_record(req):
    ctype = req.header("Content-Type") or ""
    if "json" in ctype:
        try:
            return req.json()
        except ValueError:
            return req.body.decode(errors="replace")
    return None


def json_body(req):
    try:
        body = req.json()
    except ValueError as e:
        raise invalid_param(f"Invalid JSON in request body: {e}") from None
    if not isinstance(body, dict):
        raise invalid_param("The request body must be a JSON object")
    return body


def success(sb, req, acc):
    return Response(200, {"success": True})


def _fields(req, data, default=None):
    fields = req.query.get("fields")
    names = [f.strip() for f in fields.split(",") if f.strip()] if fields else default
    if not names:
        return data
    out = {k: data[k] for k in names if k in data}
    out["id"] = data["id"]
    return out


def phone_info(sb, req, acc):
    default = [
        "verified_name",
        "code_verification_status",
        "display_phone_number",
        "quality_rating",
        "platform_type",
        "throughput",
    ]
    return Response(200, _fields(req, acc.phone_info(), default))


def phone_numbers(sb, req, acc):
    data = [_fields(req, a.phone_info()) for a in sb.state.accounts_by_waba(acc.waba_id)]
    return Response(200, {"data": data, "paging": {"cursors": {"before": "QVFIUmJ", "after": "QVFIUmJ"}}})


def waba_info(sb, req, acc):
    data = {
        "id": acc.waba_id,
        "name": acc.verified_name,
        "currency": "USD",
        "timezone_id": "1",
        "message_template_namespace": "sandbox_" + acc.waba_id,
        "account_review_status": "APPROVED",
    }
    return Response(200, _fields(req, data))


def subscribed_apps(sb, req, acc):
    app = {
        "whatsapp_business_api_data": {
            "id": acc.app_id,
            "link": "https://www.facebook.com/games/?app_id=" + acc.app_id,
            "name": "Sandbox App",
        }
    }
    return Response(200, {"data": [app]})


def profile_get(sb, req, acc):
    profile = {
        "messaging_product": "whatsapp",
        **acc.extra.get("profile", DEFAULT_PROFILE),
    }
    return Response(200, {"data": [profile]})


def profile_post(sb, req, acc):
    body = json_body(req)
    schema_error(sb, "POST", "/{Version}/{Phone-Number-ID}/whatsapp_business_profile", body)
    # An update changes only the fields it names (``vertical`` stays when only ``about`` is sent).
    profile = dict(acc.extra.get("profile", DEFAULT_PROFILE))
    profile.update({k: v for k, v in body.items() if k != "messaging_product"})
    acc.extra["profile"] = profile
    return Response(200, {"success": True})


def _drop_nulls(value):
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value if v is not None]
    return value


def normalise_message(body):
    """The send request as Meta reads it, before it is checked against the spec.

    Meta is more lenient than its spec in two ways that clients rely on (pywa sends both):
    an optional field sent as ``null`` is treated as absent (``send_contact`` sends ``"birthday": null``...),
    and a template component ``type`` is case-insensitive (``"HEADER"`` works like ``"header"``).
    """
    body = _drop_nulls(body)
    template = body.get("template")
    if isinstance(template, dict) and isinstance(template.get("components"), list):
        template["components"] = [
            {**c, "type": c["type"].lower()} if isinstance(c, dict) and isinstance(c.get("type"), str) else c
            for c in template["components"]
        ]
    return body


def send_message(sb, req, acc):
    body = normalise_message(json_body(req))
    schema_error(sb, "POST", MESSAGES_PATH, body)
    if body.get("messaging_product") != "whatsapp":
        raise invalid_param("The parameter messaging_product is required and must be 'whatsapp'.")
    if "status" in body and "type" not in body:
        return mark_read(sb, acc, body)
    to = body.get("to") or body.get("recipient") or ""
    wa_id, number, user_id = sb.state.resolve_recipient(body.get("to"), body.get("recipient"))
    if not wa_id:
        raise GraphError(
            400, 131008, "(#131008) Required parameter is missing", details="Parameter 'to' is required."
        )
    text = body.get("text")
    if (
        body.get("type", "text") == "text"
        and isinstance(text, dict)
        and not str(text.get("body") or "").strip()
    ):
        # Meta refuses an empty text (the spec's TextObject has no minLength).
        raise invalid_param("The parameter text['body'] is required.")
    msg_type = body.get("type", "text")
    template = templates.check_send(sb, acc, body["template"]) if msg_type == "template" else None
    wamid = new_wamid()
    record = {
        "wamid": wamid,
        "direction": "out",
        "phone_number_id": acc.phone_number_id,
        "wa_id": wa_id,
        "user_id": user_id,
        "to": to,
        "type": msg_type,
        "payload": body,
        "status": "accepted",
        "time": sb.state.clock(),
    }
    if template is not None:
        record["template_id"] = template.id
    window_closed = (
        msg_type != "template" and sb.enforce_window and not sb.state.window_open(acc.phone_number_id, wa_id)
    )
    sb.state.record_message(record)
    sb._schedule_statuses(acc, record, window_closed=window_closed)
    message = {"id": wamid}
    if msg_type == "template":
        message["message_status"] = "accepted"
    # A send to a number answers its wa_id, a send to a BSUID (``recipient``) that user_id.
    contact = {"input": to, "wa_id": number} if body.get("to") else {"input": to, "user_id": user_id}
    return Response(200, {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]})


def mark_read(sb, acc, body):
    record = sb.state.messages_by_wamid.get(body["message_id"])
    if record is None or record["direction"] != "in" or record["phone_number_id"] != acc.phone_number_id:
        raise GraphError(
            400,
            131009,
            "(#131009) Parameter value is not valid",
            details="Invalid message_id: " + body["message_id"],
        )
    with sb.state.lock:
        for rec in sb.state.conversations.get((acc.phone_number_id, record["wa_id"]), []):
            if rec["direction"] == "in" and rec["time"] <= record["time"]:
                rec["status"] = "read"
        if "typing_indicator" in body:
            record["typing"] = True
    return Response(200, {"success": True})
