"""Run one task per file: in this process, or on dask.distributed workers with a per-task timeout.

The batch hands over the files, the task (a picklable function of the file
and fixed arguments that returns a row and never raises) and two callbacks:
``on_row(row)`` for a finished file and ``on_failure(file, message)`` for a
file whose task died with its worker or ran past the timeout.

A Python thread cannot be killed, so a task that hangs is only stoppable in
a process of its own: with a timeout the tasks always run on dask workers
(a LocalCluster of one process for one worker). At most as many tasks are in
flight as the cluster has threads, so a task starts running when it is
submitted, its submit time is its start time, and the memory held by
results waiting to be collected stays bounded. A task past its time is
cancelled and the worker running it restarted by its nanny (only that
worker: the others carry on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

__all__ = ["dask_setup", "keep_freed_memory", "run_tasks", "timeout_message"]


#: glibc's mallopt() parameters, and what the applications set them to: arrays up to HEAP_UP_TO_BYTES from the
#: heap (the batch's workers through MALLOC_MMAP_THRESHOLD_, the command line through mallopt), well past a
#: 2048 x 2048 float64 image.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
HEAP_UP_TO_BYTES, _KEEP_FREED_BYTES = 128 << 20, 256 << 20


def keep_freed_memory() -> bool:
    """Let this process reuse the memory of freed large arrays instead of asking the kernel for it afresh.

    glibc hands arrays over 32 MB (a 2048 x 2048 float64 image) straight from
    the kernel, which zeroes every page of each one on first touch, and gives
    freed heap memory back at once: an analysis that makes a few hundred such
    temporaries spends a tenth of its time in the kernel. Arrays up to 128 MB
    from the heap, and up to 256 MB of freed memory kept for the next ones,
    take that time away. The command line calls this once at its start (the
    batch's worker processes get the like through their environment, see
    :func:`_cluster`): it is the process's setting, which the library itself
    leaves to whoever owns the process.

    Returns
    -------
    bool
        Whether the setting took (False off glibc, which has no such knob).
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, HEAP_UP_TO_BYTES)
                    and libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED_BYTES))
    except (OSError, AttributeError):
        return False


def timeout_message(file, timeout) -> str:
    """The one-line error of a file whose analysis ran past `timeout` seconds."""
    return f"{file}: analysis took longer than the {timeout:g} s timeout; skipped"


def _warm_up() -> None:
    """Import the analysis in a worker once, before its first task's time starts.

    Not the figure (matplotlib, ~0.5 s): a batch without figures needs none, and a
    batch with them pays it once, in the first task.
    """
    import stemlayers.report.analysis  # noqa: F401


def dask_setup(worker) -> None:
    """Preload hook of the LocalCluster's worker processes (they import this module to start).

    Ctrl-C in a terminal reaches the whole process group, workers included; the
    batch's own process stops the cluster then, so the workers ignore SIGINT
    instead of each dying with a traceback. Runs again in a restarted worker.
    The batch cancels tasks itself (timeouts, Ctrl-C), so the worker's warning
    for each cancelled task is not news and is silenced.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)
    # when the batch closes the cluster (Ctrl-C), a worker's heartbeat in flight finds the scheduler gone
    # and logs it with a traceback: expected at that moment, and no news to the user
    logging.getLogger("distributed.worker").addFilter(_quiet_lost_heartbeat)
    _warm_up()


def _quiet_lost_heartbeat(record) -> bool:
    """Logging filter: False (drop) for a worker's 'scheduler gone during heartbeat' record."""
    return not record.getMessage().startswith("Failed to communicate with scheduler during heartbeat")


