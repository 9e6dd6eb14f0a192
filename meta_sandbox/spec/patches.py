"""Documented corrections applied to Meta's OpenAPI schemas before validation.

Meta's v23.0 document is machine-generated and several of its schemas reject payloads that Meta itself
accepts (and that the same document uses as examples). Each exception below says what is wrong and what we
accept instead; nothing is skipped silently. The tests validate every request example and every webhook
example of the spec against the corrected schemas, so a correction that is too loose or too strict shows.

Generic (not exceptions, just OpenAPI semantics that JSON Schema does not have):
  G1 ``discriminator`` -> ``if/then`` dispatch on the discriminator value (JSON Schema ignores discriminators;
     dispatch also gives precise error messages instead of "not valid under any of the given schemas").
  G2 ``allOf: [$ref Base, {additionalProperties: false, ...}]``: in JSON Schema the ``false`` only sees the
     branch's own properties, so every message would be rejected for its ``to``/``messaging_product``. The
     intent (no unknown keys across the merged object) is kept by copying sibling property names in.
"""

import copy

REF = "#/components/schemas/"

_STR = {"type": "string"}
_BUTTON_SUBTYPES = "(?i)^(quick_reply|url|catalog|copy_code|flow|mpm|voice_call|order_details|otp)$"
_INDEX = {
    # E5: the spec's pattern "^[2-6, 11-14]$" rejects "0", the index of the first button, which every one of
    # the spec's own examples uses; Meta accepts the 0-based index as a string or an integer.
    "anyOf": [{"type": "string", "pattern": "^[0-9]$"}, {"type": "integer", "minimum": 0, "maximum": 9}]
}

# Schemas added by the sandbox (named with a "Sandbox" prefix so they are recognisable in error messages).
SANDBOX_SCHEMAS = {
    "SandboxLocationParameter": {
        # E7: header location parameters (``{"type": "location", "location": {...}}``) are documented by Meta
        # for location-header templates but missing from ParameterObject.
        "type": "object",
        "required": ["type", "location"],
        "properties": {
            "type": {"enum": ["location"]},
            "location": {
                "type": "object",
                "required": ["latitude", "longitude"],
                "properties": {
                    "latitude": {"type": ["number", "string"]},
                    "longitude": {"type": ["number", "string"]},
                    "name": _STR,
                    "address": _STR,
                },
            },
        },
    },
    "SandboxButtonCouponCodeParameter": {
        # E6: copy-code buttons take ``{"type": "coupon_code", "coupon_code": "..."}`` (<= 15 chars).
        "type": "object",
        "required": ["type", "coupon_code"],
        "properties": {"type": {"enum": ["coupon_code"]}, "coupon_code": {"type": "string", "maxLength": 15}},
    },
    "SandboxButtonActionParameter": {
        # E6: catalog / flow buttons take ``{"type": "action", "action": {...}}`` (the spec's own example).
        "type": "object",
        "required": ["type", "action"],
        "properties": {"type": {"enum": ["action"]}, "action": {"type": "object"}},
    },
    "SandboxIncomingBase": {
        # E10: the spec reuses the *outbound* message schemas for inbound webhook messages, which require
        # ``to``/``recipient_type``/``messaging_product`` that inbound messages never carry. Inbound messages
        # carry ``from`` (or ``from_user_id`` for username users), ``id``, ``timestamp`` and ``type``.
        "type": "object",
        "required": ["id", "timestamp", "type"],
        "anyOf": [{"required": ["from"]}, {"required": ["from_user_id"]}],
        "properties": {
            "from": _STR,
            "from_user_id": _STR,
            "id": _STR,
            "timestamp": _STR,
            "type": _STR,
            "context": {"type": "object"},
            "referral": {"type": "object"},
            "errors": {"type": "array", "items": {"$ref": REF + "ErrorObject"}},
        },
    },
    "SandboxIncomingSticker": {
        # E10: inbound stickers carry mime_type/sha256/animated, which the outbound sticker schema forbids.
        "type": "object",
        "required": ["id"],
        "properties": {"id": _STR, "mime_type": _STR, "sha256": _STR, "animated": {"type": "boolean"}},
    },
    "SandboxMarkRead": {
        # E11: the messages endpoint also takes the mark-as-read form (optionally with a typing indicator),
        # which Meta documents but the spec's Message schema does not include.
        "type": "object",
        "additionalProperties": False,
        "required": ["messaging_product", "status", "message_id"],
        "properties": {
            "messaging_product": {"enum": ["whatsapp"]},
            "status": {"enum": ["read"]},
            "message_id": {"type": "string", "minLength": 1},
            "typing_indicator": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": ["text"]}},
            },
        },
    },
}


def _props(schema):
    return schema.setdefault("properties", {})


