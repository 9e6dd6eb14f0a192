"""Paths, messages and small process/port helpers shared by the ``./dev`` commands."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".local"
LOGS = LOCAL / "logs"
VENV = ROOT / ".venv"
ADDONS = ("whatsapp", "whatsapp_sale", "whatsapp_pos", "whatsapp_event")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class Fatal(Exception):
    """A one-line, user-facing error: printed on stderr, exit status 2."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


def say(msg):
    print(f"[dev] {msg}", flush=True)


def warn(msg):
    print(f"[dev] WARNING: {msg}", file=sys.stderr, flush=True)


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def run(cmd, check=True, quiet=False, **kw):
    """Run a command; on failure raise Fatal with its last output line."""
    if quiet:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.STDOUT)
        kw.setdefault("text", True)
    proc = subprocess.run(cmd, check=False, **kw)
    if check and proc.returncode:
        out = (proc.stdout or "").strip().splitlines() if quiet else []
        tail = f": {out[-1]}" if out else ""
        raise Fatal(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}{tail}")
    return proc


def port_in_use(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port(start=None):
    """A free TCP port on 127.0.0.1: ``start`` or the next free one, else any."""
    if start:
        for port in range(start, start + 200):
            if not port_in_use(port):
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def apt_install(*packages):
    """Install Debian packages when we may (root + apt-get); return True when done."""
    if not (is_root() and shutil.which("apt-get")):
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    stamp = LOCAL / "apt-updated"
    if not stamp.exists():
        say("apt-get update")
        if run(["apt-get", "update", "-qq"], check=False, quiet=True, env=env).returncode:
            return False
        LOCAL.mkdir(parents=True, exist_ok=True)
        stamp.touch()
    say(f"apt-get install {' '.join(packages)}")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]
    return run(cmd, check=False, quiet=True, env=env).returncode == 0
