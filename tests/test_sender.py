"""Pure pytest of the rate limiter, the concurrent sender and the status ranks (no Odoo)."""

import itertools
import sys
import threading
import time

import pytest
from _whatsapp_tools import meta_status, sender
from _whatsapp_tools.sender import SenderPool, SharedRateLimiter, local_clock, send_all


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        with self.lock:
            self.now += seconds


def alone(rate, clock, sleep=None):
    """The limiter of a lane without a shared clock: this process's."""
    return SharedRateLimiter(rate, local_clock(clock), clock=clock, sleep=sleep or clock.sleep)


def test_rate_limiter_paces_permits():
    """Slots ``(1 + tolerance) / rate`` apart: a call leaving up to the tolerance late never crowds a second."""
    clock = FakeClock()
    limiter = alone(10, clock)
    slots = [limiter.acquire() for _ in range(5)]
    assert slots == pytest.approx([0.0, 0.102, 0.204, 0.306, 0.408])


def test_rate_limiter_slow_down():
    """Meta's 130429: the slots reserved are dropped and the clock pushed back by the pause."""
    clock = FakeClock()
    limiter = alone(10, clock)
    limiter.acquire()  # a chunk of 3 slots reserved: 0, 0.102, 0.204
    limiter.slow_down(1.0)
    assert limiter.acquire() == pytest.approx(3 * 0.102 + 1.0)


def test_rate_limiter_rejects_zero():
    with pytest.raises(ValueError):
        alone(0, FakeClock())


def test_send_all_never_exceeds_rate_and_keeps_order():
    """200 calls of 20 ms each at 100/s with 8 threads: in-order results, started no faster than the rate."""
    starts = []
    lock = threading.Lock()

    def send(payload):
        with lock:
            starts.append(time.monotonic())
        time.sleep(0.02)
        return {"echo": payload}

    jobs = [(i, i) for i in range(200)]
    t0 = time.monotonic()
    results = send_all(jobs, [send] * 8, rate=100)
    elapsed = time.monotonic() - t0
    assert [r.response["echo"] for r in results] == list(range(200))
    assert elapsed >= 1.98  # 200 permits at 100/s: the last one starts at 1.99 s
    starts.sort()
    # no 1-second window holds more than 100 starts (+1 for the closed interval)
    for i, start in enumerate(starts):
        window = [s for s in starts[i:] if s < start + 1.0]
        assert len(window) <= 101


def test_send_all_stops_on_account_error():
    calls = []

    def send(payload):
        calls.append(payload)
        raise RuntimeError("token expired")

    results = send_all([(i, i) for i in range(10)], [send], rate=1000, stop_on=lambda err: True)
    assert len(calls) == 1
    assert isinstance(results[0].error, RuntimeError)
    assert all(r.skipped for r in results[1:])


def test_send_all_errors_are_results():
    def send(payload):
        if payload % 2:
            raise ValueError(payload)
        return {"ok": payload}

    results = send_all([(i, i) for i in range(6)], [send] * 3, rate=1000)
    assert [r.error is None for r in results] == [True, False] * 3


@pytest.mark.parametrize(
    "stored, status, applies",
    [
        ("sent", "delivered", True),
        ("read", "delivered", False),
        ("read", "read", False),
        ("delivered", "failed", False),
        ("sent", "failed", True),
        ("failed", "delivered", True),
        ("read", "played", True),
        ("replied", "read", False),
        ("received", "read", False),
        ("cancelled", "sent", False),
    ],
)
def test_status_ranks(stored, status, applies):
    assert meta_status.should_apply(meta_status.current_rank(stored), status) is applies


def test_unknown_outcome_is_settled_by_any_status():
    assert meta_status.should_apply(meta_status.current_rank("failed", "unknown_outcome"), "sent")
    assert meta_status.best_status(["delivered", "sent", "read", "bogus"]) == "read"


def test_rate_limiter_window_holds_with_late_wakeups():
    """Threads waking up late from their slots never get rate + 1 permits into a window [t, t + 1)."""
    clock = FakeClock()
    late = itertools.cycle([0.004, 0.0, 0.011, 0.002, 0.0, 0.007])

    def sleep(seconds):
        clock.sleep(seconds + next(late))

    limiter = alone(80, clock, sleep)
    grants = [limiter.acquire() for _ in range(400)]
    assert grants == sorted(grants)
    assert max(sum(1 for g in grants if t <= g < t + 1.0) for t in grants) == 80
    assert limiter.given_up == 0, "every wake-up within the tolerance"
    assert grants[-1] < 400 * 1.02 / 80 + 0.1, "still paced at the rate"


