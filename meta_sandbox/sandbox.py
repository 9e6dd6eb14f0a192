"""The ``Sandbox`` object: Python API over the state, the HTTP server and the webhook worker."""

import random
import secrets
import threading
import time

from . import control, emulator, graph
from .faults import Fault, FaultTable
from .server import SandboxHTTPServer
from .state import Account, Media, State, Template, new_wamid
from .webhooks import WebhookWorker, envelope, metadata, status_error

STATUS_EVENTS = (
    "APPROVED",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "PENDING",
    "FLAGGED",
    "REINSTATED",
    "IN_APPEAL",
    "PENDING_DELETION",
    "DELETED",
    "LIMIT_EXCEEDED",
    "ARCHIVED",
    "UNARCHIVED",
    "LOCKED",
    "UNLOCKED",
)


def _pick_delay(delay):
    """``delay`` seconds, or a random time in ``[min, max]``."""
    if isinstance(delay, list):
        return random.uniform(*delay)  # noqa: S311 - not crypto
    return delay


class Sandbox:
    """A local stand-in for the WhatsApp Cloud API (see package docstring for the full API)."""

    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        *,
        validate=True,
        auto_approve=False,
        auto_approve_delay=0.0,
        enforce_window=True,
        clock=time.time,
        webhook_workers=4,
        webhook_timeout=10.0,
        template_limit=250,
        control_token=None,
        allowed_hosts=(),
    ):
        self.host, self.port = host, port
        self.validate = validate
        self.auto_approve = auto_approve
        self.auto_approve_delay = auto_approve_delay
        self.enforce_window = enforce_window
        self.template_limit = template_limit
        # The control API's token (see control.refuse): random unless given; tests read ``sb.control_token``.
        self.control_token = control_token or secrets.token_urlsafe(24)
        self._extra_hosts = tuple(h.lower() for h in allowed_hosts)
        self.state = State(clock=clock)
        self.faults = FaultTable()
        self.callback_url = None
        self._callback_secret = None
        self._flows = {None: {"statuses": ["sent", "delivered", "read"], "delay": 0.0, "error": None}}
        self._stop_event = threading.Event()
        self._server = None
        self._thread = None
        self.running = False
        self._worker = WebhookWorker(self, partitions=webhook_workers, timeout=webhook_timeout)
        self.url = None

    # lifecycle ----------------------------------------------------------------------------------------
    def start(self):
        if self.validate:
            from .spec import warm_up  # noqa: PLC0415 - compile validators before the first request

            warm_up()
        self._server = SandboxHTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._stop_event.clear()
        self.running = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="meta-sandbox-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        self.running = False
        self._stop_event.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._worker.stop()

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc):
        self.stop()

    def sleep(self, seconds):
        """Sleep, but wake up when the sandbox stops (so ``stop()`` never hangs on a simulated timeout)."""
        self._stop_event.wait(seconds)

    @property
    def allowed_hosts(self):
        """Host names the control API and the emulator answer to (see ``control.refuse``)."""
        return tuple(dict.fromkeys((*control.LOOPBACK, self.host.lower(), *self._extra_hosts)))

    def dispatch(self, req):
        if req.parts and req.parts[0] in ("_sandbox", "emulator"):
            resp = control.refuse(self, req)
            if resp is None:
                resp = emulator.handle(self, req)  # the emulator's page and endpoints; None for the others
            if resp is None:
                resp = control.handle(self, req)
            resp.headers = {**control.GUARD_HEADERS, **resp.headers}
            return resp
        return graph.handle(self, req)

    # configuration ------------------------------------------------------------------------------------
    def add_account(self, phone_number_id, waba_id, app_id, token, app_secret, **fields):
        """Add (or replace) a phone number. ``fields``: display_phone_number, verified_name, quality_rating,
        throughput_level, name_status, code_verification_status, messaging_limit, platform_type, account_mode,
        latency (seconds added to every request on this account's nodes), extra (dict merged into GET /{pnid})."""
        acc = Account(str(phone_number_id), str(waba_id), str(app_id), token, app_secret, **fields)
        with self.state.lock:
            self.state.accounts[acc.phone_number_id] = acc
        return acc

    def update_account(self, phone_number_id, **fields):
        acc = self.state.accounts[str(phone_number_id)]
        for key, value in fields.items():
            if not hasattr(acc, key):
                raise AttributeError(key)
            setattr(acc, key, value)
        return acc

    def set_latency(self, phone_number_id, seconds):
        self.update_account(phone_number_id, latency=float(seconds))

    def set_webhook(self, callback_url, app_secret=None):
        """Where webhooks go (None disables delivery; they are still recorded). ``app_secret`` overrides the
        per-account app secret used for signing."""
        self.callback_url = callback_url
        self._callback_secret = app_secret

    def secret_for(self, waba_id):
        """App secret signing the webhooks of ``waba_id`` (``set_webhook(app_secret=...)`` wins)."""
        if self._callback_secret:
            return self._callback_secret
        acc = self.state.account_by_waba(waba_id)
        return acc.app_secret if acc else None

    def set_fault(self, endpoint, kind, count=None, delay=0.0, **kwargs):
        """Inject a fault. ``endpoint``: messages|media|templates|uploads|phone|*; ``kind``: delay|5xx|timeout|
        429|131047|190|error; ``count``: number of requests hit (None = all); ``delay``: seconds or (min, max);
        kwargs: http_status, code, subcode, message, drop (timeout: close the connection instead of answering).
        """
        self.faults.set(endpoint, Fault(kind=str(kind), count=count, delay=delay, **kwargs))

    def clear_faults(self, endpoint=None):
        self.faults.clear(endpoint)

    def set_status_flow(
        self,
        statuses=("sent", "delivered", "read"),
        delay=0.0,
        error_code=None,
        error_title=None,
        error_details=None,
        phone=None,
        reply_ratio=0.0,
        reply_text="Thank you! ({n})",
    ):
        """Statuses sent after each accepted message (``delay`` seconds apart). A ``"failed"`` status carries
        Meta's error object for ``error_code`` (default 131026). ``phone`` limits the flow to one recipient.

        ``delay`` may be ``[min, max]``: each status then comes a random time in that range after the previous
        one (their order is kept), as Meta spreads them. ``reply_ratio``: that fraction of the recipients (one
        message in ``1 / reply_ratio``, counted in order) answers after the last status, with ``reply_text``
        (``{n}`` is the reply's number, from 1) as a reply to the message (``context``)."""
        statuses = [str(s) for s in statuses]
        for s in statuses:
            if s not in ("sent", "delivered", "read", "failed", "played"):
                raise ValueError(f"unknown status {s!r}")
        if isinstance(delay, (list, tuple)):
            low, high = (float(d) for d in delay)
            if not 0 <= low <= high:
                raise ValueError("delay [min, max] needs 0 <= min <= max")
            delay = [low, high]
        else:
            delay = float(delay)
        reply_ratio = float(reply_ratio)
        if not 0 <= reply_ratio <= 1:
            raise ValueError("reply_ratio must be between 0 and 1")
        error = None
        if "failed" in statuses:
            error = status_error(error_code or 131026, error_title, error_details)
        key = "".join(c for c in phone if c.isdigit()) if phone else None
        self._flows[key] = {
            "statuses": statuses,
            "delay": delay,
            "error": error,
            "reply_ratio": reply_ratio,
            "reply_text": str(reply_text),
            "accepted": 0,
        }

    def add_template(
        self,
        waba_id,
        name,
        language="en_US",
        category="UTILITY",
        components=None,
        status="APPROVED",
        parameter_format="POSITIONAL",
        **fields,
    ):
        """Create a template directly (no webhook), e.g. as a test fixture."""
        components = components or [{"type": "BODY", "text": "Hello"}]
        with self.state.lock:
            tmpl = Template(
                id=self.state.next_id("9"),
                waba_id=str(waba_id),
                name=name,
                language=language,
                category=category,
                components=components,
                status=status,
                parameter_format=parameter_format,
                **{"quality_date": int(self.state.clock()), **fields},
            )
            self.state.templates[tmpl.id] = tmpl
        return tmpl

    def add_media(self, data, mime_type, filename="file", phone_number_id=None):
        """Store media (as if uploaded) and return the ``Media`` record; its ``id`` works with GET /{media-id}."""
        pnid = str(phone_number_id or next(iter(self.state.accounts)))
        item = Media(
            id=self.state.next_id("7"),
            data=bytes(data),
            mime_type=mime_type,
            filename=filename,
            phone_number_id=pnid,
        )
        with self.state.lock:
            self.state.media[item.id] = item
        return item

    def reset(self):
        """Forget messages, templates, media, requests, webhooks, faults and flows (accounts stay)."""
        self._worker.clear()
        self.state.reset()
        self.faults.clear()
        self._flows = {None: {"statuses": ["sent", "delivered", "read"], "delay": 0.0, "error": None}}

    # observation --------------------------------------------------------------------------------------
    @property
    def requests(self):
        return list(self.state.requests)

    @property
    def sent_messages(self):
        return list(self.state.sent_messages)

    @property
    def templates(self):
        return [{**t.to_graph(), "waba_id": t.waba_id} for t in self.state.templates.values()]

    @property
    def webhooks(self):
        return list(self._worker.records)

    def messages(self, phone=None):
        return self.state.conversation_list(phone)

    def wait_idle(self, timeout=10.0):
        """Wait until every queued webhook has been delivered. Returns False on timeout."""
        return self._worker.wait_idle(timeout)

    # webhooks -----------------------------------------------------------------------------------------
    def send_webhook(self, field, value, waba_id=None, delay=0.0, key=""):
        """Send any change (``field``/``value``) for ``waba_id`` (default: first account's WABA)."""
        waba_id = str(waba_id or next(iter(self.state.accounts.values())).waba_id)
        payload = envelope(waba_id, field, value, with_time=field != "messages")
        return self._worker.enqueue(payload, key=key or waba_id, delay=delay)

    def inbound(self, phone_number_id, message, contact=None, name=None):
        """Send an inbound customer message (a Meta ``messages[]`` object; ``from``/``id``/``timestamp`` are
        filled in when missing). Returns the wamid.

        As Meta does since 2026 (cloud-api-facts §5.9), the contact carries the customer's business-scoped user
        id (``user_id``) and the message its ``from_user_id``. A username user who hides their number is sent
        with ``contact={"user_id": ..., "profile": {"name": ..., "username": ...}}`` and no ``wa_id``/``from``:
        the conversation is then keyed by that BSUID.
        """
        acc = self.state.accounts[str(phone_number_id)]
        message = dict(message)
        now = self.state.clock()
        message.setdefault("id", new_wamid())
        message.setdefault("timestamp", str(int(now)))
        if contact is None:
            wa_id = "".join(c for c in str(message.get("from", "")) if c.isdigit())
            contact = {"profile": {"name": name or self.state.customers.get(wa_id) or wa_id}, "wa_id": wa_id}
        contact = dict(contact)
        wa_id = contact.get("wa_id") or message.get("from")
        if wa_id:
            contact.setdefault("user_id", self.state.user_id(wa_id))
            message.setdefault("from", wa_id)
        elif contact.get("user_id"):
            self.state.users.setdefault(contact["user_id"], None)
        else:
            raise ValueError("an inbound message needs the customer's number (from/wa_id) or user_id")
        if contact.get("user_id"):
            message.setdefault("from_user_id", contact["user_id"])
        key = wa_id or contact["user_id"]
        self.state.customers[key] = contact.get("profile", {}).get("name")
        self.state.record_message(
            {
                "wamid": message["id"],
                "direction": "in",
                "phone_number_id": acc.phone_number_id,
                "wa_id": key,
                "user_id": contact.get("user_id"),
                "type": message.get("type"),
                "payload": message,
                "status": "received",
                "time": now,
            }
        )
        value = {
            "messaging_product": "whatsapp",
            "metadata": metadata(acc),
            "contacts": [contact],
            "messages": [message],
        }
        self.send_webhook("messages", value, acc.waba_id, key=key)
        return message["id"]

    def inbound_text(self, phone_number_id, from_, text, name=None, context=None):
        message = {"from": str(from_), "type": "text", "text": {"body": text}}
        if context:
            message["context"] = (
                context
                if isinstance(context, dict)
                else {"from": self.state.accounts[str(phone_number_id)].display_digits, "id": context}
            )
        return self.inbound(phone_number_id, message, name=name)

    def status(self, wamid, status, errors=None, delay=0.0, pricing=True):
        """Push one status webhook for an outbound message by hand.

        Like Meta since 2026 (§5.9), the value carries ``contacts`` (the recipient's ``wa_id`` when known and
        ``user_id``) and the status its ``recipient_user_id``; ``recipient_id`` is the number, or the BSUID for
        a username user whose number Meta does not give.
        """
        record = self.state.messages_by_wamid[wamid]
        acc = self.state.accounts[record["phone_number_id"]]
        user_id = record.get("user_id")
        number = record["wa_id"] if record["wa_id"] != user_id else None
        item = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(self.state.clock() + delay)),
            "recipient_id": number or user_id,
        }
        if user_id:
            item["recipient_user_id"] = user_id
        if errors is not None:
            item["errors"] = [status_error(e) if isinstance(e, int) else e for e in errors]
        elif status == "failed":
            item["errors"] = [status_error(131026)]
        if pricing and status in ("sent", "delivered"):
            tmpl = self.state.templates.get(record.get("template_id", ""))
            category = tmpl.category.lower() if tmpl else "service"
            item["pricing"] = {
                "billable": True,
                "pricing_model": "PMP",
                "category": category,
                "type": "regular" if tmpl else "free_customer_service",
            }
        if "biz_opaque_callback_data" in record["payload"]:
            item["biz_opaque_callback_data"] = record["payload"]["biz_opaque_callback_data"]
        record["status"] = status
        contact = {k: v for k, v in (("wa_id", number), ("user_id", user_id)) if v}
        value = {"messaging_product": "whatsapp", "metadata": metadata(acc), "statuses": [item]}
        if contact:
            value["contacts"] = [contact]
        return self.send_webhook("messages", value, acc.waba_id, delay=delay, key=wamid)

    def _schedule_statuses(self, acc, record, window_closed=False):
        flow = self._flows.get(record["wa_id"]) or self._flows[None]
        statuses, error = flow["statuses"], flow["error"]
        if record.get("type") == "reaction":
            # Meta sends only ``sent`` for a reaction (never delivered/read), or ``failed``.
            statuses = [s for s in statuses if s in ("sent", "failed")][:1] or ["sent"]
        if window_closed:
            statuses, error = ["failed"], status_error(131047)
        due = 0.0
        for st in statuses:
            due += _pick_delay(flow["delay"])
            self.status(record["wamid"], st, errors=[error] if st == "failed" else None, delay=due)
        if flow.get("reply_ratio") and not window_closed:
            with self.state.lock:
                flow["accepted"] = n = flow.get("accepted", 0) + 1
            replies = int(n * flow["reply_ratio"] + 1e-9)
            if replies > int((n - 1) * flow["reply_ratio"] + 1e-9):
                text = flow["reply_text"].replace("{n}", str(replies))
                args = (acc.phone_number_id, record["wa_id"], text)
                timer = threading.Timer(
                    due + _pick_delay(flow["delay"]),
                    lambda: self.running and self.inbound_text(*args, context=record["wamid"]),
                )
                timer.daemon = True
                timer.start()

    def template_decision(self, template_id, status, reason=None, delay=0.0, **extra):
        """Change a template's status and send ``message_template_status_update``. ``status``: APPROVED |
        REJECTED (``reason`` e.g. INVALID_FORMAT) | PAUSED | DISABLED | any Meta event name."""
        status = status.upper()
        if status not in STATUS_EVENTS:
            raise ValueError(f"unknown template status {status!r}")
        tmpl = self.state.templates[str(template_id)]
        value = {
            "event": status,
            "message_template_id": int(tmpl.id),
            "message_template_name": tmpl.name,
            "message_template_language": tmpl.language,
            "reason": reason or "NONE",
            "message_template_category": tmpl.category,
        }
        if status in ("APPROVED", "REJECTED", "PAUSED", "DISABLED", "PENDING"):
            tmpl.status = status
        if status == "REJECTED":
            tmpl.rejected_reason = reason or "NONE"
        if status == "PAUSED":
            tmpl.pauses += 1
            title = "FIRST_PAUSE" if tmpl.pauses == 1 else "SECOND_PAUSE"
            value["other_info"] = {
                "title": title,
                "description": f"Your template has been paused for {3 * tmpl.pauses} hours due to low quality.",
            }
        if status in ("DISABLED", "FLAGGED"):
            value["disable_info"] = {
                "disable_date": str(int(self.state.clock()) + (0 if status == "DISABLED" else 7 * 86400))
            }
        value.update(extra)
        return self.send_webhook(
            "message_template_status_update", value, tmpl.waba_id, delay=delay, key=tmpl.id
        )
