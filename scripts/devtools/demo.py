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
from .common import ADDONS, LOCAL, LOGS, ROOT, Fatal, apt_install, free_port, port_in_use, say, warn

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


def _demo_app_secret(python, pg, db, sandbox_url):
    """The app secret of the demo account talking to this sandbox (generated when the demo data was installed):
    the sandbox signs its webhooks with it."""
    rows = pg.sql(
        python,
        f"SELECT app_secret FROM whatsapp_account WHERE active AND api_base_url = '{sandbox_url}' ORDER BY id LIMIT 1",
        dbname=db,
    )
    return rows[0] if rows and rows[0] else None


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


def prepare(python, odoo, pg, db, reset=False):
    """Create the demo database when missing (or ``reset``), update its addons when they changed."""
    if reset and pg.db_exists(python, db):
        say(f"dropping {db} (--reset)")
        pg.drop_db(python, db)
    stamp, digest = LOCAL / f"{db}.sources", _source_digest()
    if not _installed(python, pg, db):
        _create(python, odoo, pg, db)
        stamp.write_text(digest)
    elif not stamp.exists() or stamp.read_text() != digest:
        _create(python, odoo, pg, db, update=True)
        stamp.write_text(digest)


def drop(python, pg, db):
    """Drop a demo database, its filestore and its source stamp."""
    pg.drop_db(python, db)
    shutil.rmtree(DATA_DIR / "filestore" / db, ignore_errors=True)
    (LOCAL / f"{db}.sources").unlink(missing_ok=True)


def check_tools(python):
    """wkhtmltopdf (reports sent as document headers) and the Meta sandbox package."""
    # Odoo prints reports (the quotation, the invoice, the ticket sent as document headers) with wkhtmltopdf
    if not shutil.which("wkhtmltopdf") and not apt_install("wkhtmltopdf"):
        warn(
            "wkhtmltopdf is missing: templates with a PDF header (quotation, invoice, ticket) will fail to send"
        )
    check = subprocess.run([str(python), "-c", "import meta_sandbox.__main__"], cwd=ROOT, capture_output=True)
    if check.returncode:
        err = (check.stderr.decode().strip().splitlines() or ["?"])[-1]
        raise Fatal(f"the Meta sandbox (package meta_sandbox) cannot be started: {err}")


