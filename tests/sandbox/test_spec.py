"""The spec validators: Meta's own examples pass (except documented bad ones), broken payloads fail, and the
compiled fast path agrees with jsonschema."""

import copy

import pytest

from meta_sandbox import spec
from meta_sandbox.spec import load_document, validate_request, validate_webhook

MESSAGES = "/{Version}/{Phone-Number-ID}/messages"
# Examples of the spec that are wrong or out of the sandbox's scope, with the reason.
KNOWN_BAD_REQUESTS = {
    "Send Multi-Product Message": "placeholder '<HEADER_TYPE>' as header type",
    "Send Order Details Message": "order_details (payments) interactive type is not in the spec's enum",
    "Send Order Status Message": "order_status interactive type is not in the spec's enum",
    "Send Reply to List Message": "the example has no 'text' object for its text type",
    "Send Sample Issue Resolution Template": "booleans as text parameters",
}
KNOWN_BAD_WEBHOOKS = {
    "Group Create Message": "group webhooks are out of scope (example has string timestamps vs integer schema)",
    "Group Settings Update": "group webhooks are out of scope",
    "Group Remove Participants": "the example's field 'group_participants_update' is not in the enum",
}


def _examples(path, method="post"):
    op = load_document()["paths"][path][method]
    return op["requestBody"]["content"]["application/json"]["examples"]


def test_spec_request_examples():
    for name, example in _examples(MESSAGES).items():
        errors = validate_request("POST", MESSAGES, example["value"])
        if name in KNOWN_BAD_REQUESTS:
            assert errors, name
        else:
            assert errors == [], (name, errors)


def test_spec_webhook_examples():
    for name, example in _examples("/whatsapp/webhooks").items():
        errors = validate_webhook(example["value"])
        assert bool(errors) == (name in KNOWN_BAD_WEBHOOKS), (name, errors)


def _mutations(body):
    """Broken variants of a valid message body."""
    yield {k: v for k, v in body.items() if k != "to"}
    yield {**body, "to": 33612345678}
    yield {**body, "unexpected": 1} if body.get("type") != "template" else {**body, "template": {}}
    typ = body.get("type", "text")
    if isinstance(body.get(typ), dict):
        yield (
            {**body, typ: {**body[typ], "zzz": 1}}
            if typ in ("text", "location", "reaction")
            else {**body, typ: []}
        )
    yield {**body, "type": "nonsense"}


def test_fast_path_agrees_with_jsonschema():
    checked = 0
    for example in _examples(MESSAGES).values():
        body = example["value"]
        for candidate in [body, *_mutations(copy.deepcopy(body))]:
            candidate = candidate if "type" in candidate else {**candidate, "type": "text"}
            fast = spec._fast("Message")(candidate)
            slow = not list(spec._validator("Message").iter_errors(candidate))
            assert fast == slow, candidate
            checked += 1
    for example in _examples("/whatsapp/webhooks").values():
        body = example["value"]
        broken = copy.deepcopy(body)
        broken["entry"][0]["changes"][0]["value"].pop("metadata", None)
        for candidate in (body, broken, {"object": "x"}):
            assert spec._fast("WebhookPayload")(candidate) == (
                not list(spec._validator("WebhookPayload").iter_errors(candidate))
            )
            checked += 1
    assert checked > 200


@pytest.mark.parametrize(
    "body, needle",
    [
        (
            {"messaging_product": "whatsapp", "to": "1", "type": "template", "template": {"name": "x"}},
            "'language' is a required property",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": "1",
                "type": "template",
                "template": {"name": "x", "language": {"code": "en"}, "components": [{"type": "footer"}]},
            },
            "template.components[0]",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": "1",
                "type": "template",
                "template": {
                    "name": "x",
                    "language": {"code": "en"},
                    "components": [
                        {
                            "type": "button",
                            "sub_type": "url",
                            "index": "12",
                            "parameters": [{"type": "text", "text": "a"}],
                        }
                    ],
                },
            },
            "index",
        ),
        ({"messaging_product": "whatsapp", "to": "1", "type": "text", "text": {"body": 5}}, "text.body"),
        ({"messaging_product": "whatsapp", "status": "read"}, "message_id"),
        ([], "JSON object"),
    ],
)
def test_invalid_requests_name_the_problem(body, needle):
    errors = validate_request("POST", MESSAGES, body)
    assert errors and any(needle in e for e in errors), errors


