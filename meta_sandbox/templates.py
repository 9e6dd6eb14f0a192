"""Message template endpoints: list (cursor paging), create, get, edit (with Meta's edit limits), delete."""

import base64
import re
from urllib.parse import urlencode

from .server import GraphError, Response
from .state import Template

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,511}$")
POSITIONAL_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
NAMED_RE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
DAY = 24 * 3600
WABA_PATH = "/{Version}/{WABA-ID}/message_templates"
TEMPLATE_PATH = "/{Version}/{TEMPLATE_ID}"
DEFAULT_FIELDS = ("name", "status", "category", "language", "components", "parameter_format", "id")


def _param_error(message, user_msg=None, subcode=None):
    return GraphError(
        400,
        100,
        "Invalid parameter",
        subcode=subcode,
        user_title="Invalid parameter",
        user_msg=user_msg or message,
        details=message,
    )


def _encode_cursor(index):
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode().rstrip("=")


def _decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(raw.split(":", 1)[1])
    except (ValueError, IndexError, UnicodeDecodeError):
        raise _param_error(f"Invalid cursor: {cursor}") from None


def _project(data, fields):
    if not fields:
        return data
    out = {k: data[k] for k in fields if k in data}
    out["id"] = data["id"]
    return out


def _body_text(tmpl):
    return " ".join(
        str(c.get("text") or "") for c in tmpl.components if str(c.get("type", "")).upper() == "BODY"
    )


def _listed(values):
    """A comma-separated filter value (``status=APPROVED,PAUSED``) as a set, upper-cased."""
    return {v.strip().upper() for v in values.split(",") if v.strip()}


def _filter(rows, q):
    """Meta's list filters: status / category / language / quality_score take comma-separated lists; name
    matches part of the name, content part of the body text, name_or_content either."""
    for key in ("status", "category", "quality_score"):
        if q.get(key):
            wanted = _listed(q[key])
            rows = [t for t in rows if getattr(t, key).upper() in wanted]
    if q.get("language"):
        wanted = {v.strip() for v in q["language"].split(",") if v.strip()}
        rows = [t for t in rows if t.language in wanted]
    if q.get("name"):
        rows = [t for t in rows if q["name"].lower() in t.name.lower()]
    if q.get("content"):
        rows = [t for t in rows if q["content"].lower() in _body_text(t).lower()]
    if q.get("name_or_content"):
        needle = q["name_or_content"].lower()
        rows = [t for t in rows if needle in t.name.lower() or needle in _body_text(t).lower()]
    return rows


def _translations_complete(templates):
    """Meta's ``are_translations_complete``: every template name exists in every language the WABA uses."""
    languages = {t.language for t in templates}
    by_name = {}
    for t in templates:
        by_name.setdefault(t.name, set()).add(t.language)
    return all(langs == languages for langs in by_name.values())


def list_templates(sb, req, acc):
    q = req.query
    every = [t for t in sb.state.templates.values() if t.waba_id == acc.waba_id]
    rows = sorted(every, key=lambda t: int("".join(c for c in t.id if c.isdigit()) or 0), reverse=True)
    rows = _filter(rows, q)  # newest first
    try:
        limit = max(1, min(int(q.get("limit") or 25), 1000))
    except ValueError:
        raise _param_error("limit must be an integer") from None
    start = _decode_cursor(q["after"]) if q.get("after") else 0
    if q.get("before"):
        start = max(0, _decode_cursor(q["before"]) - limit)
    page = rows[start : start + limit]
    fields = (
        [f.strip() for f in q["fields"].split(",") if f.strip()] if q.get("fields") else list(DEFAULT_FIELDS)
    )
    body = {"data": [_project(t.to_graph(), fields) for t in page]}
    if page:
        paging = {"cursors": {"before": _encode_cursor(start), "after": _encode_cursor(start + len(page))}}
        if start + len(page) < len(rows):
            params = {k: v for k, v in q.items() if k not in ("after", "before", "access_token")}
            params["after"] = paging["cursors"]["after"]
            params["limit"] = str(limit)
            paging["next"] = f"{sb.url}{req.path}?{urlencode(params)}"
        if start > 0:
            params = {k: v for k, v in q.items() if k not in ("after", "before", "access_token")}
            params["before"] = paging["cursors"]["before"]
            paging["previous"] = f"{sb.url}{req.path}?{urlencode(params)}"
        body["paging"] = paging
    if q.get("summary"):
        body["summary"] = {
            "total_count": len(rows),
            "message_template_count": len({t.name for t in every}),
            "message_template_limit": sb.template_limit,
            "are_translations_complete": _translations_complete(every),
        }
    return Response(200, body)


