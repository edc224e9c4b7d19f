"""Ctrl-C while a run is in progress: a real SIGINT sent to this process by a timer."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from codeloop.runs.stopping import Stopped, run_stoppable


def ctrl_c_when(ready: threading.Event, times: int = 1) -> None:
    """Send SIGINT to this process `times` times, once `ready` is set."""

    def send() -> None:
        ready.wait(10)
        for _ in range(times):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)

    threading.Thread(target=send, daemon=True).start()


def test_the_work_s_value_and_errors_come_back_unchanged() -> None:
    assert run_stoppable(lambda check: 42) == 42
    with pytest.raises(ZeroDivisionError):
        run_stoppable(lambda check: 1 // 0)


def test_ctrl_c_stops_the_work_at_its_next_check_after_its_cleanup() -> None:
    running, events = threading.Event(), []

    def work(check: Callable[[], None]) -> None:
        running.set()
        try:
            while True:
                check()
                events.append("step")
                time.sleep(0.01)
        except Stopped:
            events.append("cleaned up")
            raise

    before = signal.getsignal(signal.SIGINT)
    ctrl_c_when(running)
    with pytest.raises(KeyboardInterrupt):
        run_stoppable(work, lambda: events.append("stopping"))
    assert signal.getsignal(signal.SIGINT) is before
    assert events[-1] == "cleaned up" and events.count("stopping") == 1
    assert events.index("stopping") < events.index("cleaned up")


def test_work_that_ends_without_checking_again_is_returned() -> None:
    running, finish = threading.Event(), threading.Event()

    def work(check: Callable[[], None]) -> str:
        running.set()
        finish.wait(10)
        return "finished"

    ctrl_c_when(running)
    assert run_stoppable(work, finish.set) == "finished"


def test_a_second_ctrl_c_stops_waiting_at_once() -> None:
    running, release = threading.Event(), threading.Event()

    def work(check: Callable[[], None]) -> None:
        running.set()
        release.wait(30)  # a long node that will not reach a check soon

    ctrl_c_when(running, times=2)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_stoppable(work)
        assert not release.is_set()
    finally:
        release.set()


def test_off_the_main_thread_the_work_runs_right_there() -> None:
    ran_on: list[threading.Thread] = []

    def work(check: Callable[[], None]) -> None:
        check()
        ran_on.append(threading.current_thread())

    caller = threading.Thread(target=run_stoppable, args=(work,))
    caller.start()
    caller.join(10)
    assert ran_on == [caller]


def test_ctrl_c_delivered_to_the_work_s_thread_still_stops_it() -> None:
    """The kernel may hand SIGINT to any thread; Python runs the handler on the main one."""
    events: list[str] = []

    def work(check: Callable[[], None]) -> str:
        time.sleep(0.2)  # the main thread is waiting by now
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            check()
            time.sleep(0.01)
        return "never stopped"

    with pytest.raises(KeyboardInterrupt):
        run_stoppable(work, lambda: events.append("stopping"))
    assert events == ["stopping"]
