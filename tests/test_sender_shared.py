"""Pure pytest of the per-number cap shared by several processes (``SharedRateLimiter``), no Odoo, no database:
the shared clock is a GCRA in memory with the same contract as ``RESERVE_SQL``."""

import itertools
import threading
import time

import pytest
from _whatsapp_tools.sender import SenderPool, SharedRateLimiter, local_clock, reserve_slots, send_all


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class SharedClock:
    """The database row (``local_clock``: the same GCRA, ``tat = max(tat, now) + span``), its reservations
    recorded; returns the seconds from now to the first slot."""

    def __init__(self, clock):
        self._reserve = local_clock(clock)
        self.reservations = []

    def reserve(self, count, spacing, delay=0.0):
        self.reservations.append(count)
        return self._reserve(count, spacing, delay)


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
            return (100.5 + self.params["span"], 100.0)  # tat, now: the clock was 0.5 s ahead

    cursor = Cursor()
    assert reserve_slots(cursor, 7, 4, 0.25) == pytest.approx((100.5, 100.0))
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


def on_shared_clock(shared, clock, spreads, offset=1000.0, late=()):
    """``reserve`` as the queue's: the shared clock's times (``offset`` ahead of this process's), the statement
    answered at once but known to have run somewhere in the last of ``spreads`` seconds (a round trip); the
    thread then kept from running for the next of ``late`` seconds."""
    spreads, late = iter(spreads), iter(late)

    def reserve(count, spacing, delay=0.0):
        answered = clock.now
        first = answered + shared.reserve(count, spacing, delay)
        sent = answered - next(spreads, 0.001)
        clock.now += next(late, 0.0)
        return first + offset, answered + offset, sent, answered

    return reserve


def test_uncertain_reservation_is_given_up():
    """A reservation whose statement ran somewhere in a window wider than the tolerance allows (a slow round trip,
    a thread kept from running), with nothing quicker known, could place its slots too late against the next
    chunk's: its slots are given up and the limiter reserves again."""
    clock = FakeClock()
    shared = SharedClock(clock)
    limiter = SharedRateLimiter(
        40, on_shared_clock(shared, clock, [0.05, 0.001]), clock=clock, sleep=clock.sleep
    )
    limiter.acquire()
    assert shared.reservations == [10, 10]  # the first chunk given up, the second used
    assert limiter.given_up == 10


def test_offset_learned_from_the_quickest_round_trip():
    """Slow round trips after a quick one lose nothing: the shared clock's offset to this process's is known
    from the quickest (each reservation narrows it), so the slots are placed as precisely, on time."""
    clock = FakeClock()
    shared = SharedClock(clock)
    reserve = on_shared_clock(shared, clock, [0.001] + [0.05] * 30)
    limiter = SharedRateLimiter(40, reserve, clock=clock, sleep=clock.sleep)
    grants = [limiter.acquire() for _ in range(200)]
    assert limiter.given_up == 0
    assert grants[10:13] == pytest.approx([10 * 1.02 / 40, 11 * 1.02 / 40, 12 * 1.02 / 40])
    other = SharedRateLimiter(40, on_shared_clock(shared, clock, [0.001]), clock=clock, sleep=clock.sleep)
    assert max_in_window(grants + [other.acquire() for _ in range(40)]) <= 40


def test_offset_known_long_ago_widens_and_a_set_clock_is_relearned():
    """Two clocks drift apart: bounds learned long ago count for less (a slow round trip 100 s later is as
    uncertain as if nothing were known); a clock that was set (bounds that no longer meet) is learned anew."""
    clock = FakeClock()
    shared = SharedClock(clock)
    offsets = iter([1000.0, 1000.0, 1010.0])

    def reserve(count, spacing, delay=0.0):
        first, now, sent, answered = on_shared_clock(shared, clock, [spreads.pop(0)])(count, spacing, delay)
        offset = next(offsets, 1010.0)
        return first - 1000.0 + offset, now - 1000.0 + offset, sent, answered

    spreads = [0.001, 0.05, 0.001, 0.001]
    limiter = SharedRateLimiter(40, reserve, chunk=1, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 100.0
    limiter.acquire()
    assert limiter.given_up == 1, "100 s of drift and a 50-ms round trip: too uncertain"
    assert limiter.acquire() == pytest.approx(clock.now), (
        "the clock set 10 s ahead: the slot is now, not in 10 s"
    )
    assert limiter._offset[:2] == pytest.approx((-1010.001, -1010.0)), "the new bounds alone"


def test_slots_counted_from_the_reservation_answer():
    """A thread kept from running after the reservation's answer (the GIL, a busy machine) does not place the
    chunk late: the slots count from the shared clock, related to this one at the answer, so this chunk's
    slots and the next one's never crowd a second."""
    clock = FakeClock()
    shared = SharedClock(clock)
    reserve = on_shared_clock(
        shared, clock, [], late=[0.2]
    )  # the first answer reaches the limiter 200 ms late
    limiter = SharedRateLimiter(40, reserve, clock=clock, sleep=clock.sleep)
    grants = [limiter.acquire() for _ in range(80)]
    assert max_in_window(grants) <= 40
    # placed from when the thread ran again instead, the chunk would have started 200 ms late and no slot would
    # be given up: the 8 slots that passed while the thread was away (more than the tolerance) are given up
    assert limiter.given_up == 8


def test_pool_counts_the_slots_each_shared_lane_used_and_gave_up():
    """The runner logs, per account, the calls made and the slots given up (the distance from the cap)."""
    shared = SharedClock(time.monotonic)
    given_up = iter([0.05])  # the first reservation seemed to take 50 ms: its chunk is given up

    def reserve(count, spacing, delay=0.0):
        answered = time.monotonic()
        return (
            answered + shared.reserve(count, spacing, delay),
            answered,
            answered - next(given_up, 0.0),
            answered,
        )

    with SenderPool() as pool:
        pool.add_lane("shared", lambda payload: {"ok": payload}, rate=40, workers=2, reserve=reserve)
        pool.add_lane("alone", lambda payload: {"ok": payload}, rate=40, workers=2)
        for lane in ("shared", "alone"):
            pool.submit(lane, [(i, i) for i in range(12)])
        assert len(pool.take_results()) == 24
        assert pool.slots() == {"shared": (22, 12, 10, 0.0), "alone": (12, 12, 0, 0.0)}, (
            "the chunk given up, then 10 and 2 slots"
        )
        pool.submit("shared", [(12, 12)])  # the lane ran out of jobs meanwhile: starved until now
        assert len(pool.take_results()) == 1
        reserved, granted, given_up, starved = pool.slots()["shared"]
        assert (reserved, granted, given_up) == (23, 13, 10) and starved > 0
