"""Find Odoo 18.0: ODOO_PATH, an importable ``odoo``, a machine-wide location, the official archive.

The machine-wide locations documented in README.rst: ``/opt/odoo/18.0`` (a source tree) and
``/usr/lib/python3/dist-packages`` (Debian's ``odoo`` package). The archive is downloaded only when
nothing else is found, into ``.local/odoo/``. ``DEV_EXTRA_ADDONS``: more addons directories
(comma-separated) appended to the addons path. ``DEV_NO_MACHINE_ODOO=1`` skips the import and the
machine-wide locations (to exercise the other paths).
"""

import os
import re
import shutil
import subprocess
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .common import LOCAL, ROOT, Fatal, say

MACHINE_WIDE = (Path("/opt/odoo/18.0"), Path("/usr/lib/python3/dist-packages"))
ARCHIVE_URL = "https://nightly.odoo.com/18.0/nightly/src/odoo_18.0.latest.tar.gz"
ARCHIVE_DIR = LOCAL / "odoo"


class OdooMissing(Fatal):
    """No Odoo found (the test command runs the pure tests anyway)."""


@dataclass
class Odoo:
    root: Path  # the directory holding the ``odoo`` package
    version: str
    how: str  # how it was found

    @property
    def addons_path(self):
        paths = [self.root / "odoo" / "addons", self.root / "addons", ROOT]
        extra = [Path(p) for p in os.environ.get("DEV_EXTRA_ADDONS", "").split(",") if p]
        return ",".join(str(p) for p in [*paths, *extra] if p.is_dir())

    def command(self, python):
        """The command starting Odoo's CLI with the given interpreter."""
        odoo_bin = self.root / "odoo-bin"
        if odoo_bin.is_file():
            return [str(python), str(odoo_bin)]
        return [str(python), "-m", "odoo"]

    def env(self, base=None):
        env = dict(base or os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.root), env.get("PYTHONPATH")]))
        return env


def read_version(root):
    """``version_info`` of ``root/odoo/release.py`` without importing it, or None."""
    release = Path(root) / "odoo" / "release.py"
    try:
        text = release.read_text()
    except OSError:
        return None
    match = re.search(r"^version_info\s*=\s*\(\s*([^,]+?)\s*,\s*([^,]+?)\s*,", text, re.M)
    if not match:
        return None
    return tuple(int(g) if g.isdigit() else g.strip("'\"") for g in match.groups())


def _check(root, how):
    info = read_version(root)
    if info is None:
        return None
    version = ".".join(str(v) for v in info[:2])
    if tuple(info[:2]) != (18, 0):
        raise Fatal(f"Odoo at {root} ({how}) is {version}, this project needs 18.0")
    return Odoo(Path(root), version, how)


def _importable(python):
    """Directory holding an importable ``odoo`` package for ``python``, or None."""
    code = (
        "import importlib.util as u, os; s = u.find_spec('odoo'); print(s.origin if s and s.origin else '')"
    )
    try:
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    origin = out.stdout.strip()
    return Path(origin).parent.parent if origin else None


def _download():
    """Odoo 18.0's official source archive into .local/odoo/ (once)."""
    target = ARCHIVE_DIR / "src"
    if read_version(target):
        return target
    ARCHIVE_DIR.mkdir(parents=True, exist_ok=True)
    tarball = ARCHIVE_DIR / "odoo_18.0.latest.tar.gz"
    say(f"downloading Odoo 18.0 from {ARCHIVE_URL}")
    try:
        with urllib.request.urlopen(ARCHIVE_URL, timeout=30) as resp, open(tarball, "wb") as out:
            shutil.copyfileobj(resp, out)
    except OSError as exc:
        tarball.unlink(missing_ok=True)
        return f"archive {ARCHIVE_URL} unreachable (offline? {getattr(exc, 'reason', exc)})"
    tmp = ARCHIVE_DIR / "extract"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(tmp)
    tops = [p for p in tmp.iterdir() if read_version(p)]
    if not tops:
        return f"archive {ARCHIVE_URL} holds no Odoo source tree"
    shutil.rmtree(target, ignore_errors=True)
    tops[0].rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    tarball.unlink()
    return target


def locate(python):
    """The Odoo 18.0 to use, or raise OdooMissing / Fatal (not 18.0) with a one-line reason."""
    tried = []
    explicit = os.environ.get("ODOO_PATH")
    if explicit:
        path = Path(explicit).expanduser()
        if path.name == "odoo" and (path / "release.py").is_file():
            path = path.parent  # ODOO_PATH may name the package itself
        found = _check(path, "ODOO_PATH")
        if found:
            return found
        raise OdooMissing(f"Odoo not found: ODOO_PATH={explicit} holds no odoo/release.py")
    tried.append("ODOO_PATH unset")
    machine = not os.environ.get("DEV_NO_MACHINE_ODOO")
    if machine:
        root = _importable(python)
        if root:
            found = _check(root, f"import odoo with {python}")
            if found:
                return found
        tried.append("no importable odoo")
        for path in MACHINE_WIDE:
            found = _check(path, "machine-wide")
            if found:
                return found
        tried.append(f"nothing in {' or '.join(map(str, MACHINE_WIDE))}")
    else:
        tried.append("import and machine-wide locations disabled (DEV_NO_MACHINE_ODOO)")
    got = _download()
    if isinstance(got, Path):
        return _check(got, "official archive")
    tried.append(got)
    raise OdooMissing(f"Odoo 18.0 not found: {'; '.join(tried)}; set ODOO_PATH to an Odoo 18.0 source tree")