def _components_check(components, parameter_format):
    if not isinstance(components, list) or not components:
        raise _param_error("components is required", "The template needs at least a BODY component.")
    types = [str(c.get("type", "")).upper() for c in components if isinstance(c, dict)]
    if len(types) != len(components):
        raise _param_error("components must be objects")
    if types.count("BODY") != 1:
        raise _param_error("A template needs exactly one BODY component.")
    if types.count("HEADER") > 1 or types.count("FOOTER") > 1 or types.count("BUTTONS") > 1:
        raise _param_error("A template has at most one HEADER, one FOOTER and one BUTTONS component.")
    for comp in components:
        ctype = comp["type"].upper()
        text = comp.get("text") or ""
        if ctype == "BODY" and len(text) > 1024:
            raise _param_error("The BODY text is longer than 1024 characters.")
        if ctype == "FOOTER" and (len(text) > 60 or "{{" in text):
            raise _param_error("The FOOTER text is at most 60 characters and has no variables.")
        if ctype in ("BODY", "HEADER") and "{{" in text:
            found = NAMED_RE.findall(text) if parameter_format == "NAMED" else POSITIONAL_RE.findall(text)
            if not found:
                raise _param_error(f"Malformed variables in the {ctype} text.")
            example = comp.get("example") or {}
            key = {
                ("BODY", "POSITIONAL"): "body_text",
                ("BODY", "NAMED"): "body_text_named_params",
                ("HEADER", "POSITIONAL"): "header_text",
                ("HEADER", "NAMED"): "header_text_named_params",
            }[ctype, parameter_format]
            if not example.get(key):
                raise _param_error(
                    f"Missing example for the {ctype} variables",
                    f"Add sample values for the variables of the {ctype} (example.{key}).",
                )
            if parameter_format == "POSITIONAL" and sorted(map(int, set(found))) != list(
                range(1, len(set(found)) + 1)
            ):
                raise _param_error(f"The {ctype} variables must be sequential: {{{{1}}}}, {{{{2}}}}...")
        if ctype == "BUTTONS":
            buttons = comp.get("buttons") or []
            if not buttons or len(buttons) > 10:
                raise _param_error("BUTTONS needs 1 to 10 buttons.")


def create_template(sb, req, acc):
    from .graph import json_body, schema_error  # noqa: PLC0415

    body = json_body(req)
    schema_error(sb, "POST", WABA_PATH, body)
    name, language, category = body.get("name"), body.get("language"), str(body.get("category") or "").upper()
    if not name or not NAME_RE.match(name):
        raise _param_error(
            f"Invalid template name {name!r}",
            "Template names use lowercase letters, digits and underscores only.",
        )
    if not language:
        raise _param_error("language is required")
    if category not in CATEGORIES:
        raise _param_error(
            f"Invalid category {body.get('category')!r}",
            "Category must be MARKETING, UTILITY or AUTHENTICATION.",
        )
    fmt = str(body.get("parameter_format") or "POSITIONAL").upper()
    _components_check(body.get("components"), fmt)
    with sb.state.lock:
        for t in sb.state.templates.values():
            if t.waba_id == acc.waba_id and t.name == name and t.language == language:
                raise GraphError(
                    400,
                    100,
                    "Invalid parameter",
                    subcode=2388024,
                    user_title="Content in This Language Already Exists",
                    user_msg=f"There is already {language} content for this template ({name}).",
                )
        tmpl = Template(
            id=sb.state.next_id("9"),
            waba_id=acc.waba_id,
            name=name,
            language=language,
            category=category,
            components=body["components"],
            parameter_format=fmt,
            message_send_ttl_seconds=body.get("message_send_ttl_seconds"),
            quality_date=int(sb.state.clock()),
        )
        sb.state.templates[tmpl.id] = tmpl
    if sb.auto_approve:
        sb.template_decision(tmpl.id, "APPROVED", delay=sb.auto_approve_delay)
    return Response(200, {"id": tmpl.id, "status": "PENDING", "category": category})


def get_template(sb, req, acc):
    tmpl = sb.state.templates[req.parts[1]]
    fields = (
        [f.strip() for f in req.query["fields"].split(",") if f.strip()] if req.query.get("fields") else None
    )
    return Response(200, _project(tmpl.to_graph(), fields))


