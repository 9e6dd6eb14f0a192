"""Webhook ``changes[].field`` values beyond ``messages`` (exception E12).

The spec's ``WebhookPayload`` only describes ``messages`` and group fields, but Meta also sends template,
account and phone-number fields (Meta's webhook reference pages, summarised in cloud-api-facts.md §5.6).
These value schemas are written by the sandbox from that reference; the ``messages`` field keeps the spec's
own schema (with the corrections of ``patches.py``).
"""

_STR = {"type": "string"}
_INT = {"type": "integer"}
_TEMPLATE_REF = {
    "message_template_id": _INT,
    "message_template_name": _STR,
    "message_template_language": _STR,
}
_TEMPLATE_REQUIRED = ["message_template_id", "message_template_name", "message_template_language"]
TEMPLATE_EVENTS = [
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
    "FLAGGED",
    "REINSTATED",
    "PENDING_DELETION",
    "DELETED",
    "LIMIT_EXCEEDED",
    "ARCHIVED",
    "UNARCHIVED",
    "LOCKED",
    "UNLOCKED",
]
QUALITY = {"enum": ["GREEN", "YELLOW", "RED", "UNKNOWN"]}
CATEGORY = {"enum": ["MARKETING", "UTILITY", "AUTHENTICATION"]}

FIELD_SCHEMAS = {
    "message_template_status_update": {
        "type": "object",
        "required": ["event", *_TEMPLATE_REQUIRED, "reason"],
        "properties": {
            "event": {"enum": TEMPLATE_EVENTS},
            **_TEMPLATE_REF,
            "reason": {"type": ["string", "null"]},
            "message_template_category": CATEGORY,
            "disable_info": {
                "type": "object",
                "required": ["disable_date"],
                "properties": {"disable_date": {"type": ["string", "integer"]}},
            },
            "other_info": {
                "type": "object",
                "required": ["title", "description"],
                "properties": {"title": _STR, "description": _STR},
            },
            "rejection_info": {"type": "object"},
        },
    },
    "message_template_quality_update": {
        "type": "object",
        "required": ["previous_quality_score", "new_quality_score", *_TEMPLATE_REQUIRED],
        "properties": {"previous_quality_score": QUALITY, "new_quality_score": QUALITY, **_TEMPLATE_REF},
    },
    "message_template_components_update": {
        "type": "object",
        "required": _TEMPLATE_REQUIRED,
        "properties": {**_TEMPLATE_REF, "message_template_element": _STR, "message_template_title": _STR},
    },
    "template_category_update": {
        "type": "object",
        "required": [*_TEMPLATE_REQUIRED, "new_category"],
        "properties": {
            **_TEMPLATE_REF,
            "new_category": CATEGORY,
            "previous_category": CATEGORY,
            "correct_category": CATEGORY,
            "category_update_timestamp": {"type": ["integer", "string"]},
        },
    },
    "account_update": {
        "type": "object",
        "required": ["event"],
        "properties": {
            "event": _STR,
            "phone_number": _STR,
            "violation_info": {"type": "object"},
            "restriction_info": {"type": "array", "items": {"type": "object"}},
            "ban_info": {"type": "object"},
        },
    },
    "account_review_update": {"type": "object", "required": ["decision"], "properties": {"decision": _STR}},
    "account_alerts": {"type": "object"},
    "business_capability_update": {"type": "object"},
    "phone_number_quality_update": {
        "type": "object",
        "required": ["display_phone_number", "event"],
        "properties": {"display_phone_number": _STR, "event": _STR, "current_limit": _STR},
    },
    "phone_number_name_update": {
        "type": "object",
        "required": ["display_phone_number", "decision"],
        "properties": {"display_phone_number": _STR, "decision": _STR, "requested_verified_name": _STR},
    },
    "security": {"type": "object"},
    "user_preferences": {"type": "object"},
}


def extend_change_schema(schemas):
    """Make ``Change`` dispatch on ``field``: spec fields keep the spec schema, others use FIELD_SCHEMAS."""
    original = schemas["Change"]
    spec_fields = list(original["properties"]["field"]["enum"])
    schemas["SandboxSpecChange"] = original
    branches = [
        {
            "if": {"properties": {"field": {"enum": spec_fields}}},
            "then": {"$ref": "#/components/schemas/SandboxSpecChange"},
        }
    ]
    for field, schema in FIELD_SCHEMAS.items():
        schemas["SandboxWebhook_" + field] = schema
        branches.append(
            {
                "if": {"required": ["field"], "properties": {"field": {"const": field}}},
                "then": {"properties": {"value": {"$ref": "#/components/schemas/SandboxWebhook_" + field}}},
            }
        )
    schemas["Change"] = {
        "type": "object",
        "required": ["value", "field"],
        "properties": {"field": {"enum": [*spec_fields, *FIELD_SCHEMAS]}, "value": {"type": "object"}},
        "allOf": branches,
    }
