"""``./dev run``: the Meta sandbox and Odoo with the four addons on a demo database.

The database (``whatsapp_demo``) is created on the first run with demo data; the whatsapp addon's
demo WhatsApp account points at the sandbox (its ``api_base_url`` follows ``--sandbox-port``) and
the sandbox's webhook points back at Odoo. Both stay in the foreground; Ctrl-C stops both.
"""

import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from . import odoo_locate, postgres, venv
from .common import ADDONS, LOCAL, LOGS, ROOT, Fatal, apt_install, port_in_use, say, warn

DATA_DIR = LOCAL / "odoo-data"
DEMO_MODULES = (*ADDONS, "sale_management", "point_of_sale", "event")
WAIT = 180  # seconds for both servers to answer


def _odoo_base(python, odoo, pg, db):
    return [
        *odoo.command(python),
        f"--addons-path={odoo.addons_path}",
        *pg.odoo_args(),
        f"--data-dir={DATA_DIR}",
        "-d", db, f"--db-filter=^{db}$",
    ]  # fmt: skip


def _installed(python, pg, db):
    if not pg.db_exists(python, db):
        return False
    query = "SELECT state FROM ir_module_module WHERE name IN %s" % (tuple(DEMO_MODULES),)
    try:
        states = pg.sql(python, query, dbname=db)
    except Fatal:
        return False
    return len(states) == len(DEMO_MODULES) and set(states) == {"installed"}


