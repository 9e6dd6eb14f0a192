#!/usr/bin/env python3
"""Run every bench module of this directory (each has ``main(argv)``), passing the same arguments.

    python3 bench/run.py -d DB [--http-port PORT]

A module whose arguments differ may ignore the ones it does not know; failures are reported, not fatal.
"""

import importlib.util
import pathlib
import sys
import traceback

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
        try:
            module.main(argv)
        except SystemExit as exc:
            failed += bool(exc.code)
        except Exception:  # noqa: BLE001 - keep running the other benches
            traceback.print_exc()
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
