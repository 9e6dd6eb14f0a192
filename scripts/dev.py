#!/usr/bin/env python3
"""The project's commands: ``./dev run``, ``test``, ``lint``, ``shell``, ``bench``, ``i18n``.

Each does its own idempotent set-up (virtualenv, Odoo, PostgreSQL); see README.rst.
"""

import argparse
import os
import subprocess
import sys

if sys.version_info < (3, 10):  # noqa: UP036 (the launcher runs on any python3)
    sys.exit(f"dev: Python 3.10 or newer is needed, this is {sys.version.split()[0]}")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from devtools import venv  # noqa: E402
from devtools.common import ADDONS, ROOT, Fatal, say  # noqa: E402


def cmd_test(args):
    from devtools import testrun

    return testrun.command(args)


def cmd_run(args):
    from devtools import demo

    return demo.command(args)


def cmd_screens(args):
    from devtools import screens

    return screens.command(args)


def cmd_lint(args):
    python = venv.ensure(extra=["requirements-dev.txt"])
    bindir = python.parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    if not (ROOT / ".git").exists():
        raise Fatal("lint needs a git checkout (pre-commit lists the files through git)")
    cmd = [str(bindir / "pre-commit"), "run", "--all-files", *args.hook]
    return subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL).returncode


def cmd_shell(args):
    from devtools import demo, odoo_locate, postgres

    python = venv.ensure()
    odoo = odoo_locate.locate(python)
    python = venv.ensure(odoo_deps=True)
    pg = postgres.locate(python)
    if not pg.db_exists(python, args.db):
        raise Fatal(f"database {args.db} does not exist yet: ./dev run creates it")
    cmd = [*odoo.command(python), "shell", f"--addons-path={odoo.addons_path}", *pg.odoo_args()]
    cmd += [f"--data-dir={demo.DATA_DIR}", "-d", args.db, "--no-http"]
    return subprocess.run(cmd, cwd=ROOT, env=odoo.env()).returncode


def cmd_i18n(args):
    from devtools import i18n

    return i18n.command(args)


def cmd_bench(args):
    from devtools import bench

    return bench.command(args)


def parser():
    p = argparse.ArgumentParser(prog="./dev", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser(
        "test", help="pure tests + Odoo tests in a fresh database; last line: N passed, N failed"
    )
    t.add_argument("--pure", action="store_true", help="only the pure tests (pytest over tests/)")
    t.add_argument("--odoo", action="store_true", help="only the Odoo tests")
    t.add_argument("--tags", help="Odoo --test-tags to run a subset, e.g. /whatsapp:TestAccount")
    t.add_argument("--modules", help=f"addons to install and test (default: {','.join(ADDONS)})")
    t.add_argument("--demo", action="store_true", help="only the demo check (the demo database + seed flow)")
    t.add_argument("--no-demo", action="store_true", help="skip the demo check (a quicker full run)")
    t.add_argument("--keep-db", action="store_true", help="keep the test database")
    t.set_defaults(func=cmd_test)

    r = sub.add_parser("run", help="the Meta sandbox + Odoo with the four addons on a demo database")
    r.add_argument("--port", type=int, default=8069, help="Odoo HTTP port (default 8069)")
    r.add_argument("--sandbox-port", type=int, default=8190, help="Meta sandbox port (default 8190)")
    r.add_argument("--db", default="whatsapp_demo", help="demo database (default whatsapp_demo)")
    r.add_argument("--reset", action="store_true", help="drop and recreate the demo database")
    r.set_defaults(func=cmd_run)

    sc = sub.add_parser(
        "screens",
        help="the demo on a fresh database, every flow of the seed in headless Chromium, a PNG of each screen "
        "in English and French (.local/screens/<lang>/)",
    )
    sc.add_argument("--db", help="database (default: a fresh wa_screens_<pid>; an existing one is reused)")
    sc.add_argument("--keep", action="store_true", help="keep the database at the end")
    sc.add_argument("--lang", help="languages, comma-separated (default en_US,fr_FR)")
    sc.add_argument("--only", nargs="*", help="only the screens whose name contains one of these words")
    sc.add_argument("--port", type=int, default=8369, help="first Odoo port tried (default 8369)")
    sc.set_defaults(func=cmd_screens)

    lint = sub.add_parser("lint", help="ruff, ruff format --check, pylint-odoo (through pre-commit)")
    lint.add_argument("hook", nargs="*", help="only this pre-commit hook id")
    lint.set_defaults(func=cmd_lint)

    s = sub.add_parser("shell", help="odoo shell on the demo database")
    s.add_argument("--db", default="whatsapp_demo")
    s.set_defaults(func=cmd_shell)

    i = sub.add_parser(
        "i18n", help="export the .pot of each addon, merge it into fr.po, list what is untranslated"
    )
    i.add_argument("--db", default="i18n_sync", help="database for the export (default i18n_sync)")
    i.add_argument("--fresh", action="store_true", help="recreate the export database")
    i.add_argument("--no-export", action="store_true", help="only merge the committed .pot into fr.po")
    i.add_argument("--list", action="store_true", help="print every untranslated msgid")
    i.add_argument("--check", action="store_true", help="exit 1 when a msgid is untranslated")
    i.set_defaults(func=cmd_i18n)

    b = sub.add_parser("bench", help="the benchmarks (bench/run.py)")
    b.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for bench/run.py")
    b.set_defaults(func=cmd_bench)
    return p


def main():
    args = parser().parse_args()
    try:
        return args.func(args)
    except Fatal as exc:
        print(f"dev {args.command}: {exc}", file=sys.stderr, flush=True)
        return exc.status
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
