"""``./dev screens``: every screen of the seed's flows, as a user meets them, saved as PNG in English and French.

Creates a fresh demo database the way ``./dev run`` does (demo data, the four addons, sale, POS, events),
starts the Meta sandbox and Odoo on free ports, prepares what the flows need through XML-RPC (French
installed, templates approved, a customer whose messages fail), then drives headless Chromium over the
DevTools protocol through each flow and saves ``.local/screens/<lang>/NN-name.png``. At the end it stops
both servers and drops the database (``--keep`` keeps it and prints how to reopen it with ``./dev run``).

A step that fails is reported (with a picture of where it stood, ``NN-name-FAILED.png``) and the next
ones go on; the exit status is 1 when any failed.
"""

import os
import shutil
import time
import traceback
from dataclasses import dataclass

from . import demo, demo_flow, odoo_locate, postgres, venv
from .common import LOCAL, ROOT, Fatal, apt_install, free_port, run, say, warn

OUT = LOCAL / "screens"
LANGS = ("en_US", "fr_FR")
FAILING_PHONE = "+32 470 00 00 99"  # the sandbox answers "failed" (131026, undeliverable) for this number
RESEND_PHONE = "+32 470 00 00 98"  # the number corrected in the failure dialog (delivered)
WIDTH, HEIGHT = 1600, 1000
TIMEZONE = "Europe/Brussels"  # the admin's and the browser's


@dataclass
class Context:
    """What the flows share: the servers, XML-RPC, the sandbox, the ids of the demo records."""

    page: object
    rpc: demo_flow.Rpc
    sandbox: demo_flow.Sandbox
    odoo_url: str
    sandbox_url: str
    ids: dict
    lang: str


def _ensure_tools(python):
    demo.check_tools(python)
    try:
        import websocket  # noqa: F401
    except ImportError:
        # the launcher's Python lacks websocket-client: install it in .venv and use it from there
        run([str(python), "-m", "pip", "install", "-q", "websocket-client"], quiet=True)
        purelib = run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], quiet=True
        ).stdout.strip()
        import sys

        sys.path.append(purelib)
    from .browser import chrome_binary

    if not chrome_binary() and not apt_install("chromium"):
        raise Fatal("Chromium is missing and cannot be installed here (apt-get install chromium)")


# ------------------------------------------------------------
# DATA (XML-RPC): what the flows need, prepared once
# ------------------------------------------------------------


def prepare_data(rpc, sandbox):
    say("preparing the flows: French, approved templates, a customer whose messages fail")
    fr = rpc.call("res.lang", "search", [("code", "=", "fr_FR"), ("active", "in", [True, False])])
    wizard = rpc.call("base.language.install", "create", {"lang_ids": [(6, 0, fr)]})
    rpc.call("base.language.install", "lang_install", [wizard])
    for xmlid in (
        "whatsapp_sale.whatsapp_template_sale_order",
        "whatsapp.whatsapp_template_demo_welcome",
        "whatsapp.whatsapp_template_demo_promotion",
    ):
        demo_flow.approve_template(rpc, xmlid)
    digits = "".join(c for c in FAILING_PHONE if c.isdigit())
    sandbox.request("status_flow", {"statuses": ["failed"], "error_code": 131026, "phone": digits})
    partner = rpc.call(
        "res.partner",
        "create",
        {"name": "Bruno Martin", "mobile": FAILING_PHONE, "email": "bruno.martin@example.com"},
    )
    order = rpc.ref("whatsapp_sale.sale_order_whatsapp_demo")
    rpc.call("sale.order", "write", [order], {"user_id": rpc.uid})  # in "My Quotations", as the others
    line = rpc.call("sale.order.line", "search_read", [("order_id", "=", order)], ["product_id"], limit=1)
    failing = rpc.call(
        "sale.order",
        "create",
        {"partner_id": partner, "order_line": [(0, 0, {"product_id": line[0]["product_id"][0]})]},
    )
    # a second quotation of the same customer: the systray's WhatsApp item then opens the list of both
    failing_2 = rpc.call(
        "sale.order",
        "create",
        {"partner_id": partner, "order_line": [(0, 0, {"product_id": line[0]["product_id"][0]})]},
    )
    drafts = rpc.call(
        "sale.order",
        "search",
        [("state", "=", "draft"), ("user_id", "=", rpc.uid), ("id", "not in", [order, failing, failing_2])],
        limit=2,
    )
    return {
        "account": rpc.ref("whatsapp.whatsapp_account_demo_sandbox"),
        "template": rpc.ref("whatsapp_sale.whatsapp_template_sale_order"),
        "promotion": rpc.ref("whatsapp.whatsapp_template_demo_promotion"),
        "order": order,
        "failing_order": failing,
        "failing_order_2": failing_2,
        "selection": [order, *drafts],
    }


