"""``./dev run`` (work in progress)."""

from .common import LOCAL, Fatal

DATA_DIR = LOCAL / "odoo-data"


def command(args):
    raise Fatal("./dev run is not implemented yet")
