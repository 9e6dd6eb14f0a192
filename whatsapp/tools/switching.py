"""The interpreter's thread switch interval, short while our background threads work beside a thread that must
answer quickly (no Odoo: pure).

A thread back from a socket operation (a sender thread's answer from Meta, a webhook request's next read or
query) waits for the GIL until the thread holding it reaches the switch interval, 5 ms by default, and a call or a
request makes several such operations. While a sender pool is open (the queue runner's ORM work beside the sender
threads) or a webhook worker dispatches in the background (an inbound message's ORM work beside the next POSTs),
the process switches every :data:`SWITCH_INTERVAL`.
"""

import sys
import threading

SWITCH_INTERVAL = 0.001
_lock = threading.Lock()
_users = 0  # in this process, what asked for quick switches and has not given them back yet
_saved = None  # the interval before the first of them


def quick_switches(on):
    """Count one more user of quick switches (``on``) or one less; the first sets :data:`SWITCH_INTERVAL` (never
    a longer interval than the one set), the last puts the interval back."""
    global _users, _saved  # noqa: PLW0603 - one interval per process
    with _lock:
        if on:
            if not _users:
                _saved = sys.getswitchinterval()
                sys.setswitchinterval(min(SWITCH_INTERVAL, _saved))
            _users += 1
        else:
            _users -= 1
            if not _users:
                sys.setswitchinterval(_saved)