# ------------------------------------------------------------
# FLOWS (browser): one function per screen, in the seed's order
# ------------------------------------------------------------


def _act(c, xmlid, res_id=None):
    return f"{c.odoo_url}/odoo/action-{xmlid}" + (f"/{res_id}" if res_id else "")


def _chatter_settled(c, model, res_id, states=("read",)):
    """Wait until the last message of the record reached one of ``states`` (the sandbox's statuses arrived)."""

    def last_state():
        rows = c.rpc.call(
            "whatsapp.message",
            "search_read",
            [("model", "=", model), ("res_id", "=", res_id)],
            ["state"],
            limit=1,
            order="id desc",
        )
        return rows and rows[0]["state"] in states and rows[0]["state"]

    demo_flow.wait_for(f"the last message of {model} {res_id} {'/'.join(states)}", last_state, timeout=120)


def settings(c):
    c.page.goto(f"{c.odoo_url}/odoo/settings", ready=".settings_tab")
    c.page.click(".settings_tab .tab[data-key=whatsapp]")
    c.page.wait(
        ".app_settings_block[data-key=whatsapp], [data-key=whatsapp] .o_setting_box, #whatsapp_accounts_setting"
    )


def account_form(c):
    c.page.goto(_act(c, "whatsapp.whatsapp_account_action", c.ids["account"]), ready=".o_form_view")


def template_list(c):
    c.page.goto(_act(c, "whatsapp.whatsapp_template_action"), ready=".o_list_view .o_data_row")


def template_form(c):
    c.page.goto(
        _act(c, "whatsapp.whatsapp_template_action", c.ids["template"]), ready=".o_form_view .o_notebook"
    )


def template_preview(c):
    c.page.click(".o_notebook .nav-link[name=preview]")
    c.page.wait(".o_notebook .tab-pane.active")


def promotion_preview(c):
    c.page.goto(
        _act(c, "whatsapp.whatsapp_template_action", c.ids["promotion"]), ready=".o_form_view .o_notebook"
    )
    c.page.click(".o_notebook .nav-link[name=preview]")


def template_submitted(c):
    """A new template submitted for approval: the notification says what happened and what comes next."""
    copy = c.rpc.call(
        "whatsapp.template",
        "copy",
        [c.ids["promotion"]],
        {"name": "Spring offer" if c.lang == "en_US" else "Offre de printemps"},
    )
    c.page.goto(_act(c, "whatsapp.whatsapp_template_action", copy[0]), ready=".o_form_view .o_notebook")
    c.page.click(".o_form_view button[name=button_submit_template]")
    c.page.wait(".o_notification")
    c.page.wait(".o_form_view .o_statusbar_status .o_arrow_button_current:not([data-value=draft])")


def quotation(c):
    c.page.goto(_act(c, "sale.action_quotations_with_onboarding", c.ids["order"]), ready=".o_form_view")


def composer_single(c):
    c.page.click(".o_form_view button[name=action_send_whatsapp]")
    c.page.wait(".modal .o_whatsapp_composer_preview")


def chatter_sent(c):
    c.page.click(".modal-footer button[name=action_send_whatsapp]")
    c.page.gone(".modal")
    _chatter_settled(c, "sale.order", c.ids["order"])
    c.page.goto(_act(c, "sale.action_quotations_with_onboarding", c.ids["order"]), ready=".o-mail-Message")


def composer_selection(c):
    c.page.goto(_act(c, "sale.action_quotations_with_onboarding"), ready=".o_list_view .o_data_row")
    for row in c.rpc.call("sale.order", "read", c.ids["selection"], ["name"]):
        c.page.click(".o_data_row .o_list_record_selector input", text=None, timeout=10, near=row["name"])
    c.page.click(".o_cp_action_menus .dropdown-toggle", text="Action")
    c.page.click(".o-dropdown--menu .dropdown-item", text="WhatsApp")
    c.page.wait(".modal .o_whatsapp_composer_preview")


