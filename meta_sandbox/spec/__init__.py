"""Validation of Graph request bodies and webhook payloads against Meta's official OpenAPI spec.

Public API (usable by any test, no Odoo needed)::

    from meta_sandbox.spec import validate_request, validate_webhook
    validate_request("POST", "/{Version}/{Phone-Number-ID}/messages", payload) -> list[str]   # [] = valid
    validate_webhook(payload) -> list[str]

The spec (``business-messaging-api_v23.0.yaml``, MIT, see LICENSE-business-messaging-api.txt) is vendored in
this directory. Corrections of the spec are listed in ``patches.py`` and ``webhook_fields.py``.
"""

import threading

from .loader import SPEC_PATH, load_document

__all__ = [
    "SPEC_PATH",
    "load_document",
    "request_schema_errors",
    "validate_request",
    "validate_webhook",
    "warm_up",
]

_URN = "urn:meta-business-messaging-api"
_REF = "#/components/schemas/"
_lock = threading.RLock()
_state = {}
_validators = {}
_fast_checks = {}


def _schemas():
    if "schemas" not in _state:
        with _lock:
            if "schemas" not in _state:
                from referencing import Registry, Resource  # noqa: PLC0415
                from referencing.jsonschema import DRAFT202012  # noqa: PLC0415

                from .patches import build_schemas  # noqa: PLC0415
                from .webhook_fields import extend_change_schema  # noqa: PLC0415

                doc = load_document()
                schemas = build_schemas(doc)
                extend_change_schema(schemas)
                # Inline request schemas of the operations we validate get a name so they share the registry.
                for path, item in doc["paths"].items():
                    for method, op in item.items():
                        if not isinstance(op, dict) or "requestBody" not in op:
                            continue
                        content = op["requestBody"].get("content", {})
                        schema = (content.get("application/json") or {}).get("schema")
                        if schema is None:
                            continue
                        name = f"SandboxRequest {method.upper()} {path}"
                        schemas[name] = schema
                resource = Resource(contents={"components": {"schemas": schemas}}, specification=DRAFT202012)
                _state["registry"] = Registry().with_resource(_URN, resource)
                _state["schemas"] = schemas
    return _state["schemas"]


def _validator(name):
    validator = _validators.get(name)
    if validator is None:
        from jsonschema import Draft202012Validator  # noqa: PLC0415

        schemas = _schemas()
        if name not in schemas:
            raise KeyError(name)
        ref = _URN + _REF + name.replace("~", "~0").replace("/", "~1")
        validator = Draft202012Validator({"$ref": ref}, registry=_state["registry"])
        _validators[name] = validator
    return validator


def _fast(name):
    """Compiled yes/no check for ``name`` (None when the schema uses a keyword ``fast`` does not know)."""
    if name not in _fast_checks:
        from .fast import Compiler, Unsupported  # noqa: PLC0415

        schemas = _schemas()
        with _lock:  # the compiler is not thread-safe; publish a check only once fully compiled
            if name not in _fast_checks:
                compiler = _state.setdefault("compiler", Compiler(schemas))
                try:
                    check = compiler.ref(name)
                except Unsupported:
                    check = None
                _fast_checks[name] = check
    return _fast_checks[name]


def warm_up():
    """Parse the spec and compile the validators used on every request (call before serving)."""
    for name in ("Message", "WebhookPayload", "SandboxMarkRead"):
        _fast(name)
        _validator(name)


def _errors(name, instance):
    fast = _fast(name)
    if fast is not None and fast(instance):
        return []
    return list(_validator(name).iter_errors(instance))


def _fmt_path(path):
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _format(errors, limit=10):
    msgs = []
    for err in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        msg = f"{_fmt_path(err.absolute_path)}: {err.message}"
        if len(msg) > 300:
            msg = msg[:297] + "..."
        if msg not in msgs:
            msgs.append(msg)
        if len(msgs) >= limit:
            break
    return msgs


def request_schema_name(method, path_template, body=None):
    """Name of the schema a request body is validated with (None when the spec has no JSON body schema)."""
    method = method.upper()
    if (
        method == "POST"
        and path_template == "/{Version}/{Phone-Number-ID}/messages"
        and isinstance(body, dict)
        and "status" in body
        and "type" not in body
    ):
        return "SandboxMarkRead"
    name = f"SandboxRequest {method} {path_template}"
    schemas = _schemas()
    if name not in schemas:
        return None
    schema = schemas[name]
    if set(schema) == {"$ref"} and schema["$ref"].startswith(_REF):
        return schema["$ref"][len(_REF) :]
    return name


def request_schema_errors(method, path_template, body):
    """Raw ``jsonschema`` errors (for callers that map them to Meta error codes)."""
    if not isinstance(body, dict):
        return [_BodyError()]
    name = request_schema_name(method, path_template, body)
    if name == "Message" and "type" not in body:
        # E13: ``type`` is optional on the messages endpoint and defaults to "text" (Meta's docs; the spec's
        # own "Send Text Message with Preview URL" example omits it).
        body = {**body, "type": "text"}
    if name is None:
        raise KeyError(f"no JSON request schema for {method.upper()} {path_template}")
    return _errors(name, body)


class _BodyError:
    message = "the request body must be a JSON object"
    absolute_path = ()
    validator = "type"
    context = ()


def validate_request(method, path_template, body):
    """Validate a request body against the spec. Returns a list of readable problems ([] when valid).

    ``path_template`` is the spec's path, e.g. ``"/{Version}/{Phone-Number-ID}/messages"`` or
    ``"/{Version}/{WABA-ID}/message_templates"``. Raises KeyError for an operation without a JSON body schema.
    """
    return _format(request_schema_errors(method, path_template, body))


def validate_webhook(payload):
    """Validate a webhook payload (the JSON object Meta POSTs to the callback). Returns problems or []."""
    if not isinstance(payload, dict):
        return ["body: the webhook payload must be a JSON object"]
    return _format(_errors("WebhookPayload", payload))
