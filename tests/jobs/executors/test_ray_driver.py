"""The Ray driver thread: every call on one thread that outlives its callers (no Ray needed)."""

from __future__ import annotations

import threading

import pytest

from modelport.jobs.executors.ray_driver import DriverStopped, RayDriver


def test_calls_run_in_order_on_one_thread_that_outlives_the_callers() -> None:
    driver = RayDriver()
    driver.start()
    seen: list[tuple[int, str]] = []

    def record(i: int) -> str:
        seen.append((i, threading.current_thread().name))
        return f"done {i}"

    answers: list[str] = []
    callers = [
        threading.Thread(target=lambda i=i: answers.append(driver.call(record, i)))
        for i in range(5)
    ]
    for caller in callers:
        caller.start()
        caller.join()  # each caller ends before the next one calls
    assert answers == [f"done {i}" for i in range(5)]
    assert seen == [(i, "ray-driver") for i in range(5)]
    assert driver.running
    driver.stop()
    assert not driver.running


def test_errors_reach_the_caller_and_a_call_from_the_thread_runs_at_once() -> None:
    driver = RayDriver()
    driver.start()

    def fail() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        driver.call(fail)
    # a call made on the driver thread itself does not wait for itself
    assert driver.call(lambda: driver.call(lambda: 42)) == 42
    driver.stop()


def test_a_stopped_driver_refuses_calls_and_starts_again() -> None:
    driver = RayDriver()
    with pytest.raises(DriverStopped):
        driver.call(lambda: None)
    driver.start()
    driver.stop()
    driver.stop()  # twice: nothing
    with pytest.raises(DriverStopped):
        driver.call(lambda: None)
    driver.start()
    assert driver.call(lambda: "again") == "again"
    driver.stop()
