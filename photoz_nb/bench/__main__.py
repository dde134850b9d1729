"""The worker of :func:`photoz_nb.bench.common.run_in_subprocess`: ``python -m photoz_nb.bench --worker KIND JSON``.

Runs one measurement in this fresh process and prints its result as one JSON line.  Each kind imports
only its own module (by name, below): the worker reports its own peak memory, so it must not carry
the modules of the other measurements (scikit-learn, the SDSS path, the simulator).
"""
import importlib
import json
import sys

#: kind -> (module of photoz_nb.bench, function)
WORKERS = {"measure": ("training", "measure"), "memory": ("training", "peak_memory_of_training"),
           "cutouts": ("cutouts", "measure"), "sdss-fetch": ("sdss_faults", "fetch"),
           "sdss-bomb": ("sdss_faults", "refuse_bomb"), "sdss-verify": ("sdss_faults", "verify_cost")}

if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker" and sys.argv[2] in WORKERS:
        module, name = WORKERS[sys.argv[2]]
        fn = getattr(importlib.import_module(f"photoz_nb.bench.{module}"), name)
        print(json.dumps(fn(**json.loads(sys.argv[3]))))
    else:
        sys.exit(f"usage: python -m photoz_nb.bench --worker {{{','.join(WORKERS)}}} '{{\"width\": 0.25, ...}}'")
