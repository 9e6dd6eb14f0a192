import hashlib
import json
import logging
import time
import traceback
from collections import defaultdict
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields, models, modules
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, mute_logger
from psycopg2 import errors as pg_errors

from ..tools import webhook_envelope

_logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # after this many failures an event stays failed, visible, and is only reprocessed by hand
CRON_BATCH = 200  # events processed per cron run
#: the request dispatches new events after its answer; the cron is the net
FIRST_DISPATCH_GRACE = timedelta(minutes=2)
RETENTION_DAYS = 30  # done/ignored events are vacuumed after this
APPLY_BATCH = 500  # queued status events applied per transaction by the applier
APPLY_BUDGET = 30.0  # seconds an applier run keeps going before it hands over to a new run
APPLY_PAUSE = 0.1  # seconds the applier lets statuses accumulate after a short batch (bigger batches)
APPLY_IDLE = 2.0  # seconds without a status before an applier run ends (see :meth:`_trigger_applier`)
TRIGGER_EVERY = 0.5  # a process wakes the applier at most this often (< APPLY_IDLE: see _trigger_applier)
#: database name -> ``time.time()`` of this process's last committed wake-up of the applier
_applier_triggered = {}
APPLY_SWEEP = 5.0  # seconds between two claims from the first queued event (see _apply_queued_statuses)
#: database name -> (the id this process's applier claims from, ``time.monotonic()`` of its last full sweep)
_applier_floor = {}
#: the field of the event keeping a signed body (whole) that could not be parsed, for reprocessing
UNPARSED = "unparsed"

#: Webhook ``field`` -> the ``whatsapp.account`` method handling its changes, called ``(value, event)`` on the
#: account the change was routed to (by phone number for ``messages``, by WABA for the others). Fields:
#: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components and
#: https://developers.facebook.com/docs/graph-api/webhooks/reference/whatsapp-business-account/
WEBHOOK_HANDLERS = {
    "messages": "_webhook_messages",
    "account_update": "_webhook_account_update",
    "phone_number_quality_update": "_webhook_phone_number_quality_update",
    "phone_number_name_update": "_webhook_phone_number_name_update",
    "user_preferences": "_webhook_user_preferences",
    "message_template_status_update": "_webhook_message_template_status_update",
    "message_template_quality_update": "_webhook_message_template_quality_update",
    "message_template_components_update": "_webhook_message_template_components_update",
    "template_category_update": "_webhook_template_category_update",
}
#: Fields Meta may send (when the app subscribed to them) that this version deliberately leaves alone: stored
#: as ``ignored`` without a log line. Any other field is logged, then stored as ``ignored`` too.
IGNORED_FIELDS = frozenset(
    {
        "account_alerts",  # Meta's alerts are shown in WhatsApp Manager
        "account_review_update",  # the review of the WABA: its outcome arrives as account_update
        "business_capability_update",  # the messaging limit arrives as phone_number_quality_update
        "security",  # two-step verification PIN changes, made in WhatsApp Manager
        "smb_message_echoes",  # coexistence numbers (WhatsApp Business app): not supported
        "history",  # coexistence numbers (WhatsApp Business app): not supported
        "flows",  # WhatsApp Flows are not supported
    }
)