def edit_template(sb, req, acc):
    from .graph import json_body, schema_error  # noqa: PLC0415

    body = json_body(req)
    schema_error(sb, "POST", TEMPLATE_PATH, body)
    tmpl = sb.state.templates[req.parts[1]]
    now = sb.state.clock()
    with sb.state.lock:
        if tmpl.status == "APPROVED":
            recent = [t for t in tmpl.edits if now - t < 30 * DAY]
            if any(now - t < DAY for t in recent):
                raise GraphError(
                    400,
                    100,
                    "Invalid parameter",
                    subcode=None,
                    user_title="Template edit limit reached",
                    user_msg="An approved message template can be edited once in 24 hours. Try again later.",
                )
            if len(recent) >= 10:
                raise GraphError(
                    400,
                    100,
                    "Invalid parameter",
                    subcode=None,
                    user_title="Template edit limit reached",
                    user_msg="An approved message template can be edited up to 10 times in 30 days.",
                )
        if tmpl.status in ("DISABLED", "PENDING_DELETION", "DELETED", "IN_APPEAL", "PENDING"):
            raise _param_error(f"A template in status {tmpl.status} cannot be edited.")
        if "components" in body:
            _components_check(body["components"], tmpl.parameter_format)
        if "category" in body and str(body["category"]).upper() not in CATEGORIES:
            raise _param_error(f"Invalid category {body['category']!r}")
        if tmpl.status == "APPROVED":
            tmpl.edits.append(now)
        if "components" in body:
            tmpl.components = body["components"]
        if "category" in body:
            tmpl.category = str(body["category"]).upper()
        if "message_send_ttl_seconds" in body:
            tmpl.message_send_ttl_seconds = body["message_send_ttl_seconds"]
        tmpl.status = "PENDING"
    if sb.auto_approve:
        sb.template_decision(tmpl.id, "APPROVED", delay=sb.auto_approve_delay)
    # Meta's spec documents only ``success``; Meta answers (and clients such as pywa read) id, name, category too.
    return Response(200, {"success": True, "id": tmpl.id, "name": tmpl.name, "category": tmpl.category})


def delete_template(sb, req, acc):
    name, hsm_id = req.query.get("name"), req.query.get("hsm_id")
    if not name:
        raise _param_error("name is required")
    with sb.state.lock:
        victims = [
            t
            for t in sb.state.templates.values()
            if t.waba_id == acc.waba_id and t.name == name and (not hsm_id or t.id == hsm_id)
        ]
        if not victims:
            raise GraphError(
                400,
                100,
                "Invalid parameter",
                user_title="Message template not found",
                user_msg=f"Message template {name} was not found.",
            )
        for t in victims:
            del sb.state.templates[t.id]
    return Response(200, {"success": True})


def check_send(sb, acc, tpl):
    """Template-send checks Meta does synchronously: exists/approved (132001...), parameter count (132000)."""
    name, lang = tpl.get("name"), (tpl.get("language") or {}).get("code")
    found = [
        t
        for t in sb.state.templates.values()
        if t.waba_id == acc.waba_id and t.name == name and t.language == lang
    ]
    if not found:
        raise GraphError(
            404,
            132001,
            "(#132001) Template name does not exist in the translation",
            details=f"template name ({name}) does not exist in {lang}",
        )
    tmpl = found[0]
    if tmpl.status == "PAUSED":
        raise GraphError(400, 132015, "(#132015) Template is Paused", details=f"Template {name} is paused.")
    if tmpl.status == "DISABLED":
        raise GraphError(
            400, 132016, "(#132016) Template is Disabled", details=f"Template {name} is disabled."
        )
    if tmpl.status != "APPROVED":
        raise GraphError(
            404,
            132001,
            "(#132001) Template name does not exist in the translation",
            details=f"template name ({name}) is not approved in {lang} (status {tmpl.status})",
        )
    sent = {}
    for comp in tpl.get("components") or []:
        ctype = str(comp.get("type", "")).lower()
        if ctype in ("body", "header"):
            sent[ctype] = len(comp.get("parameters") or [])
    for comp in tmpl.components:
        ctype = str(comp.get("type", "")).lower()
        if ctype not in ("body", "header") or (
            ctype == "header" and str(comp.get("format", "TEXT")).upper() != "TEXT"
        ):
            continue
        text = comp.get("text") or ""
        regex = NAMED_RE if tmpl.parameter_format == "NAMED" else POSITIONAL_RE
        expected = len(set(regex.findall(text)))
        if sent.get(ctype, 0) != expected:
            raise GraphError(
                400,
                132000,
                "(#132000) Number of parameters does not match the expected number of params",
                details=f"{ctype}: number of localizable_params ({sent.get(ctype, 0)}) does not match the expected "
                f"number of params ({expected})",
            )
    return tmpl
