"""Find a PostgreSQL server Odoo can use, or run a project-local one under ``.local/pg``.

Order: the PG* variables (PGHOST/PGPORT/PGUSER/PGPASSWORD); the local server on the default socket
(as the current user, then as role ``odoo``); else a cluster of our own: data ``.local/pg/data``,
socket ``.local/pg/run``, port 54320 (the next free one when taken), no TCP, fsync off, superuser
role ``odoo`` with trust authentication. A cluster already running there is reused; a stopped one is
started. Debian's ``postgresql`` package is installed first when the server binaries are missing
and we are root. PostgreSQL refuses to run as root: as root the cluster belongs to ``postgres``
(or a system user ``odoo-pg`` created for it).
"""

import getpass
import hashlib
import json
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .common import LOCAL, Fatal, apt_install, is_root, port_in_use, run, say

PG_DIR = LOCAL / "pg"
DEFAULT_PORT = 54320
DEFAULT_SOCKETS = ("/var/run/postgresql", "/tmp")
SERVICE_USER = "odoo-pg"
SERVER_OPTS = "-c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"

_PROBE = """
import json, sys, psycopg2
try:
    cn = psycopg2.connect(dbname="postgres", connect_timeout=5, **json.loads(sys.argv[1]))
    cur = cn.cursor()
    cur.execute("SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user")
    ok = cur.fetchone()[0]
    print("ok" if ok else "role cannot create databases")
except Exception as exc:
    print(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
"""


