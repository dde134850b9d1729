"""Shared fixtures: small data sets in the data contract, made in a temporary directory."""
import pytest

from photoz_nb import fixtures


def make_catalog(n: int, seed: int = 0):
    """A catalogue that satisfies the contract, with plausible values."""
    return fixtures.synthetic_catalog(n, seed)


def write_tiny_dataset(path, n: int = 64, seed: int = 0):
    """A contract-valid data set whose images carry a redshift-dependent signal."""
    return fixtures.write_synthetic_dataset(path, n, seed, chunk=32)


@pytest.fixture
def tiny_dataset(tmp_path):
    """Path to a freshly written 64-galaxy data set."""
    return write_tiny_dataset(tmp_path / "tiny")


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent without xdist
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, except that the notebooks are one unit: they run in order (01 builds the data set
    that 02 trains on, ...) in one worker, while the other workers take the unit-test files."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class NotebooksInOrder(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return "notebooks" if scope.endswith(".ipynb") else scope

        def _assign_work_unit(self, node) -> None:
            if "notebooks" in self.workqueue:  # the longest unit starts first, not last
                self.workqueue.move_to_end("notebooks", last=False)
            super()._assign_work_unit(node)

    return NotebooksInOrder(config, log)
