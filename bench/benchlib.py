"""What the in-process benchmarks share: their arguments, Odoo's registry, the bench account.

Not a benchmark itself (no ``main``): ``bench/run.py`` skips it.
"""

import argparse
import os
import re
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


def approved_template(env, account, name, sandbox=None, waba_uid=None):
    """A utility template of ``res.partner`` (sent to ``mobile``), approved; with ``sandbox``, also known to the
    sandbox as approved under ``waba_uid`` so that its sends are accepted."""
    template = env["whatsapp.template"].create(
        {
            "name": name,
            "body": "Hello from the bench.",
            "account_id": account.id,
            "model_id": env["ir.model"]._get_id("res.partner"),
            "phone_field": "mobile",
            "lang_code": "en_US",
            "category": "utility",
        }
    )
    template.status = "approved"
    if sandbox is not None:
        sandbox.post(
            "templates",
            {
                "waba_id": waba_uid,
                "name": template.template_name,
                "language": "en_US",
                "category": "UTILITY",
                "status": "APPROVED",
                "components": [{"type": "BODY", "text": template.body}],
            },
        )
    return template


def cpu_seconds(database=None, odoo_pids=None, others=None):
    """CPU seconds (user + system) of this process, of Odoo and of PostgreSQL.

    Other processes share the machine (other Odoo servers, other databases of the same PostgreSQL
    cluster), so when given, only these count: Odoo = the processes ``odoo_pids`` and their descendants
    (a prefork server's workers and gevent process), PostgreSQL = the backends connected to ``database``
    (``postgres: user database ...``). Without them, every ``odoo-bin`` and ``postgres`` process counts.
    ``others``: ``{name: pids}`` counted apart (e.g. the Meta sandbox's process).
    """
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"bench client": 0.0, "odoo": 0.0, "postgresql": 0.0}
    other_of = {pid: name for name, pids in (others or {}).items() for pid in pids}
    totals.update(dict.fromkeys(others or (), 0.0))
    processes = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmd:
                fields, cmdline = stat.read().rsplit(")", 1)[1].split(), cmd.read()
        except OSError:
            continue
        processes[int(pid)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, cmdline)
    odoo = set(odoo_pids or ())
    grew = bool(odoo)
    while grew:  # descendants of the given servers
        children = {pid for pid, (ppid, _cpu, _cmd) in processes.items() if ppid in odoo} - odoo
        odoo |= children
        grew = bool(children)
    for pid, (_ppid, cpu, cmdline) in processes.items():
        if pid == os.getpid():
            totals["bench client"] += cpu
        elif pid in other_of:
            totals[other_of[pid]] += cpu
        elif odoo_pids is not None and pid in odoo or odoo_pids is None and b"odoo-bin" in cmdline:
            totals["odoo"] += cpu
        elif cmdline.startswith(b"postgres: ") and (database is None or f" {database} ".encode() in cmdline):
            totals["postgresql"] += cpu
        elif database is None and b"postgres" in cmdline:
            totals["postgresql"] += cpu
    return totals


class SessionCounter:
    """PostgreSQL connections opened (``pg_stat_database.sessions``) to the benchmark database and to
    ``postgres``: Odoo's bus opens a new connection to ``postgres`` for the ``NOTIFY`` after every commit
    that sent bus messages (its connections to ``postgres`` are never pooled), a backend started and
    ended per event whose CPU :func:`cpu_seconds` cannot see (the process is gone when it reads)."""

    def __init__(self, args):
        import psycopg2  # noqa: PLC0415 - Odoo's dependency

        self.connection = psycopg2.connect(
            host=args.db_host, port=args.db_port, user=args.db_user, dbname=args.database
        )
        self.connection.autocommit = True
        self.database = args.database

    def read(self):
        with self.connection.cursor() as cr:
            cr.execute("SELECT pg_stat_clear_snapshot()")
            cr.execute(
                "SELECT datname, sessions FROM pg_stat_database WHERE datname IN (%s, 'postgres')",
                [self.database],
            )
            counts = dict(cr.fetchall())
        return {"bench database": counts.get(self.database, 0), "postgres": counts.get("postgres", 0)}

    def close(self):
        self.connection.close()


def machine():
    """``"load L on N cores, host speed S"``: the 1-minute load, and the CPU seconds a fixed pure-Python loop
    takes now (:func:`host_speed`). On a shared virtual machine the same work costs up to 1.6 times more CPU
    from one hour to the next (neighbours, frequency): compare figures measured at the same speed, or within
    one run."""
    return f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores, host speed {host_speed():.2f} s"


