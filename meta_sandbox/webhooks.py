"""Webhook payloads, signatures and the background delivery worker."""

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.request

_logger = logging.getLogger(__name__)

ERROR_TITLES = {
    131000: "Something went wrong",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "User has stopped marketing messages",
    131051: "Unsupported message type",
    131053: "Media upload error",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    130472: "User's number is part of an experiment",
    132001: "Template name does not exist in the translation",
    132015: "Template is Paused",
    132016: "Template is Disabled",
}
ERROR_DETAILS = {
    131026: "Message Undeliverable.",
    131047: "Message failed to send because more than 24 hours have passed since the customer last replied to "
    "this number.",
}


def sign(body: bytes, app_secret: str) -> str:
    """Value of the ``X-Hub-Signature-256`` header for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def status_error(code, title=None, details=None):
    title = title or ERROR_TITLES.get(code, "Error")
    return {
        "code": int(code),
        "title": title,
        "message": title,
        "error_data": {"details": details or ERROR_DETAILS.get(code, title)},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }


def envelope(waba_id, field, value, with_time=False):
    entry = {"id": waba_id, "changes": [{"value": value, "field": field}]}
    if with_time:
        entry["time"] = int(time.time())
    return {"object": "whatsapp_business_account", "entry": [entry]}


def metadata(account):
    return {"display_phone_number": account.display_digits, "phone_number_id": account.phone_number_id}


class WebhookWorker:
    """Delivers webhooks in the background, in due-time order, and records each callback answer.

    ``partitions`` threads each own a heap; a key (e.g. the wamid) always maps to the same partition so the
    statuses of one message keep their order while different messages are delivered concurrently.
    """

    def __init__(self, sandbox, partitions=4, timeout=10.0):
        self.sandbox = sandbox
        self.timeout = timeout
        self.records = []  # what was delivered, in delivery order
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._heaps = [[] for _ in range(partitions)]
        self._pending = 0
        self._stopped = False
        self._threads = []
        for i in range(partitions):
            t = threading.Thread(target=self._run, args=(i,), name=f"meta-sandbox-webhooks-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def enqueue(self, payload, key="", delay=0.0, validate=True):
        """Queue ``payload`` (a dict) for delivery after ``delay`` seconds. Returns the queued record."""
        record = {
            "payload": payload,
            "field": payload["entry"][0]["changes"][0]["field"],
            "status": None,
            "due": time.time() + delay,  # when Meta emits it; "time" is when delivery started
        }
        if validate and self.sandbox.validate:
            from .spec import validate_webhook  # noqa: PLC0415

            record["schema_errors"] = validate_webhook(payload)
            if record["schema_errors"]:
                _logger.error("meta_sandbox: webhook does not validate: %s", record["schema_errors"])
        part = hash(key) % len(self._heaps) if key else next(self._seq) % len(self._heaps)
        with self._cond:
            self._pending += 1
            heapq.heappush(self._heaps[part], (time.monotonic() + delay, next(self._seq), record))
            self._cond.notify_all()
        return record

    def wait_idle(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def clear(self):
        with self._cond:
            for heap in self._heaps:
                self._pending -= len(heap)
                heap.clear()
            self.records.clear()
            self._cond.notify_all()

    def stop(self):
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=2)

    def _run(self, part):
        heap = self._heaps[part]
        while True:
            with self._cond:
                while not self._stopped:
                    if heap:
                        wait = heap[0][0] - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
                _due, _seq, record = heapq.heappop(heap)
            try:
                self._deliver(record)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def _deliver(self, record):
        url = self.sandbox.callback_url
        secret = self.sandbox.secret_for(record["payload"]["entry"][0]["id"])
        body = json.dumps(record["payload"], separators=(",", ":")).encode()
        record["body"] = body
        record["time"] = time.time()
        if not url:
            record["status"] = None
            record["error"] = "no callback configured"
        else:
            headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
            if secret:
                headers["X-Hub-Signature-256"] = sign(body, secret)
            record["signature"] = headers.get("X-Hub-Signature-256")
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - configured URL
                    record["status"] = resp.status
                    record["response"] = resp.read(4096).decode(errors="replace")
            except urllib.error.HTTPError as e:
                record["status"] = e.code
                record["response"] = e.read(4096).decode(errors="replace")
            except (OSError, ValueError) as e:
                record["status"] = None
                record["error"] = str(e)
            record["elapsed"] = time.perf_counter() - started  # the callback's answer time
        with self._cond:
            self.records.append(record)