def test_template_send_variants_are_valid():
    body = {
        "messaging_product": "whatsapp",
        "to": "33612345678",
        "type": "template",
        "biz_opaque_callback_data": "x",
        "template": {
            "name": "t",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "header",
                    "parameters": [
                        {
                            "type": "location",
                            "location": {"latitude": 1.0, "longitude": 2.0, "name": "n", "address": "a"},
                        }
                    ],
                },
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ana", "parameter_name": "name"},
                        {
                            "type": "currency",
                            "currency": {"fallback_value": "$1", "code": "USD", "amount_1000": 1000},
                        },
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": 0,
                    "parameters": [{"type": "text", "text": "abc"}],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "1",
                    "parameters": [{"type": "payload", "payload": "p"}],
                },
                {
                    "type": "button",
                    "sub_type": "copy_code",
                    "index": "2",
                    "parameters": [{"type": "coupon_code", "coupon_code": "SAVE20"}],
                },
            ],
        },
    }
    assert validate_request("POST", MESSAGES, body) == []
    doc_header = {
        **body,
        "template": {
            **body["template"],
            "components": [
                {
                    "type": "header",
                    "parameters": [{"type": "document", "document": {"id": "1", "filename": "q.pdf"}}],
                }
            ],
        },
    }
    assert validate_request("POST", MESSAGES, doc_header) == []


def test_template_creation_schema_and_unknown_operation():
    path = "/{Version}/{WABA-ID}/message_templates"
    assert (
        validate_request(
            "POST",
            path,
            {
                "name": "a",
                "language": "en",
                "category": "UTILITY",
                "components": [{"type": "BODY", "text": "x"}],
            },
        )
        == []
    )
    assert validate_request("POST", path, {"name": 5}) != []
    with pytest.raises(KeyError):
        validate_request("POST", "/{Version}/nothing", {})


@pytest.mark.parametrize(
    "field, value, valid",
    [
        (
            "message_template_status_update",
            {
                "event": "APPROVED",
                "message_template_id": 1,
                "message_template_name": "a",
                "message_template_language": "en",
                "reason": "NONE",
            },
            True,
        ),
        (
            "message_template_status_update",
            {
                "event": "MAYBE",
                "message_template_id": 1,
                "message_template_name": "a",
                "message_template_language": "en",
                "reason": None,
            },
            False,
        ),
        (
            "message_template_quality_update",
            {
                "previous_quality_score": "GREEN",
                "new_quality_score": "RED",
                "message_template_id": 1,
                "message_template_name": "a",
                "message_template_language": "en",
            },
            True,
        ),
        (
            "account_update",
            {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SPAM"}},
            True,
        ),
        ("account_update", {}, False),
        ("no_such_field", {}, False),
    ],
)
def test_non_message_webhook_fields(field, value, valid):
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "time": 1, "changes": [{"field": field, "value": value}]}],
    }
    assert (validate_webhook(payload) == []) is valid


def test_send_webhook_validates(sb, receiver):
    sb.send_webhook(
        "account_update",
        {
            "event": "ACCOUNT_RESTRICTION",
            "restriction_info": [{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": 1}],
        },
    )
    sb.send_webhook("account_update", {"nothing": 1})
    sb.wait_idle(5)
    good, bad = sb.webhooks[-2:]
    assert good["schema_errors"] == [] and bad["schema_errors"]
    assert receiver.payloads("account_update")[0]["entry"][0]["time"]