# ------------------------------------------------------------------------------------------------
# SenderPool: several lanes (accounts) at once
# ------------------------------------------------------------------------------------------------


def _recording_send(lane, calls, lock, fail=None):
    def send(payload):
        with lock:
            calls.append((time.monotonic(), lane, payload))
        if fail is not None and payload == fail:
            raise RuntimeError("token expired")
        return {"echo": payload}

    return send


def test_pool_lanes_send_together_each_at_its_rate():
    """Two lanes at 20/s, 30 jobs each, fed in two batches: interleaved, each lane in order and under its rate."""
    calls, lock = [], threading.Lock()
    with SenderPool() as pool:
        for lane in ("a", "b"):
            pool.add_lane(lane, _recording_send(lane, calls, lock), rate=20, workers=4)
            pool.submit(lane, [(i, i) for i in range(15)])
        for lane in ("a", "b"):
            pool.submit(lane, [(i, i) for i in range(15, 30)])
        results = pool.take_results()
    assert sorted((lane, r.key) for lane, r in results) == sorted(
        (lane, i) for lane in "ab" for i in range(30)
    )
    assert all(r.response == {"echo": r.key} for _lane, r in results)
    calls.sort()
    order = [lane for _t, lane, _p in calls]
    assert {"a", "b"} <= set(order[:4])  # together from the start, not one lane after the other
    for lane in "ab":
        assert [p for _t, name, p in calls if name == lane] == list(range(30))  # in order within a lane
        starts = [r.started for name, r in results if name == lane]  # when the lane's limiter granted them
        assert max(sum(1 for u in starts[i:] if u < t + 1.0) for i, t in enumerate(starts)) <= 20


def test_a_lane_engages_the_threads_its_rate_needs():
    """At 200 calls/s, calls taking 20 ms are 4 in flight: once calls are answered, the lane engages (waiting for a
    slot or in a call) about twice that plus two, not its 40 workers: more would only wake up and contend."""
    engaged = []

    def send(payload):
        with pool._lock:  # the lane's threads waiting for a slot or in a call, this one included
            engaged.append(lane.tickets + lane.in_flight)
        time.sleep(0.02)
        return {}

    with SenderPool() as pool:
        pool.add_lane("a", send, rate=200, workers=40)
        lane = pool._lanes["a"]
        pool.submit("a", [(i, i) for i in range(300)])
        results = pool.take_results()
    assert len(results) == 300 and not any(r.error for _lane, r in results)
    assert max(engaged[:40]) > 20  # before the first answers: every worker
    assert max(engaged[150:]) <= 16  # ceil(200 x ~0.021 x 2) + 2 = 11, with room for a slow host
    assert lane.latency == pytest.approx(0.02, abs=0.015)


def test_the_cap_holds_on_departure_when_calls_leave_late():
    """A thread granted its slot may wait for a core before it writes (a loaded machine): one call in seven here
    would leave 60 ms after its slot. Meta counts calls as they arrive: such a call is stopped before its first byte
    (whatever the send makes of the error), its slot given up, and its job sent with a later slot; every job sent
    once, never more than the cap in any second of departures, still at its pace. (Paced on slots alone, more
    than 40 left within one second at a cap of 40.)"""
    tried, let_go_again, lock = [], [], threading.Lock()

    def send(payload):
        with lock:
            late = payload % 7 == 0 and payload not in tried
            tried.append(payload)
        if late:
            time.sleep(0.06)
        try:
            sender.call_writing()
        except sender.SlotMissed as error:
            try:
                sender.call_writing()  # a send trying again: refused too, or the job would leave twice
                with lock:
                    let_go_again.append(payload)
            except sender.SlotMissed:
                pass
            raise RuntimeError("could not send") from error  # a send wrapping it: still taken again
        sender.call_writing()  # the next writes of the call are let go
        return {}

    with SenderPool() as pool:
        # any error would pause the lane for a second: a missed slot is not an error of the call (nothing left)
        pool.add_lane("a", send, rate=40, workers=8, on_rate_limited=lambda error: 1.0)
        lane = pool._lanes["a"]
        pool.submit("a", [(i, i) for i in range(200)])
        results = [result for _lane, result in pool.take_results()]
    assert sorted(result.key for result in results) == list(range(200))
    assert not any(result.error or result.skipped for result in results)
    assert sorted(tried) == sorted(list(range(200)) + list(range(0, 200, 7))), "the late ones, twice"
    assert not let_go_again
    assert lane.limiter.given_up >= 29 and lane.limiter.granted == 200
    written = sorted(result.written for result in results)
    assert all(result.written >= result.started for result in results)  # told by the send, not its slot
    assert all(result.written - result.started <= 0.02 for result in results)
    assert max(sum(1 for u in written[i:] if u < t + 1.0) for i, t in enumerate(written)) <= 40
    assert written[-1] - written[0] < 229 * 1.02 / 40 * 1.1