def bulk_list(c):
    c.page.click(".modal-footer button[name=action_send_whatsapp]")
    c.page.gone(".modal")
    bulk = c.rpc.call("whatsapp.bulk.send", "search", [], limit=1, order="id desc")

    def done():
        row = c.rpc.read1("whatsapp.bulk.send", bulk[0], ["state"])
        return row["state"] not in ("draft", "queued", "running", "sending") and row["state"]

    demo_flow.wait_for("the bulk send expanded and sent", done, timeout=120)
    c.ids["bulk"] = bulk[0]
    c.page.goto(_act(c, "whatsapp.whatsapp_bulk_send_action"), ready=".o_list_view .o_data_row")


def bulk_form(c):
    c.page.goto(_act(c, "whatsapp.whatsapp_bulk_send_action", c.ids["bulk"]), ready=".o_form_view")


def failed_chatter(c):
    c.page.goto(
        _act(c, "sale.action_quotations_with_onboarding", c.ids["failing_order"]), ready=".o_form_view"
    )
    c.page.click(".o_form_view button[name=action_send_whatsapp]")
    c.page.wait(".modal .o_whatsapp_composer_preview")
    c.page.click(".modal-footer button[name=action_send_whatsapp]")
    c.page.gone(".modal")
    demo_flow.send_with_composer(c.rpc, "sale.order", [c.ids["failing_order_2"]])
    _chatter_settled(c, "sale.order", c.ids["failing_order"], ("failed", "bounced"))
    _chatter_settled(c, "sale.order", c.ids["failing_order_2"], ("failed", "bounced"))
    c.page.goto(
        _act(c, "sale.action_quotations_with_onboarding", c.ids["failing_order"]), ready=".o-mail-Message"
    )


def failed_click(c):
    """The failure icon opens WhatsApp's failure dialog: Meta's reason, the number, Resend / Ignore."""
    c.page.click(".o-mail-Message .o-mail-Message-notification")
    c.page.wait(".modal .o_whatsapp_resend .o_whatsapp_resend_recipients .o_data_row")


def failed_form(c):
    failed = c.rpc.call(
        "whatsapp.message",
        "search",
        [
            ("model", "=", "sale.order"),
            ("res_id", "=", c.ids["failing_order"]),
            ("state", "in", ["failed", "bounced"]),
        ],
        limit=1,
        order="id desc",
    )
    if not failed:
        raise demo_flow.FlowError("no failed message on the failing quotation")
    c.page.goto(_act(c, "whatsapp.whatsapp_message_action", failed[0]), ready=".o_form_view")


def systray_failures(c):
    c.page.goto(f"{c.odoo_url}/odoo/action-whatsapp.whatsapp_message_action", ready=".o_list_view")
    c.page.click(".o_menu_systray .o-mail-MessagingMenu-toggler, .o_menu_systray i.fa-comments")
    c.page.wait(".o-mail-MessagingMenu")


def systray_failure_open(c):
    """WhatsApp's failure item opens the records with a failed WhatsApp message (one record: its chatter)."""
    c.page.click(".o-mail-MessagingMenu .o-mail-NotificationItem", text="WhatsApp")
    c.page.wait(".o_list_view .o_data_row, .o_kanban_record, .o-mail-ChatWindow")
    c.page.settle(1.0)


def failure_resend(c):
    """Back on the failed quotation: its dialog with the number corrected, before Resend."""
    c.page.goto(
        _act(c, "sale.action_quotations_with_onboarding", c.ids["failing_order"]), ready=".o-mail-Message"
    )
    c.page.click(".o-mail-Message .o-mail-Message-notification.text-danger")
    c.page.click(".modal .o_whatsapp_resend_recipients .o_data_row td[name=number]")
    c.page.eval("document.querySelector('.modal td[name=number] input').select()")
    c.page.type(".modal td[name=number] input", RESEND_PHONE)


def failure_resent(c):
    """Resent: the quotation's message goes out again, to the corrected number."""
    c.page.click(".modal-footer button[name=action_resend]")
    c.page.gone(".modal")
    _chatter_settled(c, "sale.order", c.ids["failing_order"], ("sent", "delivered", "read"))
    c.page.goto(
        _act(c, "sale.action_quotations_with_onboarding", c.ids["failing_order"]), ready=".o-mail-Message"
    )


def messages_list(c):
    c.page.goto(_act(c, "whatsapp.whatsapp_message_action"), ready=".o_list_view .o_data_row")


def reporting(c):
    c.page.goto(
        _act(c, "whatsapp.whatsapp_report_action_messages"),
        ready=".o_graph_view, .o_pivot_view, .o_list_view",
    )
    c.page.settle(1.0)


