"""The webhook's fast lane: Meta's ``POST /whatsapp/webhook`` served at Odoo's WSGI entry.

Why
---
Meta posts a webhook for every status of every message (sent, delivered, read: three per message), so a
campaign at the account's rate brings several hundred POSTs a second. Since statuses are acknowledged once
stored (one INSERT, ``queued``) and applied in batches by the applier cron, the webhook's own work is small
and Odoo's request machinery is most of each POST's cost. Its dispatch: a cursor to check the registry and
match the route, a second cursor for the transaction, ``ir.http``'s authentication, pre- and post-dispatch
hooks (languages, sessions, signup tokens, editor...). Its WSGI entry before that: Odoo's request objects, a
new session for a client that has none, the languages of ``Accept-Language``, the request's full URL. None of
it is needed by a machine-to-machine call signed by Meta. Measured on the reference machine
(``bench/status_ab.py``, the README has the figures): an empty route through Odoo's dispatch costs 1.9-2.6 ms
of Odoo CPU, which alone holds 2 cores at 540-780 requests/s.

What
----
``odoo.http.Application.__call__`` (the WSGI application every Odoo server runs) is wrapped, once per process
by the manifest's ``post_load`` hook, as Odoo intends that hook for. A POST on exactly :data:`.webhook.PATH`
without a session cookie (Meta sends none) is served there: the thread's request counters reset as Odoo does
(its request log line), proxy mode applied as Odoo does, the database chosen as Odoo chooses it for a client
without a session (``-d``/``--db-filter``, the Host: the one database left, else Odoo's own answer). If that
database has this addon installed, the lane takes one cursor (kept from an earlier POST, see
:func:`_take_cursor`), checks the registry signaling on it (a registry reloaded or caches invalidated by
another worker are taken into account, as on every request), runs :func:`.webhook.receive`, the very function
the controller runs (same signature check, same durable inbox, same answers), then signals its own cache
changes to the other workers, as Odoo's dispatch does, and answers; the changes to dispatch are dispatched
after the answer (:func:`.webhook.dispatch_after`), as the controller does. Anything else (the GET handshake,
another path, a request with a session cookie, no single database, a database without the addon, the first
request of a process that has not loaded the addon yet) goes through Odoo untouched.

Limit: the ``ir.http`` hooks of other addons (e.g. an IP filter or a rate limiter written as an
``ir.http`` override) do not run for this POST. To serve it through Odoo's regular dispatch instead, set
``whatsapp_webhook_fast_lane = False`` in the Odoo configuration file: the controller then serves the
POST, with the same behaviour, at about half the rate.
"""

import atexit
import logging
import threading
import time

import psycopg2
from odoo import api, http
from odoo.modules.registry import Registry
from odoo.sql_db import TestCursor
from odoo.tools import config, str2bool
from werkzeug.wrappers import Request

from .webhook import PATH, dispatch_after, receive, reply

_logger = logging.getLogger(__name__)

MODEL = "whatsapp.webhook.event"  # present in a registry where this addon is installed
#: cursors kept between POSTs, all databases together (one per prefork worker; a few in threaded mode)
KEEP = 4
_kept = {}  # database name -> [cursors kept, idle outside any transaction]
_kept_lock = threading.Lock()


def enabled():
    """The configuration's ``whatsapp_webhook_fast_lane`` (on unless set to a false value)."""
    return str2bool(str(config.get("whatsapp_webhook_fast_lane", True)), True)


