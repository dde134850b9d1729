"""run_tasks gives the same results in this process, in local processes and on a dask cluster."""
import numpy as np
import pytest

from photoz_nb import parallel


def square_sum(start, stop):
    return float(np.sum(np.arange(start, stop) ** 2))


TASKS = [(i, i + 7) for i in range(0, 70, 7)]
EXPECTED = [square_sum(*t) for t in TASKS]


def collect(**kwargs):
    out = [None] * len(TASKS)
    for index, value in parallel.run_tasks(square_sum, TASKS, **kwargs):
        out[index] = value
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_local_processes_match_serial(workers):
    assert collect(workers=workers, in_flight_per_worker=1) == EXPECTED


def test_dask_local_cluster_matches_serial():
    pytest.importorskip("dask.distributed")
    assert collect(workers=2, scheduler="dask-local") == EXPECTED


def test_missing_scheduler_is_a_clear_error():
    pytest.importorskip("dask.distributed")
    with pytest.raises((OSError, TimeoutError)), parallel.executor(scheduler="tcp://127.0.0.1:9", connect_timeout_s=2):
        pass


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_worker_count(bad):
    with pytest.raises(ValueError, match="workers"):
        collect(workers=bad)


def test_a_single_task_runs_in_this_process(monkeypatch):
    monkeypatch.setattr(parallel, "executor", lambda *a, **k: pytest.fail("started processes for one task"))
    assert list(parallel.run_tasks(square_sum, [(0, 7)], workers=2)) == [(0, EXPECTED[0])]