@contextlib.contextmanager
def _cluster(workers, scheduler):
    """The address to connect to: `scheduler`, or a LocalCluster of `workers` processes closed on exit."""
    if scheduler:
        yield scheduler
        return
    import dask
    from dask.distributed import LocalCluster

    # dask's nanny sets MALLOC_TRIM_THRESHOLD_, which turns glibc's adaptive mmap threshold off: every
    # array over 128 kB is then mmap'ed and page-faulted afresh, and the fit's many temporaries run up
    # to 20x slower. A fixed, large mmap threshold gives the workers the speed of a plain process.
    # (The nanny also sets OMP_NUM_THREADS=1, which the fit reads: one thread per worker process.)
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": HEAP_UP_TO_BYTES}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               preload=[__name__])
    try:
        yield cluster
    finally:
        cluster.close()


def _worker_of(client, key):
    """The address of the worker processing `key`, or None."""
    try:
        return next((w for w, keys in client.processing().items() if key in keys), None)
    except Exception:  # noqa: BLE001 - a scheduler we cannot ask: the task is only cancelled
        return None


def _stop(client, future) -> None:
    """Cancel a task and restart the worker running it (a hung thread dies only with its process)."""
    worker = _worker_of(client, future.key)
    future.cancel()
    if worker is None:
        return
    try:
        # a worker without a nanny (a cluster we do not own) cannot be restarted: its thread stays busy
        client.restart_workers([worker], raise_for_error=False)
        client.run(_warm_up)
    except Exception:  # noqa: BLE001 - the row is recorded either way
        pass


def _on_dask(client, todo, task, task_args, on_row, on_failure, timeout):
    """Run the tasks through `client`, at most one per worker thread at a time."""
    from dask.distributed import wait

    client.run(_warm_up)
    window = max(1, sum(client.nthreads().values()))
    queue = iter(todo)
    pending = {}  # future -> (file, submitted at)

    def submit_next():
        file = next(queue, None)
        if file is not None:
            pending[client.submit(task, file, *task_args, pure=False)] = (file, time.monotonic())

    for _ in range(window):
        submit_next()
    while pending:
        wait_for = None
        if timeout is not None:
            wait_for = max(0.05, min(t for _, t in pending.values()) + timeout - time.monotonic())
        try:
            wait(list(pending), timeout=wait_for, return_when="FIRST_COMPLETED")
        except (TimeoutError, asyncio.TimeoutError):  # the same class from Python 3.11 on
            pass
        now = time.monotonic()
        for future in list(pending):
            file, started = pending[future]
            if future.done():
                del pending[future]
                try:
                    on_row(future.result())
                except Exception as exc:  # noqa: BLE001 - a worker that died takes only its image
                    from .errors import one_line

                    on_failure(file, f"{file}: the worker analysing it failed ({type(exc).__name__}: "
                                     f"{one_line(exc)})")
                submit_next()
            elif timeout is not None and now - started >= timeout:
                del pending[future]
                _stop(client, future)
                on_failure(file, timeout_message(file, timeout))
                submit_next()


def run_tasks(todo, task, task_args, on_row, on_failure, workers=1, scheduler=None, timeout=None) -> None:
    """Run ``task(file, *task_args)`` for every file in `todo`.

    Parameters
    ----------
    todo : list of str
    task : callable
        Returns a row and never raises; must be picklable to run on dask workers.
    task_args : tuple
    on_row : callable
        ``on_row(row)`` as each task finishes (in this process, in finishing order).
    on_failure : callable
        ``on_failure(file, message)`` for a task that died with its worker or ran past `timeout`.
    workers : int
        Worker processes of a LocalCluster; 1 without a timeout runs in this process.
    scheduler : str, optional
        Address of an existing dask scheduler to run on instead.
    timeout : float, optional
        Seconds a task may run; counted from when it is handed to a free worker.
    """
    if scheduler is None and (workers or 1) <= 1 and timeout is None:
        for file in todo:
            on_row(task(file, *task_args))
        return
    from dask.distributed import Client

    with _cluster(workers or 1, scheduler) as address, Client(address) as client:
        _on_dask(client, todo, task, task_args, on_row, on_failure, timeout)
