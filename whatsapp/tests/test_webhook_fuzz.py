"""The webhook under hostile input: thousands of mutated payloads, each correctly signed.

A signed payload comes from Meta (or whoever holds the app secret): whatever it contains, the webhook must
answer 200 without a traceback and keep it (cleaned, or with its unparseable parts kept for reprocessing),
or Meta retries it for days and the event is lost. The corpus is Meta's own webhook examples from the
official OpenAPI spec, mutated with a fixed seed (every run posts the same bodies; a failure names the seed
index to replay).
"""

import copy
import json
import logging
import random
from contextlib import contextmanager

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.whatsapp_webhook_event import canonical_json, dedupe_key
from ..tools import webhook_envelope
from .common import SANDBOX_PHONE_UID, SANDBOX_WABA_UID, WhatsAppHttpCase, import_sandbox

SEED = 20260302
PAYLOADS = 2000
# handlers failing on garbage leave their event "failed" with the traceback (kept for reprocessing): quiet
HANDLER_LOGGERS = (
    "odoo.addons.whatsapp.models",
    "odoo.addons.whatsapp.tools",
    "odoo.addons.mail",
    "odoo.addons.phone_validation",
)
MAX_BODY = 3 * 1024 * 1024  # what Meta sends at most
DEEP_MARK = "__deep_nesting__"
NASTY_STRINGS = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\ud83d",  # half of an emoji
    "\uffff",
    "\u202e\u0644\u0627",
    "😀" * 50,
    "%s %(x)s {0} ${x}",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "",
    " ",
    "9" * 400,
    "x" * 70000,
]


class Huge:
    """A huge array, expanded only when the body is written (the mutations do not walk through it)."""

    def __init__(self, item, count):
        self.item, self.count = item, count

    def __deepcopy__(self, memo):
        return self

    def as_list(self):
        return [self.item] * self.count


def spec_examples():
    """Meta's webhook examples (``/whatsapp/webhooks`` POST), routed to the fixture account."""
    import_sandbox()
    from meta_sandbox.spec import load_document  # noqa: PLC0415 - located at run time

    operation = load_document()["paths"]["/whatsapp/webhooks"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    seeds = []
    for name, example in sorted(examples.items()):
        payload = copy.deepcopy(example["value"])
        for entry in payload.get("entry") or []:
            entry["id"] = SANDBOX_WABA_UID
            for change in entry.get("changes") or []:
                metadata = (change.get("value") or {}).get("metadata")
                if isinstance(metadata, dict):
                    metadata["phone_number_id"] = SANDBOX_PHONE_UID
        seeds.append((name, payload))
    return seeds


def _paths(node, path=()):
    """Every path of the JSON tree (the root included)."""
    yield path
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*path, index))


def _get(node, path):
    for key in path:
        node = node[key]
    return node


def _set(root, path, value):
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


