"""Control HTTP API under ``/_sandbox/`` (JSON in, JSON out), mirroring the Python API.

GET  /_sandbox/state                      accounts, templates, faults, flows, counts
GET  /_sandbox/messages?phone=            conversations (per customer number, both directions)
GET  /_sandbox/webhooks                   delivered webhooks with the callback's HTTP status, when each was
                                          due (emitted) and how long the callback took to answer
GET  /_sandbox/requests?group=            the Graph calls received (method, path, group, time of arrival:
                                          when the bytes reached the machine on Linux, answer's status, JSON
                                          body; never the headers): what Meta's rate limits count
                                          (group=messages: the sends)
POST /_sandbox/accounts                   {phone_number_id, waba_id, app_id, token, app_secret, ...}
POST /_sandbox/webhook                    {callback_url, app_secret?}
POST /_sandbox/faults                     {endpoint, kind, count?, delay?, http_status?, code?, ...} | {clear: true}
POST /_sandbox/status_flow                {statuses, delay? (or [min, max]), error_code?, phone?, reply_ratio?,
                                           reply_text?}
POST /_sandbox/inbound                    {phone_number_id, from, text?, name?, message?}  -> {wamid}
POST /_sandbox/status                     {wamid, status, errors?}
POST /_sandbox/template_decision          {template_id, status, reason?}
POST /_sandbox/templates                  {waba_id, name, language, category, components, status?}
POST /_sandbox/send_webhook               {field, value, waba_id?}
POST /_sandbox/reset                      {}
POST /_sandbox/wait_idle                  {timeout?}

Every call needs the control token (``X-Sandbox-Token`` header; ``Sandbox.control_token``, printed by the
command line at start, set with ``--control-token`` or ``$META_SANDBOX_CONTROL_TOKEN``) and is refused from a
page of another origin: see ``refuse``.

The phone emulator's page (/emulator) and endpoints (conversations, chat, emulate, upload, media, read) are in
``emulator.py``.
"""

import hmac

from .server import Response

TOKEN_HEADER = "X-Sandbox-Token"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Sent with every answer of the control API and the emulator: never framed, never sniffed, never cached.
# No Access-Control-* header is ever sent, so a page of another origin can neither read an answer nor pass a
# preflight (the custom token header and JSON bodies need one).
GUARD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def _error(status, message):
    return Response(status, {"error": {"message": message}})


def _hostname(host):
    host = (host or "").strip().lower()
    if host.startswith("["):  # [::1]:8190
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def refuse(sb, req):
    """Why a request to the control API (``/_sandbox/...``) or the emulator page must be refused, as a
    Response; None when it may go on.

    The control API drives the sandbox (accounts, tokens, webhooks to any URL): only the tests, the launcher
    and the emulator page may call it. Each request must
    - name the sandbox by a host it serves (loopback, its bind address or an allowed host): a web page that
      rebinds its own DNS name to 127.0.0.1 sends its own name and is refused;
    - not come from a page of another origin (``Origin`` / ``Sec-Fetch-Site``), even of the same site (Odoo
      on another port of 127.0.0.1);
    - carry the control token (``X-Sandbox-Token``), printed at start and embedded in the emulator page only;
      the page's media (``<img src>``) pass it as ``?token=``.
    """
    host = req.header("Host")
    if _hostname(host) not in sb.allowed_hosts:
        return _error(403, f"unknown host {host!r}: the sandbox answers on {', '.join(sb.allowed_hosts)}")
    if req.parts and req.parts[0] == "emulator":
        return None  # the page itself: anyone may load it, no other origin can read it (no CORS)
    origin = req.header("Origin")
    if origin is not None and origin != f"http://{host}":
        return _error(403, f"cross-origin request from {origin!r} refused")
    if (req.header("Sec-Fetch-Site") or "same-origin") not in ("same-origin", "none"):
        return _error(403, "cross-site request refused")
    token = req.header(TOKEN_HEADER)
    if token is None and req.method in ("GET", "HEAD") and req.parts[1:2] == ["media"]:
        token = req.query.get("token")
    if not token or not hmac.compare_digest(str(token).encode(), sb.control_token.encode()):
        return _error(401, f"the control API needs the sandbox's token in the {TOKEN_HEADER} header")
    return None


