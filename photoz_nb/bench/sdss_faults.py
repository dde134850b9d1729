"""``photoz-nb bench sdss-faults``: the real frame download path at scale, under faults (issue 33).

The project's :class:`~photoz_nb.sdss.frames.FrameCache` (in a fresh subprocess, so its peak memory is its
own) downloads ``n`` distinct frame URLs (``n / 5`` fields x ugriz) over HTTP from the local stand-in
:class:`~photoz_nb.sdss.standin.StandIn`, which serves each name by a real committed frame of its band.
Phases, each on an empty cache:

1. ``clean``: no faults;
2. ``faulted``: ``fault_rate`` of the requests faulted (seeded, every kind of :data:`~.standin.FAULTS`,
   at most two in a row per file);
3. ``kill -9``: the faulted run killed with SIGKILL once the server has sent ``kill_at`` of the bytes,
   then run again: the bytes the rerun fetched against the bytes still missing (complete files are
   not fetched again; partial ``.part-`` files are resumed);
4. ``two processes``: two faulted runs of the same keys on one cache at once.

After every phase each file is compared byte for byte (sha256) with what the server serves for its
name, its ``.ok`` sidecar checked, and the cache searched for temporary or lock files.  Then a bzip2
bomb (4 GiB of zeros in a few kB) is read in a fresh process: refused at ``MAX_FRAME_BYTES``, with the
process's peak memory.

Caveat on time: the stand-in serves 10 distinct real frames under ``n`` names, so verification (a full
decompression, ~0.4 s of CPU per real frame) mostly hits :func:`read_frame`'s memo of decompressed
frames; on the real survey every frame is distinct.  ``verify_cpu_s_per_frame`` is measured apart
(memo off) for the extrapolation in docs/real_survey.md.
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import config
from ..sdss import frames as F
from ..sdss.standin import FAULTS, StandIn, bomb_bytes
from .common import _machine, _rss_mib, _step, markdown_table

#: The client's settings in the benchmark (the defaults are 60 s, 2 s backoff, 5 attempts).
TIMEOUT_S, BACKOFF_S, RETRIES = 2.0, 0.5, 5


def keys_for(n: int) -> list[tuple]:
    """``n`` distinct frame keys (rounded up to whole fields), deterministic."""
    fields = [(1000 + k // 600, 1 + (k // 100) % 6, 100 + k % 100) for k in range((n + 4) // 5)]
    return [(b, *f) for f in fields for b in config.BANDS]


# -- workers (fresh processes: `python -m photoz_nb.bench --worker sdss-fetch|sdss-bomb JSON`) ----------
def fetch(root: str, url: str, n: int, max_downloads: int = F.DEFAULT_MAX_DOWNLOADS) -> dict:
    """Fetch the ``n`` keys into ``root``; wall time, peak memory, the cache's counters and failures."""
    cache = F.FrameCache(root, base=url, timeout=TIMEOUT_S, backoff=BACKOFF_S, retries=RETRIES,
                         max_downloads=max_downloads)
    start, error = time.perf_counter(), None
    try:
        cache.get_many(keys_for(n), progress=sys.stderr.isatty())
    except (OSError, F.FrameError) as err:
        error = str(err)
    return {"wall_s": time.perf_counter() - start, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            / 1024, "stats": dict(cache.stats), "error": error,
            "event_kinds": sorted({e[1].split(" (")[0][:60] for e in cache.events})}


def refuse_bomb(path: str) -> dict:
    """Read a bomb file: the refusal's message, this process's resident memory before, and its peak while
    refusing (the kernel's high-water mark, reset to the current RSS just before: /proc/self/clear_refs)."""
    def refuse():
        try:
            F.read_frame(path)
        except F.FrameTooLarge as err:
            return str(err)
        return None

    before = _rss_mib("VmRSS")
    message, seconds, above = _step(refuse)
    return {"message": message, "rss_before_mib": before, "peak_rss_mib": before + above, "peak_above_start_mib": above,
            "seconds": seconds}


def verify_cost(path: str, repeats: int = 3) -> dict:
    """CPU seconds to verify one real frame with the decompressed-frame memo off."""
    os.environ[F.KEEP_DECOMPRESSED_ENV] = "0"
    start = time.process_time()
    for _ in range(repeats):
        F.verify_frame(path)
    return {"verify_cpu_s_per_frame": (time.process_time() - start) / repeats}


