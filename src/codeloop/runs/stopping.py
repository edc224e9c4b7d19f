"""Ctrl-C that stops a run at a safe point instead of wherever the signal lands.

By default Python raises KeyboardInterrupt in the main thread at whatever bytecode it
is running, which may be inside LangGraph's stream machinery (its futures, semaphores
and checkpoint writer): code not written to be cut at any point. One CI run saw
`codeloop run` still alive 60 s after its Ctrl-C. Here the run goes on in a worker
thread; Ctrl-C only sets a flag, and the run raises `Stopped` itself the next time it
reports progress, between nodes or tokens, where leaving the stream is an ordinary
early exit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import FrameType
from typing import TypeVar

T = TypeVar("T")


class Stopped(Exception):
    """Raised inside a run, at a progress report, once it is asked to stop.

    Ctrl-C asks here; a batch asks its runs (see codeloop.batch) when it is stopping.
    """


def run_stoppable(
    work: Callable[[Callable[[], None]], T], on_stopping: Callable[[], None] | None = None
) -> T:
    """Return `work(check)`, run on a worker thread; after Ctrl-C, `check()` raises Stopped.

    The first Ctrl-C calls `on_stopping` (to say a stop is under way) and waits for the
    work to reach its next `check()` and unwind; then KeyboardInterrupt is raised here.
    A second Ctrl-C stops waiting at once. Work that finishes regardless is returned.
    Outside the main thread, where Python delivers no signals, this just calls `work`.
    """
    stop = threading.Event()

    def check() -> None:
        if stop.is_set():
            raise Stopped

    if threading.current_thread() is not threading.main_thread():
        return work(check)

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if on_stopping:
            on_stopping()

    outcome: Future[T] = Future()
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        threading.Thread(target=_into, args=(outcome, work, check), daemon=True).start()
        return _wait(outcome)
    except Stopped:
        raise KeyboardInterrupt from None
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait(outcome: Future[T]) -> T:
    """Wait for the outcome, waking often: a handler runs only when the main thread does.

    The kernel may deliver SIGINT to any thread (here, the work's or llama.cpp's); Python
    then runs the handler at the main thread's next bytecode, which a wait with no timeout
    never reaches. A CI run saw the first Ctrl-C handled only after the run had ended.
    """
    while True:
        try:
            return outcome.result(timeout=0.1)
        except TimeoutError:
            continue


def _into(outcome: Future[T], work: Callable[[Callable[[], None]], T],
          check: Callable[[], None]) -> None:
    """Run `work(check)` and hand its result or exception to the waiting main thread."""
    try:
        outcome.set_result(work(check))
    except BaseException as exc:
        outcome.set_exception(exc)
