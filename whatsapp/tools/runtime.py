"""The one answer to "is Odoo running its tests?" (needs Odoo, unlike the other tools)."""

import threading

from odoo.modules import module
from odoo.tools import config


def in_tests():
    """True while Odoo runs tests (the test thread, a test in progress, or a server started with
    ``--test-enable``): no request may then leave the machine, and the sending queue never commits."""
    return bool(
        getattr(threading.current_thread(), "testing", False) or module.current_test or config["test_enable"]
    )