# -- the benchmark ---------------------------------------------------------------------------------------
def _worker(kind: str, kwargs: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "photoz_nb.bench", "--worker", kind, json.dumps(kwargs)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "TQDM_DISABLE": "1"})


def _result(proc: subprocess.Popen) -> dict:
    out = proc.communicate()[0]
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": f"worker exited {proc.returncode}"}


def _check_cache(root: Path, keys, server: StandIn, digests: dict) -> dict:
    """Every key's file byte-identical to what the server serves, with its sidecar; leftovers counted."""
    cache = F.FrameCache(root)
    good = 0
    for key in keys:
        path = cache.path(*key)
        if path.is_file() and cache._is_verified(path):
            served = server.frame_bytes(path.name)
            if id(served) not in digests:
                digests[id(served)] = hashlib.sha256(served).hexdigest()
            good += hashlib.sha256(path.read_bytes()).hexdigest() == digests[id(served)]
    temporary = [p for p in root.rglob(".*") if p.is_file()]
    return {"files": len(keys), "verified": good, "temporary_left": len(temporary)}


def _served(server: StandIn) -> tuple[int, dict]:
    with server._lock:
        return server.bytes_sent, dict(server.counts)


def bench_sdss_faults(n: int = 2000, fault_rate: float = 0.2, seed: int = 0, kill_at: float = 0.5,
                      max_downloads: int = F.DEFAULT_MAX_DOWNLOADS, workdir=None) -> dict:
    """Run the phases of the module docstring and print their tables; returns the numbers."""
    keys = keys_for(n)
    work = Path(tempfile.mkdtemp(prefix="sdss-faults-", dir=workdir))
    results: dict = {"n": len(keys), "fault_rate": fault_rate, "max_downloads": max_downloads, "machine": _machine()}
    print(f"{len(keys)} frame requests, {fault_rate:.0%} faulted (seed {seed}), {max_downloads} downloads at once, "
          f"client timeout {TIMEOUT_S:g} s, backoff {BACKOFF_S:g} s, {RETRIES} attempts; cache in {work}", flush=True)
    try:
        with StandIn(seed=seed, fault_rate=0.0, any_field=True, hang_s=3 * TIMEOUT_S, slow_bytes_per_s=4e6,
                     retry_after=1) as server:
            digests: dict = {}  # id of a served content -> its sha256
            total = sum(len(server.frame_bytes(F.frame_name(*k))) for k in keys)
            results["total_mb"] = total / 1e6

            def phase(name, rate, n_procs=1):
                root = work / name
                server.fault_rate = rate
                sent0, counts0 = _served(server)
                start = time.perf_counter()
                procs = [_worker("sdss-fetch", {"root": str(root), "url": server.sas_url, "n": n,
                                                "max_downloads": max_downloads}) for _ in range(n_procs)]
                outs = [_result(p) for p in procs]
                wall = time.perf_counter() - start
                sent1, counts1 = _served(server)
                check = _check_cache(root, keys, server, digests)
                faults = {k: counts1.get(k, 0) - counts0.get(k, 0) for k in counts1 if k != "ok"}
                row = {"phase": name, "wall_s": round(wall, 1), "peak_rss_mib": max(round(o.get("peak_rss_mib", 0))
                                                                                    for o in outs),
                       "requests": sum(counts1.values()) - sum(counts0.values()),
                       "faulted": sum(faults.values()), "MB_served": round((sent1 - sent0) / 1e6, 1),
                       **check, "errors": [o.get("error") for o in outs if o.get("error")],
                       "downloads": sum(o.get("stats", {}).get("downloaded", 0) for o in outs),
                       "retries": sum(o.get("stats", {}).get("retries", 0) for o in outs), "faults": faults,
                       "client_saw": sorted({k for o in outs for k in o.get("event_kinds", [])})}
                shutil.rmtree(root, ignore_errors=True)
                print(json.dumps({k: v for k, v in row.items() if k != "client_saw"}), flush=True)
                return row

            results["clean"] = phase("clean", 0.0)
            results["faulted"] = phase("faulted", fault_rate)
            results["kill9"] = _kill_phase(server, work / "kill9", n, keys, total, kill_at, fault_rate,
                                           max_downloads, digests)
            results["two_processes"] = phase("two processes", fault_rate, n_procs=2)
        bomb = work / F.frame_name("r", 4510, 4, 30)
        bomb.write_bytes(bomb_bytes(4.0))
        results["bomb"] = {"compressed_bytes": bomb.stat().st_size, "expands_to_gib": 4.0,
                           "limit_mib": F.MAX_FRAME_BYTES / 2**20, **_result(_worker("sdss-bomb", {"path": str(bomb)}))}
        sample = config.sample_frames_dir() / F.frame_name("r", 4510, 4, 30)
        results["verify"] = _result(_worker("sdss-verify", {"path": str(sample)}))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print(results)
    return results