def _state(sb):
    return {
        "url": sb.url,
        "callback_url": sb.callback_url,
        "validate": sb.validate,
        "auto_approve": sb.auto_approve,
        "enforce_window": sb.enforce_window,
        "accounts": [
            {**a.phone_info(), "waba_id": a.waba_id, "app_id": a.app_id, "latency": a.latency}
            for a in sb.state.accounts.values()
        ],
        "templates": sb.templates,
        "faults": sb.faults.describe(),
        "status_flows": {k or "*": v for k, v in sb._flows.items()},
        "counts": {
            "requests": len(sb.state.requests),
            "sent_messages": len(sb.state.sent_messages),
            "webhooks": len(sb.webhooks),
            "media": len(sb.state.media),
        },
    }


def _webhook_view(record):
    return {k: v for k, v in record.items() if k not in ("body",)}


def _request_view(record):
    """A Graph call as received: when (``time``, on arrival, before any latency or fault), what and the answer's
    status; never its headers (they carry the access token)."""
    return {k: record.get(k) for k in ("method", "path", "group", "time", "status", "body")}


def handle(sb, req):
    name = req.parts[1] if len(req.parts) > 1 else ""
    try:
        data = req.json() or {}
    except ValueError:
        return _error(400, "invalid JSON body")
    if not isinstance(data, dict):
        return _error(400, "the body must be a JSON object")
    try:
        if req.method == "GET":
            if name == "state":
                return Response(200, _state(sb))
            if name == "messages":
                return Response(200, {"conversations": sb.messages(req.query.get("phone"))})
            if name == "webhooks":
                return Response(200, {"webhooks": [_webhook_view(r) for r in sb.webhooks]})
            if name == "requests":
                group = req.query.get("group")
                calls = [_request_view(r) for r in sb.requests if group is None or r.get("group") == group]
                return Response(200, {"requests": calls})
            return _error(404, f"unknown control endpoint {name!r}")
        if req.method != "POST":
            return _error(405, "use GET or POST")
        return _post(sb, name, data)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return _error(400, f"{type(e).__name__}: {e}")


def _post(sb, name, data):
    if name == "accounts":
        acc = sb.add_account(**data)
        return Response(200, {"phone_number_id": acc.phone_number_id})
    if name == "webhook":
        sb.set_webhook(data.get("callback_url"), data.get("app_secret"))
        return Response(200, {"success": True})
    if name == "faults":
        if data.get("clear"):
            sb.clear_faults(data.get("endpoint"))
        else:
            delay = data.pop("delay", 0.0)
            sb.set_fault(
                data.pop("endpoint", "*"), data.pop("kind"), data.pop("count", None), delay=delay, **data
            )
        return Response(200, {"faults": sb.faults.describe()})
    if name == "status_flow":
        sb.set_status_flow(**data)
        return Response(200, {"success": True})
    if name == "inbound":
        pnid = str(data.get("phone_number_id") or next(iter(sb.state.accounts)))
        if "message" in data:
            wamid = sb.inbound(
                pnid, {"from": str(data.get("from", "")), **data["message"]}, name=data.get("name")
            )
        else:
            wamid = sb.inbound_text(
                pnid, data["from"], data["text"], name=data.get("name"), context=data.get("context")
            )
        return Response(200, {"wamid": wamid})
    if name == "status":
        sb.status(data["wamid"], data["status"], errors=data.get("errors"))
        return Response(200, {"success": True})
    if name == "template_decision":
        sb.template_decision(str(data["template_id"]), data["status"], reason=data.get("reason"))
        return Response(200, {"success": True})
    if name == "templates":
        tmpl = sb.add_template(**data)
        return Response(200, {"id": tmpl.id})
    if name == "send_webhook":
        sb.send_webhook(data["field"], data["value"], data.get("waba_id"))
        return Response(200, {"success": True})
    if name == "reset":
        sb.reset()
        return Response(200, {"success": True})
    if name == "wait_idle":
        return Response(200, {"idle": sb.wait_idle(float(data.get("timeout", 10)))})
    return _error(404, f"unknown control endpoint {name!r}")
