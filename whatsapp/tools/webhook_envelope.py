"""Meta's webhook bodies made safe to store: decoding, cleaning and the envelope's structure (no Odoo).

A body reaches :func:`parse` only once its signature is verified: it comes from Meta, so nothing in it may be
lost, whatever it contains. :func:`parse` never raises:

* the well-formed changes come out **cleaned**: NUL characters removed (PostgreSQL text cannot hold them),
  lone UTF-16 surrogates (``"\\ud800"``, valid JSON, not encodable in UTF-8) and non-finite numbers replaced,
  so that they can be stored and handled;
* everything else (a body that is not JSON or not a ``whatsapp_business_account`` envelope, an entry that is
  not an object, a change without a text ``field`` or an object ``value``, nesting deeper than any Meta
  payload) is reported as a **problem**; the caller keeps the whole body with them for reprocessing.
"""

import json
import math
from typing import NamedTuple

OBJECT = "whatsapp_business_account"
#: Meta's payloads are less than 10 levels deep; deeper values are refused (a change), not recursed into
MAX_DEPTH = 64
REPLACEMENT = "\ufffd"


class Change(NamedTuple):
    entry_uid: str
    entry_time: object  # whatever Meta sent (part of the change's identity), cleaned
    field: str
    value: dict


class Envelope(NamedTuple):
    changes: list  # of Change
    problems: list  # of str, what could not be parsed (empty for a well-formed body)


class TooDeep(ValueError):
    pass


def clean_text(text):
    """``text`` without NUL characters and with each lone surrogate replaced by U+FFFD.

    ``json.loads`` joins a surrogate pair written as two escapes (``"\\ud83d\\ude00"``) into one character:
    a surrogate left in its result is alone.
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join(REPLACEMENT if "\ud800" <= char <= "\udfff" else char for char in text)
    return text


def clean(value, depth=0):
    """A copy of the decoded JSON ``value`` that PostgreSQL and the handlers can take (see module doc).

    :raise TooDeep: when ``value`` is nested deeper than :data:`MAX_DEPTH`
    """
    if depth > MAX_DEPTH:
        raise TooDeep("nested deeper than %s levels" % MAX_DEPTH)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): clean(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [clean(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def decode(body):
    """The decoded JSON document of ``body`` (bytes), or raise ValueError saying why it is not JSON."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("nested too deeply to be decoded") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        raise ValueError("not JSON (%s)" % clean_text(str(exc))[:200]) from None


def parse(body):
    """The changes of a (signed) webhook body, cleaned, and what could not be parsed.

    :param bytes body: the raw request body
    :rtype: Envelope
    """
    try:
        data = decode(body)
    except ValueError as exc:
        return Envelope([], [str(exc)])
    if not isinstance(data, dict) or data.get("object") != OBJECT:
        return Envelope([], ["not a %s envelope" % OBJECT])
    entries = data.get("entry")
    if not isinstance(entries, list):
        return Envelope([], ["no entry list"])
    changes, problems = [], []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or isinstance(entry.get("id"), bool):
            problems.append("entry %s: not an object with an id" % index)
            continue
        entry_id = entry.get("id")
        if not isinstance(entry_id, str | int):
            problems.append("entry %s: no id" % index)
            continue
        entry_changes = entry.get("changes")
        if not isinstance(entry_changes, list):
            problems.append("entry %s: no changes list" % index)
            continue
        try:
            entry_time = clean(entry.get("time"))
        except TooDeep:
            problems.append("entry %s: time nested too deeply" % index)
            continue
        for position, change in enumerate(entry_changes):
            where = "entry %s, change %s" % (index, position)
            if not isinstance(change, dict):
                problems.append("%s: not an object" % where)
                continue
            field, value = change.get("field"), change.get("value")
            if not isinstance(field, str) or not isinstance(value, dict):
                problems.append("%s: no text field or no object value" % where)
                continue
            try:
                value = clean(value)
            except TooDeep as exc:
                problems.append("%s: %s" % (where, exc))
                continue
            changes.append(Change(clean_text(str(entry_id)), entry_time, clean_text(field), value))
    return Envelope(changes, problems)


def body_text(body):
    """The raw ``body`` as storable text, kept for reprocessing: bytes that are not UTF-8 and NUL characters
    are written as ``\\xNN`` escapes (nothing is lost, two different bodies stay different)."""
    return body.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


def phone_number_id(value):
    """The phone number a ``messages``-like change is about (``value.metadata.phone_number_id``), or None."""
    metadata = value.get("metadata")
    pnid = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    return str(pnid) if isinstance(pnid, str | int) and not isinstance(pnid, bool) else None
