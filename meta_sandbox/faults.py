"""Fault and latency injection per endpoint group.

Endpoint groups: ``"messages"`` (POST /{pnid}/messages), ``"media"`` (upload, metadata, download, delete),
``"templates"`` (list, create, get, edit, delete), ``"uploads"`` (resumable upload), ``"phone"`` (phone
number, WABA, phone_numbers, subscribed_apps, profile, register), ``"*"`` (all of them).
"""

import random
import threading
from dataclasses import dataclass

KINDS = ("delay", "5xx", "timeout", "429", "131047", "190", "error")
GROUPS = ("messages", "media", "templates", "uploads", "phone", "*")


@dataclass
class Fault:
    kind: str
    count: int = None  # how many requests it hits; None = all
    delay: object = 0.0  # seconds, or (min, max) for a random delay
    http_status: int = None
    code: int = None
    subcode: int = None
    message: str = None
    drop: bool = False  # timeout: close the connection without answering (after ``delay``)

    def pick_delay(self):
        if isinstance(self.delay, (list, tuple)):
            return random.uniform(float(self.delay[0]), float(self.delay[1]))  # noqa: S311 - not crypto
        return float(self.delay or 0.0)


class FaultTable:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults = {}  # group -> [Fault]

    def set(self, group, fault):
        if group not in GROUPS:
            raise ValueError(f"unknown endpoint group {group!r}; use one of {', '.join(GROUPS)}")
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; use one of {', '.join(KINDS)}")
        if fault.kind == "timeout" and not fault.delay and not fault.drop:
            fault.delay = 30.0
        with self._lock:
            self._faults.setdefault(group, []).append(fault)

    def clear(self, group=None):
        with self._lock:
            if group is None:
                self._faults.clear()
            else:
                self._faults.pop(group, None)

    def take(self, group):
        """Return the faults that hit this request (consuming their counts): delays first, then one error."""
        hits = []
        with self._lock:
            for key in (group, "*"):
                for fault in list(self._faults.get(key, [])):
                    if fault.count is not None:
                        if fault.count <= 0:
                            continue
                        fault.count -= 1
                    hits.append(fault)
                    if fault.kind != "delay":
                        break
                if hits and hits[-1].kind != "delay":
                    break
        return hits

    def describe(self):
        with self._lock:
            return {
                group: [
                    {
                        "kind": f.kind,
                        "count": f.count,
                        "delay": f.delay,
                        "http_status": f.http_status,
                        "code": f.code,
                    }
                    for f in faults
                ]
                for group, faults in self._faults.items()
            }


def fault_error(fault):
    """(http_status, code, subcode, message, type) of an error-kind fault."""
    kind = fault.kind
    if kind == "5xx":
        status = fault.http_status or 500
        code = fault.code or (2 if status == 503 else 131000)
        msg = fault.message or (
            "Service temporarily unavailable"
            if code == 2
            else "Something went wrong. Please try again later."
        )
        return status, code, fault.subcode, msg, "OAuthException"
    if kind == "429":
        return (
            fault.http_status or 429,
            fault.code or 130429,
            fault.subcode,
            fault.message or "(#130429) Rate limit hit",
            "OAuthException",
        )
    if kind == "131047":
        return (
            fault.http_status or 400,
            131047,
            fault.subcode,
            fault.message or "(#131047) Re-engagement message",
            "OAuthException",
        )
    if kind == "190":
        return (
            fault.http_status or 401,
            190,
            fault.subcode if fault.subcode is not None else 463,
            fault.message or "Error validating access token: Session has expired.",
            "OAuthException",
        )
    # "error": anything the caller wants
    return (
        fault.http_status or 400,
        fault.code or 100,
        fault.subcode,
        fault.message or "Invalid parameter",
        "OAuthException",
    )
