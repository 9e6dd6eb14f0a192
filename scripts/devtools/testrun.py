"""``./dev test``: the pure tests (pytest over tests/) and the Odoo tests of the addons, one verdict.

Every skipped test counts as a failure (a tour skipped for want of Chromium must never pass), and
so does any ERROR/CRITICAL logged by Odoo outside a test, or a run without Odoo's final
``N failed, N error(s) of N tests`` line.
"""

import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from . import venv
from .common import ADDONS, LOCAL, LOGS, ROOT, Fatal, apt_install, free_port, say, warn

LOG_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (\w+) (\S+) ([\w.]+): (.*)$")
FINAL_RE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
SKIP_RE = re.compile(r"^skipped (.+?) : (.*)$")
SHOWN_INFO = re.compile(r"Loading \d+ modules|Modules loaded|modules loaded in|init db|Starting post-install")
CHROME_BINS = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    problems: list = field(default_factory=list)

    def fail(self, what, count=1):
        self.failed += count
        self.problems.append(what)


def run_pure(python, tally):
    tests = ROOT / "tests"
    if not tests.is_dir():
        say("pure tests: no tests/ directory")
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    junit = LOGS / "pytest.xml"
    junit.unlink(missing_ok=True)
    say("pure tests: pytest tests/")
    cmd = [str(python), "-m", "pytest", "tests", "-q", "-rs", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    if rc == 5:
        say("pure tests: none collected")
        return
    if not junit.exists():
        tally.fail(f"pytest exited with {rc} and wrote no report")
        return
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for case in (c for s in suites for c in s.iter("testcase")):
        name = f"{case.get('classname')}.{case.get('name')}"
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skip = case.find("skipped")
        if bad is not None:
            tally.fail(f"pytest {bad.tag}: {name}")
        elif skip is not None:
            tally.fail(f"pytest skipped (counted as failed): {name}: {skip.get('message')}")
        else:
            tally.passed += 1
    if rc not in (0, 1) and not tally.failed:
        tally.fail(f"pytest exited with {rc}")


def ensure_browser(python):
    """Odoo skips tours without Chromium or websocket-client: provide both when we may."""
    if subprocess.run([str(python), "-c", "import websocket"], capture_output=True).returncode:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "websocket-client"], check=False)
    if not any(shutil.which(b) for b in CHROME_BINS) and not apt_install("chromium"):
        warn(
            "Chromium not found and cannot be installed here: every tour will be SKIPPED and count as failed"
        )


def _odoo_cmd(python, odoo, pg, db, modules, tags):
    return [
        *odoo.command(python),
        f"--addons-path={odoo.addons_path}",
        *pg.odoo_args(),
        f"--data-dir={LOCAL / 'odoo-data'}",
        "-d", db, "-i", ",".join(modules), "--without-demo=all",
        "--test-enable", f"--test-tags={tags}",
        "--stop-after-init", "--log-level=info", "--max-cron-threads=0",
        f"--http-port={free_port()}", f"--gevent-port={free_port()}",
    ]  # fmt: skip


def run_odoo(python, odoo, pg, tally, modules=ADDONS, tags=None, keep_db=False):
    tags = tags or ",".join(f"/{m}" for m in modules)
    db = f"wa_test_{os.getpid()}_{int(time.time())}"
    LOGS.mkdir(parents=True, exist_ok=True)
    logfile = LOGS / f"odoo-test-{db}.log"
    cmd = _odoo_cmd(python, odoo, pg, db, modules, tags)
    say(f"Odoo tests: database {db}, Odoo {odoo.version} at {odoo.root}, PostgreSQL {pg.describe()}")
    say(f"full log: {logfile.relative_to(ROOT)}")
    started = time.time()
    final, in_test, show_cont = None, False, False
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=odoo.env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
    )  # fmt: skip
    try:
        with open(logfile, "w") as log:
            for line in proc.stdout:
                log.write(line)
                m = LOG_RE.match(line.rstrip("\n"))
                if not m:
                    if show_cont:
                        print("    " + line, end="")
                    continue
                level, logger, msg = m.group(1), m.group(3), m.group(4).rstrip()
                is_test = ".tests" in logger
                if msg.startswith("Starting ") and is_test:
                    in_test = True
                elif logger.startswith(("odoo.modules", "odoo.service", "odoo.registry")):
                    in_test = False
                show = level in ("WARNING", "ERROR", "CRITICAL") or bool(SHOWN_INFO.search(msg))
                if FINAL_RE.search(msg):
                    final, show = FINAL_RE.search(msg), True
                elif (skip := SKIP_RE.match(msg)) and is_test:
                    tally.fail(f"Odoo test skipped (counted as failed): {skip.group(1)}: {skip.group(2)}")
                    show = True
                elif level in ("ERROR", "CRITICAL") and not is_test and not in_test:
                    tally.fail(f"Odoo logged {level} outside tests: {logger}: {msg[:200]}")
                elif msg.startswith("Starting ") and is_test:
                    print(f"  {msg}", flush=True)
                if show:
                    print(f"  {level} {logger}: {msg}", flush=True)
                show_cont = show and level != "INFO"
        rc = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        raise
    finally:
        if proc.poll() is None:
            proc.kill()
        if keep_db:
            say(f"kept database {db}")
        else:
            _drop(python, pg, db)
    say(f"Odoo tests took {time.time() - started:.0f}s (exit status {rc})")
    if not final:
        if not any(p.startswith("Odoo logged") for p in tally.problems):  # else counted already
            tally.fail(f"Odoo's final test line is missing (exit status {rc}): see {logfile}")
        else:
            tally.problems.append(f"Odoo's final test line is missing (exit status {rc}): see {logfile}")
        return
    failed, errors, total = (int(g) for g in final.groups())
    skipped = sum(1 for p in tally.problems if p.startswith("Odoo test skipped"))
    tally.passed += max(total - failed - errors - skipped, 0)
    if failed or errors:
        tally.fail(f"Odoo: {failed} failed, {errors} error(s) of {total} tests", failed + errors)
    if rc and not (failed or errors):
        tally.fail(f"odoo-bin exited with status {rc}")


