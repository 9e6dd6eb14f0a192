"""The seed's main flow on a running demo (Odoo + Meta sandbox), through XML-RPC and the sandbox's control API.

Used by ``./dev test`` (the demo check: a broken demo fails CI) and ``./dev screens`` (the data behind the
screenshots). Only public model methods and fields that a user's screen shows are used, so the check follows
what a user does: submit the quotation template, send a quotation from its composer, answer as the customer.
"""

import json
import time
import urllib.request
import xmlrpc.client

#: the demo quotation's customer (whatsapp_sale/demo/sale_demo.xml), as the sandbox knows her: digits only
DEMO_CUSTOMER = "32470123456"
FINAL_STATES = ("sent", "delivered", "read", "replied", "failed", "bounced", "cancelled")


class FlowError(AssertionError):
    """One step of the flow did not give what a user expects."""


class Rpc:
    """XML-RPC on one database as one user: ``rpc.call(model, method, *args, **kwargs)``."""

    def __init__(self, url, db, login="admin", password="admin", context=None):
        self.url, self.db, self.password = url, db, password
        common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common", allow_none=True)
        self.uid = common.authenticate(db, login, password, {})
        if not self.uid:
            raise FlowError(f"cannot log in to {db} as {login}")
        self.models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)
        self.context = context or {}

    def call(self, model, method, *args, **kwargs):
        if self.context:
            kwargs["context"] = {**self.context, **kwargs.get("context", {})}
        return self.models.execute_kw(self.db, self.uid, self.password, model, method, list(args), kwargs)

    def ref(self, xmlid):
        module, name = xmlid.split(".")
        rows = self.call(
            "ir.model.data", "search_read", [("module", "=", module), ("name", "=", name)], ["res_id"]
        )
        if not rows:
            raise FlowError(f"{xmlid} is missing from the demo data")
        return rows[0]["res_id"]

    def read1(self, model, rid, fields):
        rows = self.call(model, "read", [rid], fields)
        if not rows:
            raise FlowError(f"{model} {rid} is gone")
        return rows[0]


