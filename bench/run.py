#!/usr/bin/env python3
"""Run every bench module of this directory (each has ``main(argv)``), passing the same arguments.

    python3 bench/run.py -d DB [--http-port PORT]

Each runs in its own process; a module ignores the arguments it does not know; failures are reported, not
fatal.
"""

import importlib.util
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    failed = 0
    for path in sorted(HERE.glob("*.py")):
        if path.name in ("run.py", "__init__.py"):
            continue
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "main"):
            continue
        print(f"=== {path.name}", flush=True)
        # one process per benchmark: Odoo's configuration and registry are set once per process
        failed += bool(subprocess.run([sys.executable, str(path), *argv]).returncode)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
