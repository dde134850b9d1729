"""One way to run independent tasks in parallel: local processes, or a dask cluster when given.

``run_tasks`` keeps a bounded window of tasks in flight, so memory does not grow with the
number of tasks, and yields results as they finish.  The same call runs on a
``dask.distributed`` cluster when ``scheduler`` is its address ("tcp://host:8786"); dask is
needed only then (``pip install "photoz-nb[dask]"``).

Local workers end with the process that started them, SIGKILL included (:func:`_die_with_parent`):
a killed build leaves no orphans computing for nobody.  (The workers of a "dask-local" cluster
do so by themselves: dask's workers watch their parent.)
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import itertools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np


def default_workers() -> int:
    """Processes to use by default: every core of this machine."""
    return os.cpu_count() or 1


@contextlib.contextmanager
def executor(workers: int | None = None, scheduler: str | None = None, connect_timeout_s: float = 30.0):
    """A ``concurrent.futures`` executor: ``workers`` spawned processes, or a dask cluster.

    Parameters
    ----------
    workers : int, optional
        Local processes; default every core.  Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running dask scheduler, or "dask-local" for a throw-away local dask
        cluster of ``workers`` single-threaded processes.
    """
    workers = default_workers() if workers is None else check_workers(workers)
    if scheduler is None:
        with single_threaded_children(), concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            yield pool
        return
    try:
        from dask import distributed
    except ImportError as err:
        raise ImportError(f"scheduler={scheduler!r} needs dask.distributed: pip install 'photoz-nb[dask]'") from err
    if scheduler == "dask-local":
        with single_threaded_children(), distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            yield client.get_executor(pure=False)
        return
    try:
        client = distributed.Client(scheduler, timeout=connect_timeout_s)
    except (OSError, ValueError, TypeError) as err:  # unreachable, timed out, or not an address
        raise ConnectionError(f"cannot reach the dask scheduler at {scheduler!r} within {connect_timeout_s:g} s "
                              f"({type(err).__name__}: {err}); check --scheduler, or omit it to use local "
                              "processes") from err
    with client:
        yield client.get_executor(pure=False)


def _die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this process when ``parent_pid`` dies, even by SIGKILL.

    On Linux the kernel sends SIGKILL on the parent's death (``prctl(PR_SET_PDEATHSIG)``);
    elsewhere a daemon thread polls the parent id.  Either way, a parent that is already
    gone when this runs is noticed at once.
    """
    try:
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: watch the parent instead
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)


def _watch_parent(parent_pid: int, every_s: float = 1.0) -> None:
    while os.getppid() == parent_pid:
        time.sleep(every_s)
    os._exit(1)


def check_workers(workers) -> int:
    """``workers`` itself when it is a positive integer, else a ValueError."""
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return workers


def run_tasks(fn: Callable, tasks: Iterable[tuple], workers: int | None = None, scheduler: str | None = None,
              in_flight_per_worker: int = 2) -> Iterator[tuple[int, object]]:
    """Yield ``(index, fn(*task))`` for every task, in completion order.

    With ``workers == 1``, or a single task, and no scheduler the tasks run in this process,
    in order (easy to debug, no pickling, no processes to start).  Otherwise at most
    ``in_flight_per_worker * workers`` tasks are submitted at a time.  ``fn`` must be
    importable by name (a module-level function).
    """
    if workers is not None:
        check_workers(workers)
    tasks = iter(tasks)
    head = list(itertools.islice(tasks, 2))  # is there more than one task?
    tasks = itertools.chain(head, tasks)
    if scheduler is None and (workers == 1 or len(head) < 2):
        for index, task in enumerate(tasks):
            yield index, fn(*task)
        return
    with executor(workers, scheduler) as pool:
        window = in_flight_per_worker * (default_workers() if workers is None else workers)
        running: dict[concurrent.futures.Future, int] = {}
        numbered = enumerate(tasks)

        def submit_next() -> None:
            for index, task in numbered:
                running[pool.submit(fn, *task)] = index
                return

        for _ in range(window):
            submit_next()
        while running:
            finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                index = running.pop(future)
                yield index, future.result()
                submit_next()


@contextlib.contextmanager
def single_threaded_children():
    """Workers inherit OMP/BLAS thread limits of 1 (busy-waiting threads slow them down)."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({k: "1" for k in names})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
