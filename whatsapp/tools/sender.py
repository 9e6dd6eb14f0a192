"""Concurrent, rate-limited sending: HTTP only, no ORM, no cursor.

The queue runner (``models/whatsapp_message.py``) prepares every payload in its own thread, then hands plain
``(key, payload)`` jobs to a :class:`SenderPool`: one pool of threads, a lane per account (its own limiter and
concurrency), so that every account sends at once, each at its own cap. The runner keeps feeding the lanes while
the pool sends and collects :class:`SendResult` as they come, to write them per batch. Worker threads call the
Graph client and nothing else, so they never touch the ORM, the cursor or the environment. :func:`send_all` is
one lane alone, waited for.

Throughput is capped by :class:`SharedRateLimiter`, which paces calls at the account's per-number rate (Meta: 80
messages/s by default, up to 1,000). The cap is per number, not per process: two cron workers, two Odoo servers or a
composer send beside the cron share it. The limiter takes its slots from a clock every process shares (a GCRA row
in PostgreSQL, :data:`RESERVE_SQL`; a lane without one paces alone on :func:`local_clock`): one short statement
reserves a small chunk of slots (a quarter of a second of sends) and the threads of this process wait for each
slot's time. A process that dies wastes at most its chunk. The shared clock's times are placed on this process's
clock by an offset every reservation narrows (the statement ran between its sending and its answer): the
uncertainty, taken from the tolerance, is that of the quickest recent round trip, not that of the last one.

Slots are spaced ``(1 + tolerance) / rate`` apart and a call whose first bytes would leave more than ``tolerance``
after its slot does not leave: whatever the delays, no window ``[t, t + 1)`` holds more than ``rate`` calls in total,
across processes, counted as Meta counts them, on arrival. A thread waking up too late gives its slot up before it
takes a job; a thread granted its slot may still wait for a core before it writes (a loaded machine), so the
transport asks :func:`call_writing` just before a call's first bytes: too late, the call is stopped there (nothing
sent), its slot given up and its job taken again with the next slot.

This module imports nothing from Odoo so it can be unit-tested with pytest alone.
"""

import collections
import logging
import math
import sys
import threading
import time
from dataclasses import dataclass

_logger = logging.getLogger(__name__)

#: the interpreter's thread switch interval while a pool is open (Python's default: 5 ms). A sender thread back
#: from a socket operation waits for the GIL until the thread holding it (the queue runner building or writing
#: batches with the ORM, in the same process) reaches the interval, and a call makes several such operations:
#: with the default, sender threads woke past their slot's tolerance (the slot given up) or sent late.
SWITCH_INTERVAL = 0.001
_switch_lock = threading.Lock()
_switch_pools = 0  # pools open in this process
_switch_saved = None  # the interval before the first of them


def _quick_switches(on):
    """Count a pool opened (``on``) or closed; the first sets :data:`SWITCH_INTERVAL` (never a longer one),
    the last puts the interval back."""
    global _switch_pools, _switch_saved  # noqa: PLW0603 - one interval per process
    with _switch_lock:
        if on:
            if not _switch_pools:
                _switch_saved = sys.getswitchinterval()
                sys.setswitchinterval(min(SWITCH_INTERVAL, _switch_saved))
            _switch_pools += 1
        else:
            _switch_pools -= 1
            if not _switch_pools:
                sys.setswitchinterval(_switch_saved)


#: the shared clock: one row per account, its theoretical arrival time (GCRA), no foreign key so that reserving
#: never waits on a lock of the account's row
CLOCK_TABLE_SQL = """CREATE TABLE IF NOT EXISTS whatsapp_send_clock (
    account_id integer PRIMARY KEY,
    tat timestamp with time zone NOT NULL
)"""
#: reserve ``span`` seconds of slots for ``account``; returns the end of the reservation and the time the
#: statement ran, both on PostgreSQL's clock (seconds since the epoch)
RESERVE_SQL = """WITH now AS (SELECT clock_timestamp() AS t)
INSERT INTO whatsapp_send_clock AS c (account_id, tat)
     SELECT %(account)s, now.t + %(span)s * interval '1 second' FROM now
ON CONFLICT (account_id) DO UPDATE
        SET tat = GREATEST(c.tat, (SELECT t FROM now)) + %(span)s * interval '1 second'
  RETURNING EXTRACT(EPOCH FROM c.tat)::float8, EXTRACT(EPOCH FROM (SELECT t FROM now))::float8"""