class Servers:
    """The Meta sandbox and Odoo on a demo database, as child processes (``start()``, ``stop()``).

    :param show: print Odoo's warnings and errors on the terminal (``./dev run``), else only log them
    :param log_prefix: name of the log files in ``.local/logs/`` (``<prefix>-odoo.log`` ...)
    """

    def __init__(self, python, odoo, pg, db, port, sandbox_port, show=True, log_prefix=None):
        self.python, self.odoo, self.pg, self.db = python, odoo, pg, db
        self.port, self.sandbox_port, self.show = port, sandbox_port, show
        self.odoo_url = f"http://127.0.0.1:{port}"
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        self.logs = (
            (LOGS / f"{log_prefix}-odoo.log", LOGS / f"{log_prefix}-sandbox.log")
            if log_prefix
            else (LOGS / "odoo-run.log", LOGS / "sandbox.log")
        )
        # The sandbox's control API needs this token (passed in the environment, not on the command line where
        # any local user could read it); the emulator page gets it embedded, scripts use X-Sandbox-Token.
        self.control_token = secrets.token_urlsafe(24)
        self.fresh_logs = bool(log_prefix)
        self.sandbox = self.server = None
        self.procs = []

    def start(self, extra_odoo_args=()):
        """Start both and wait until they answer (raise Fatal when one dies or is late)."""
        python, odoo = self.python, self.odoo
        _point_account_at(python, self.pg, self.db, self.sandbox_url)
        LOGS.mkdir(parents=True, exist_ok=True)
        sandbox_cmd = [str(python), "-m", "meta_sandbox", "--port", str(self.sandbox_port)]
        sandbox_cmd += ["--callback", f"{self.odoo_url}/whatsapp/webhook", "--auto-approve"]
        odoo_cmd = [*_odoo_base(python, odoo, self.pg, self.db), f"--http-port={self.port}"]
        odoo_cmd += ["--http-interface=127.0.0.1", f"--gevent-port={free_port(self.port + 3)}"]
        odoo_cmd += ["--log-level=info", *extra_odoo_args]
        popen = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        popen.update(start_new_session=True, errors="replace", bufsize=1)
        env = dict(os.environ, PYTHONUNBUFFERED="1", META_SANDBOX_CONTROL_TOKEN=self.control_token)
        # the demo account's app secret is generated at install: the sandbox signs its webhooks with it (in the
        # environment too, for the same reason)
        if secret := _demo_app_secret(python, self.pg, self.db, self.sandbox_url):
            env["META_SANDBOX_APP_SECRET"] = secret
        self.sandbox = subprocess.Popen(sandbox_cmd, cwd=ROOT, env=env, **popen)
        self.procs.append(self.sandbox)
        self.server = subprocess.Popen(odoo_cmd, cwd=ROOT, env=odoo.env(), **popen)
        self.procs.append(self.server)
        important = (" WARNING ", " ERROR ", " CRITICAL ", "Traceback")
        show_sandbox = (lambda _: True) if self.show else (lambda _: False)
        show_odoo = (lambda ln: any(w in ln for w in important)) if self.show else (lambda _: False)
        for proc, prefix, log, show in (
            (self.sandbox, "[sandbox]", self.logs[1], show_sandbox),
            (self.server, "[odoo]", self.logs[0], show_odoo),
        ):
            if self.fresh_logs:
                log.write_text("")
            threading.Thread(target=_pump, args=(proc, prefix, log, show), daemon=True).start()
        say(
            f"starting the Meta sandbox on {self.sandbox_url} and Odoo on {self.odoo_url} "
            f"(logs: {', '.join(str(p.relative_to(ROOT)) for p in self.logs)})"
        )
        deadline = time.time() + WAIT
        pending = {"Odoo": f"{self.odoo_url}/web/login", "sandbox": f"{self.sandbox_url}/emulator"}
        while pending:
            self.check_alive()
            pending = {k: u for k, u in pending.items() if not _answers(u)}
            if time.time() > deadline:
                raise Fatal(
                    f"{' and '.join(pending)} did not answer within {WAIT}s (see .local/logs/)", status=1
                )
            time.sleep(0.5)

    def check_alive(self):
        for name, proc in (("sandbox", self.sandbox), ("Odoo", self.server)):
            if proc is not None and proc.poll() is not None:
                raise Fatal(f"{name} exited with status {proc.returncode} (see .local/logs/)", status=1)

    def stop(self):
        _stop(self.procs)
        self.procs = []


def command(args):
    for port, what in ((args.port, "--port"), (args.sandbox_port, "--sandbox-port")):
        if port_in_use(port):
            raise Fatal(f"port {port} is already in use: stop what listens there or choose another {what}")
    python = venv.ensure()
    odoo = odoo_locate.locate(python)
    python = venv.ensure(odoo_deps=True)
    check_tools(python)
    pg = postgres.locate(python)
    db = args.db
    prepare(python, odoo, pg, db, reset=args.reset)
    servers = Servers(python, odoo, pg, db, args.port, args.sandbox_port)
    # Ctrl-C, kill: stop both (SIGINT explicitly: it may be ignored when started in the background)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        servers.start()
        print(
            f"\n  Odoo:           {servers.odoo_url}   (login: admin / admin, database {db})\n"
            f"  Meta sandbox:   {servers.sandbox_url}\n"
            f"  Phone emulator: {servers.sandbox_url}/emulator\n"
            f"  Sandbox control API token (header X-Sandbox-Token): {servers.control_token}\n\n"
            "  Ctrl-C stops both.\n",
            flush=True,
        )
        while all(p.poll() is None for p in servers.procs):
            time.sleep(0.5)
        dead = next(p for p in servers.procs if p.poll() is not None)
        name = "sandbox" if dead is servers.sandbox else "Odoo"
        raise Fatal(f"{name} stopped (status {dead.returncode}); stopping the other", status=1)
    except KeyboardInterrupt:
        say("stopping Odoo and the sandbox")
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not abort the clean stop
        servers.stop()
        sys.stdout.flush()