def apply_exceptions(schemas):
    """Correct the spec in place (``schemas`` is a deep copy of components/schemas)."""
    schemas.update(copy.deepcopy(SANDBOX_SCHEMAS))

    base = schemas["BaseMessageProperties"]
    # E1: ``recipient_type`` is optional (Meta defaults it to "individual"); the spec's own example "Send
    # Sample Text Message" omits it.
    base["required"] = [r for r in base["required"] if r != "recipient_type"]
    # E2: ``biz_opaque_callback_data`` (echoed in status webhooks) and ``recipient`` (business-scoped user id
    # instead of ``to``) are accepted by Meta on every message type but missing here.
    _props(base).update({"biz_opaque_callback_data": {"type": "string", "maxLength": 512}, "recipient": _STR})
    # E2b: and a message goes ``to`` a number or to a ``recipient`` BSUID (cloud-api-facts §5.9, 2026): one of
    # the two is required, where the spec (which predates BSUIDs) requires ``to``.
    base["required"] = [r for r in base["required"] if r != "to"]
    base["if"], base["then"] = {"not": {"required": ["recipient"]}}, {"required": ["to"]}

    # E3: ``language.policy`` is optional ("deterministic" is the only value and the default); the spec's own
    # "Send Catalog Template Message" example omits it.
    schemas["LanguageObject"]["required"] = ["code"]

    # E4/E5: template button components: index per _INDEX; sub_type is case-insensitive (the spec's example
    # uses "CATALOG") and also takes copy_code, flow, ... which Meta documents.
    for name in ("TemplateComponent",):
        _props(schemas[name]).update(
            {"index": _INDEX, "sub_type": {"type": "string", "pattern": _BUTTON_SUBTYPES}}
        )
    button_branch = schemas["ButtonComponent"]["allOf"][1]
    _props(button_branch).update(
        {"index": _INDEX, "sub_type": {"type": "string", "pattern": _BUTTON_SUBTYPES}}
    )
    # E6: a copy_code or catalog button's parameter is coupon_code / action, not only payload / text.
    bpo = schemas["ButtonParameterObject"]
    bpo["properties"]["type"]["enum"] = [*bpo["properties"]["type"]["enum"], "coupon_code", "action"]
    bpo["discriminator"]["mapping"].update(
        {
            "coupon_code": REF + "SandboxButtonCouponCodeParameter",
            "action": REF + "SandboxButtonActionParameter",
        }
    )
    # E7: location header parameter.
    po = schemas["ParameterObject"]
    po["properties"]["type"]["enum"] = [*po["properties"]["type"]["enum"], "location"]
    po["discriminator"]["mapping"]["location"] = REF + "SandboxLocationParameter"

    # E8: latitude/longitude are numbers in Meta's docs and in every inbound location webhook (the spec says
    # string, with numeric examples); both are accepted. Inbound locations may also carry ``url``.
    loc = schemas["LocationMessage"]["allOf"][1]["properties"]["location"]["properties"]
    loc["latitude"] = loc["longitude"] = {"type": ["number", "string"]}
    loc["url"] = _STR

    # E9: CTA-URL and location-request interactive messages exist in Meta's docs but not in the enum.
    io = schemas["InteractiveObject"]
    io["properties"]["type"]["enum"] = [
        *io["properties"]["type"]["enum"],
        "cta_url",
        "location_request_message",
    ]
    schemas["ActionObject"]["oneOf"] += [
        {
            "required": ["name", "parameters"],
            "properties": {
                "name": {"enum": ["cta_url"]},
                "parameters": {
                    "type": "object",
                    "required": ["display_text", "url"],
                    "properties": {"display_text": {"type": "string", "maxLength": 20}, "url": _STR},
                },
            },
        },
        {"required": ["name"], "properties": {"name": {"enum": ["send_location"]}}},
    ]
    # E14: contact card ``type`` values: Meta uses CELL, MAIN, IPHONE, MOBILE... besides HOME/WORK (the spec's
    # own inbound "Contact Sharing Message" example has "MOBILE"); any string is accepted.
    for name in ("PhoneObject", "EmailObject", "AddressObject", "UrlObject"):
        schemas[name]["properties"]["type"] = _STR
    # E15: errors inside inbound messages are ``{code, title, message, error_data}`` (the spec's own
    # "Unsupported Message" example); the spec requires a ``type`` that Meta does not send.
    err = schemas["ErrorObject"]
    err["required"] = ["code"]
    err["properties"].update({"title": _STR, "error_data": {"type": "object"}, "href": _STR})
    # E16: business-scoped user ids (Meta, since April 2026; cloud-api-facts §5.9): inbound contacts carry
    # ``user_id`` (and ``parent_user_id``, ``profile.username`` for username users) and may omit ``wa_id``;
    # status values carry ``contacts`` and each status its ``recipient_user_id``. The v23.0 spec predates them.
    contact = schemas["ContactProfile"]
    _props(contact).update({"user_id": _STR, "parent_user_id": _STR})
    _props(contact["properties"]["profile"]).setdefault("username", _STR)
    _props(schemas["Statuses"]).update({"recipient_user_id": _STR, "biz_opaque_callback_data": _STR})
    # E17: a voice message the user listened to gets a ``played`` status (Meta's status webhook reference,
    # cloud-api-facts §5.5), missing from the spec's enum.
    status = schemas["Statuses"]["properties"]["status"]
    status["enum"] = [*status["enum"], "played"]
    _props(schemas["StatusMessageValue"])["contacts"] = {
        "type": "array",
        "items": {
            "type": "object",
            "anyOf": [{"required": ["wa_id"]}, {"required": ["user_id"]}],
            "properties": {"wa_id": _STR, "user_id": _STR, "parent_user_id": _STR},
        },
    }
    _incoming_copies(schemas)