def _source_digest():
    """Changes when any file of the addons changes (size or modification time)."""
    h = hashlib.sha256()
    for addon in ADDONS:
        for path in sorted((ROOT / addon).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                st = path.stat()
                h.update(f"{path.relative_to(ROOT)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _create(python, odoo, pg, db, update=False):
    """Create the demo database (``-i``), or update the addons in it (``-u``) when they changed."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{db}-install.log"
    if update:
        say(f"the addons changed since the last run: updating them in {db} (log: {log.relative_to(ROOT)})")
        cmd = [*_odoo_base(python, odoo, pg, db), "-u", ",".join(ADDONS)]
    else:
        say(f"creating the demo database {db} with demo data (a few minutes; log: {log.relative_to(ROOT)})")
        cmd = [*_odoo_base(python, odoo, pg, db), "-i", ",".join(DEMO_MODULES)]
    cmd += ["--stop-after-init", "--no-http", "--max-cron-threads=0", "--log-level=info"]
    started = time.time()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=odoo.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        progress = re.compile(rb"Loading module (\w+) \((\d+/\d+)\)| (ERROR|CRITICAL) ")
        for line in proc.stdout:
            out.write(line.decode(errors="replace"))
            if m := progress.search(line):
                text = f"  {m[2].decode()} {m[1].decode()}" if m[1] else "  " + line.decode(errors="replace")
                print(text.rstrip(), flush=True)
        proc.wait()
    if proc.returncode or not _installed(python, pg, db):
        tail = [
            ln for ln in log.read_text(errors="replace").splitlines() if " ERROR " in ln or " CRITICAL " in ln
        ]
        hint = tail[-1][:200] if tail else f"exit status {proc.returncode}"
        what = "updating" if update else "creating"
        raise Fatal(f"{what} the demo database {db} failed: {hint} (full log: {log})", status=1)
    say(f"demo database ready in {time.time() - started:.0f}s")


def _point_account_at(python, pg, db, sandbox_url):
    """Point the demo WhatsApp account(s) that talk to a local sandbox at this sandbox."""
    exists = pg.sql(python, "SELECT to_regclass('whatsapp_account')::text", dbname=db)
    if not exists or not exists[0]:
        return
    pg.sql(
        python,
        f"UPDATE whatsapp_account SET api_base_url = '{sandbox_url}' "
        f"WHERE api_base_url LIKE 'http://127.0.0.1:%' AND api_base_url <> '{sandbox_url}' RETURNING id",
        dbname=db,
    )


def _pump(proc, prefix, logfile, show):
    with open(logfile, "a") as log:
        for line in proc.stdout:
            log.write(line)
            log.flush()
            if show(line):
                print(f"{prefix} {line.rstrip()}", flush=True)


def _answers(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def _stop(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.time() + 15
    for proc in procs:
        try:
            proc.wait(max(deadline - time.time(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _interrupt(*_):
    raise KeyboardInterrupt


def command(args):
    for port, what in ((args.port, "--port"), (args.sandbox_port, "--sandbox-port")):
        if port_in_use(port):
            raise Fatal(f"port {port} is already in use: stop what listens there or choose another {what}")
    python = venv.ensure()
    odoo = odoo_locate.locate(python)
    python = venv.ensure(odoo_deps=True)
    # Odoo prints reports (the quotation, the invoice, the ticket sent as document headers) with wkhtmltopdf
    if not shutil.which("wkhtmltopdf") and not apt_install("wkhtmltopdf"):
        warn(
            "wkhtmltopdf is missing: templates with a PDF header (quotation, invoice, ticket) will fail to send"
        )
    check = subprocess.run([str(python), "-c", "import meta_sandbox.__main__"], cwd=ROOT, capture_output=True)
    if check.returncode:
        err = (check.stderr.decode().strip().splitlines() or ["?"])[-1]
        raise Fatal(f"the Meta sandbox (package meta_sandbox) cannot be started: {err}")
    pg = postgres.locate(python)
    db = args.db
    if args.reset and pg.db_exists(python, db):
        say(f"dropping {db} (--reset)")
        pg.drop_db(python, db)
    stamp, digest = LOCAL / f"{db}.sources", _source_digest()
    if not _installed(python, pg, db):
        _create(python, odoo, pg, db)
        stamp.write_text(digest)
    elif not stamp.exists() or stamp.read_text() != digest:
        _create(python, odoo, pg, db, update=True)
        stamp.write_text(digest)
    odoo_url = f"http://127.0.0.1:{args.port}"
    sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"
    _point_account_at(python, pg, db, sandbox_url)

    LOGS.mkdir(parents=True, exist_ok=True)
    sandbox_cmd = [str(python), "-m", "meta_sandbox", "--port", str(args.sandbox_port)]
    sandbox_cmd += ["--callback", f"{odoo_url}/whatsapp/webhook", "--auto-approve"]
    # The sandbox's control API needs this token (passed in the environment, not on the command line where
    # any local user could read it); the emulator page gets it embedded, scripts use X-Sandbox-Token.
    control_token = secrets.token_urlsafe(24)
    sandbox_env = dict(os.environ, PYTHONUNBUFFERED="1", META_SANDBOX_CONTROL_TOKEN=control_token)
    odoo_cmd = [*_odoo_base(python, odoo, pg, db), f"--http-port={args.port}", "--http-interface=127.0.0.1"]
    odoo_cmd += [f"--gevent-port={args.port + 3}", "--log-level=info"]
    popen = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    popen.update(start_new_session=True, errors="replace", bufsize=1)
    procs = []
    # Ctrl-C, kill: stop both (SIGINT explicitly: it may be ignored when started in the background)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        sandbox = subprocess.Popen(sandbox_cmd, cwd=ROOT, env=sandbox_env, **popen)
        procs.append(sandbox)
        server = subprocess.Popen(odoo_cmd, cwd=ROOT, env=odoo.env(), **popen)
        procs.append(server)
        important = (" WARNING ", " ERROR ", " CRITICAL ", "Traceback")
        threads = [
            threading.Thread(target=_pump, args=(sandbox, "[sandbox]", LOGS / "sandbox.log", lambda _: True)),
            threading.Thread(
                target=_pump,
                args=(server, "[odoo]", LOGS / "odoo-run.log", lambda ln: any(w in ln for w in important)),
            ),
        ]
        for t in threads:
            t.daemon = True
            t.start()
        say(f"starting the Meta sandbox on {sandbox_url} and Odoo on {odoo_url} (logs in .local/logs/)")
        deadline = time.time() + WAIT
        pending = {"Odoo": f"{odoo_url}/web/login", "sandbox": f"{sandbox_url}/emulator"}
        while pending:
            for name, proc in (("sandbox", sandbox), ("Odoo", server)):
                if proc.poll() is not None:
                    raise Fatal(f"{name} exited with status {proc.returncode} (see .local/logs/)", status=1)
            pending = {k: u for k, u in pending.items() if not _answers(u)}
            if time.time() > deadline:
                raise Fatal(
                    f"{' and '.join(pending)} did not answer within {WAIT}s (see .local/logs/)", status=1
                )
            time.sleep(0.5)
        print(
            f"\n  Odoo:           {odoo_url}   (login: admin / admin, database {db})\n"
            f"  Meta sandbox:   {sandbox_url}\n"
            f"  Phone emulator: {sandbox_url}/emulator\n"
            f"  Sandbox control API token (header X-Sandbox-Token): {control_token}\n\n"
            "  Ctrl-C stops both.\n",
            flush=True,
        )
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        dead = next(p for p in procs if p.poll() is not None)
        name = "sandbox" if dead is sandbox else "Odoo"
        raise Fatal(f"{name} stopped (status {dead.returncode}); stopping the other", status=1)
    except KeyboardInterrupt:
        say("stopping Odoo and the sandbox")
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not abort the clean stop
        _stop(procs)
        sys.stdout.flush()