class Sandbox:
    """The sandbox's control API (``/_sandbox/...``), with its control token (``Servers.control_token``)."""

    def __init__(self, url, token=None):
        self.url, self.token = url, token

    def request(self, name, data=None, query=""):
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(
            f"{self.url}/_sandbox/{name}{query}",
            data=body,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json", "X-Sandbox-Token": self.token or ""},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def conversation(self, phone):
        convs = self.request("messages", query=f"?phone={phone}")["conversations"]
        return [m for conv in convs for m in conv.get("messages", [])] if convs else []

    def wait_idle(self, timeout=20):
        return self.request("wait_idle", {"timeout": timeout}).get("idle")


def wait_for(what, check, timeout=60, interval=0.5):
    """Poll ``check()`` until it returns something truthy; raise FlowError saying ``what`` on timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise FlowError(f"{what}: not after {timeout}s (last seen: {last!r})")


# ------------------------------------------------------------
# STEPS
# ------------------------------------------------------------


def approve_template(rpc, xmlid="whatsapp_sale.whatsapp_template_sale_order"):
    """Submit for Approval, as the admin clicks it; the sandbox approves it and says so by webhook."""
    tid = rpc.ref(xmlid)
    if rpc.read1("whatsapp.template", tid, ["status"])["status"] != "approved":
        rpc.call("whatsapp.template", "button_submit_template", [tid])

    def approved():
        status = rpc.read1("whatsapp.template", tid, ["status"])["status"]
        return status == "approved" and status

    wait_for("the template approved by Meta's webhook", approved, timeout=60)
    return tid


def open_composer(rpc, model, ids):
    """The composer as its button opens it (the record's action, then the wizard with that context)."""
    action = rpc.call(model, "action_send_whatsapp", ids)
    if action.get("res_model") != "whatsapp.composer":
        raise FlowError(f"{model}.action_send_whatsapp opened {action.get('res_model')!r}, not the composer")
    ctx = action.get("context") or {}
    composer_id = rpc.call("whatsapp.composer", "create", {}, context=ctx)
    return composer_id, ctx


def send_with_composer(rpc, model, ids):
    """Open the composer on ``ids`` and click Send (Queue for a selection); return the messages created."""
    before = rpc.call("whatsapp.message", "search", [("model", "=", model), ("res_id", "in", ids)])
    composer_id, ctx = open_composer(rpc, model, ids)
    rpc.call("whatsapp.composer", "action_send_whatsapp", [composer_id], context=ctx)

    def created():
        found = rpc.call(
            "whatsapp.message",
            "search",
            [("model", "=", model), ("res_id", "in", ids), ("id", "not in", before)],
        )
        return len(found) >= len(ids) and found

    return wait_for(f"the WhatsApp messages of {model} {ids} created", created, timeout=120)


def wait_final(rpc, message_ids, timeout=120):
    """Wait until the queue sent (or failed) the messages; return their states by id."""

    def done():
        rows = rpc.call("whatsapp.message", "read", message_ids, ["state"])
        return all(r["state"] in FINAL_STATES for r in rows) and {r["id"]: r["state"] for r in rows}

    return wait_for("the messages sent by the queue", done, timeout=timeout)


def send_quotation(rpc, sandbox, order_xmlid="whatsapp_sale.sale_order_whatsapp_demo"):
    """Send the demo quotation from its composer; check Meta got the template with the quotation's PDF."""
    order_id = rpc.ref(order_xmlid)
    (message_id,) = send_with_composer(rpc, "sale.order", [order_id])[:1]

    def delivered():
        row = rpc.read1("whatsapp.message", message_id, ["state", "failure_reason"])
        if row["state"] in ("failed", "bounced", "cancelled"):
            raise FlowError(f"the quotation's message {row['state']}: {row['failure_reason']}")
        return row["state"] in ("delivered", "read", "replied") and row["state"]

    wait_for("the quotation's message delivered (sandbox statuses)", delivered, timeout=120)
    sent = [m for m in sandbox.conversation(DEMO_CUSTOMER) if m.get("direction") == "out"]
    payloads = [m.get("payload") or {} for m in sent]
    templates = [p for p in payloads if p.get("type") == "template"]
    if not templates:
        raise FlowError(f"the sandbox got no template message for +{DEMO_CUSTOMER}: {payloads!r}")
    components = templates[-1]["template"].get("components") or []
    header = next((c for c in components if c.get("type") == "header"), None)
    params = (header or {}).get("parameters") or [{}]
    document = params[0].get("document") or {}
    filename = document.get("filename") or ""
    if params[0].get("type") != "document" or not filename.lower().endswith(".pdf"):
        raise FlowError(f"the quotation's header is not a PDF document: {header!r}")
    order = rpc.read1("sale.order", order_id, ["state", "name"])
    if order["state"] != "sent":
        raise FlowError(f"the quotation {order['name']} is {order['state']!r} after sending, not 'sent'")
    return order_id, message_id


def customer_answers(rpc, sandbox, text="Thanks! Can you deliver on Friday?", phone=DEMO_CUSTOMER):
    """The customer answers in WhatsApp (the sandbox sends Odoo the webhook): the chat shows it in Discuss."""
    sandbox.request("inbound", {"from": phone, "text": text, "name": "Ana Lopez"})

    def in_discuss():
        channels = rpc.call("discuss.channel", "search", [("channel_type", "=", "whatsapp")])
        if not channels:
            return False
        return rpc.call(
            "mail.message",
            "search_read",
            [("model", "=", "discuss.channel"), ("res_id", "in", channels), ("body", "ilike", text)],
            ["res_id"],
        )

    found = wait_for("the customer's answer in a Discuss WhatsApp chat", in_discuss, timeout=60)
    return found[0]["res_id"]


#: (name, step) of the check run by ``./dev test``
def check_steps(rpc, sandbox):
    state = {}

    def template():
        state["template"] = approve_template(rpc)

    def quotation():
        state["order"], state["message"] = send_quotation(rpc, sandbox)

    def answer():
        state["channel"] = customer_answers(rpc, sandbox)

    return [
        ("demo: the quotation template is approved by Meta", template),
        ("demo: a quotation is sent with its PDF and delivered", quotation),
        ("demo: the customer's answer is in Discuss", answer),
    ]