def _incoming_copies(schemas):
    """E10: give inbound webhook messages their own copies of the message schemas with the inbound base."""
    incoming = schemas["IncomingMessage"]
    mapping = incoming["discriminator"]["mapping"]
    copies = {}
    for key, target in list(mapping.items()):
        name = target.rsplit("/", 1)[-1]
        if name not in copies:
            clone = copy.deepcopy(schemas[name])
            for branch in clone.get("allOf", []):
                if branch.get("$ref") == REF + "BaseMessageProperties":
                    branch["$ref"] = REF + "SandboxIncomingBase"
            if name == "StickerMessage":
                clone["allOf"][1]["properties"]["sticker"] = {"$ref": REF + "SandboxIncomingSticker"}
            schemas[name + "__in"] = clone
            copies[name] = name + "__in"
        mapping[key] = REF + copies[name]
    incoming["oneOf"] = [{"$ref": REF + n} for n in dict.fromkeys(copies.values())]
    system = schemas["SystemMessage"]
    for branch in system.get("allOf", []):
        if branch.get("$ref") == REF + "BaseMessageProperties":
            branch["$ref"] = REF + "SandboxIncomingBase"


def _resolve(schemas, node):
    while "$ref" in node and node["$ref"].startswith(REF):
        node = schemas[node["$ref"][len(REF) :]]
    return node


def _collect_props(schemas, node, seen):
    node = _resolve(schemas, node)
    if id(node) in seen:
        return set()
    seen.add(id(node))
    names = set(node.get("properties", {}))
    for sub in node.get("allOf", []):
        names |= _collect_props(schemas, sub, seen)
    return names


def merge_allof_closed(schemas):
    """G2 (see module docstring)."""

    def visit(node):
        if isinstance(node, dict):
            branches = node.get("allOf")
            if isinstance(branches, list):
                closed = [
                    b for b in branches if isinstance(b, dict) and b.get("additionalProperties") is False
                ]
                if closed:
                    names = set()
                    for b in branches:
                        names |= _collect_props(schemas, b, set())
                    for b in closed:
                        props = _props(b)
                        for n in names - set(props):
                            props[n] = True
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    visit(schemas)


def _dispatch(prop, mapping):
    return [
        {"if": {"required": [prop], "properties": {prop: {"const": key}}}, "then": {"$ref": target}}
        for key, target in mapping.items()
    ]


def convert_discriminators(schemas):
    """G1 (see module docstring)."""
    for name in list(schemas):
        node = schemas[name]
        disc = node.get("discriminator") if isinstance(node, dict) else None
        if not disc or "mapping" not in disc:
            continue
        prop, mapping = disc["propertyName"], disc["mapping"]
        if "oneOf" in node:
            new = {k: v for k, v in node.items() if k not in ("discriminator", "oneOf")}
            new["required"] = sorted({*new.get("required", []), prop})
            _props(new)[prop] = {"enum": list(mapping)}
            new["allOf"] = [*new.get("allOf", []), *_dispatch(prop, mapping)]
            schemas[name] = new
        else:
            # Base-class style: the mapped schemas allOf-reference this one; point them at a copy without
            # the discriminator so the dispatch does not recurse.
            base_name = name + "__base"
            schemas[base_name] = {k: v for k, v in node.items() if k != "discriminator"}
            for target in mapping.values():
                target_schema = schemas[target.rsplit("/", 1)[-1]]
                for branch in target_schema.get("allOf", []):
                    if branch.get("$ref") == REF + name:
                        branch["$ref"] = REF + base_name
            schemas[name] = {"allOf": [{"$ref": REF + base_name}, *_dispatch(prop, mapping)]}
    # Nested (anonymous) discriminators, e.g. InteractiveMessageReply's ``interactive``.
    _nested_discriminators(schemas)


def _nested_discriminators(node):
    if isinstance(node, dict):
        disc = node.pop("discriminator", None)
        if disc and "mapping" in disc and "oneOf" not in node:
            node["allOf"] = [*node.get("allOf", []), *_dispatch(disc["propertyName"], disc["mapping"])]
        for v in node.values():
            _nested_discriminators(v)
    elif isinstance(node, list):
        for v in node:
            _nested_discriminators(v)


def build_schemas(document):
    schemas = copy.deepcopy(document["components"]["schemas"])
    apply_exceptions(schemas)
    merge_allof_closed(schemas)
    convert_discriminators(schemas)
    return schemas