def run_demo(python, odoo, pg, tally, keep_db=False):
    """The demo as ``./dev run`` creates it, and the seed's main flow on it through XML-RPC and the sandbox.

    Each step of ``demo_flow.check_steps`` counts as one test; so does "Odoo logged no ERROR" over the run.
    """
    from . import demo, demo_flow

    db = f"wa_demo_{os.getpid()}_{int(time.time())}"
    started = time.time()
    say(f"demo check: the demo database {db} as ./dev run creates it, then the seed's flow over XML-RPC")
    servers = None
    try:
        demo.check_tools(python)
        demo._create(python, odoo, pg, db)
        servers = demo.Servers(
            python, odoo, pg, db, free_port(8269), free_port(8290), show=False, log_prefix="demo-test"
        )
        servers.start()
        rpc = demo_flow.Rpc(servers.odoo_url, db)
        rpc.call("ir.config_parameter", "set_param", "web.base.url", servers.odoo_url)  # reports' assets
        sandbox = demo_flow.Sandbox(servers.sandbox_url, servers.control_token)
        for name, step in demo_flow.check_steps(rpc, sandbox):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - every failure of a step is that test's failure
                tally.fail(f"{name}: {type(exc).__name__}: {exc}")
                print(f"  FAIL {name}: {exc}", flush=True)
                break  # the next steps need this one
            else:
                tally.passed += 1
                print(f"  ok   {name}", flush=True)
        sandbox.wait_idle()
        errors = _logged_errors(servers.logs[0])
        if errors:
            tally.fail(f"demo: Odoo logged {len(errors)} ERROR/CRITICAL (first: {errors[0][:200]})")
        else:
            tally.passed += 1
        servers.stop()
        servers = None
        run_two_servers(python, odoo, pg, db, tally)
    except Fatal as exc:
        tally.fail(f"demo: {exc}")
    finally:
        if servers:
            servers.stop()
        if keep_db:
            say(f"kept database {db}")
        else:
            try:
                demo.drop(python, pg, db)
            except Fatal as exc:
                warn(f"could not drop database {db}: {exc}")
    say(f"demo check took {time.time() - started:.0f}s")


TWO_SERVERS_COUNT, TWO_SERVERS_CAP = 2000, 50


