"""What the in-process benchmarks share: their arguments, Odoo's registry, the bench account.

Not a benchmark itself (no ``main``): ``bench/run.py`` skips it.
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv, description, count, repeat):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--db_host", default=os.path.join(ROOT, ".local", "pg", "run"))
    parser.add_argument("--db_port", default="54320")
    parser.add_argument("--db_user", default="odoo")
    parser.add_argument("--odoo", default="/opt/odoo/18.0", help="Odoo source directory")
    parser.add_argument("--count", type=int, default=count)
    parser.add_argument("--repeat", type=int, default=repeat)
    return parser.parse_known_args(argv)[0]  # bench/run.py passes its arguments to every bench


def registry(args):
    """Odoo's registry of the benchmark database (Odoo located from ``--odoo``); returns ``(odoo, registry)``."""
    sys.path.insert(0, args.odoo)
    import odoo  # noqa: PLC0415 - the Odoo source is located at run time
    from odoo.tools import config  # noqa: PLC0415

    config.parse_config(
        [
            f"--addons-path={os.path.join(args.odoo, 'odoo', 'addons')},{ROOT}",
            f"--db_host={args.db_host}",
            f"--db_port={args.db_port}",
            f"--db_user={args.db_user}",
            "--log-level=warn",
        ]
    )
    return odoo, odoo.modules.registry.Registry(args.database)


def create_account(env, name, uid_suffix):
    """The only active account: on a closed port, so nothing ever reaches a server by accident."""
    env["whatsapp.account"].search([]).action_archive()
    return env["whatsapp.account"].create(
        {
            "name": name,
            "phone_uid": f"91{uid_suffix}",
            "account_uid": f"92{uid_suffix}",
            "app_uid": f"93{uid_suffix}",
            "token": "bench-token",
            "app_secret": "bench-secret",
            "api_base_url": "http://127.0.0.1:9",
            "allowed_company_ids": [(6, 0, env.ref("base.main_company").ids)],
        }
    )