def mutate(rng, payload):
    """One mutation of ``payload`` (a deep copy is changed and returned)."""
    root = copy.deepcopy(payload)
    path = rng.choice(list(_paths(root)))
    node = _get(root, path)
    kind = rng.randrange(14)
    if kind == 0 and isinstance(node, str):  # a nasty character inside the text
        cut = rng.randrange(len(node) + 1)
        return _set(root, path, node[:cut] + rng.choice(NASTY_STRINGS[:7]) + node[cut:])
    if kind == 1:  # any value replaced by a nasty string
        return _set(root, path, rng.choice(NASTY_STRINGS))
    if kind == 2:  # dict where a string (or anything) is expected
        return _set(root, path, {"id": node if not isinstance(node, dict | list) else "x", "\x00": [1]})
    if kind == 3 and isinstance(node, dict | list):  # string where a dict/list is expected
        return _set(root, path, json.dumps(node, default=Huge.as_list)[:50])
    if kind == 4:  # huge array (up to ~1 MB: Meta sends at most 3 MB)
        size = len(json.dumps(node, ensure_ascii=False, allow_nan=True, default=Huge.as_list)) + 1
        return _set(root, path, Huge(node, max(1, min(rng.choice((500, 3000, 20000)), 1_000_000 // size))))
    if kind == 5:  # scalars of the wrong type
        return _set(root, path, rng.choice([None, True, 0, -1, 2**70, 1.5e308, -0.0, [], {}]))
    if kind == 6 and isinstance(node, dict) and node:  # a key removed
        del node[rng.choice(list(node))]
        return root
    if kind == 7 and isinstance(node, dict):  # unexpected keys, nasty keys
        node[rng.choice(["\x00", "\ud800", "__proto__", "field", "", "x" * 300])] = rng.choice(NASTY_STRINGS)
        return root
    if kind == 8:  # deep nesting, spliced into the JSON text by fuzzed_bodies (deepcopy would recurse)
        return _set(root, path, f"{DEEP_MARK}{rng.choice((50, 900, 5000))}")
    if kind == 9 and isinstance(node, list) and node:  # the items repeated, or emptied
        return _set(root, path, node * rng.choice((0, 2, 20)))
    if kind == 10 and isinstance(node, str) and node.isdigit():  # ids and timestamps out of range
        return _set(root, path, rng.choice(["-1", "0" * 30, "99999999999999999999", "1e9", "NaN"]))
    if kind == 11 and isinstance(node, dict):  # dict turned into a list of its items
        return _set(root, path, list(node.items()))
    if kind == 12 and isinstance(node, list):  # list turned into a dict
        return _set(root, path, {str(i): item for i, item in enumerate(node)})
    return _set(root, path, rng.choice(NASTY_STRINGS))


def fuzzed_bodies(seeds, count, seed=SEED):
    """``count`` bodies: JSON mutations of the seeds, and a few byte-level ones (invalid UTF-8, cut JSON)."""
    rng = random.Random(seed)
    bodies = []
    index = 0
    while len(bodies) < count:
        index += 1
        _name, payload = seeds[index % len(seeds)]
        for _round in range(rng.choice((1, 1, 2, 3))):
            payload = mutate(rng, payload)
        body = json.dumps(payload, ensure_ascii=rng.random() < 0.7, default=Huge.as_list).encode(
            "utf-8", "surrogatepass"
        )
        while (mark := body.find(DEEP_MARK.encode())) != -1:
            end = body.index(b'"', mark)
            depth = int(body[mark + len(DEEP_MARK) : end])
            opening, closing = (b"[", b"]") if depth % 2 else (b'{"a":', b"}")
            body = body[: mark - 1] + opening * depth + b"1" + closing * depth + body[end + 1 :]
        byte_kind = rng.randrange(20)
        if byte_kind == 0:
            body = body[: rng.randrange(1, len(body))]  # cut (not empty: url_open would GET)
        elif byte_kind == 1:
            cut = rng.randrange(len(body))
            body = body[:cut] + rng.choice([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80"]) + body[cut:]
        if len(body) <= MAX_BODY:
            bodies.append(body)
    return bodies


@contextmanager
def capture_errors(logger_name):
    """Collect the ERROR records of ``logger_name`` (and its children), printing nothing."""
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.ERROR:
                records.append(record)

    logger = logging.getLogger(logger_name)
    handler = Collect()
    saved = logger.handlers[:], logger.propagate, logger.level
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.handlers, logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])


@tagged("post_install", "-at_install", "whatsapp")
class TestWebhookFuzz(WhatsAppHttpCase):
    def _missing(self, body, accounts):
        """The inbox rows ``body`` should have left (computed by the webhook's own routing) that are not there."""
        Event = self.env["whatsapp.webhook.event"]
        envelope = webhook_envelope.parse(body)
        signers = {self.account.id}
        changes, unrouted = Event._route(envelope.changes, accounts, signers)
        rows = [(*change, None, None) for change in changes] + Event._rejects(
            body, envelope.problems, unrouted, signers
        )
        keys = {
            dedupe_key(account_id, field, canonical_json(value), entry_time)
            for account_id, field, value, _uid, entry_time, _state, _error in rows
        }
        self.env.cr.execute(
            "SELECT dedupe_key FROM whatsapp_webhook_event WHERE dedupe_key = ANY(%s)", [list(keys)]
        )
        return len(keys - {row[0] for row in self.env.cr.fetchall()})

    def test_fuzzed_signed_payloads(self):
        """≥ 2,000 mutated, correctly signed payloads: no 5xx, no traceback, every one stored."""
        bodies = fuzzed_bodies(spec_examples(), PAYLOADS)
        self.assertGreaterEqual(len(bodies), 2000)
        accounts = self.env["whatsapp.account"]._webhook_signing_accounts()
        problems = []
        with capture_errors("odoo.addons.whatsapp.controllers") as errors, mute_logger(*HANDLER_LOGGERS):
            for index, body in enumerate(bodies):
                response = self._post_webhook(body)
                if response.status_code != 200 or response.text != "OK":
                    problems.append((index, f"HTTP {response.status_code} {response.text[:80]!r}"))
                elif missing := self._missing(body, accounts):
                    problems.append((index, f"{missing} change(s) not stored"))
                if len(problems) > 20:
                    break
        self.assertFalse(problems, f"fuzzed payloads (index, problem), seed {SEED}: {problems}")
        self.assertFalse(errors, [record.getMessage() for record in errors][:5])
        events = self._events()
        self.assertGreater(len(events), PAYLOADS / 2)
        self.assertFalse(events.filtered(lambda e: e.state == "failed" and not e.error), "a failure says why")
