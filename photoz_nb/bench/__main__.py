"""The worker of :func:`photoz_nb.bench.common.run_in_subprocess`: ``python -m photoz_nb.bench --worker KIND JSON``.

Runs one measurement in this fresh process and prints its result as one JSON line.
"""
import json
import sys

from .cutouts import measure as measure_cutouts
from .training import measure, peak_memory_of_training

WORKERS = {"measure": measure, "memory": peak_memory_of_training, "cutouts": measure_cutouts}

if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker" and sys.argv[2] in WORKERS:
        print(json.dumps(WORKERS[sys.argv[2]](**json.loads(sys.argv[3]))))
    else:
        sys.exit(f"usage: python -m photoz_nb.bench --worker {{{','.join(WORKERS)}}} '{{\"width\": 0.25, ...}}'")