@dataclass
class Postgres:
    host: str | None
    port: int | None
    user: str | None
    password: str | None
    how: str

    def params(self):
        keys = ("host", "port", "user", "password")
        return {k: getattr(self, k) for k in keys if getattr(self, k) not in (None, "")}

    def odoo_args(self):
        args = []
        for key, value in self.params().items():
            args += [f"--db_{key}", str(value)]
        return args

    def describe(self):
        where = f"{self.host or 'default socket'}:{self.port or 5432}"
        return f"{where} as {self.user or getpass.getuser()} ({self.how})"

    def sql(self, python, statement, dbname="postgres"):
        """Run one statement with autocommit; return the first column of the rows."""
        code = (
            "import json, sys, psycopg2\n"
            "cn = psycopg2.connect(dbname=sys.argv[3], **json.loads(sys.argv[1])); cn.autocommit = True\n"
            "cur = cn.cursor(); cur.execute(sys.argv[2])\n"
            "print(json.dumps([r[0] for r in cur.fetchall()] if cur.description else []))\n"
        )
        out = run([str(python), "-c", code, json.dumps(self.params()), statement, dbname], quiet=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def db_exists(self, python, name):
        return bool(self.sql(python, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))

    def drop_db(self, python, name):
        self.sql(python, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _probe(python, params):
    out = subprocess.run([str(python), "-c", _PROBE, json.dumps(params)], capture_output=True, text=True)
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[-1] if lines else f"probe failed ({out.returncode})"


def _bindir():
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _owner():
    """The unprivileged user owning the cluster (creating one when root and needed)."""
    if not is_root():
        return None
    for name in ("postgres", SERVICE_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    say(f"creating the system user {SERVICE_USER} to own the project-local PostgreSQL cluster")
    cmd = ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    run([*cmd, SERVICE_USER], quiet=True)
    return SERVICE_USER


def _as(user, cmd, check=True):
    if user:
        cmd = (
            ["runuser", "-u", user, "--", *cmd]
            if shutil.which("runuser")
            else ["su", user, "-s", "/bin/sh", "-c", " ".join(cmd)]
        )
    return run(cmd, check=check, quiet=True)


def _cluster_dir(user):
    """``.local/pg``, or a symlink from it to /var/tmp when ``user`` cannot reach the repo."""
    if PG_DIR.exists() or PG_DIR.is_symlink():
        return PG_DIR.resolve()
    LOCAL.mkdir(parents=True, exist_ok=True)
    reachable = not user or _as(user, ["test", "-x", str(LOCAL)], check=False).returncode == 0
    if reachable and len(str(PG_DIR / "run" / ".s.PGSQL.54320")) < 100:
        PG_DIR.mkdir()
        return PG_DIR
    alt = Path("/var/tmp") / f"whatsapp-odoo-pg-{hashlib.sha1(str(LOCAL).encode()).hexdigest()[:10]}"
    alt.mkdir(mode=0o755, exist_ok=True)
    PG_DIR.symlink_to(alt)
    return alt


def _running(base):
    """(port, socket dir) from postmaster.pid when the postmaster it names is alive, else None."""
    try:
        lines = (base / "data" / "postmaster.pid").read_text().splitlines()
        os.kill(int(lines[0]), 0)
        return int(lines[3]), lines[4]
    except (OSError, ValueError, IndexError):
        return None


def _local_cluster(python):
    bindir = _bindir()
    if bindir is None:
        if not apt_install("postgresql"):
            raise Fatal(
                "PostgreSQL unreachable: no server found and its binaries are missing (install postgresql)"
            )
        bindir = _bindir()
        if bindir is None:
            raise Fatal("PostgreSQL unreachable: package postgresql installed but initdb not found")
    user = _owner()
    base = _cluster_dir(user)
    data, sockets = base / "data", base / "run"
    if not (data / "PG_VERSION").exists():
        say(f"initialising a project-local PostgreSQL cluster in {data}")
        for d in (data, sockets):
            d.mkdir(parents=True, exist_ok=True)
        if user:
            run(["chown", "-R", f"{user}:", str(base)], quiet=True)
        data.chmod(0o700)
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "odoo", "--auth=trust", "-E", "UTF8"]
        _as(user, [*initdb, "--locale=C.UTF-8"])
    else:
        user = pwd.getpwuid(data.stat().st_uid).pw_name if is_root() else None
    found = _running(base)
    if found:
        port, sock = found
    else:
        port = DEFAULT_PORT
        while port_in_use(port) or (sockets / f".s.PGSQL.{port}").exists():
            port += 1
        sock = str(sockets)
        say(f"starting the project-local PostgreSQL cluster (socket {sock}, port {port})")
        opts = f"-k {sock} -p {port} {SERVER_OPTS}"
        ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60"]
        proc = _as(user, [*ctl, "-o", opts, "start"], check=False)
        if proc.returncode:
            raise Fatal(
                f"PostgreSQL unreachable: the project-local cluster in {data} did not start (see {base}/log)"
            )
    pg = Postgres(sock, port, "odoo", None, f"project-local cluster {base}")
    status = _probe(python, pg.params())
    if status != "ok":
        raise Fatal(f"PostgreSQL unreachable: project-local cluster at {sock}:{port} as odoo: {status}")
    return pg


def locate(python):
    """A reachable PostgreSQL where role can create databases, or raise Fatal with what was tried."""
    env = {k: os.environ.get(k) for k in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD")}
    if any(env.values()):
        pg = Postgres(env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGPASSWORD"], "PG* variables")
        status = _probe(python, pg.params())
        if status == "ok":
            return pg
        shown = " ".join(f"{k}={v if k != 'PGPASSWORD' else '***'}" for k, v in env.items() if v)
        raise Fatal(f"PostgreSQL unreachable with {shown}: {status}")
    tried = []
    for sock in DEFAULT_SOCKETS:
        if not Path(sock, ".s.PGSQL.5432").exists():
            continue
        for user in dict.fromkeys([getpass.getuser(), "odoo"]):
            if user == "postgres":
                continue  # Odoo refuses to connect as postgres
            pg = Postgres(sock, None, user, None, "local server")
            status = _probe(python, pg.params())
            if status == "ok":
                return pg
            tried.append(f"{sock} as {user}: {status}")
    try:
        return _local_cluster(python)
    except Fatal as exc:
        if tried:
            raise Fatal(f"{exc} (also tried the local server: {'; '.join(tried)})") from None
        raise