def quotation_answer_live(c):
    """The quotation stays open while the customer answers its template: the note with the link to the chat
    reaches its chatter live, without a reload."""
    c.page.goto(_act(c, "sale.action_quotations_with_onboarding", c.ids["order"]), ready=".o-mail-Message")
    c.page.settle()
    count = c.page.eval("document.querySelectorAll('.o-mail-Message').length")
    text = "Is the price final?" if c.lang == "en_US" else "Le prix est-il définitif ?"
    c.sandbox.request("inbound", {"from": demo_flow.DEMO_CUSTOMER, "text": text, "name": "Ana Lopez"})
    c.page.wait_js(
        f"document.querySelectorAll('.o-mail-Message').length > {count}"
        " && !!document.querySelector('.o-mail-Message')?.querySelector('a[href*=\"discuss.channel_\"]')",
        timeout=60,
        what="the customer's answer noted live in the quotation's chatter",
    )


def emulator_received(c):
    c.page.goto(f"{c.sandbox_url}/emulator", ready=".o-wa-emu-conversations li")
    c.page.click(".o-wa-emu-conversations li", text=demo_flow.DEMO_CUSTOMER[-4:])
    c.page.wait(".o-wa-emu-messages > *")


def emulator_answered(c):
    c.ids["answer"] = (
        "Thanks! Can you deliver on Friday?" if c.lang == "en_US" else "Merci ! Livraison vendredi ?"
    )
    c.page.type(".o-wa-emu-input", c.ids["answer"])
    c.page.click(".o-wa-emu-send")
    c.page.wait(".o-wa-emu-messages", text=c.ids["answer"])


def discuss_chat(c):
    channel = demo_flow.wait_for(
        "the customer's chat in Discuss",
        lambda: c.rpc.call(
            "mail.message",
            "search_read",
            [("model", "=", "discuss.channel"), ("body", "ilike", c.ids["answer"])],
            ["res_id"],
            limit=1,
        ),
    )[0]["res_id"]
    c.ids["channel"] = channel
    c.page.goto(
        f"{c.odoo_url}/odoo/discuss?active_id=discuss.channel_{channel}",
        ready=".o-mail-Discuss .o-mail-Message",
    )
    c.page.wait(".o-mail-Message", text=c.ids["answer"])


def discuss_answered(c):
    text = "Yes, Friday works. See you then!" if c.lang == "en_US" else "Oui, vendredi c'est parfait !"
    c.page.type(".o-mail-Discuss .o-mail-Composer-input", text, enter=True)
    c.page.wait(".o-mail-Message", text=text)
    time.sleep(3)  # the sandbox's sent / delivered / read ticks
    c.page.settle()


def emulator_final(c):
    c.page.goto(f"{c.sandbox_url}/emulator", ready=".o-wa-emu-conversations li")
    c.page.click(".o-wa-emu-conversations li", text=demo_flow.DEMO_CUSTOMER[-4:])
    c.page.wait(".o-wa-emu-messages > *")


FLOWS = [
    ("settings-whatsapp", settings),
    ("account-form", account_form),
    ("template-list", template_list),
    ("template-form", template_form),
    ("template-preview", template_preview),
    ("template-preview-promotion", promotion_preview),
    ("template-submitted", template_submitted),
    ("quotation", quotation),
    ("composer-single", composer_single),
    ("chatter-sent", chatter_sent),
    ("composer-selection", composer_selection),
    ("bulk-sends-list", bulk_list),
    ("bulk-send-form", bulk_form),
    ("chatter-failed", failed_chatter),
    ("failed-message-click", failed_click),
    ("failed-message-form", failed_form),
    ("systray-failures", systray_failures),
    ("systray-failure-open", systray_failure_open),
    ("failure-resend", failure_resend),
    ("failure-resent", failure_resent),
    ("messages-list", messages_list),
    ("reporting", reporting),
    ("quotation-answer-live", quotation_answer_live),
    ("emulator-received", emulator_received),
    ("emulator-answered", emulator_answered),
    ("discuss-chat", discuss_chat),
    ("discuss-answered", discuss_answered),
    ("emulator-final", emulator_final),
]