def serve(environ):
    """The answer to the webhook POST of ``environ`` (a WSGI response), or None to let Odoo serve it."""
    if (
        environ.get("REQUEST_METHOD") != "POST"
        or environ.get("PATH_INFO") != PATH
        or "session_id=" in environ.get("HTTP_COOKIE", "")  # a session may choose the database: Odoo's own
        or not enabled()
    ):
        return None
    thread = threading.current_thread()
    # as Odoo's WSGI entry does: the request log line's counters, no stale database or user
    thread.query_count, thread.query_time, thread.perf_t0 = 0, 0, time.time()
    thread.cursor_mode = None
    for name in ("dbname", "uid"):
        if hasattr(thread, name):
            delattr(thread, name)
    if config["proxy_mode"] and environ.get("HTTP_X_FORWARDED_HOST"):
        http.ProxyFix(lambda environ, start_response: [])(environ, lambda status, headers: None)
    if "HTTP_HOST" not in environ:
        return None
    dbs = http.db_list(force=True, host=environ["HTTP_HOST"])  # Odoo's choice for a client without session
    if len(dbs) != 1:
        return None
    try:
        registry = Registry(dbs[0])  # loaded once per process, as Odoo's dispatch does
    except Exception:  # noqa: BLE001 - an unusable database: Odoo reports it its own way
        return None
    if MODEL not in registry:
        return None
    thread.dbname = registry.db_name
    cr, kept = _take_cursor(registry)
    try:
        try:
            registry = registry.check_signaling(cr)
        except psycopg2.Error:
            if not kept:
                raise
            # a kept connection the server closed meanwhile (a restart, an idle timeout): a new one
            _close(cr)
            cr, kept = registry.cursor(), False
            registry = registry.check_signaling(cr)
        if MODEL not in registry:  # uninstalled meanwhile by another worker
            _give_back(cr)
            return None
        env = api.Environment(cr, api.SUPERUSER_ID, {})
        status, event_ids = receive(env, Request(environ))
        _give_back(cr)
        registry.signal_changes()
    except Exception:
        _close(cr)
        registry.reset_changes()
        _logger.exception("WhatsApp webhook: unexpected error")
        status, event_ids = 500, []
    return dispatch_after(reply(status), registry, event_ids)


def _take_cursor(registry):
    """A cursor for one POST, and whether it was kept from an earlier one.

    Taking a cursor from Odoo's pool resets its connection (``DISCARD ALL``, a round trip) and giving it back
    rolls back (another): with several hundred status POSTs a second, that was a third of each POST's time in
    the worker. So up to :data:`KEEP` cursors (all databases together) are kept between POSTs, idle outside any
    transaction (each POST ends with a commit or a rollback, which also clear the cursor's caches). Under tests,
    the test cursor is taken and closed for every POST, as Odoo's dispatch does.
    """
    if not registry.in_test_mode():
        with _kept_lock:
            kept = _kept.get(registry.db_name)
            while kept:
                cr = kept.pop()
                if not cr.closed:
                    cr.transaction = None  # a new transaction on the current registry (maybe reloaded)
                    cr.cache.clear()
                    return cr, True
    return registry.cursor(), False


def _give_back(cr):
    """End ``cr``'s transaction (a POST that stored nothing has read in it) and keep it for the next POST."""
    if cr.closed or isinstance(cr, TestCursor):
        return _close(cr)
    cr.rollback()  # nothing to roll back once committed: no round trip; else never idle in a transaction
    with _kept_lock:
        # at most KEEP in all, whatever the number of databases: the kept ones count in Odoo's pool of
        # db_maxconn connections per process as in use
        if sum(map(len, _kept.values())) < KEEP:
            _kept.setdefault(cr.dbname, []).append(cr)
            return None
    return _close(cr)


def _close(cr):
    try:
        cr.close()
    except psycopg2.Error:  # a connection already lost: the pool drops it at its next borrow
        pass


@atexit.register
def _close_kept():
    with _kept_lock:
        for kept in _kept.values():
            while kept:
                _close(kept.pop())


def install():
    """Wrap Odoo's WSGI application, ``odoo.http.Application.__call__``, once (the ``post_load`` hook)."""
    call = http.Application.__call__
    if getattr(call, "whatsapp_fast_lane", False):
        return

    def __call__(self, environ, start_response):
        response = serve(environ)
        if response is None:
            return call(self, environ, start_response)
        return response(environ, start_response)

    __call__.whatsapp_fast_lane = True
    http.Application.__call__ = __call__
