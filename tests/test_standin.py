"""The real SDSS path over real sockets: the project's client against the local stand-in for the SAS and
SkyServer (photoz_nb.sdss.standin), with every fault of issue 33 injected.  No fetch function is injected."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from photoz_nb import cli, config
from photoz_nb.sdss import frames as F
from photoz_nb.sdss import net
from photoz_nb.sdss import query as Q
from photoz_nb.sdss import standin as S

SAMPLE = config.sample_frames_dir()
FIELD = (4510, 4, 30)
NAME = F.frame_name("r", *FIELD)
MGS_CSV = Path(__file__).parent / "fixtures" / "sdss" / "mgs_response.csv"
TIMEOUT = 1.0  # the client's; the stand-in's hang is longer


@pytest.fixture(scope="module")
def server():
    with S.StandIn(hang_s=4.0, slow_bytes_per_s=8e6, retry_after=1, any_field=True,
                   catalog=MGS_CSV) as s:
        yield s


@pytest.fixture
def standin(server):
    server._forced.clear()
    yield server
    server._forced.clear()


def cache_for(root, standin, **kw):
    return F.FrameCache(root, base=standin.sas_url, backoff=0.01, timeout=TIMEOUT, **kw)


def leftovers(root):
    """Temporary or lock files anywhere in a cache."""
    return sorted(p.name for p in Path(root).rglob(".*") if p.is_file())


def expected_bytes(standin, name):
    return standin.frame_bytes(name)


# -- where the real path connects ------------------------------------------------------------------
def test_base_urls_default_to_the_public_services_and_follow_the_environment(monkeypatch):
    monkeypatch.delenv(net.SAS_URL_ENV, raising=False)
    monkeypatch.delenv(net.SKYSERVER_URL_ENV, raising=False)
    assert net.sas_url() == "https://data.sdss.org/sas" and net.skyserver_url() == "https://skyserver.sdss.org"
    assert F.FrameCache("x").url("r", *FIELD) == F.frame_url("r", *FIELD)
    monkeypatch.setenv(net.SAS_URL_ENV, "http://mirror.example/sas/")
    monkeypatch.setenv(net.SKYSERVER_URL_ENV, "http://sky.example")
    assert F.FrameCache("x").url("r", *FIELD).startswith("http://mirror.example/sas/dr17/eboss/photoObj/frames/301/")
    assert net.skyserver_url() == "http://sky.example" and net.sas_url("https://other/sas") == "https://other/sas"
    monkeypatch.setenv(net.SAS_URL_ENV, "data.sdss.org/sas")
    with pytest.raises(ValueError, match=r"\$PHOTOZ_SAS_URL = 'data.sdss.org/sas': expected an http"):
        F.FrameCache("x")


def test_sdss_help_shows_both_settings(capsys):
    for argv in (["sdss", "--help"], ["sdss", "frames", "--help"], ["sdss", "query", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        text = " ".join(capsys.readouterr().out.split())
        assert "PHOTOZ_SAS_URL" in text and "https://data.sdss.org/sas" in text and "PHOTOZ_SKYSERVER_URL" in text
    with pytest.raises(SystemExit):
        cli.main(["sdss", "cutouts", "--help"])
    assert "--sas-url" in capsys.readouterr().out


# -- every fault, once: retried and verified -------------------------------------------------------
@pytest.mark.parametrize("fault", list(S.FAULTS))
def test_each_fault_once_is_retried_and_the_file_verified(tmp_path, standin, fault):
    standin.force(NAME, fault, times=1)
    before = standin.counts[fault]
    cache = cache_for(tmp_path, standin)
    path = cache.get("r", *FIELD)
    assert standin.counts[fault] == before + 1
    assert path.read_bytes() == (SAMPLE / NAME).read_bytes()
    assert path.with_name(NAME + ".ok").read_text() == str(path.stat().st_size)
    assert cache.stats["retries"] == (0 if fault == "slow" else 1) and cache.stats["downloaded"] == 1
    assert leftovers(tmp_path) == []
    if fault == "short":  # the valid prefix was kept and resumed with a Range request
        assert cache.stats["resumed"] == 1 and cache.stats["bytes"] == path.stat().st_size
    if fault == "503":
        assert "Retry-After 1 s" in cache.events[0][1]


# -- every fault, always: one clear line, nothing under the final name ----------------------------
@pytest.mark.parametrize("fault, message", [
    ("refused", "Connection reset by peer|Remote end closed"),
    ("reset", "Connection reset by peer"),
    ("truncated", "corrupt or truncated bzip2"),
    ("short", r"body ended after [\d,]+ of [\d,]+ bytes \(Content-Length\)"),
    ("html", "answered with an HTML page .status 200., not a frame: 'SDSS - Service temporarily unavailable'"),
    ("500", "HTTP 500"),
    ("503", r"HTTP 503 Service Unavailable \(Retry-After 1 s\)"),
    ("bomb", r"decompresses to more than 32 MiB \(MAX_FRAME_BYTES"),
    ("lying", r"FITS header declares a 2048x1489 image \(12,197,888 bytes\) but the file holds [\d,]+ bytes"),
])
def test_a_fault_that_never_clears_is_one_line_naming_the_url_and_the_file(tmp_path, standin, fault, message):
    standin.force(NAME, fault, times=None)
    cache = cache_for(tmp_path, standin, retries=2)
    with pytest.raises(F.FrameError, match=message) as err:
        cache.get("r", *FIELD)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{cache.url('r', *FIELD)}: download to {cache.path('r', *FIELD)} "
                                                "failed after 2 attempt(s); last: ")
    assert not cache.path("r", *FIELD).exists() and not cache.path("r", *FIELD).with_name(NAME + ".ok").exists()
    kept = leftovers(tmp_path)  # only a valid prefix may stay (hidden), to be resumed by the next run
    assert kept in ([], [".part-" + NAME]) and (not kept or fault in ("reset", "short"))
    standin._forced.clear()
    assert cache.get("r", *FIELD).read_bytes() == (SAMPLE / NAME).read_bytes()  # the next run gets it


def test_hang_before_headers_times_out_and_refused_connections_are_named(tmp_path, standin):
    standin.force(NAME, "hang", times=None)
    with pytest.raises(F.FrameError, match="failed after 1 attempt.*timed out"):
        cache_for(tmp_path, standin, retries=1).get("r", *FIELD)
    with socket.socket() as s:  # a port with nothing listening: a true ECONNREFUSED
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    cache = F.FrameCache(tmp_path / "dead", base=f"http://127.0.0.1:{dead}/sas", retries=2, backoff=0)
    with pytest.raises(F.FrameError, match=rf"127.0.0.1:{dead}/sas/.*{NAME}: download to .* failed after 2 "
                                           "attempt.*Connection refused"):
        cache.get("r", *FIELD)


def test_404_is_not_retried(tmp_path, standin):
    cache = F.FrameCache(tmp_path, base=standin.address + "/elsewhere", backoff=0)
    with pytest.raises(FileNotFoundError, match=r"frame-r-004510-4-0030.fits.bz2: not on the server \(HTTP 404\)"):
        cache.get("r", *FIELD)
    assert cache.stats["attempts"] == 1 and leftovers(tmp_path) == []


# -- the bomb and the lying header, read directly ---------------------------------------------------
def test_a_bzip2_bomb_is_refused_at_the_limit_with_bounded_memory(tmp_path):
    bomb = tmp_path / NAME
    bomb.write_bytes(S.bomb_bytes(4.0))  # 4 GiB of zeros in 5 kB
    assert bomb.stat().st_size < 10_000
    tracemalloc.start()
    try:
        with pytest.raises(F.FrameTooLarge, match=rf"{bomb}: decompresses to more than 32 MiB"):
            F.read_frame(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < F.MAX_FRAME_BYTES + 8 * 2**20, f"peak {peak / 2**20:.0f} MiB while refusing"


def test_a_header_that_lies_about_its_shape_is_named(tmp_path):
    lying = tmp_path / NAME
    lying.write_bytes(S.lying_frame((SAMPLE / NAME).read_bytes()))
    with pytest.raises(F.FrameError, match=rf"{lying}: FITS header declares a 2048x1489 image"):
        F.read_frame(lying)


# -- resume, scale, two processes ---------------------------------------------------------------------
def test_a_partial_download_is_resumed_not_refetched(tmp_path, standin):
    whole = (SAMPLE / NAME).read_bytes()
    part = tmp_path / "4510" / "4" / (".part-" + NAME)
    part.parent.mkdir(parents=True)
    part.write_bytes(whole[:1_000_000])
    cache = cache_for(tmp_path, standin)
    assert cache.get("r", *FIELD).read_bytes() == whole
    assert cache.stats["resumed"] == 1 and cache.stats["bytes"] == len(whole) - 1_000_000
    part.write_bytes(b"garbage" * 1000)  # not a prefix of the frame: verification fails, then from zero
    cache.path("r", *FIELD).unlink()
    again = cache_for(tmp_path, standin)
    assert again.get("r", *FIELD).read_bytes() == whole and again.stats["retries"] == 1


def keys_of(n_fields, start=100):
    return [(b, 4510, 4, start + k) for k in range(n_fields) for b in config.BANDS]


def test_a_small_faulted_run_verifies_every_file(tmp_path):
    keys = keys_of(2)  # 10 distinct frames, half the requests faulted
    with S.StandIn(seed=3, fault_rate=0.5, hang_s=3.0, slow_bytes_per_s=2e7, any_field=True) as s:
        cache = F.FrameCache(tmp_path, base=s.sas_url, backoff=0.01, timeout=TIMEOUT, retries=4, max_downloads=4)
        paths = cache.get_many(keys, progress=False)
    faulted = sum(v for k, v in s.counts.items() if k != "ok")
    assert faulted >= 4 and len(set(s.counts) - {"ok"}) >= 3, s.counts
    assert cache.stats["retries"] == faulted - s.counts["slow"]
    for key, path in zip(keys, paths):
        assert path.read_bytes() == s.frame_bytes(path.name)
        F.verify_frame(path)
    assert leftovers(tmp_path) == []


CHILD = """
import json, sys
from photoz_nb.sdss import frames as F
root, url, keys = sys.argv[1], sys.argv[2], [tuple(k) for k in json.loads(sys.argv[3])]
cache = F.FrameCache(root, base=url, backoff=0.01, timeout=1.0, retries=4)
cache.get_many(keys, progress=False)
print(json.dumps(dict(cache.stats)))
"""


def test_two_processes_filling_one_cache_corrupt_nothing_and_share_the_work(tmp_path):
    keys = keys_of(1)  # 5 frames, both processes ask for all of them
    with S.StandIn(seed=5, fault_rate=0.2, hang_s=3.0, slow_bytes_per_s=2e7, any_field=True) as s:
        args = [sys.executable, "-c", CHILD, str(tmp_path), s.sas_url, json.dumps(keys)]
        children = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        stats = [json.loads(c.communicate()[0]) for c in children]
    assert [c.returncode for c in children] == [0, 0]
    assert sum(st.get("downloaded", 0) for st in stats) == len(keys)  # each frame fetched by one process
    cache = F.FrameCache(tmp_path)
    for key in keys:
        path = cache.path(*key)
        assert path.read_bytes() == s.frame_bytes(path.name) and cache._is_verified(path)
    assert leftovers(tmp_path) == []


KILLED = """
import sys
from photoz_nb.sdss import frames as F
F.FrameCache(sys.argv[1], base=sys.argv[2], timeout=30).get("r", 4510, 4, 30)
"""


def test_kill_9_mid_download_then_rerun_fetches_only_the_rest(tmp_path, standin):
    whole = (SAMPLE / NAME).read_bytes()
    standin.force(NAME, "slow", times=1)
    old_rate, standin.slow_bytes_per_s = standin.slow_bytes_per_s, 1e6  # ~3 s for the frame
    part = tmp_path / "4510" / "4" / (".part-" + NAME)
    try:
        child = subprocess.Popen([sys.executable, "-c", KILLED, str(tmp_path), standin.sas_url])
        deadline = time.monotonic() + 120  # a safety net only; the part appears within a second or two
        while not (part.exists() and part.stat().st_size > 300_000) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        standin.slow_bytes_per_s = old_rate
    assert child.returncode == -signal.SIGKILL
    kept = part.stat().st_size
    assert 0 < kept < len(whole) and not (tmp_path / "4510" / "4" / NAME).exists()
    cache = cache_for(tmp_path, standin)
    assert cache.get("r", *FIELD).read_bytes() == whole
    assert cache.stats["resumed"] == 1 and cache.stats["bytes"] == len(whole) - kept
    assert leftovers(tmp_path) == []


# -- the SkyServer query over HTTP --------------------------------------------------------------------
def test_the_sample_query_over_http_survives_faults(tmp_path, standin):
    for fault in ("html", "503", "short", "reset"):
        standin.force("sql", fault, times=1)
    rows = Q.query_sample(tmp_path, page_size=10, backoff=0.01, retries=5, progress=False,
                          skyserver_url=standin.skyserver_url)
    expected = standin.catalog
    assert len(rows) == len(expected) == 23
    np.testing.assert_array_equal(np.asarray(rows["objid"], dtype=np.uint64),
                                  np.asarray(expected["objid"], dtype=np.uint64))
    np.testing.assert_allclose(rows["z_spec"], expected["z_spec"])
    Q.to_contract(rows)  # the contract catalogue, as `photoz-nb sdss query` writes it


def test_a_query_that_keeps_failing_is_one_line_without_the_sql(tmp_path, standin):
    standin.force("sql", "html", times=None)
    with pytest.raises(Q.QueryError, match=r"page 0 \(objID > 0\) failed after 2 attempt\(s\): http://127.0.0.1:\d+"
                                           r"/dr12/en/tools/search/x_results.aspx: answered with an HTML page") as err:
        Q.query_sample(tmp_path, page_size=10, backoff=0.01, retries=2, progress=False,
                       skyserver_url=standin.skyserver_url)
    assert "SELECT" not in str(err.value) and "\n" not in str(err.value) and isinstance(err.value, OSError)


# -- the CLI, end to end over sockets ---------------------------------------------------------------
def test_cli_frames_and_query_against_the_standin(tmp_path, standin, capsys, monkeypatch):
    cat = Table({"run": [4510], "camcol": [4], "field": [30]})
    cat.write(tmp_path / "cat.fits")
    assert cli.main(["sdss", "frames", str(tmp_path / "cat.fits"), "--frames-dir", str(tmp_path / "frames"),
                     "--sas-url", standin.sas_url, "--max-downloads", "2"]) == 0
    assert "written: 5 frames" in capsys.readouterr().out
    assert cli.main(["sdss", "query", "--out", str(tmp_path / "mgs.fits"), "--skyserver-url",
                     standin.skyserver_url]) == 0
    assert len(Table.read(tmp_path / "mgs.fits")) == 23
    standin.force(F.frame_name("g", 4510, 4, 31), "500", times=None)
    cat = Table({"run": [4510], "camcol": [4], "field": [31]})
    cat.write(tmp_path / "cat2.fits")
    monkeypatch.setenv("PHOTOZ_SAS_URL", standin.sas_url)  # the environment setting, this time
    monkeypatch.setattr(F.time, "sleep", lambda s: None)  # the CLI's backoff (2, 4, 8, 16 s) is not the point here
    assert cli.main(["sdss", "frames", str(tmp_path / "cat2.fits"), "--frames-dir", str(tmp_path / "frames")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar's lines
    assert err.startswith("photoz-nb sdss: error: http://") and "HTTP 500" in err
    assert "frame-g-004510-4-0031.fits.bz2: download to" in err and "failed after 5 attempt(s)" in err