def _kill_phase(server, root, n, keys, total, kill_at, rate, max_downloads, digests) -> dict:
    server.fault_rate = rate
    sent0, _ = _served(server)
    proc = _worker("sdss-fetch", {"root": str(root), "url": server.sas_url, "n": n, "max_downloads": max_downloads})
    while proc.poll() is None and _served(server)[0] - sent0 < kill_at * total:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cache = F.FrameCache(root)
    complete = [cache.path(*k) for k in keys if cache._is_verified(cache.path(*k))]
    partial = [p for p in root.rglob(".part-*")]
    have = sum(p.stat().st_size for p in complete)
    partial_bytes = sum(p.stat().st_size for p in partial)
    sent1, _ = _served(server)
    out = _result(_worker("sdss-fetch", {"root": str(root), "url": server.sas_url, "n": n,
                                         "max_downloads": max_downloads}))
    sent2, _ = _served(server)
    stats = out.get("stats", {})
    check = _check_cache(root, keys, server, digests)
    row = {"MB_before_kill": round((sent1 - sent0) / 1e6, 1), "complete_files_after_kill": len(complete),
           "partial_files_after_kill": len(partial), "MB_in_partial_files": round(partial_bytes / 1e6, 1),
           "MB_missing_after_kill": round((total - have) / 1e6, 1),
           "MB_rerun_served": round((sent2 - sent1) / 1e6, 1),
           "MB_rerun_downloaded_by_client": round(stats.get("bytes", 0) / 1e6, 1),
           "rerun_downloads": stats.get("downloaded", 0), "rerun_resumed": stats.get("resumed", 0),
           "rerun_wall_s": round(out.get("wall_s", float("nan")), 1), **check, "error": out.get("error")}
    shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(row), flush=True)
    return row


def _print(r: dict) -> None:
    print(f"\n## bench sdss-faults: {r['n']} frame requests ({r['total_mb']:,.0f} MB), {r['machine']}\n")
    rows = [{"phase": p["phase"], "wall s": p["wall_s"], "peak RSS MiB (per process)": p["peak_rss_mib"],
             "requests": p["requests"], "faulted": p["faulted"], "retries": p["retries"],
             "MB served": p["MB_served"], "files verified": f"{p['verified']}/{p['files']}",
             "temporary files left": p["temporary_left"], "errors": len(p["errors"])}
            for p in (r["clean"], r["faulted"], r["two_processes"])]
    print(markdown_table(rows))
    faults = r["faulted"]["faults"]
    print("\nFaults injected in the faulted run (each request retried; every file verified above):\n")
    print(markdown_table([{"fault": k, "injected": faults.get(k, 0), "what": v} for k, v in FAULTS.items()]))
    k = r["kill9"]
    print(f"\nkill -9 at {k['MB_before_kill']:,} MB sent: {k['complete_files_after_kill']} files complete, "
          f"{k['partial_files_after_kill']} partial ({k['MB_in_partial_files']} MB), {k['MB_missing_after_kill']:,} MB "
          f"missing; the rerun was served {k['MB_rerun_served']:,} MB ({k['rerun_downloads']} downloads, "
          f"{k['rerun_resumed']} resumed) in {k['rerun_wall_s']} s; files verified {k['verified']}/{k['files']}, "
          f"temporary files left {k['temporary_left']}.")
    b = r["bomb"]
    print(f"\nbzip2 bomb ({b['compressed_bytes']:,} bytes, {b['expands_to_gib']:g} GiB of zeros): "
          f"{b.get('message')}\n  peak RSS while refusing {b.get('peak_rss_mib', float('nan')):.0f} MiB, "
          f"{b.get('peak_above_start_mib', float('nan')):.0f} MiB above the {b.get('rss_before_mib', float('nan')):.0f} "
          f"MiB before (limit {b['limit_mib']:.0f} MiB), in {b.get('seconds', float('nan')):.2f} s.")
    print(f"\nverifying one real frame without the memo: {r['verify'].get('verify_cpu_s_per_frame', float('nan')):.2f} "
          "CPU s (the benchmark's 10 distinct contents mostly hit the memo)")
