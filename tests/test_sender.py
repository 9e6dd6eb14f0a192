"""Pure pytest of the rate limiter, the concurrent sender and the status ranks (no Odoo)."""

import itertools
import threading
import time

import pytest
from _whatsapp_tools import meta_status
from _whatsapp_tools.sender import RateLimiter, send_all


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        with self.lock:
            self.now += seconds


def test_rate_limiter_paces_permits():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    slots = [limiter.acquire() for _ in range(5)]
    assert slots == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_rate_limiter_slow_down():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.slow_down(1.0)
    assert limiter.acquire() == pytest.approx(1.1)


def test_rate_limiter_rejects_zero():
    with pytest.raises(ValueError):
        RateLimiter(0)


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

    limiter = RateLimiter(80, clock=clock, sleep=sleep)
    grants = [limiter.acquire() for _ in range(400)]
    assert grants == sorted(grants)
    assert max(sum(1 for g in grants if t <= g < t + 1.0) for t in grants) == 80
    assert grants[-1] < 400 / 80 + 0.1, "still paced at the rate"