def canonical_json(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def dedupe_key(account_id, field, value_json, entry_time=None):
    """Identity of a change: Meta redelivers the same payload on retries (at-least-once)."""
    raw = f"{account_id}|{field}|{entry_time or ''}|{value_json}"
    return hashlib.sha256(raw.encode()).hexdigest()


class WhatsAppWebhookEvent(models.Model):
    """Durable inbox of verified webhook changes.

    The controller stores every change of a signed payload here (one statement, duplicates ignored through
    the unique ``dedupe_key``), commits, answers, then dispatches (``controllers/webhook.dispatch_after``, once
    the answer is sent): a change is handled by the account method that
    :data:`WEBHOOK_HANDLERS` names for its ``field``, ``account.<method>(value, event)``. A handler that
    raises leaves the event ``failed`` with its error; the cron retries it with exponential backoff, an
    administrator can reprocess it by hand.

    Delivery statuses (a ``messages`` change carrying only ``statuses``: nearly every call of a campaign) are
    not dispatched by the request: they are stored ``queued``, committed, acknowledged, and applied in
    batches by the applier (:meth:`_cron_apply_statuses`): one ``_apply_meta_statuses`` per account for
    hundreds of statuses, one push per author and chat, one commit.
    """

    _name = "whatsapp.webhook.event"
    _description = "WhatsApp Webhook Event"
    _order = "id desc"
    _rec_name = "field"

    account_id = fields.Many2one(
        "whatsapp.account", "Account", index=True, ondelete="set null", readonly=True
    )
    field = fields.Char(required=True, readonly=True)
    value = fields.Text("Value (JSON)", required=True, readonly=True)
    entry_uid = fields.Char("Entry ID", readonly=True, help="The WABA id of the webhook entry.")
    dedupe_key = fields.Char(required=True, readonly=True)
    state = fields.Selection(
        [
            ("queued", "To Apply"),
            ("pending", "Pending"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("ignored", "Ignored"),
        ],
        default="pending",
        required=True,
        readonly=True,
    )
    error = fields.Text(readonly=True)
    attempts = fields.Integer(readonly=True)
    next_attempt = fields.Datetime(readonly=True)

    _sql_constraints = [("dedupe_key_unique", "unique(dedupe_key)", "This webhook change is already stored.")]

    def init(self):  # pylint: disable=missing-return
        # the events left to (re)process, for the cron; done/ignored events (nearly all) stay out of it, so
        # that the webhook's insert maintains as few index entries as possible
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS whatsapp_webhook_event_todo_idx ON whatsapp_webhook_event
               (next_attempt, id) WHERE state IN ('pending', 'failed')"""
        )
        # the statuses acknowledged and not applied yet, for the applier (a few hundred rows at most)
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS whatsapp_webhook_event_queued_idx ON whatsapp_webhook_event (id)
               WHERE state = 'queued'"""
        )

    # ------------------------------------------------------------
    # ROUTE
    # ------------------------------------------------------------

    @api.model
    def _route(self, envelope_changes, accounts, signers):
        """Which account(s) each parsed change belongs to: ``messages`` by phone number, others by WABA.

        :param envelope_changes: ``webhook_envelope.Change`` tuples of one verified body
        :param accounts: rows of ``whatsapp.account._webhook_signing_accounts()``
        :param set signers: ids of the accounts whose app secret signed the body
        :return: ``(changes, unrouted)``: tuples for :meth:`_store_changes`, and the changes of no active
            account (kept ``ignored``), or ``None`` when a change belongs to accounts none of which signed the
            body (forged with another app's secret: the whole body is refused)
        """
        changes, unrouted = [], []
        for change in envelope_changes:
            pnid = webhook_envelope.phone_number_id(change.value) if change.field == "messages" else None
            owners = [
                account_id
                for account_id, phone_uid, account_uid, _secret, active in accounts
                if active
                and (phone_uid == pnid if change.field == "messages" else account_uid == change.entry_uid)
            ]
            if not owners:
                unrouted.append(change)
                continue
            signed = [account_id for account_id in owners if account_id in signers]
            if not signed:
                _logger.warning("WhatsApp webhook: wrong signature for WABA %s", change.entry_uid[:64])
                return None
            changes.extend(
                (account_id, change.field, change.value, change.entry_uid, change.entry_time)
                for account_id in signed
            )
        return changes, unrouted

    @api.model
    def _rejects(self, body, problems, unrouted, signers):
        """Rows for :meth:`_store_rejects`: what of a verified body cannot be dispatched, kept visible.

        * the parsed changes of no active account: stored ``ignored``, without account (a number or WABA of the
          app that is not connected here, or archived), with the reason;
        * when the body could not be parsed whole (``problems``): the raw body, in one event ``unparsed``,
          ``failed`` with the problems as its error, linked to an account that signed it (so that the
          companies' rule applies), left out of the cron's retries; :meth:`action_reprocess` parses it again.
        """
        rows = [
            (
                None,
                change.field,
                change.value,
                change.entry_uid,
                change.entry_time,
                "ignored",
                self.env._("No active WhatsApp account has this phone number or WhatsApp Business Account."),
            )
            for change in unrouted
        ]
        if problems:
            value = {
                "problems": problems,
                "signers": sorted(signers),
                "body": webhook_envelope.body_text(body),
            }
            error = self.env._("The payload could not be parsed: %(problems)s", problems="; ".join(problems))
            rows.append((min(signers), UNPARSED, value, None, None, "failed", error))
        return rows

    # ------------------------------------------------------------
    # STORE
    # ------------------------------------------------------------

    @api.model
    def _store_rejects(self, rows):
        """Insert events that are not dispatched now (see :meth:`_rejects`); duplicates are skipped.

        :param list rows: tuples ``(account_id, field, value, entry_uid, entry_time, state, error)``
        """
        if not rows:
            return []
        now = fields.Datetime.now()
        values = []
        for account_id, field, value, entry_uid, entry_time, state, error in rows:
            value_json = canonical_json(value)
            values.append(
                SQL(
                    "(%s, %s, %s, %s, %s, %s, %s, %s, NULL, %s, %s, %s, %s)",
                    account_id,
                    field,
                    value_json,
                    entry_uid,
                    dedupe_key(account_id, field, value_json, entry_time),
                    state,
                    error,
                    MAX_ATTEMPTS if state == "failed" else 0,  # reprocessed by hand only
                    self.env.uid,
                    now,
                    self.env.uid,
                    now,
                )
            )
        self.env.cr.execute(
            SQL(
                """INSERT INTO whatsapp_webhook_event (account_id, field, value, entry_uid, dedupe_key, state, error,
                                                       attempts, next_attempt, create_uid, create_date, write_uid,
                                                       write_date)
                   VALUES %s ON CONFLICT (dedupe_key) DO NOTHING RETURNING id""",
                SQL(", ").join(values),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _store_changes(self, changes, queue_statuses=False):
        """Insert the changes of one payload in one statement; duplicates are skipped.

        Run it first in its transaction and commit right after: under Odoo's REPEATABLE READ isolation a
        concurrent insert of the same key raises a serialization failure, on which the transaction is rolled
        back and the insert retried once (it then sees the committed row and inserts nothing).

        The new events are stored ``pending`` and dispatched by the caller once committed (:meth:`_process`;
        the webhook after its answer, ``controllers/webhook.dispatch_after``), else by the retry cron after
        :data:`FIRST_DISPATCH_GRACE`.

        With ``queue_statuses``, a change that is only delivery statuses of an account (:meth:`_is_queued`)
        is stored ``queued`` instead, neither dispatched nor left to the retry cron: the applier
        (:meth:`_apply_queued_statuses`) applies it, woken up by :meth:`_trigger_applier` once committed.

        :param list changes: tuples ``(account_id, field, value, entry_uid, entry_time)``, value a dict
        :param bool queue_statuses: store status-only changes ``queued`` (see above)
        :return: ids of the events created by this call (not those already there)
        """
        if not changes:
            return []
        now = fields.Datetime.now()
        rows = []
        for account_id, field, value, entry_uid, entry_time in changes:
            value_json = canonical_json(value)
            if queue_statuses and self._is_queued(account_id, field, value):
                state, attempts, next_attempt = "queued", 0, None
            else:
                state, attempts, next_attempt = "pending", 0, now + FIRST_DISPATCH_GRACE
            rows.append(
                SQL(
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    account_id,
                    field,
                    value_json,
                    entry_uid,
                    dedupe_key(account_id, field, value_json, entry_time),
                    state,
                    attempts,
                    next_attempt,
                    self.env.uid,
                    now,
                    self.env.uid,
                    now,
                )
            )
        query = SQL(
            """INSERT INTO whatsapp_webhook_event (account_id, field, value, entry_uid, dedupe_key, state, attempts,
                                                   next_attempt, create_uid, create_date, write_uid, write_date)
               VALUES %s ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, account_id, field, value, state""",
            SQL(", ").join(rows),
        )
        for retry in (True, False):
            try:
                self.env.cr.execute(query, log_exceptions=False)  # a serialization failure is expected here
                created = self.env.cr.fetchall()
                break
            except pg_errors.SerializationFailure:
                if not retry:
                    raise
                self.env.cr.rollback()
        queued = [row for row in created if row[4] == "queued"]
        if queued:
            self._trigger_applier()
        return [row[0] for row in created]

    @api.model
    def _is_queued(self, account_id, field, value):
        """Whether the webhook stores a change ``queued`` for the applier, applied in batches, rather than
        ``pending`` for dispatch: only delivery statuses (no inbound message, no error) of a known account."""
        return (
            bool(account_id)
            and field == "messages"
            and isinstance(value, dict)
            and bool(value.get("statuses"))
            and not value.get("messages")
            and not value.get("errors")
        )

    @api.model
    def _handler_name(self, field):
        """Name of the ``whatsapp.account`` method handling ``field`` changes (:data:`WEBHOOK_HANDLERS`), or
        None; a field neither handled nor in :data:`IGNORED_FIELDS` is logged."""
        name = WEBHOOK_HANDLERS.get(field)
        if name is None and field not in IGNORED_FIELDS:
            _logger.info("WhatsApp webhook: field %r is not handled by this version, ignored", field)
        return name

    @api.model
    def _get_handler(self, account_id, field):
        """The handler of ``field`` bound to the account (as superuser), or None."""
        if field == UNPARSED:
            return self.with_user(SUPERUSER_ID)._reprocess_unparsed
        name = self._handler_name(field)
        if not name or not account_id:
            return None
        accounts = self.env["whatsapp.account"].with_user(SUPERUSER_ID).with_context(active_test=False)
        return getattr(accounts.browse(account_id), name)

    # ------------------------------------------------------------
    # DISPATCH
    # ------------------------------------------------------------

    def _process(self):
        """Dispatch the events of ``self`` still pending or failed that no other worker holds.

        Each handler runs in a savepoint as superuser: a failure rolls back its own writes only and is
        recorded on the event (state, error with traceback, attempts, next attempt with backoff).

        :return: number of events processed
        """
        if not self.ids:
            return 0
        self.flush_model()
        cr = self.env.cr
        cr.execute(
            SQL(
                """SELECT id, account_id, field, value, attempts FROM whatsapp_webhook_event
                    WHERE id IN %s AND state IN ('pending', 'failed') ORDER BY id FOR UPDATE SKIP LOCKED""",
                tuple(self.ids),
            )
        )
        rows = cr.fetchall()
        su_events = self.with_user(SUPERUSER_ID)
        outcome = {"done": [], "ignored": []}
        retry_now = False
        now = fields.Datetime.now()
        for event_id, account_id, field, value, attempts in rows:
            handler = self._get_handler(account_id, field)
            if handler is None:
                if not account_id and field in WEBHOOK_HANDLERS:
                    _logger.info(
                        "WhatsApp webhook event %s: no account for field %r, ignored", event_id, field
                    )
                outcome["ignored"].append(event_id)
                continue
            try:
                with cr.savepoint():
                    handler(json.loads(value), su_events.browse(event_id))
            except Exception as exc:  # any handler failure is kept on the event for a retry
                attempts += 1
                delay = timedelta(minutes=min(2 ** (attempts - 1), 360))
                if isinstance(exc, PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
                    # another transaction wrote the same rows meanwhile (e.g. a send applying statuses): the
                    # handler did nothing wrong; a new transaction succeeds, so retry at once, as Odoo
                    # retries a request, not minutes later
                    _logger.info(
                        "WhatsApp webhook event %s (%s): concurrent update, retried", event_id, field
                    )
                    delay, retry_now = timedelta(0), True
                else:
                    _logger.exception("WhatsApp webhook event %s (%s) failed", event_id, field)
                cr.execute(
                    SQL(
                        """UPDATE whatsapp_webhook_event SET state = 'failed', error = %s, attempts = %s,
                                  next_attempt = %s, write_date = %s WHERE id = %s""",
                        traceback.format_exc(),
                        attempts,
                        now + delay if attempts < MAX_ATTEMPTS else None,
                        now,
                        event_id,
                    )
                )
            else:
                outcome["done"].append(event_id)
        for state, ids in outcome.items():
            if ids:
                cr.execute(
                    SQL(
                        """UPDATE whatsapp_webhook_event SET state = %s, error = NULL, next_attempt = NULL,
                                  attempts = attempts + 1, write_date = %s WHERE id IN %s""",
                        state,
                        now,
                        tuple(ids),
                    )
                )
        self.invalidate_model(["state", "error", "attempts", "next_attempt", "write_date"])
        if retry_now:
            self.env.ref("whatsapp.ir_cron_whatsapp_webhook_event_process")._trigger()
        return len(rows)

    @api.model
    def _reprocess_unparsed(self, value, event):
        """Handler of an ``unparsed`` event: parse its body again (the parser may have been fixed since) and
        store and dispatch its changes; raises (the event stays failed) while it still cannot be parsed whole.
        """
        body = (value.get("body") or "").encode()
        envelope = webhook_envelope.parse(body)
        if envelope.problems:
            raise ValueError("still unparseable: " + "; ".join(envelope.problems))
        signers = set(value.get("signers") or [])  # verified when the body was received
        routed = self._route(
            envelope.changes, self.env["whatsapp.account"]._webhook_signing_accounts(), signers
        )
        if routed is None:
            raise ValueError("a change belongs to an account that did not sign the payload")
        changes, unrouted = routed
        self._store_rejects(self._rejects(body, [], unrouted, signers))
        self.browse(self._store_changes(changes))._process()

    @api.model
    def _cron_process_events(self, limit=CRON_BATCH):
        """Retry due pending/failed events, oldest first; ``SKIP LOCKED`` keeps two workers apart."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT id FROM whatsapp_webhook_event
                    WHERE state IN ('pending', 'failed') AND attempts < %s
                      AND (next_attempt IS NULL OR next_attempt <= %s)
                 ORDER BY next_attempt NULLS FIRST, id LIMIT %s FOR UPDATE SKIP LOCKED""",
                MAX_ATTEMPTS,
                fields.Datetime.now(),
                limit,
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        self.browse(ids)._process()
        if len(ids) >= limit:
            self.env.ref("whatsapp.ir_cron_whatsapp_webhook_event_process")._trigger()

    # ------------------------------------------------------------
    # APPLY QUEUED STATUSES (the applier)
    # ------------------------------------------------------------

    @api.model
    def _trigger_applier(self):
        """Wake the applier up once this transaction commits, at most every :data:`TRIGGER_EVERY` seconds
        per process: a trigger (an INSERT, and a NOTIFY on a connection of its own) per status would cost
        about what applying it costs.

        Skipping is safe: Odoo deletes, after a run, only the triggers its transaction saw when it started,
        so the run that consumes this process's last trigger began after that trigger was committed; a run
        ends only after :data:`APPLY_IDLE` seconds without a status (much more than :data:`TRIGGER_EVERY`
        plus a request's commit), so it sees every status committed in the meantime. The cron's own
        interval is the last net.
        """
        dbname, now = self.env.cr.dbname, time.time()
        last = _applier_triggered.get(dbname, 0)
        if now - last < TRIGGER_EVERY:
            return
        cron = self.env.ref("whatsapp.ir_cron_whatsapp_webhook_event_apply", raise_if_not_found=False)
        if not cron:
            return
        cron._trigger()
        _applier_triggered[dbname] = now
        # a trigger rolled back woke nobody: the next status must trigger again
        self.env.cr.postrollback.add(lambda: _applier_triggered.__setitem__(dbname, last))

    @api.model
    def _apply_queued_statuses(self, limit=APPLY_BATCH, sweep=False):
        """Apply one batch of queued statuses, oldest first, in the current transaction (the caller commits).

        The batch is claimed after this process's previous one (or from the first event it left queued), and
        from the first queued event with ``sweep`` or every :data:`APPLY_SWEEP` seconds. Why: an event applied
        is updated ``done``; its entry in the index of queued events stays until PostgreSQL may drop it, i.e.
        until the oldest snapshot of any transaction ends, and Odoo's cron workers hold one for each job's
        whole run (the transaction keeping the job's lock): during a campaign, tens of thousands of dead
        entries that every claim from the first queued event walked (7 ms a claim at 20,000 against 0.1 ms
        from the last batch's end). An event a claim skipped (locked by another applier, committed after a
        higher one, left by an applier that failed) is claimed by the next sweep.

        * claimed with ``FOR UPDATE SKIP LOCKED``: two appliers (two cron workers, two servers) take
          different events; an event is marked done in the transaction that applies it, so a crash before
          the commit leaves it queued with nothing applied, and it is applied once by the next batch;
        * the statuses of each account go to one ``whatsapp.message._apply_meta_statuses`` call, in a
          savepoint: the highest status of each message wins (a status overtaken within the batch is never
          written nor pushed), messages are updated in one UPDATE, chatter ticks pushed once per author and
          Discuss ticks once per chat;
        * a concurrency conflict (a send writing the same messages) leaves the account's events queued for
          the next batch, on a fresh snapshot; any other failure hands them over to the retry cron
          (``pending``), which dispatches them one by one and records the error on each.

        :return: number of events claimed
        """
        self.flush_model()
        cr = self.env.cr
        dbname, now = cr.dbname, time.monotonic()
        floor, swept = _applier_floor.get(dbname, (0, float("-inf")))
        if sweep or now - swept >= APPLY_SWEEP:
            floor, swept = 0, now
            _applier_floor[dbname] = (floor, swept)
        try:
            with cr.savepoint(flush=False):
                cr.execute(
                    SQL(
                        """SELECT id, account_id, value FROM whatsapp_webhook_event
                            WHERE state = 'queued' AND id >= %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
                        floor,
                        limit,
                    ),
                    log_exceptions=False,
                )
                rows = cr.fetchall()
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            # another applier committed events this snapshot still sees queued (REPEATABLE READ): the caller
            # commits and claims again on a fresh snapshot
            return 0
        if not rows:
            return 0
        by_account = defaultdict(list)  # account id -> [(event id, statuses)], oldest first
        for event_id, account_id, value in rows:
            by_account[account_id].append((event_id, json.loads(value).get("statuses") or []))
        Message = self.env["whatsapp.message"].with_user(SUPERUSER_ID)
        accounts = self.env["whatsapp.account"].with_user(SUPERUSER_ID).with_context(active_test=False)
        outcome = {"done": [], "pending": [], "ignored": []}
        for account_id, events in by_account.items():
            ids = [event_id for event_id, _statuses in events]
            if not account_id:  # the account was deleted since
                outcome["ignored"] += ids
                continue
            try:
                # a concurrency conflict is expected (a send writing the same messages) and handled below
                with mute_logger("odoo.sql_db"), cr.savepoint():
                    Message._apply_meta_statuses(
                        accounts.browse(account_id), [s for _id, statuses in events for s in statuses]
                    )
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                _logger.info(
                    "WhatsApp statuses of account %s: concurrent update, applied next batch", account_id
                )
            except Exception:  # noqa: BLE001 - kept on each event by the retry cron, which dispatches them alone
                _logger.exception(
                    "WhatsApp statuses of account %s: batch failed, handed to the retry cron", account_id
                )
                outcome["pending"] += ids
            else:
                outcome["done"] += ids
        for state, ids in outcome.items():
            if ids:
                cr.execute(
                    SQL(
                        """UPDATE whatsapp_webhook_event
                              SET state = %s, attempts = attempts + %s, next_attempt = %s,
                                  write_date = clock_timestamp() AT TIME ZONE 'UTC'
                            WHERE id IN %s""",
                        state,
                        int(state != "pending"),
                        fields.Datetime.now() if state == "pending" else None,
                        tuple(ids),
                    )
                )
        self.invalidate_model(["state", "attempts", "next_attempt", "write_date"])
        if outcome["pending"]:
            self.env.ref("whatsapp.ir_cron_whatsapp_webhook_event_process")._trigger()
        handled = set().union(*outcome.values())
        left = [event_id for event_id, _account_id, _value in rows if event_id not in handled]
        _applier_floor[dbname] = (min(left, default=rows[-1][0] + 1), swept)
        return len(rows)

    @api.model
    def _cron_apply_statuses(self):
        """The applier: batches of queued statuses, each committed, until none came for
        :data:`APPLY_IDLE` seconds; after :data:`APPLY_BUDGET` seconds a new run takes over (the cron
        worker serves other jobs in between). A short batch is followed by a pause of
        :data:`APPLY_PAUSE` (statuses accumulate: fewer, bigger batches, at a small lag)."""
        if modules.module.current_test:  # never commit under tests: apply what is there
            while self._apply_queued_statuses() or self._apply_queued_statuses(sweep=True):
                pass
            return
        started = last_work = time.monotonic()
        while True:
            count = self._apply_queued_statuses()
            self.env.cr.commit()
            now = time.monotonic()
            if count:
                last_work = now
            if now - started > APPLY_BUDGET:
                self.env.ref("whatsapp.ir_cron_whatsapp_webhook_event_apply")._trigger()
                self.env.cr.commit()
                return
            if now - last_work > APPLY_IDLE:
                # an event the claims after the last batch skipped is not left until the next run
                if not self._apply_queued_statuses(sweep=True):
                    return
                self.env.cr.commit()
                last_work = now
                continue
            if count < APPLY_BATCH:
                time.sleep(APPLY_PAUSE)

    def action_reprocess(self):
        """Reprocess by hand, whatever the number of attempts (done events are left alone)."""
        events = self.filtered(lambda e: e.state != "done")
        events.write({"state": "pending"})
        count = events._process()
        failed = events.filtered(lambda e: e.state == "failed")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "warning" if failed else "success",
                "message": self.env._(
                    "%(count)s event(s) reprocessed, %(failed)s failed.", count=count, failed=len(failed)
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    @api.autovacuum
    def _gc_processed_events(self):
        limit_date = fields.Datetime.now() - timedelta(days=RETENTION_DAYS)
        self.search([("state", "in", ("done", "ignored")), ("create_date", "<", limit_date)]).unlink()
