#!/usr/bin/env bash
# Measures what a workflow package costs the runtime (docs/WORKFLOWS.md, "Packages"): a 100 KB
# configuration packed for 1 signer and 3 recipients, then opened (every signature verified,
# the recipient block opened, the payload decrypted: what a runtime does on each load) and
# inspected (parsed and verified, not decrypted) PACKAGE_RUNS times each by
# build/opsorch-package-bench. Target: Open p50 <= 2 ms. Prints the figures as Markdown.
#
# Usage: bench/package.sh        (or: make bench-package)
#
# Environment (all optional):
#   BUILD          build directory                                      (default: build)
#   PACKAGE_RUNS   timed calls of each                                  (default: 2000)
#   PACKAGE_SIZE   configuration bytes                                  (default: 102400)
#   BENCH_STRICT   1: exit 1 when the target is missed                  (default: 0)
#   BENCH_OUT      report file                  (default: bench/results/package-latest.md)
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. bench/lib.sh

runs=${PACKAGE_RUNS:-2000}
size=${PACKAGE_SIZE:-102400}
strict=${BENCH_STRICT:-0}
build_dir=${BUILD:-build}
resolve_out bench/results/package-latest.md
target_ms=2

require_positive runs size
require_tools awk
bench_bin="$build_dir/opsorch-package-bench"
require_binaries "$build_dir" "$bench_bin"

bench_setup
bench_start

log "packing ${size} bytes, then $runs Open and $runs Inspect calls"
"$bench_bin" --runs "$runs" --size "$size" >"$tmp/bench.out" 2>"$tmp/bench.err" || {
  cat "$tmp/bench.err" >&2
  die "opsorch-package-bench failed"
}
open_p50=$(awk -F' *\\| *' '/^\| Open/ { print $4 }' "$tmp/bench.out")
[[ -n $open_p50 ]] || die "no Open line in the output"
missed=0
verdict="met"
if ! awk -v v="$open_p50" -v t="$target_ms" 'BEGIN { exit !(v + 0 <= t) }'; then
  missed=1
  verdict="MISSED"
fi

{
  echo "# opsorch workflow packages"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/package.sh\` (PACKAGE_RUNS=$runs PACKAGE_SIZE=$size)"
  echo "- opsorch: tree at $(tree_commit), \`$bench_bin\` built $(built_at "$bench_bin")"
  echo "- machine: $(nproc) cores; load average before the run: $load_before"
  echo
  sed -n 1p "$tmp/bench.out"
  echo
  sed -n '3,$p' "$tmp/bench.out"
  echo
  echo "Target: Open p50 <= ${target_ms} ms: $verdict (${open_p50} ms)."
} >"$tmp/report.md"

publish_report "$missed"
