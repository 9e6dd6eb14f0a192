"""Concurrent, rate-limited sending: HTTP only, no ORM, no cursor.

The queue runner (``models/whatsapp_message.py``) prepares every payload in the main thread, then
hands plain ``(key, payload)`` jobs to :func:`send_all`. Worker threads call the Graph client and nothing
else, so they never touch the ORM, the cursor or the environment. Results come back as
:class:`SendResult` in job order and the runner writes them in batches.

Throughput is capped by :class:`RateLimiter`, which paces permits at the account's per-number rate
(Meta: 80 messages/s by default, up to 1,000). It grants the i-th permit no earlier than
``start + i / rate``: over any interval the number of calls started never exceeds the rate, even at start
(no burst credit), and concurrency (several calls in flight) is what lets slow answers still reach it.

This module imports nothing from Odoo so it can be unit-tested with pytest alone.
"""

import collections
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
    stopped: bool = False

    def next_index(self):
        with self.lock:
            if self.stopped or self.position >= len(self.jobs):
                return None
            index = self.position
            self.position += 1
            return index


def send_all(jobs, senders, rate, stop_on=None, on_rate_limited=None, clock=time.monotonic, sleep=time.sleep):
    """Send every job concurrently, paced at ``rate`` calls per second.

    :param jobs: list of ``(key, payload)``; ``key`` is opaque (the runner uses message ids)
    :param senders: list of callables ``payload -> dict``, one per worker thread (e.g. the bound
        ``send_message`` of one Graph client per thread); its length is the concurrency
    :param rate: maximum calls started per second
    :param stop_on: optional ``error -> bool``; when it returns True (an account-level error such as an
        expired token) no further job is started and the jobs left are returned with ``skipped=True``
    :param on_rate_limited: optional ``error -> float``; seconds to push later permits back by (0 = none)
    :return: list of :class:`SendResult`, in the order of ``jobs``
    """
    if not jobs:
        return []
    limiter = RateLimiter(rate, clock=clock, sleep=sleep)
    run = _Run(jobs=jobs, results=[None] * len(jobs))

    def work(send):
        while True:
            index = run.next_index()
            if index is None:
                return
            key, payload = jobs[index]
            limiter.acquire()
            if run.stopped:
                run.results[index] = SendResult(key, skipped=True)
                continue
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