def reserve_slots(cursor, account_id, count, spacing, delay=0.0):
    """Reserve ``count`` slots ``spacing`` seconds apart on the shared clock (after ``delay`` seconds of pause).

    :param cursor: a DB-API cursor; the caller commits at once (the row is locked until then)
    :return: ``(first, now)``: the first slot and the time the statement ran, on the shared clock (seconds);
        ``first >= now`` up to the clock's precision
    """
    span = count * spacing + delay
    cursor.execute(RESERVE_SQL, {"account": account_id, "span": span})
    tat, now = cursor.fetchone()
    return tat - count * spacing, now


def local_clock(clock=time.monotonic):
    """A clock for the limiter of one process alone (no database): the same GCRA as :data:`RESERVE_SQL`, in memory.

    :return: ``reserve(count, spacing, delay=0.0)``, answering the seconds from now to the first slot
    """
    lock, tat = threading.Lock(), [None]

    def reserve(count, spacing, delay=0.0):
        with lock:
            now = clock()
            tat[0] = max(now if tat[0] is None else tat[0], now) + count * spacing + delay
            return tat[0] - now - count * spacing

    return reserve


#: how fast two clocks may drift apart (seconds per second): NTP slews a clock by 500 ppm at most
CLOCK_DRIFT = 5e-4