def host_speed(loops=3_000_000):
    """CPU seconds of a fixed pure-Python loop (about 0.3 s on the reference machine at its fastest): the
    host's speed at the time of a figure, printed beside it (lower is faster)."""
    import time  # noqa: PLC0415

    started, total = time.process_time(), 0
    for i in range(loops):
        total += i * i % 7
    return time.process_time() - started


def cpu_per_event(before, after, count):
    """``{side: ms per event}`` between two :func:`cpu_seconds` readings."""
    return {kind: (after[kind] - before[kind]) / max(count, 1) * 1000 for kind in after}


def format_cpu(cpu_ms):
    return ", ".join(f"{kind} {ms:.2f} ms" for kind, ms in cpu_ms.items())


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an already sorted list (0 when empty)."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, int(len(sorted_values) * fraction + 0.5) - 1))]


class OdooServer:
    """``odoo-bin`` as production runs it (prefork ``--workers N``, ``-d DB``), its log in a file.

    ``options`` go to a configuration file (``-c``): Odoo's command line refuses options it does not know
    (e.g. ``whatsapp_webhook_fast_lane``). The gevent port (prefork's bus/websocket process) is set next to
    the HTTP port, so that two servers, or another one on the machine, never fight for 8072: a lost bind
    makes Odoo respawn the gevent process in a loop, which :meth:`problems` reports.
    """

    def __init__(self, args, port, workers=2, cron_threads=0, options=None, name="odoo", addons=ROOT):
        import subprocess  # noqa: PLC0415
        import tempfile  # noqa: PLC0415

        self.port, self.database = port, args.database
        self.log_path = os.path.join(tempfile.gettempdir(), f"bench-{name}-{port}.log")
        self.conf_path = os.path.join(tempfile.gettempdir(), f"bench-{name}-{port}.conf")
        with open(self.conf_path, "w") as conf:
            conf.write("[options]\n")
            for key, value in (options or {}).items():
                conf.write(f"{key} = {value}\n")
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                f"{args.odoo}/odoo-bin",
                "-c",
                self.conf_path,
                f"--addons-path={args.odoo}/odoo/addons,{addons}",
                f"--db_host={args.db_host}",
                f"--db_port={args.db_port}",
                f"--db_user={args.db_user}",
                "-d",
                args.database,
                f"--http-port={port}",
                f"--gevent-port={port + 1}",
                f"--workers={workers}",
                f"--max-cron-threads={cron_threads}",
                "--log-level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait(self, seconds=120):
        import http.client  # noqa: PLC0415
        import time  # noqa: PLC0415

        for _ in range(seconds * 2):
            if self.process.poll() is not None:
                raise RuntimeError(f"Odoo stopped while starting (log: {self.log_path})")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/web/login")
                connection.getresponse().read()
                return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"Odoo did not start (log: {self.log_path})")

    def cpu_seconds(self):
        """:func:`cpu_seconds` of this server's processes and its database's backends."""
        return cpu_seconds(self.database, [self.process.pid])

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.log.close()

    def problems(self):
        """Tracebacks, errors and lost binds logged so far (a figure is not trusted with any), and the
        serialization conflicts PostgreSQL reported (handled by retrying; counted apart, not flagged)."""
        with open(self.log_path, errors="replace") as log:
            text = log.read()
        conflicts = text.count("could not serialize access")
        return {
            "tracebacks": text.count("Traceback"),
            "errors": len(re.findall(r" (?:ERROR|CRITICAL) ", text)) - conflicts,
            "address in use": text.count("Address already in use"),
            "serialization conflicts (retried)": conflicts,
        }


#: problems that make a figure untrustworthy (the others are reported only)
SERIOUS = ("tracebacks", "errors", "address in use")


def log_verdict(problems):
    """``"clean"``, or what the server log holds, with a warning when a figure should not be trusted."""
    found = {key: count for key, count in problems.items() if count}
    serious = any(key.split(": ")[-1] in SERIOUS for key in found)
    return (str(found) if found else "clean") + (" -- FIGURES NOT TRUSTED" if serious else "")


def max_per_second(times):
    """Largest number of events in any 1-second window ``[t, t + 1)``."""
    return busiest_second(times)[0]


def busiest_second(times, cap=None):
    """The 1-second windows starting at each event: ``(most events in one, the start of the first such
    window or None, how many hold more than cap)``."""
    times = sorted(times)
    most, start, over, j = 0, None, 0, 0
    for i, t in enumerate(times):
        while j < len(times) and times[j] < t + 1.0:
            j += 1
        if cap is not None and j - i > cap:
            over += 1
        if j - i > most:
            most, start = j - i, t
    return most, start, over
