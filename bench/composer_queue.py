"""Benchmark: the WhatsApp composer queueing a template to 1,000 recipients (target ≤ 0.4 s).

Measures the click on *Send* on a selection, as the user waits for it: the web client's save of the wizard
(``web_save`` with the form's fields, read back) and ``action_send_whatsapp()`` (the sender's rights
checked, one ``whatsapp.bulk.send`` stored, the queue cron triggered), including the final flush to
PostgreSQL. Also printed: the opening of the composer (the web client's ``onchange``: numbers normalised
and counted, preview). Then, third figure (not in the target, nothing hidden): the queue cron's expansion of
those recipients into messages (numbers normalised, bodies rendered with the sender's rights, chatter
messages, ``whatsapp.message`` rows and notifications created, chunk by chunk). Meta is never called: the
messages are only created, not sent. Everything runs in one transaction that is rolled back.

Usage (a database where ``whatsapp`` is installed)::

    python3 bench/composer_queue.py -d DB [--db_host H --db_port P --db_user U] [--count 1000] [--repeat 5]

Prints one line per run and a summary ``composer_queue: N recipients: queued (Send clicked) in median X s
(target ≤ 0.4 s); composer opened in ...; expansion by the cron: median Y s``; ``main()`` returns the summary as a dict for ``bench/run.py``.
"""

import statistics
import sys
import time

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts

TARGET_SECONDS = 0.4


def _setup(env, count):
    """An account on a closed port, an approved template with a field and a free-text variable, a sender
    and ``count`` partners (one in ten with an invalid number)."""
    account = benchlib.create_account(env, "Bench", "00001")
    template = env["whatsapp.template"].create(
        {
            "name": "Bench greeting",
            "template_name": "bench_greeting",
            "account_id": account.id,
            "model_id": env["ir.model"]._get_id("res.partner"),
            "phone_field": "mobile",
            "category": "utility",
            "lang_code": "en_US",
            "body": "Hello {{1}}, your reference is {{2}}. See you soon!",
        }
    )
    template.variable_ids.filtered(lambda v: v.key == "body-1").write(
        {"field_type": "field", "field_name": "name"}
    )
    template.variable_ids.filtered(lambda v: v.key == "body-2").write({"demo_value": "REF-001"})
    template.status = "approved"
    sender = env["res.users"].create(
        {
            "name": "Bench Sender",
            "login": "bench_whatsapp_sender",
            "groups_id": [
                (6, 0, [env.ref("base.group_user").id, env.ref("whatsapp.group_whatsapp_user").id])
            ],
        }
    )
    partners = env["res.partner"].create(
        [
            {
                "name": f"Bench {i}",
                "mobile": "12" if i % 10 == 9 else f"+33 6 {i // 10000:02d} {i % 10000:04d} 00",
            }
            for i in range(count)
        ]
    )
    env.flush_all()
    return template, sender, partners


def _form(composer_model):
    return form_spec(composer_model.get_views([(False, "form")]), composer_model._name)


def form_spec(views, model_name):
    """The form view as the web client uses it: the fields it reads (the specification of ``onchange`` and
    ``web_save``) and those it sends on save (editable ones and ``force_save`` ones).

    :param dict views: what ``get_views([(False, "form")])`` returns (in process or over RPC)
    """
    from lxml import etree  # noqa: PLC0415 - Odoo's dependency, imported once Odoo is located

    fields_ = views["models"][model_name]["fields"]
    relational = ("many2one", "many2many", "one2many")
    spec = {
        name: {"fields": {"display_name": {}}} if field["type"] in relational else {}
        for name, field in fields_.items()
    }
    arch = etree.fromstring(views["views"]["form"]["arch"])
    sent = {
        node.get("name")
        for node in arch.iter("field")
        if not any(parent.tag == "field" for parent in node.iterancestors())  # not in an x2many's list
        and (
            node.get("force_save") == "1"
            or not (node.get("readonly") or fields_[node.get("name")]["readonly"])
        )
    }
    return spec, sent


def choose_template(onchange, values, sent, spec, template_id):
    """The user picks ``template_id`` in the opened composer (the database may hold other templates for the
    model, listed first): ``values`` updated as the web client's onchange on ``template_id`` updates them.

    :param onchange: ``(values, field names, spec) -> onchange's answer`` (in process or over RPC)
    """
    if (values.get("template_id") or {}).get("id") != template_id:
        changed = onchange(
            save_values(dict(values, template_id={"id": template_id}), sent), ["template_id"], spec
        )
        values.update(changed["value"], template_id={"id": template_id})
    return values


def save_values(values, sent):
    """What the web client sends on save for a new record: x2many as commands, many2one as ids."""
    result = {}
    for name in sent:
        value = values.get(name)
        if isinstance(value, dict):  # many2one
            value = value.get("id") or False
        elif isinstance(value, list):  # x2many: nothing typed in this benchmark
            continue
        result[name] = value
    return result


def main(argv=None):
    args = benchlib.parse_args(sys.argv[1:] if argv is None else argv, __doc__.splitlines()[0], 1000, 5)
    odoo, registry = benchlib.registry(args)
    timings, expansions, openings = [], [], []
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        template, sender, partners = _setup(env, args.count)
        for run in range(args.repeat):
            cr.execute("SAVEPOINT bench_run")
            user_env = env(user=sender.id, su=False)
            user_env.invalidate_all()
            composer_model = user_env["whatsapp.composer"].with_context(
                default_res_model="res.partner", default_res_ids=partners.ids
            )
            spec, sent = _form(composer_model)
            # opening the dialog: the web client's onchange (template, numbers counted, preview)
            started = time.perf_counter()
            values = composer_model.onchange({}, [], spec)["value"]
            opened = time.perf_counter() - started
            choose_template(composer_model.onchange, values, sent, spec, template.id)
            openings.append(opened)
            # the click on Send: the web client saves the wizard (and reads it back), then runs the action
            user_env.invalidate_all()
            started = time.perf_counter()
            saved = composer_model.web_save(save_values(values, sent), spec)
            composer_model.browse(saved[0]["id"]).action_send_whatsapp()
            user_env.flush_all()
            elapsed = time.perf_counter() - started
            timings.append(elapsed)
            # the queue cron's first step, without committing (Meta is not called)
            env.invalidate_all()
            started = time.perf_counter()
            env["whatsapp.bulk.send"]._expand_queued(auto_commit=False)
            env.flush_all()
            expansion = time.perf_counter() - started
            expansions.append(expansion)
            queued = env["whatsapp.message"].search_count([("template_id", "=", template.id)])
            print(
                f"run {run + 1}: composer opened in {opened:.3f} s, {args.count} recipients queued in {elapsed:.3f} s, "
                f"expanded into {queued} messages in {expansion:.3f} s",
                flush=True,
            )
            cr.execute("ROLLBACK TO SAVEPOINT bench_run")
            env.invalidate_all()
        cr.rollback()
    median = statistics.median(timings)
    expansion_median = statistics.median(expansions)
    print(
        f"composer_queue: {args.count} recipients: queued (Send clicked) in median {median:.3f} s, best "
        f"{min(timings):.3f} s (target ≤ {TARGET_SECONDS} s); composer opened in median "
        f"{statistics.median(openings):.3f} s; expansion by the cron: median {expansion_median:.3f} s, "
        f"best {min(expansions):.3f} s"
    )
    return {"name": "composer_queue", "count": args.count, "median": median, "best": min(timings),
            "target": TARGET_SECONDS, "expansion_median": expansion_median,
            "expansion_best": min(expansions), "open_median": statistics.median(openings)}  # fmt: skip


if __name__ == "__main__":
    main()
