"""The project virtualenv ``.venv``: created once, requirements installed when they change.

It is created with ``--system-site-packages`` so a machine-wide Odoo and its dependencies are reused
(offline); Odoo's own pins (``requirements-odoo18.txt``) are installed only when Odoo's dependencies
are not importable, e.g. for an Odoo found through ODOO_PATH or downloaded from the archive.
"""

import hashlib
import subprocess
import sys

from .common import ROOT, VENV, Fatal, run, say

STAMP = VENV / ".dev-stamp"
PY = VENV / "bin" / "python"
# What Odoo 18.0 needs at import/start time; one missing means Odoo's pins must be installed.
ODOO_PROBE = (
    "babel, dateutil, decorator, docutils, gevent, jinja2, lxml, markupsafe, passlib, PIL, polib, "
    "psutil, psycopg2, pytz, reportlab, requests, rjsmin, werkzeug, zeep, num2words, openpyxl, "
    "PyPDF2, qrcode, stdnum, OpenSSL, xlsxwriter, xlrd, idna, asn1crypto, phonenumbers, websocket"
)


def _pip(*args):
    cmd = [str(PY), "-m", "pip", "--disable-pip-version-check", "-q", *args]
    proc = run(cmd, check=False, quiet=True)
    if proc.returncode:
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        raise Fatal(f"pip {' '.join(args)} failed: {lines[-1] if lines else proc.returncode}")


def _digest(path):
    return f"{path.name}:{hashlib.sha256(sys.version.encode() + path.read_bytes()).hexdigest()}"


def odoo_deps_importable():
    code = f"import {ODOO_PROBE}"
    return subprocess.run([str(PY), "-c", code], capture_output=True).returncode == 0


def ensure(extra=(), odoo_deps=False):
    """Create/refresh ``.venv``; ``extra``: other requirement files (e.g. requirements-dev.txt).

    ``odoo_deps``: also install Odoo 18.0's pins when its dependencies are not importable.
    """
    if not PY.exists():
        say(f"creating the virtualenv {VENV.relative_to(ROOT)} (--system-site-packages)")
        run([sys.executable, "-m", "venv", "--system-site-packages", str(VENV)], quiet=True)
    files = [ROOT / "requirements.txt", *(ROOT / e for e in extra)]
    if odoo_deps and not odoo_deps_importable():
        files.insert(0, ROOT / "requirements-odoo18.txt")
    done = set(STAMP.read_text().split()) if STAMP.exists() else set()
    for f in files:
        digest = _digest(f)
        if digest in done:
            continue  # installed already, unchanged since
        say(f"pip install -r {f.name}")
        _pip("install", "-r", str(f))
        done = {d for d in done if not d.startswith(f"{f.name}:")} | {digest}
        STAMP.write_text("\n".join(sorted(done)) + "\n")
    return PY