def run_two_servers(python, odoo, pg, db, tally):
    """Two ``odoo-bin`` servers on the demo database (after the demo flow), a 2,000-recipient send at cap 50 from
    the composer against the Meta sandbox (``two_servers.py``); four tests: sent with nothing left queued, the cap
    held by both servers together as Meta counts it, every message sent exactly once, the queue run by the
    servers' cron threads with clean logs."""
    from . import demo, two_servers

    n, cap = TWO_SERVERS_COUNT, TWO_SERVERS_CAP
    names = [
        f"two servers: {n:,} recipients sent from the composer, nothing left queued",
        f"two servers: never more than {cap} calls to Meta in any second, both servers together "
        f"(at their arrival, {two_servers.JITTER:g} s allowed on the way)",
        "two servers: every message sent exactly once (each message and recipient once at Meta)",
        "two servers: the queue ran on the servers' cron threads, no error or traceback in their logs",
    ]
    started = time.time()
    say(f"two servers: {n:,} recipients at cap {cap} from the composer, two odoo-bin servers on {db}")
    scenario = two_servers.TwoServers(
        demo._odoo_base(python, odoo, pg, db), odoo.env(), python, db, LOGS, "demo-test-two-servers", n, cap
    )
    try:
        scenario.start()
        scenario.setup()
        scenario.click()
        scenario.wait_drained()
        outcome = scenario.collect()
    except Exception as exc:  # noqa: BLE001 - whatever stopped the scenario fails its tests
        scenario.stop()
        for name in names:
            tally.fail(f"{name}: not run: {type(exc).__name__}: {exc}")
        print(f"  FAIL two servers: {type(exc).__name__}: {exc} (logs: .local/logs/demo-test-two-servers-*)")
        return
    scenario.stop()
    for line in outcome.lines():
        print(f"       {line}", flush=True)
    checks = [
        [] if not outcome.left and outcome.bulk_state == "done" else
        [f"left queued {outcome.left}, bulk send {outcome.bulk_state}"],
        outcome.cap_problems(),
        outcome.sent_once_problems(),
        ([] if sum(outcome.queue_runs) else ["the queue cron never ran on either server"])
        + [f"server {name}: {p[0][:200]} ({len(p)} in all)"
           for name, p in zip("AB", outcome.problems, strict=True) if p],
    ]  # fmt: skip
    for name, problems in zip(names, checks, strict=True):
        if problems:
            tally.fail(f"{name}: {'; '.join(problems)}")
            print(f"  FAIL {name}: {'; '.join(problems)}", flush=True)
        else:
            tally.passed += 1
            print(f"  ok   {name}", flush=True)
    say(f"two servers took {time.time() - started:.0f}s")


#: errors Odoo logs and then recovers from by itself (the request is retried)
RETRIED = re.compile(r"could not serialize access|deadlock detected|could not obtain lock")


def _logged_errors(logfile):
    """The ERROR/CRITICAL lines of an Odoo log, less the failed queries that Odoo retries."""
    lines = logfile.read_text(errors="replace").splitlines()
    errors = []
    for i, line in enumerate(lines):
        m = LOG_RE.match(line)
        if not m or m.group(1) not in ("ERROR", "CRITICAL"):
            continue
        following = "\n".join(lines[i + 1 : i + 3])
        if m.group(3) == "odoo.sql_db" and RETRIED.search(following):
            continue
        errors.append(line)
    return errors


def _drop(python, pg, db):
    try:
        pg.drop_db(python, db)
    except Fatal as exc:
        warn(f"could not drop database {db}: {exc}")
    shutil.rmtree(LOCAL / "odoo-data" / "filestore" / db, ignore_errors=True)


def report(tally, odoo_skip=None):
    """Print the problems, the skip line if any, then the final line; return the exit status."""
    if tally.problems:
        print("\nProblems:")
        for p in tally.problems:
            print(f"  - {p}")
    if odoo_skip:
        print(f"\nOdoo tests SKIPPED: {odoo_skip}", flush=True)
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 1 if tally.failed else 0


def command(args):
    from . import odoo_locate, postgres

    tally = Tally()
    only = args.pure or args.odoo or args.demo
    want_pure, want_odoo = args.pure or not only, args.odoo or not only
    # the demo check runs with the whole suite (and with --demo), not with a subset of the Odoo tests
    want_demo = args.demo or not (only or args.no_demo or args.tags or args.modules)
    # requirements-test.txt: test-only clients (pywa) the pure tests import; missing, those tests fail
    python = venv.ensure(extra=["requirements-test.txt"], odoo_deps=False)
    odoo_skip = None
    odoo = pg = None
    if want_odoo or want_demo:
        try:
            odoo = odoo_locate.locate(python)
        except odoo_locate.OdooMissing as exc:
            odoo_skip = str(exc)
    if odoo:
        python = venv.ensure(extra=["requirements-test.txt"], odoo_deps=True)
        pg = postgres.locate(python)
        ensure_browser(python)
    if want_pure:
        run_pure(python, tally)
    if odoo and want_odoo:
        modules = args.modules.split(",") if args.modules else list(ADDONS)
        run_odoo(python, odoo, pg, tally, modules, args.tags, args.keep_db)
    if odoo and want_demo:
        run_demo(python, odoo, pg, tally, args.keep_db)
    if odoo_skip and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        tally.fail("Odoo tests cannot be skipped on CI")
    return report(tally, odoo_skip)
