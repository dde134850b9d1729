#!/usr/bin/env bash
# Simulator speed as a ratio to an earlier version, measured in one run: `photoz-nb bench simulate`
# of the commit REF (a temporary git worktree) and of this checkout, alternately, ROUNDS times each.
# Shared machines are noisy: each round runs both versions back to back, and the ratio is taken of the
# fastest build of each (the least disturbed one) as well as of the medians.
#   usage: scripts/bench_simulate_against.sh REF [GALAXIES] [ROUNDS]     e.g. 4434961 (simulator 1.4)
# Needs the project's environment (`make install`); prints one line per build and the ratios.
set -eu
cd "$(dirname "$0")/.."
REF=${1:?usage: $0 REF [GALAXIES] [ROUNDS]}
N=${2:-20000}
ROUNDS=${3:-3}
PY=${PYTHON:-$PWD/.venv/bin/python}
OLD=$(mktemp -d)/ref
HOME_DIR=$(mktemp -d)  # one PHOTOZ_HOME for both: the kcorrect caches are built once, before timing
trap 'git worktree remove --force "$OLD" >/dev/null 2>&1 || true; rm -rf "$HOME_DIR"' EXIT
git worktree add --detach "$OLD" "$REF" >/dev/null

build_seconds() {  # build_seconds TREE: prints the end-to-end build seconds of one bench run
    (cd "$1" && PYTHONPATH="$1" PHOTOZ_HOME="$HOME_DIR" "$PY" -m photoz_nb.cli bench simulate --n "$N" 2>/dev/null) \
        | awk -F'|' -v n="$N" '$2 + 0 == n { gsub(/ /, "", $5); print $5 }'
}

build_seconds "$OLD" >/dev/null; build_seconds "$PWD" >/dev/null  # warm-up: caches, page cache
old=(); new=()
for round in $(seq "$ROUNDS"); do
    old+=("$(build_seconds "$OLD")"); new+=("$(build_seconds "$PWD")")
    echo "round $round: $REF ${old[-1]} s, this checkout ${new[-1]} s ($N galaxies, load $(cut -d' ' -f1 /proc/loadavg))"
done
"$PY" - "$N" "${old[*]}" "${new[*]}" <<'EOF'
import sys
import numpy as np
n, old, new = int(sys.argv[1]), np.array(sys.argv[2].split(), float), np.array(sys.argv[3].split(), float)
for name, f in (("fastest", np.min), ("median", np.median)):
    print(f"{name}: reference {n / f(old):.0f} galaxies/s, this checkout {n / f(new):.0f} galaxies/s, "
          f"speed ratio this / reference {f(old) / f(new):.2f}")
EOF
