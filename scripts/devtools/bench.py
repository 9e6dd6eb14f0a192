"""``./dev bench``: every benchmark of ``bench/`` in one run, figures side by side.

Prepares what they need: a fresh database ``wa_bench`` with the ``whatsapp`` addon and its demo data
(the Sandbox account the webhook benchmark signs for), and an Odoo HTTP server on a free port (threaded,
as ``odoo-bin`` runs by default) for the webhook acknowledgement benchmark. The sending benchmark starts
its own Meta sandbox and its own prefork Odoo. Everything is stopped and the database dropped at the end.
"""

import subprocess
import time
import urllib.error
import urllib.request

from . import odoo_locate, postgres, venv
from .common import LOGS, ROOT, Fatal, free_port, say

DB = "wa_bench"


def _wait(url, proc, seconds=180):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise Fatal(f"Odoo stopped while starting for the benchmarks (log: {LOGS / 'bench-odoo.log'})", 1)
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise Fatal(f"Odoo did not answer on {url} within {seconds}s", 1)


def command(args):
    python = venv.ensure()
    odoo = odoo_locate.locate(python)
    python = venv.ensure(odoo_deps=True)
    pg = postgres.locate(python)
    base = [*odoo.command(python), f"--addons-path={odoo.addons_path}", *pg.odoo_args(), "-d", DB]
    LOGS.mkdir(parents=True, exist_ok=True)
    pg.drop_db(python, DB)
    say(f"creating the benchmark database {DB} (whatsapp with demo data)")
    with open(LOGS / "bench-install.log", "w") as log:
        done = subprocess.run(
            [*base, "-i", "whatsapp", "--stop-after-init", "--no-http", "--max-cron-threads=0"],
            cwd=ROOT, env=odoo.env(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    if done.returncode:
        raise Fatal(f"creating {DB} failed (log: {LOGS / 'bench-install.log'})", 1)
    port = free_port(18400)
    log = open(LOGS / "bench-odoo.log", "w")  # noqa: SIM115 - closed with the server below
    server = subprocess.Popen(
        [*base, f"--http-port={port}", "--max-cron-threads=0", "--log-level=warn"],
        cwd=ROOT, env=odoo.env(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/web/login", server)
        db_args = [f"--db_{key}={value}" for key, value in pg.params().items() if key != "password"]
        cmd = [str(python), str(ROOT / "bench" / "run.py"), "-d", DB, f"--url=http://127.0.0.1:{port}"]
        cmd += [f"--http-port={free_port(port + 10)}", f"--odoo={odoo.root}", *db_args, *args.rest]
        return subprocess.run(cmd, cwd=ROOT, env=odoo.env()).returncode
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        pg.drop_db(python, DB)
