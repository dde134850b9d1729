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
