"""``./dev i18n``: export each addon's ``.pot`` with Odoo's exporter, merge it into ``fr.po``, report.

The export needs the four addons installed without demo data: the database ``i18n_sync`` is created
on the first run (``-i``, a few minutes) and updated (``-u``) on the next ones; ``--fresh`` recreates
it. The work itself is ``scripts/i18n_sync.py`` (also usable alone, see its docstring).
"""

import subprocess
import time

from . import odoo_locate, postgres, venv
from .common import ADDONS, LOCAL, LOGS, ROOT, Fatal, say

SCRIPT = ROOT / "scripts" / "i18n_sync.py"


def _prepare_db(python, odoo, pg, db, fresh):
    if fresh and pg.db_exists(python, db):
        say(f"dropping {db}")
        pg.drop_db(python, db)
    exists = pg.db_exists(python, db)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{db}.log"
    mode = "-u" if exists else "-i"
    say(
        f"{'updating' if exists else 'creating'} {db} ({mode} {','.join(ADDONS)}; log: {log.relative_to(ROOT)})"
    )
    cmd = [
        *odoo.command(python), f"--addons-path={odoo.addons_path}", *pg.odoo_args(),
        f"--data-dir={LOCAL / 'odoo-data'}", "-d", db, mode, ",".join(ADDONS), "--without-demo=all",
        "--stop-after-init", "--no-http", "--max-cron-threads=0", "--log-level=warn",
    ]  # fmt: skip
    started = time.time()
    with open(log, "w") as out:
        rc = subprocess.run(cmd, cwd=ROOT, env=odoo.env(), stdout=out, stderr=subprocess.STDOUT).returncode
    if rc:
        raise Fatal(f"Odoo could not {'update' if exists else 'create'} {db} (exit {rc}): see {log}")
    say(f"{db} ready in {time.time() - started:.0f}s")


def command(args):
    python = venv.ensure()
    if args.no_export:
        cmd = [str(python), str(SCRIPT), "--no-export"]
        env = None
    else:
        odoo = odoo_locate.locate(python)
        python = venv.ensure(odoo_deps=True)
        pg = postgres.locate(python)
        _prepare_db(python, odoo, pg, args.db, args.fresh)
        odoo_args = [
            f"--addons-path={odoo.addons_path}",
            *pg.odoo_args(),
            f"--data-dir={LOCAL / 'odoo-data'}",
        ]
        cmd = [str(python), str(SCRIPT), "--db", args.db]
        env = odoo.env()
    if args.check:
        cmd.append("--check")
    if args.list:
        cmd.append("--list")
    if not args.no_export:
        cmd += ["--", *odoo_args]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode
