"""How the live threads are scheduled: nice values, realtime priority following the audio callback, a frozen heap.

Best effort throughout: where a lever is not permitted (no root, no CAP_SYS_NICE, not Linux) the live
path runs without it and says so (LiveEngine.scheduling()).
"""

from __future__ import annotations

import gc
import os
import threading

LIVE_NICE = -10


def raise_thread_priority(native_id: int, nice: int = LIVE_NICE) -> bool:
    """Best effort: give one thread (Linux thread id) a higher CPU share; False where not permitted.

    The audio and worker threads must run every few milliseconds even when
    other processes keep all cores busy. Without a realtime audio server (the
    JACK dummy server here runs with --no-realtime) a lower nice value is the
    portable lever: the scheduler then gives these threads a larger share and
    wakes them sooner. On Linux the nice value is per thread.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, native_id, nice)
        return True
    except (OSError, AttributeError):  # no permission (not root, no CAP_SYS_NICE) or not Linux
        return False


def enter_lowest_realtime():
    """Run the calling thread SCHED_FIFO at priority 1; returns (thread id, old policy, old priority) or None."""
    tid = threading.get_native_id()
    try:
        old = (tid, os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        return old
    except (OSError, AttributeError):
        return None


def leave_realtime(tid: int, policy: int, priority: int) -> None:
    try:
        os.sched_setscheduler(tid, policy, os.sched_param(priority))
    except (OSError, AttributeError):  # the thread is gone
        pass


def freeze_heap() -> None:
    """Collect once, then move every object alive now out of the collector's sight (``gc.freeze``)."""
    gc.collect()
    gc.freeze()


def follow_realtime_callback(worker_tid: int, callback_tid: int) -> int | None:
    """Best effort: where the audio callback runs realtime, run the worker realtime too, one step below it.

    A realtime audio server (JACK with --realtime, PipeWire) runs its clients'
    callbacks SCHED_FIFO, so they preempt every ordinary process; the worker,
    which must turn each stride into output within the compute headroom, is
    then the one thread of the live path that other processes' load can still
    delay (measured here: per-block p99 twice the calibration's under load).
    One priority step below the callback keeps the callback first; Linux's
    realtime throttling bounds what a runaway worker could take. Returns the
    worker's priority, or None where the callback is not realtime or it is not permitted.
    """
    try:
        callback_priority = realtime_priority(callback_tid)
        if callback_priority is None:
            return None
        priority = max(1, callback_priority - 1)
        os.sched_setscheduler(worker_tid, os.SCHED_FIFO, os.sched_param(priority))
        return priority
    except (OSError, AttributeError):  # not permitted, thread gone, or not Linux
        return None


def realtime_priority(tid: int) -> int | None:
    """The realtime (FIFO/RR) priority a thread runs at, None when it is not realtime (or gone, or not Linux)."""
    try:
        if os.sched_getscheduler(tid) in (os.SCHED_FIFO, os.SCHED_RR):
            return os.sched_getparam(tid).sched_priority
    except (OSError, AttributeError):  # the thread ended, or not Linux
        pass
    return None


def at_realtime_priority(priority: int | None, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a thread scheduled SCHED_FIFO at ``priority`` (None: here, as scheduled now).

    The calibration must see the scheduling the live worker will have: where
    the worker runs realtime (behind a realtime audio callback), other
    processes' load does not slow it, and a calibration at ordinary priority on
    a loaded machine would plan twice the headroom it needs. Where realtime is
    not permitted the thread runs at its ordinary priority.
    """
    if priority is None:
        return fn(*args, **kwargs)
    result, failure = [], []

    def run():
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))  # 0: this thread (Linux)
        except (OSError, AttributeError):
            pass
        try:
            result.append(fn(*args, **kwargs))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="vocalex-calibration")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def describe_threads(**tids) -> str:
    """How each named thread is scheduled, e.g. ``callback FIFO 9, worker nice -10`` (None: "not started")."""
    def of(tid):
        if tid is None:
            return "not started"
        try:
            policy = os.sched_getscheduler(tid)
            if policy in (os.SCHED_FIFO, os.SCHED_RR):
                return f"{'FIFO' if policy == os.SCHED_FIFO else 'RR'} {os.sched_getparam(tid).sched_priority}"
            return f"nice {os.getpriority(os.PRIO_PROCESS, tid)}"
        except (OSError, AttributeError):
            return "unknown"
    return ", ".join(f"{name} {of(tid)}" for name, tid in tids.items())
