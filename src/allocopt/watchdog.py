"""The watchdog: a solver call held to its wall-clock limit and to Ctrl-C, whatever the solver does.

The call runs on a thread of its own; past the limit (plus a grace period) or after Ctrl-C the watchdog asks it
to stop and, if it does not, abandons it. Abandoned threads are daemons, listed so that the CLI can end the
process with os._exit rather than wait for them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

WATCHDOG_GRACE_S = 2.0
"""Seconds past the time limit a solver may take to stop by itself before the watchdog abandons it."""
INTERRUPT_GRACE_S = 1.0
"""Seconds a solver may take to stop after Ctrl-C before the watchdog abandons it."""
PROGRESS_EVERY_S = 1.0
"""Seconds between two calls of `watch`'s `on_tick`."""

T = TypeVar("T")

_ABANDONED: list[threading.Thread] = []
"""Solver threads the watchdog left running (they end with the process; see `solvers_left_running`)."""


def watched(work: Callable[[], T], *, time_limit_s: float | None) -> T | None:
    """`work()` (a solver call that cannot be cancelled, e.g. scipy's linprog) under the watchdog: None when it
    is still running WATCHDOG_GRACE_S + INTERRUPT_GRACE_S past `time_limit_s`; Ctrl-C holds within
    INTERRUPT_GRACE_S."""
    return watch(work, cancel=lambda: None, time_limit_s=time_limit_s, on_tick=None)


def watch(
    work: Callable[[], T],
    *,
    cancel: Callable[[], None],
    time_limit_s: float | None,
    on_tick: Callable[[float], None] | None,
) -> T | None:
    """Run `work` on a thread of its own and wait for it, holding the time limit and Ctrl-C whatever it does.

    Returns its result, or None when it was abandoned: still running INTERRUPT_GRACE_S after `cancel`, which
    comes WATCHDOG_GRACE_S past the time limit. On Ctrl-C, `cancel`, wait up to INTERRUPT_GRACE_S, and re-raise.
    An exception of `work` is re-raised here. `on_tick` is told the seconds elapsed about every PROGRESS_EVERY_S.
    The wait is on an Event, not `Thread.join`: a join that Ctrl-C interrupts can leave the thread looking
    finished while it runs (CPython before 3.13).
    """
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=target, name="allocopt-solver", daemon=True)
    started = time.monotonic()
    hard_stop = None if time_limit_s is None else started + time_limit_s + WATCHDOG_GRACE_S
    next_report = started + PROGRESS_EVERY_S
    thread.start()
    try:
        while not finished.wait(0.1):
            now = time.monotonic()
            if on_tick is not None and now >= next_report:
                on_tick(now - started)
                next_report = now + PROGRESS_EVERY_S
            if hard_stop is not None and now >= hard_stop:
                cancel()
                if not finished.wait(INTERRUPT_GRACE_S):
                    _ABANDONED.append(thread)
                    return None
    except KeyboardInterrupt:
        cancel()
        if not finished.wait(INTERRUPT_GRACE_S):
            _ABANDONED.append(thread)
        raise
    if "error" in outcome:
        raise outcome["error"]
    result: T = outcome["value"]
    return result


def solvers_left_running() -> bool:
    """Whether a solver the watchdog abandoned is still running: the process should then end with os._exit, as
    a native solver thread still running at interpreter exit can abort the process."""
    return any(thread.is_alive() for thread in _ABANDONED)