def test_a_call_late_for_its_slot_when_the_lane_is_cancelled_is_skipped():
    """A call stopped before its first byte while its lane was cancelled comes back skipped, not sent again."""
    started, gate, missed = threading.Event(), threading.Event(), threading.Event()

    def send(payload):
        if payload == 0:
            started.set()
            gate.wait(5)
            time.sleep(0.03)
            try:
                sender.call_writing()
            finally:
                missed.set()
        return {}

    with SenderPool() as pool:
        pool.add_lane("a", send, 1000, 1)
        pool.submit("a", [(0, 0), (1, 1)])
        started.wait(5)
        pool.cancel()
        gate.set()
        missed.wait(5)
        results = pool.take_results()
    assert sorted((r.key, r.skipped) for _lane, r in results) == [(0, True), (1, True)]


def test_pool_account_error_stops_its_lane_only():
    calls, lock = [], threading.Lock()
    with SenderPool() as pool:
        pool.add_lane("a", _recording_send("a", calls, lock, fail=0), 1000, 1, stop_on=lambda err: True)
        pool.add_lane("b", _recording_send("b", calls, lock), 1000, 2)
        pool.submit("a", [(i, i) for i in range(5)])
        pool.submit("b", [(i, i) for i in range(5)])
        results = pool.take_results()
        pool.submit("a", [(5, 5)])  # a stopped lane takes nothing more: skipped at once
        results += pool.take_results()
    by_lane = {lane: sorted((r.key, r.skipped) for name, r in results if name == lane) for lane in "ab"}
    assert by_lane["a"] == [(0, False)] + [(i, True) for i in range(1, 6)]
    assert by_lane["b"] == [(i, False) for i in range(5)]


def test_pool_cancel_returns_the_jobs_not_started():
    gate, started = threading.Event(), threading.Event()

    def send(payload):
        started.set()
        gate.wait(5)
        return {}

    with SenderPool() as pool:
        pool.add_lane("a", send, 1000, 1)
        pool.submit("a", [(i, i) for i in range(4)])
        started.wait(5)  # the first job is in flight
        pool.cancel()
        gate.set()
        results = pool.take_results()
    assert sorted((r.key, r.skipped) for _lane, r in results) == [(0, False), (1, True), (2, True), (3, True)]


def test_pool_switches_threads_quickly_while_open():
    """While a pool is open (two here, nested), the interpreter switches threads every SWITCH_INTERVAL at most
    (sender threads back from a socket get the GIL without waiting out the runner's 5 ms); the interval before
    comes back when the last one closes, and a pool closed twice counts once."""
    saved = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        first = SenderPool()
        assert sys.getswitchinterval() == pytest.approx(sender.SWITCH_INTERVAL)
        with SenderPool():
            assert sys.getswitchinterval() == pytest.approx(sender.SWITCH_INTERVAL)
        assert sys.getswitchinterval() == pytest.approx(sender.SWITCH_INTERVAL), "the first is still open"
        first.close()
        first.close()
        assert sys.getswitchinterval() == pytest.approx(0.005)
        sys.setswitchinterval(0.0005)
        with SenderPool():
            assert sys.getswitchinterval() == pytest.approx(0.0005), "never a longer one"
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    finally:
        sys.setswitchinterval(saved)
