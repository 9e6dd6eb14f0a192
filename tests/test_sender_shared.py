"""Pure pytest of the per-number cap shared by several processes (``SharedRateLimiter``), no Odoo, no database:
the shared clock is a GCRA in memory with the same contract as ``RESERVE_SQL``."""

import itertools
import threading
import time

import pytest
from _whatsapp_tools.sender import SharedRateLimiter, reserve_slots, send_all


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class SharedClock:
    """The database row: ``tat = max(tat, now) + span``; returns the seconds from now to the first slot."""

    def __init__(self, clock):
        self.clock = clock
        self.tat = None
        self.lock = threading.Lock()
        self.reservations = []

    def reserve(self, count, spacing, delay=0.0):
        with self.lock:
            now = self.clock()
            self.tat = max(self.tat if self.tat is not None else now, now) + count * spacing + delay
            self.reservations.append(count)
            return self.tat - now - count * spacing


def max_in_window(times):
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + 1.0) for i, t in enumerate(times))


def test_two_processes_share_the_cap():
    """A second limiter (another process) waits for the slots the first one reserved, even unused ones."""
    clock = FakeClock()
    shared = SharedClock(clock)
    first = SharedRateLimiter(20, shared.reserve, clock=clock, sleep=clock.sleep)
    second = SharedRateLimiter(20, shared.reserve, clock=clock, sleep=clock.sleep)
    grants = [first.acquire() for _ in range(6)]  # two chunks of 5: slots up to 10 * 1.02 / 20
    grants += [second.acquire() for _ in range(34)]
    assert grants[6] == pytest.approx(10 * 1.02 / 20), "the first process's last chunk is not taken again"
    assert max_in_window(grants) <= 20
    assert shared.reservations == [5] * 9, "chunks of a quarter of a second"


def test_chunk_never_reserves_more_than_needed():
    clock = FakeClock()
    shared = SharedClock(clock)
    limiter = SharedRateLimiter(80, shared.reserve, needed=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
    assert shared.reservations == [3], "a batch of 3 keeps the rest of the second for the other processes"


def test_late_wakeup_gives_the_slot_up():
    """A thread waking up after its slot + tolerance does not call: it would crowd the next window."""
    clock = FakeClock()
    late = itertools.cycle([0.0, 0.05, 0.0, 0.0, 0.011, 0.0])

    def sleep(seconds):
        clock.sleep(seconds + next(late))

    shared = SharedClock(clock)
    limiter = SharedRateLimiter(40, shared.reserve, clock=clock, sleep=sleep)
    grants = [limiter.acquire() for _ in range(200)]
    assert limiter.given_up > 0
    assert max_in_window(grants) <= 40
    other = SharedRateLimiter(40, shared.reserve, clock=clock, sleep=sleep)
    both = grants + [other.acquire() for _ in range(40)]
    assert max_in_window(both) <= 40


def test_slow_down_is_shared():
    clock = FakeClock()
    shared = SharedClock(clock)
    first = SharedRateLimiter(10, shared.reserve, clock=clock, sleep=clock.sleep)
    second = SharedRateLimiter(10, shared.reserve, clock=clock, sleep=clock.sleep)
    first.acquire()
    first.slow_down(1.0)
    assert second.acquire() >= 1.0, "Meta's 130429 seen by one process pauses the other"


def test_reserve_slots_statement():
    class Cursor:
        def execute(self, query, params):
            self.params = params

        def fetchone(self):
            return (0.5 + self.params["span"],)  # the clock was 0.5 s ahead: tat - now = 0.5 + span

    cursor = Cursor()
    assert reserve_slots(cursor, 7, 4, 0.25) == pytest.approx(0.5)
    assert cursor.params == {"account": 7, "span": 1.0}


def test_send_all_two_processes_concurrently():
    """Two concurrent runs (4 threads each) on one shared clock: each job sent once, never over the rate."""
    starts, sent = [], []
    lock = threading.Lock()
    shared = SharedClock(time.monotonic)

    def send(payload):
        with lock:
            starts.append(time.monotonic())
            sent.append(payload)
        time.sleep(0.01)
        return {"ok": payload}

    runs = {}

    def process(name):
        jobs = [(i, (name, i)) for i in range(60)]
        runs[name] = send_all(jobs, [send] * 4, rate=50, reserve=shared.reserve)

    threads = [threading.Thread(target=process, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == sorted((name, i) for name in ("a", "b") for i in range(60))
    assert all(r.error is None and not r.skipped for results in runs.values() for r in results)
    assert max_in_window(starts) <= 50


def test_uncertain_reservation_is_given_up():
    """A reservation whose statement ran somewhere in a window wider than the tolerance allows (a slow round trip,
    a thread kept from running) could place its slots too late against the next chunk's: its slots are given up
    and the limiter reserves again; with the window given by ``reserve`` itself, only that counts."""
    clock = FakeClock()
    shared = SharedClock(clock)
    spreads = iter([0.05, 0.001])

    def reserve(count, spacing, delay=0.0):
        return shared.reserve(count, spacing, delay), next(spreads, 0.001), clock.now

    limiter = SharedRateLimiter(40, reserve, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    assert shared.reservations == [10, 10]  # the first chunk given up, the second used
    assert limiter.given_up == 10


def test_slots_counted_from_the_reservation_answer():
    """A thread kept from running after the reservation's answer (the GIL, a busy machine) does not place the
    chunk late: with ``(seconds, spread, at)`` the slots count from ``at``, the answer's time, so this chunk's
    slots and the next one's never crowd a second."""
    clock = FakeClock()
    shared = SharedClock(clock)
    late = iter([0.2])  # the first answer reaches the limiter 200 ms after it was received

    def reserve(count, spacing, delay=0.0):
        seconds, answered = shared.reserve(count, spacing, delay), clock.now
        clock.now += next(late, 0.0)
        return seconds, 0.001, answered

    limiter = SharedRateLimiter(40, reserve, clock=clock, sleep=clock.sleep)
    grants = [limiter.acquire() for _ in range(80)]
    assert max_in_window(grants) <= 40
    # placed from ``after`` instead, the chunk would have started 200 ms late and no slot would be given up: the 8
    # slots that passed while the thread was away (more than the 20-ms tolerance) are given up, not bunched
    assert limiter.given_up == 8
