"""Concurrent, rate-limited sending: HTTP only, no ORM, no cursor.

The queue runner (``models/whatsapp_message.py``) prepares every payload in the main thread, then
hands plain ``(key, payload)`` jobs to :func:`send_all`. Worker threads call the Graph client and nothing
else, so they never touch the ORM, the cursor or the environment. Results come back as
:class:`SendResult` in job order and the runner writes them in batches.

Throughput is capped by :class:`RateLimiter`, which paces permits at the account's per-number rate
(Meta: 80 messages/s by default, up to 1,000). It grants the i-th permit no earlier than
``start + i / rate``: over any interval the number of calls started never exceeds the rate, even at start
(no burst credit), and concurrency (several calls in flight) is what lets slow answers still reach it.

The cap is per number, not per process: two cron workers, two Odoo servers or a composer send beside the cron
share it. With a ``reserve`` function, :class:`SharedRateLimiter` takes its slots from a clock every process
shares (a GCRA row in PostgreSQL, :data:`RESERVE_SQL`): one short statement reserves a small chunk of slots
(a quarter of a second of sends) and the threads of this process wait for each slot's time. A process that dies
wastes at most its chunk. Slots are spaced ``(1 + tolerance) / rate`` apart and a call starting more than
``tolerance`` after its slot gives the slot up: whatever the sleeping jitter, no window ``[t, t + 1)`` holds more
than ``rate`` calls in total, across processes.

This module imports nothing from Odoo so it can be unit-tested with pytest alone.
"""

import collections
import math
import threading
import time
from dataclasses import dataclass, field


