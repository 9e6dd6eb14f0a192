"""Benchmark: the template analytics panel and the reporting graph over 100,000 messages (target ≤ 150 ms each).

Inserts ``--count`` outbound messages (one SQL statement: 20 templates, the first one holding 60 % of them,
states and failure types mixed, dates over 120 days) and 5,000 clicks on the first template's tracked button,
runs ``ANALYZE``, then times, as the administrator user (record rules applied), with a cold ORM cache:

* the template panel (every ``stats_*`` field of the busiest template: one grouped query on the messages,
  one on the clicks) for the periods 30 days and all;
* the reporting graph: ``read_group`` of the outbound messages by day and state (the default graph) over all
  time and over the last 30 days (the menu's default filter), and by template and state.

Everything runs in one transaction that is rolled back: the database is left as it was.

Usage (a database where ``whatsapp`` is installed)::

    python3 bench/analytics.py -d DB [--db_host H --db_port P --db_user U] [--count 100000] [--repeat 7]
"""

import datetime
import os
import statistics
import sys
import time

import benchlib  # bench/ is on sys.path: the benchmarks run as scripts

TARGET_MS = 150.0
TEMPLATES = 20


def _setup(env, count):
    account = benchlib.create_account(env, "Bench Analytics", "00101")
    templates = env["whatsapp.template"].create(
        [
            {
                "name": f"Bench analytics {i}",
                "template_name": f"bench_analytics_{i}",
                "account_id": account.id,
                "model_id": env["ir.model"]._get_id("res.partner"),
                "phone_field": "mobile",
                "category": "marketing",
                "lang_code": "en_US",
                "body": "Hello, discover our offers!",
                "button_ids": [(0, 0, {"button_type": "url", "name": "Shop", "url_type": "tracked",
                                       "website_url": "https://shop.example.com"})] if i == 0 else [],
            }
            for i in range(TEMPLATES)
        ]
    )  # fmt: skip
    templates.write({"status": "approved"})
    tracker = templates[0].button_ids._get_tracker()
    env.flush_all()
    ids = templates.ids
    # 60 % on the first template, the rest spread over the others; dates over 120 days
    env.cr.execute(
        """INSERT INTO whatsapp_message (uuid, direction, state, failure_type, number, account_id, template_id,
                                         attempts, create_date, write_date, create_uid, write_uid)
           SELECT md5(g::text || clock_timestamp()::text), 'outbound',
                  (ARRAY['sent','delivered','delivered','read','read','read','replied','failed','bounced',
                         'queued'])[1 + g %% 10],
                  CASE WHEN g %% 10 = 7 THEN (ARRAY['template','blacklisted','opt_out','server'])[1 + g %% 4]
                       WHEN g %% 10 = 8 THEN 'recipient' END,
                  '+336' || lpad((g %% 100000000)::text, 8, '0'), %(account)s,
                  CASE WHEN g %% 5 < 3 THEN %(first)s ELSE (%(ids)s::int[])[2 + g %% %(others)s] END,
                  1, now() at time zone 'UTC' - (g %% 120) * interval '1 day' - (g %% 86400) * interval '1 second',
                  now() at time zone 'UTC', %(uid)s, %(uid)s
             FROM generate_series(1, %(count)s) g""",
        {"account": account.id, "first": ids[0], "ids": ids, "others": TEMPLATES - 1, "uid": env.uid,
         "count": count},
    )  # fmt: skip
    env.cr.execute(
        """INSERT INTO link_tracker_click (link_id, create_date, write_date, create_uid, write_uid)
           SELECT %s, now() at time zone 'UTC' - (g %% 120) * interval '1 day', now() at time zone 'UTC', %s, %s
             FROM generate_series(1, 5000) g""",
        [tracker.id, env.uid, env.uid],
    )
    env.cr.execute("ANALYZE whatsapp_message")
    env.cr.execute("ANALYZE link_tracker_click")
    return templates[0]


def _median_ms(func, repeat, env):
    timings = []
    for _run in range(repeat):
        env.invalidate_all()
        started = time.perf_counter()
        func()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), min(timings)


def main(argv=None):
    args = benchlib.parse_args(sys.argv[1:] if argv is None else argv, __doc__.splitlines()[0], 100000, 7)
    odoo, registry = benchlib.registry(args)
    results = {}
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        started = time.perf_counter()
        template = _setup(env, args.count)
        print(f"setup: {args.count} messages inserted in {time.perf_counter() - started:.1f} s", flush=True)
        admin_env = env(user=env.ref("base.user_admin").id, su=False)
        Message = admin_env["whatsapp.message"]
        panel = template.with_env(admin_env)
        outbound = [("direction", "=", "outbound")]
        last_30 = odoo.fields.Datetime.now() - datetime.timedelta(days=30)
        cases = {
            "panel (30 days)": lambda: panel.with_context(whatsapp_stats_period="30").stats_sent,
            "panel (all)": lambda: panel.with_context(whatsapp_stats_period="all").stats_sent,
            "graph by day, state (all time)": lambda: Message.read_group(
                outbound, ["__count"], ["create_date:day", "state"], lazy=False
            ),
            "graph by day, state (last 30 days: the menu's default)": lambda: Message.read_group(
                [*outbound, ("create_date", ">=", last_30)],
                ["__count"],
                ["create_date:day", "state"],
                lazy=False,
            ),
            "graph by template, state": lambda: Message.read_group(
                outbound, ["__count"], ["template_id", "state"], lazy=False
            ),
        }
        check = panel.with_context(whatsapp_stats_period="all")
        print(
            f"panel figures (all): sent {check.stats_sent}, read {check.stats_read}, failed {check.stats_failed}, "
            f"opted out {check.stats_optout}, clicks {check.stats_clicks}",
            flush=True,
        )
        for name, func in cases.items():
            median, best = _median_ms(func, args.repeat, admin_env)
            results[name] = median
            verdict = "OK" if median <= TARGET_MS else "OVER"
            print(f"analytics: {name}: median {median:.1f} ms, best {best:.1f} ms (target ≤ {TARGET_MS:.0f} ms) "
                  f"{verdict}", flush=True)  # fmt: skip
        cr.rollback()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"analytics: machine load average (1, 5, 15 min): {load} on {os.cpu_count()} cores", flush=True)
    return {"name": "analytics", "count": args.count, "medians_ms": results, "target_ms": TARGET_MS}


if __name__ == "__main__":
    main()