def login(page, odoo_url, db):
    page.goto(f"{odoo_url}/web/login?db={db}", ready="form input[name=login]")
    page.eval(
        "(() => { const f = document.querySelector('form.oe_login_form') || document.querySelector('form');"
        " f.querySelector('input[name=login]').value = 'admin';"
        " f.querySelector('input[name=password]').value = 'admin'; f.submit(); })()"
    )
    page.wait_js("location.pathname.startsWith('/odoo')", timeout=120, what="the web client after login")
    page.wait(".o_main_navbar", timeout=180)  # the first load builds the assets
    # no chat window left open by an earlier pass: Discuss restores them a moment after the web client starts
    page.eval(
        "new Promise((resolve) => setTimeout(() => {"
        " odoo.__WOWL_DEBUG__.root.env.services['mail.store'].chatHub.closeAll(); resolve(true); }, 2000))"
    )


def shoot(c, only, out):
    """Run every flow in ``c.lang``; return the failures (name, error)."""
    failures = []
    for number, (name, flow) in enumerate(FLOWS, start=1):
        target = out / f"{number:02d}-{name}.png"
        if only and not any(o in name for o in only):
            continue
        try:
            flow(c)
            c.page.settle()
            c.page.shot(target)
            say(f"  {c.lang} {target.name}")
        except Exception as exc:  # noqa: BLE001 - a failed flow is reported, the next ones still run
            failures.append((f"{c.lang} {target.stem}", f"{type(exc).__name__}: {exc}"))
            warn(f"{c.lang} {target.stem} FAILED: {type(exc).__name__}: {exc}")
            if not isinstance(exc, AssertionError | Fatal):
                traceback.print_exc()
            try:
                c.page.shot(out / f"{number:02d}-{name}-FAILED.png")
            except Exception:  # noqa: BLE001, S110 - the picture of a failure is best effort
                pass
    return failures


def command(args):
    python = venv.ensure()
    odoo = odoo_locate.locate(python)
    python = venv.ensure(odoo_deps=True)
    _ensure_tools(python)
    pg = postgres.locate(python)
    db = args.db or f"wa_screens_{os.getpid()}"
    reuse = bool(args.db) and pg.db_exists(python, db)
    from .browser import Chrome

    started = time.time()
    demo.prepare(python, odoo, pg, db)
    servers = demo.Servers(
        python,
        odoo,
        pg,
        db,
        free_port(args.port),
        free_port(args.port + 121),
        show=False,
        log_prefix="screens",
    )
    failures = []
    try:
        servers.start()
        rpc = demo_flow.Rpc(servers.odoo_url, db)
        sandbox = demo_flow.Sandbox(servers.sandbox_url, servers.control_token)
        rpc.call("ir.config_parameter", "set_param", "web.base.url", servers.odoo_url)  # reports' assets
        ids = prepare_data(rpc, sandbox)
        langs = args.lang.split(",") if args.lang else LANGS
        for lang in langs:
            out = OUT / lang
            if out.exists() and not args.only:
                shutil.rmtree(out)
            rpc.call("res.users", "write", [rpc.uid], {"lang": lang, "tz": TIMEZONE})
            # the company's language too: what webhooks write (template decisions, answers' notes) is in it
            company = rpc.read1("res.users", rpc.uid, ["company_id"])["company_id"][0]
            company_partner = rpc.read1("res.company", company, ["partner_id"])["partner_id"][0]
            rpc.call("res.partner", "write", [company_partner], {"lang": lang})
            # each language starts with no chat window left open by the previous one
            admin_partner = rpc.read1("res.users", rpc.uid, ["partner_id"])["partner_id"][0]
            members = rpc.call("discuss.channel.member", "search", [("partner_id", "=", admin_partner)])
            rpc.call("discuss.channel.member", "write", members, {"fold_state": "closed"})
            say(f"screens in {lang} -> {out.relative_to(ROOT)}/")
            with Chrome(WIDTH, HEIGHT, lang=lang.replace("_", "-"), timezone=TIMEZONE) as page:
                login(page, servers.odoo_url, db)
                ctx = Context(page, rpc, sandbox, servers.odoo_url, servers.sandbox_url, dict(ids), lang)
                failures += shoot(ctx, args.only, out)
                failures += [(f"{lang} javascript", err) for err in page.errors[:5]]
    finally:
        servers.stop()
        if args.keep:
            say(f"kept database {db}: ./dev run --db {db} reopens it")
        elif not reuse:
            demo.drop(python, pg, db)
            say(f"dropped database {db}")
    say(f"screens took {time.time() - started:.0f}s; pictures in {OUT.relative_to(ROOT)}/")
    if failures:
        print("\nFailed:")
        for name, err in failures:
            print(f"  - {name}: {err}")
        return 1
    return 0