class RateLimiter:
    """Thread-safe pacing limiter: permit ``i`` is granted at ``start + i / rate`` at the earliest.

    :param rate: permits per second (> 0)
    :param clock: monotonic clock (injectable for tests)
    :param sleep: sleep function (injectable for tests)
    """

    def __init__(self, rate, clock=time.monotonic, sleep=time.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = None
        # times the last int(rate) permits were actually granted: a thread waking up late from its slot
        # must not squeeze one more call into a 1-second window (pacing alone allows rate + 1 then)
        self._granted = collections.deque(maxlen=max(1, int(rate)))

    def acquire(self):
        """Block until the next permit; return the (clock) time at which it was granted.

        Permits are paced (slot ``i`` at ``start + i / rate``) and, whatever the sleeping jitter, never more
        than ``int(rate)`` are granted in any window ``[t, t + 1)``.
        """
        with self._lock:
            now = self._clock()
            slot = now if self._next is None or self._next < now else self._next
            self._next = slot + self.interval
        wait = slot - self._clock()
        while True:
            if wait > 0:
                self._sleep(wait)
            with self._lock:
                now = self._clock()
                if len(self._granted) < self._granted.maxlen or self._granted[0] + 1.0 <= now:
                    self._granted.append(now)
                    return now
                wait = self._granted[0] + 1.0 - now

    def slow_down(self, seconds):
        """Push every later permit back by ``seconds`` (e.g. after Meta's throughput error 130429)."""
        with self._lock:
            base = max(self._next or 0.0, self._clock())
            self._next = base + seconds


#: the shared clock: one row per account, its theoretical arrival time (GCRA), no foreign key so that reserving
#: never waits on a lock of the account's row
CLOCK_TABLE_SQL = """CREATE TABLE IF NOT EXISTS whatsapp_send_clock (
    account_id integer PRIMARY KEY,
    tat timestamp with time zone NOT NULL
)"""
#: reserve ``span`` seconds of slots for ``account``; returns the seconds from now (PostgreSQL's clock) to the
#: end of the reservation
RESERVE_SQL = """WITH now AS (SELECT clock_timestamp() AS t)
INSERT INTO whatsapp_send_clock AS c (account_id, tat)
     SELECT %(account)s, now.t + %(span)s * interval '1 second' FROM now
ON CONFLICT (account_id) DO UPDATE
        SET tat = GREATEST(c.tat, (SELECT t FROM now)) + %(span)s * interval '1 second'
  RETURNING EXTRACT(EPOCH FROM c.tat - (SELECT t FROM now))::float8"""


def reserve_slots(cursor, account_id, count, spacing, delay=0.0):
    """Reserve ``count`` slots ``spacing`` seconds apart on the shared clock (after ``delay`` seconds of pause).

    :param cursor: a DB-API cursor; the caller commits at once (the row is locked until then)
    :return: seconds from now until the first slot (>= 0 up to the clock's precision)
    """
    span = count * spacing + delay
    cursor.execute(RESERVE_SQL, {"account": account_id, "span": span})
    return cursor.fetchone()[0] - count * spacing


class SharedRateLimiter:
    """Thread-safe limiter whose slots come from a clock shared by every process sending for the number.

    :param rate: permits per second (> 0) in total, across processes
    :param reserve: ``(count, spacing, delay=0.0) -> seconds`` until the first of ``count`` slots reserved on the
        shared clock, ``spacing`` seconds apart (``delay`` pushes the shared clock back, for Meta's 130429)
    :param needed: permits this limiter will grant at most (a chunk never reserves more than is left)
    :param chunk: slots reserved at once (default: a quarter of a second of sends)
    :param tolerance: seconds a call may start after its slot; later, the slot is given up
    """

    def __init__(
        self, rate, reserve, needed=None, chunk=None, tolerance=0.02, clock=time.monotonic, sleep=time.sleep
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.spacing = (1.0 + tolerance) / rate
        self.tolerance = tolerance
        self.chunk = chunk or max(1, math.ceil(rate / 4))
        self.needed = needed
        self.granted = 0
        self.given_up = 0
        self._reserve = reserve
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = collections.deque()
        self._waiting = 0  # slots taken by threads not yet granted nor given up

    def _refill(self):
        count = self.chunk
        if self.needed is not None:
            count = max(1, min(count, self.needed - self.granted - self._waiting))
        before = self._clock()
        first = self._reserve(count, self.spacing)
        after = self._clock()
        # the reservation happened somewhere between before and after: place the slots at the latest (never early)
        # and take the uncertainty from the tolerance
        tolerance = max(self.tolerance / 4, self.tolerance - (after - before))
        start = after + max(0.0, first)
        self._slots.extend((start + i * self.spacing, tolerance) for i in range(count))

    def acquire(self):
        """Block until the next slot; return the (clock) time at which it was granted."""
        while True:
            with self._lock:
                if not self._slots:
                    self._refill()
                slot, tolerance = self._slots.popleft()
                self._waiting += 1
            wait = slot - self._clock()
            if wait > 0:
                self._sleep(wait)
            now = self._clock()
            with self._lock:
                self._waiting -= 1
                if now - slot <= tolerance:
                    self.granted += 1
                    return now
                self.given_up += 1  # woke up too late: this call would crowd the next second's window

    def slow_down(self, seconds):
        """Push every later slot back by ``seconds``, for every process (e.g. after Meta's error 130429)."""
        with self._lock:
            self._slots.clear()
            self._reserve(0, self.spacing, seconds)


@dataclass
class SendResult:
    """Outcome of one job. Exactly one of ``response``/``error`` is set unless ``skipped``."""

    key: object
    response: dict = None
    error: Exception = None
    skipped: bool = False
    started: float = 0.0
    ended: float = 0.0


@dataclass
class _Run:
    jobs: list
    results: list
    lock: threading.Lock = field(default_factory=threading.Lock)
    position: int = 0
    tickets: int = 0
    stopped: bool = False

    def take_ticket(self):
        """A job is left that no thread waits a permit for: wait for one (never more permits than jobs)."""
        with self.lock:
            if self.stopped or self.tickets >= len(self.jobs):
                return False
            self.tickets += 1
            return True

    def next_index(self):
        with self.lock:
            if self.stopped or self.position >= len(self.jobs):
                return None
            index = self.position
            self.position += 1
            return index


def send_all(
    jobs,
    senders,
    rate,
    stop_on=None,
    on_rate_limited=None,
    reserve=None,
    clock=time.monotonic,
    sleep=time.sleep,
):
    """Send every job concurrently, paced at ``rate`` calls per second.

    :param jobs: list of ``(key, payload)``; ``key`` is opaque (the runner uses message ids)
    :param senders: list of callables ``payload -> dict``, one per worker thread (e.g. the bound
        ``send_message`` of one Graph client per thread); its length is the concurrency
    :param rate: maximum calls started per second
    :param stop_on: optional ``error -> bool``; when it returns True (an account-level error such as an
        expired token) no further job is started and the jobs left are returned with ``skipped=True``
    :param on_rate_limited: optional ``error -> float``; seconds to push later permits back by (0 = none)
    :param reserve: optional reservation on the clock shared by every process (:class:`SharedRateLimiter`);
        without it the rate is held within this call only
    :return: list of :class:`SendResult`, in the order of ``jobs``
    """
    if not jobs:
        return []
    if reserve is None:
        limiter = RateLimiter(rate, clock=clock, sleep=sleep)
    else:
        limiter = SharedRateLimiter(rate, reserve, needed=len(jobs), clock=clock, sleep=sleep)
    run = _Run(jobs=jobs, results=[None] * len(jobs))

    def work(send):
        while run.take_ticket():
            limiter.acquire()
            # the job is taken once the permit is granted: jobs start in their order even when a thread woke up
            # too late for its slot and waits for another one (messages to one customer keep their order)
            index = run.next_index()
            if index is None:
                return  # stopped: the jobs left are returned skipped
            key, payload = jobs[index]
            result = SendResult(key, started=clock())
            try:
                result.response = send(payload)
            except Exception as error:  # noqa: BLE001 - every failure becomes a result, classified later
                result.error = error
                if stop_on and stop_on(error):
                    run.stopped = True
                elif on_rate_limited and (delay := on_rate_limited(error)):
                    limiter.slow_down(delay)
            result.ended = clock()
            run.results[index] = result

    threads = [threading.Thread(target=work, args=(send,), daemon=True) for send in senders[: len(jobs)]]
    if len(threads) == 1:
        work(senders[0])
    else:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return [res or SendResult(jobs[i][0], skipped=True) for i, res in enumerate(run.results)]