class SharedRateLimiter:
    """Thread-safe limiter whose slots come from a clock shared by every process sending for the number.

    :param rate: permits per second (> 0) in total, across processes
    :param reserve: ``(count, spacing, delay=0.0) -> (first, now, sent, answered)``: ``count`` slots reserved on
        the shared clock, ``spacing`` seconds apart (``delay`` pushes the shared clock back, for Meta's 130429),
        the first at ``first``, the statement having run at ``now`` (both times of the shared clock), between
        ``sent`` and ``answered`` (times of ``clock``); or just the seconds until the first slot, counted from
        its return (a clock this process cannot relate to its own)
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
        self.reserved = 0  # slots taken on the shared clock (granted, given up, or left unused at the end)
        self.granted = 0
        self.given_up = 0
        self._reserve = reserve
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = collections.deque()
        self._waiting = 0  # slots taken by threads not yet granted nor given up
        # (low, high, at): the shared clock's time + the offset is this clock's, the offset known between low
        # and high at ``at``
        self._offset = None

    def _refill(self):
        count = self.chunk
        if self.needed is not None:
            count = max(1, min(count, self.needed - self.granted - self._waiting))
        while True:
            before = self._clock()
            answer = self._reserve(count, self.spacing)
            after = self._clock()
            self.reserved += count
            if isinstance(answer, tuple):
                first, now, sent, answered = answer
                low, high = self._learn_offset(now, sent, answered)
                # placed at the latest (never early): every call starts within ``tolerance`` of its true slot
                start, uncertainty = first + high, high - low
            else:
                start, uncertainty = after + max(0.0, answer), after - before
            tolerance = self.tolerance - uncertainty
            if tolerance >= self.tolerance / 4:
                break
            # too uncertain (no quick round trip lately): these slots could start a call too late against the next
            # chunk's; give them up, never used by anyone, and reserve again
            self.given_up += count
        self._slots.extend((start + i * self.spacing, tolerance) for i in range(count))

    def _learn_offset(self, now, sent, answered):
        """Narrow the offset from the shared clock to this one by a reservation: it ran at ``now`` (shared), which
        was between ``sent`` and ``answered`` (here). The bounds known before widen by the drift two clocks may
        have since; if they no longer meet the new ones (a clock was set), the new ones alone count."""
        low, high = sent - now, answered - now
        if self._offset is not None:
            known_low, known_high, at = self._offset
            drift = CLOCK_DRIFT * max(0.0, answered - at)
            known_low, known_high = known_low - drift, known_high + drift
            if known_low <= high and low <= known_high:
                low, high = max(low, known_low), min(high, known_high)
        self._offset = (low, high, answered)
        return low, high

    def take(self):
        """Block until the next slot; return ``(granted, latest)``: the (clock) time at which it was granted, and
        the latest at which its call may leave (its slot and tolerance: see :func:`call_writing`)."""
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
                    return now, slot + tolerance
                self.given_up += 1  # woke up too late: this call would crowd the next second's window

    def acquire(self):
        """Block until the next slot; return the (clock) time at which it was granted."""
        return self.take()[0]

    def forgo(self):
        """A slot granted was not used after all: given up."""
        with self._lock:
            self.granted -= 1
            self.given_up += 1

    def slow_down(self, seconds):
        """Push every later slot back by ``seconds``, for every process (e.g. after Meta's error 130429)."""
        with self._lock:
            self._slots.clear()
            self._reserve(0, self.spacing, seconds)


#: the call of this thread: what :func:`call_writing` asks, set by the pool around a call
_this_call = threading.local()


class SlotMissed(Exception):
    """Raised by :func:`call_writing`: the call's slot has passed, its bytes must not leave (nothing was sent)."""


def call_writing():
    """A send function's transport calls this just before each write of a call: before the first one, if the
    call's slot has passed (more than its tolerance ago: the thread waited for a core since), it raises
    :class:`SlotMissed` and nothing may be written; the pool gives the slot up and takes the job again with the next
    one. Without it, a call leaves when its slot was granted. Outside a pool's call, nothing happens."""
    note = getattr(_this_call, "note", None)
    if note is not None:
        note()


@dataclass
class SendResult:
    """Outcome of one job. Exactly one of ``response``/``error`` is set unless ``skipped``."""

    key: object
    response: dict = None
    error: Exception = None
    skipped: bool = False
    started: float = 0.0  #: when the rate limiter granted the call
    written: float = 0.0  #: when its first write was let go (:func:`call_writing`; its grant if not asked)
    ended: float = 0.0


#: a lane's threads: ``rate x`` the time a call takes (Little's law: the calls in flight at the lane's rate) times
#: this, for the calls that take longer than the average, plus :data:`SPARE_THREADS`
THREADS_PER_CALL_IN_FLIGHT = 2
SPARE_THREADS = 2
#: weight of a call's duration in a lane's running average of it
LATENCY_WEIGHT = 0.1


class _Lane:
    """The jobs of one account in a :class:`SenderPool`: its own queue, limiter and concurrency.

    A lane uses the threads its rate needs, ``workers`` at most: as many as the calls in flight at its rate (its
    rate times the time a call takes, measured as they are answered), twice, plus two. Threads beyond it cost
    without sending more: each one waiting for its slot wakes up, and all of them contend for the interpreter
    with the runner (64 threads where Meta answered in 3 ms took half of the sending process's CPU).
    """

    def __init__(self, key, send, limiter, rate, workers, stop_on, on_rate_limited):
        self.key = key
        self.send = send
        self.limiter = limiter
        self.rate = rate
        self.workers = max(1, workers)
        self.latency = None  # seconds a call takes, running average (None: no call answered yet)
        self.stop_on = stop_on
        self.on_rate_limited = on_rate_limited
        self.jobs = collections.deque()  # (key, payload) not started yet, in order
        self.submitted = 0
        self.tickets = 0  # threads waiting for a permit of this lane
        self.in_flight = 0
        self.stopped = False
        self.empty_since = None  # when its last job was taken (the runner had no more ready yet)
        self.starved = 0.0  # seconds without a job ready between two submits

    def threads(self):
        """Threads the lane uses at most now: see the class."""
        if self.latency is None:
            return self.workers
        wanted = math.ceil(self.rate * self.latency * THREADS_PER_CALL_IN_FLIGHT) + SPARE_THREADS
        return min(self.workers, wanted)

    def answered(self, seconds):
        """A call took ``seconds``."""
        self.latency = (
            seconds if self.latency is None else self.latency + LATENCY_WEIGHT * (seconds - self.latency)
        )

    def wants_a_thread(self):
        return (
            not self.stopped
            and self.tickets < len(self.jobs)
            and self.tickets + self.in_flight < self.threads()
        )


class SenderPool:
    """One pool of threads sending the jobs of several lanes at once (a lane per account), each lane paced by its
    own limiter and bounded by its own concurrency: accounts send in parallel, each at its own cap.

    The runner feeds lanes as it claims batches (:meth:`submit`) and collects results as they come
    (:meth:`take_results`) to write them per account: the pool keeps sending while the runner prepares the next
    batch or writes the last results. Within a lane, jobs start in their order (messages to one customer keep
    theirs). Threads call the lane's ``send`` and nothing else: no ORM, no cursor.

    :param max_threads: threads at most, whatever the lanes ask for
    """

    def __init__(self, max_threads=128, clock=time.monotonic, sleep=time.sleep):
        self.max_threads = max_threads
        self._clock = clock
        self._sleep = sleep
        self._lanes = {}
        self._order = []  # lane keys, rotated so that threads serve the lanes in turn
        self._results = []
        self._lock = threading.Lock()
        self._work_cond = threading.Condition(self._lock)  # idle threads wait here for a lane to serve
        self._result_cond = threading.Condition(self._lock)  # the runner waits here for results
        self._threads = []
        self._closed = False
        _quick_switches(True)  # put back by close()

    def add_lane(self, key, send, rate, workers, reserve=None, stop_on=None, on_rate_limited=None):
        """Open the lane ``key`` (e.g. an account id), sending with ``send(payload) -> dict``.

        :param rate: calls started per second at most
        :param workers: calls in flight at most for this lane (the pool grows its threads to the lanes' sum)
        :param reserve: the shared clock of :class:`SharedRateLimiter` (without it: this process's,
            :func:`local_clock`)
        :param stop_on: ``error -> bool``: True stops the lane (account-level error), its jobs left come back skipped
        :param on_rate_limited: ``error -> float``: seconds to push the lane's later permits back by
        """
        limiter = SharedRateLimiter(
            rate, reserve or local_clock(self._clock), needed=0, clock=self._clock, sleep=self._sleep
        )
        with self._lock:
            self._lanes[key] = _Lane(key, send, limiter, rate, workers, stop_on, on_rate_limited)
            self._order.append(key)
            wanted = min(self.max_threads, sum(lane.workers for lane in self._lanes.values()))
            while len(self._threads) < wanted:
                thread = threading.Thread(target=self._work, daemon=True, name="whatsapp-sender")
                thread.start()
                self._threads.append(thread)

    def has_lane(self, key):
        return key in self._lanes

    def submit(self, key, jobs):
        """Queue ``jobs`` (``[(job key, payload)]``) on the lane ``key``, after its earlier jobs."""
        with self._lock:
            lane = self._lanes[key]
            if lane.stopped:
                self._results.extend((key, SendResult(job_key, skipped=True)) for job_key, _payload in jobs)
            else:
                lane.jobs.extend(jobs)
                lane.submitted += len(jobs)
                if lane.empty_since is not None:
                    lane.starved += self._clock() - lane.empty_since
                    lane.empty_since = None
                lane.limiter.needed = lane.submitted  # never reserve slots for jobs that do not exist
            self._work_cond.notify_all()
            self._result_cond.notify_all()

    def waiting(self, key):
        """Jobs of the lane not started yet."""
        with self._lock:
            return len(self._lanes[key].jobs) if key in self._lanes else 0

    def slots(self):
        """``{lane key: (reserved, granted, given up, starved)}``: the slots the lanes reserved, those their calls
        used, those they gave up (a call waking up or writing too late, a reservation too uncertain), and the
        seconds the lane had no job ready between two submits (its runner late to prepare more): the distance
        from the cap."""
        with self._lock:
            return {
                key: (lane.limiter.reserved, lane.limiter.granted, lane.limiter.given_up, lane.starved)
                for key, lane in self._lanes.items()
            }

    def busy(self):
        """Jobs submitted whose result is not taken yet (queued, in flight, or done but not collected)."""
        with self._lock:
            return any(lane.jobs or lane.in_flight for lane in self._lanes.values()) or bool(self._results)

    def take_results(self, timeout=None):
        """The results done so far, as ``[(lane key, SendResult)]``, after waiting up to ``timeout`` seconds
        (``None``: no limit) for every job submitted to be done: the runner collects a period's results at once."""
        with self._lock:
            if timeout != 0:
                self._result_cond.wait_for(
                    lambda: not any(lane.jobs or lane.in_flight for lane in self._lanes.values()), timeout
                )
            results, self._results = self._results, []
            return results

    def cancel(self, key=None):
        """Start nothing more on the lane ``key`` (every lane by default): its jobs left come back skipped."""
        with self._lock:
            for lane in self._lanes.values() if key is None else [self._lanes[key]]:
                self._stop(lane)

    def close(self):
        """Cancel what is left and wait for the calls in flight (their results are dropped)."""
        with self._lock:
            closing, self._closed = not self._closed, True
            for lane in self._lanes.values():
                self._stop(lane)
            self._work_cond.notify_all()
        for thread in self._threads:
            thread.join()
        if closing:
            _quick_switches(False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _stop(self, lane):
        """(lock held) stop the lane: its jobs not started come back skipped."""
        lane.stopped = True
        while lane.jobs:
            job_key, _payload = lane.jobs.popleft()
            self._results.append((lane.key, SendResult(job_key, skipped=True)))
        self._work_cond.notify_all()
        self._result_cond.notify_all()

    def _next_lane(self):
        """(lock held) a lane with a job no thread waits a permit for, the lanes served in turn."""
        for position, key in enumerate(self._order):
            lane = self._lanes[key]
            if lane.wants_a_thread():
                self._order.append(self._order.pop(position))
                return lane
        return None

    def _work(self):
        while True:
            with self._lock:
                lane = self._next_lane()
                while lane is None:
                    if self._closed:
                        return
                    self._work_cond.wait()
                    lane = self._next_lane()
                lane.tickets += 1
            granted, latest = lane.limiter.take()
            with self._lock:
                lane.tickets -= 1
                # the job is taken once the permit is granted: jobs start in their order even when a thread woke
                # up too late for its slot and waited for another one
                if lane.stopped or not lane.jobs:
                    lane.limiter.forgo()
                    continue
                job = lane.jobs.popleft()
                lane.in_flight += 1
                if not lane.jobs:
                    lane.empty_since = self._clock()
            job_key, payload = job
            result = SendResult(job_key, started=granted, written=granted)
            stop = False
            written = []

            def note(written=written, latest=latest):
                # before the call's first bytes: they leave within their slot's tolerance or not at all; once
                # missed, no write of this call may leave (a send trying again would send the job twice)
                if not written:
                    now = self._clock()
                    written.append(None if now > latest else now)
                if written == [None]:
                    raise SlotMissed

            _this_call.note = note
            try:
                result.response = lane.send(payload)
            except Exception as error:  # noqa: BLE001 - every failure becomes a result, classified later
                result.error = error
            finally:
                _this_call.note = None
            result.ended = self._clock()
            if written == [None]:  # stopped before its first byte, whatever the send made of it: again, first
                with self._lock:
                    lane.limiter.forgo()
                    lane.in_flight -= 1
                    if lane.stopped:  # cancelled meanwhile
                        self._results.append((lane.key, SendResult(job_key, skipped=True)))
                        self._result_cond.notify()
                    else:
                        lane.jobs.appendleft(job)
                        lane.empty_since = None
                    self._work_cond.notify()
                continue
            if result.error is not None:
                try:
                    if lane.stop_on and lane.stop_on(result.error):
                        stop = True
                    elif lane.on_rate_limited and (delay := lane.on_rate_limited(result.error)):
                        lane.limiter.slow_down(delay)
                except Exception:  # noqa: BLE001 - a bug of a callback: the call's result and places still count
                    _logger.exception("WhatsApp sender: handling the error of a call failed")
            with self._lock:
                if written:
                    result.written = written[0]
                lane.in_flight -= 1
                lane.answered(result.ended - granted)
                self._results.append((lane.key, result))
                if stop:
                    self._stop(lane)
                if not lane.jobs and not lane.in_flight:
                    self._result_cond.notify()  # the lane is done: the runner may be waiting for that
                self._work_cond.notify()  # a place of the lane is free


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
    """Send every job concurrently, paced at ``rate`` calls per second (one lane of a :class:`SenderPool`).

    :param jobs: list of ``(key, payload)``; ``key`` is opaque (the runner uses message ids)
    :param senders: list of callables ``payload -> dict``; its length is the concurrency (the first one is used:
        they are the same send function)
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
    workers = min(len(senders), len(jobs))
    by_key = {}
    with SenderPool(max_threads=workers, clock=clock, sleep=sleep) as pool:
        pool.add_lane(0, senders[0], rate, workers, reserve, stop_on, on_rate_limited)
        pool.submit(0, [(index, payload) for index, (_key, payload) in enumerate(jobs)])
        while len(by_key) < len(jobs):
            for _lane, result in pool.take_results():
                by_key[result.key] = result
    results = []
    for index, (key, _payload) in enumerate(jobs):
        result = by_key[index]
        result.key = key
        results.append(result)
    return results
