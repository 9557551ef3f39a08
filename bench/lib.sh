# shellcheck shell=bash disable=SC2034,SC2154  # sets and reads the sourcing script's variables
# Helpers shared by bench/run.sh and bench/plugins.sh (method: docs/BENCHMARKS.md). Sourced,
# not run. The sourcing script sets `caller_dir` (where it was started), changes to the repository
# root and runs `set -euo pipefail` first; then it calls bench_setup, which creates $tmp (removed
# on exit, Ctrl-C included) and stops every process handed to bench_track.

# Body of POST /incidents/query unless the script lets the caller choose another.
bench_default_body='{"query":"","statuses":["open"],"limit":10,"scope":{}}'

die() {
  echo "bench: $*" >&2
  exit 1
}
log() { echo "bench: $*" >&2; }

require_positive() {  # require_positive NAME...: each named variable holds a positive integer
  local v
  for v; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
  done
}

require_tools() {
  local tool
  for tool; do
    command -v "$tool" >/dev/null || die "$tool not found (run: make deps)"
  done
}

require_binaries() {  # require_binaries BUILD_DIR BIN...: `make build` once if any is missing
  local build_dir=$1 b
  shift
  for b; do
    [[ -x $b ]] && continue
    log "$b not found; running make build"
    make build BUILD="$build_dir" >&2
    break
  done
  for b; do
    [[ -x $b ]] || die "$b still missing after make build"
  done
}

resolve_out() {  # resolve_out DEFAULT: sets out; a relative BENCH_OUT is relative to caller_dir
  out=${BENCH_OUT:-$1}
  [[ -z ${BENCH_OUT:-} || $out == /* ]] || out="$caller_dir/$out"
}

# --- processes and cleanup ------------------------------------------------------------------

bench_pids=()

bench_track() { bench_pids+=("$1"); }  # bench_track PID: stopped on exit, in the order tracked

stop() {  # stop PID: TERM, then KILL if it is still there after 5 s
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${bench_pids[@]}"; do stop "$pid"; done
  rm -rf "$tmp"
  exit "$rc"
}

# For scripts with servers on a private PostgreSQL cluster (scripts/pg-test-cluster) in
# $pg_dir: `trap cleanup_with_cluster EXIT` stops the servers first, then the cluster they are
# connected to, then cleans up as `cleanup` does.
pg_dir=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup_with_cluster() {
  local rc=$? pid
  set +e
  for pid in "${bench_pids[@]}"; do stop "$pid"; done
  bench_pids=()
  [[ -z $pg_dir ]] || scripts/pg-test-cluster stop "$pg_dir" >/dev/null 2>&1 || true
  (exit "$rc")  # cleanup exits with the status it finds
  cleanup
}

bench_setup() {  # creates $tmp and installs the cleanup traps
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/opsorch-bench.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

drop_opsorch_env() {  # OPSORCH_* of the caller's shell would make runs incomparable
  local name
  while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^OPSORCH_' || true)
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {  # first port at or above $1 that nothing on loopback accepts connections on
  local p=$1
  while port_in_use "$p"; do
    ((p++))
    ((p < $1 + 200)) || die "no free port near $1"
  done
  echo "$p"
}

wait_http() {  # wait_http URL PID NAME LOGFILE: up to 15 s for URL to answer 200
  local i
  for ((i = 0; i < 150; i++)); do
    if ! kill -0 "$2" 2>/dev/null; then
      tail -n 20 "$4" >&2 || true
      die "$3 exited during start-up"
    fi
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  tail -n 20 "$4" >&2 || true
  die "$3 did not answer $1 within 15 s"
}

check_alive() {  # check_alive PID NAME [LOGFILE]: die (showing the log's tail) if PID is gone
  kill -0 "$1" 2>/dev/null && return 0
  [[ -z ${3:-} ]] || tail -n 20 "$3" >&2
  die "$2 died"
}

write_post_lua() {  # write_post_lua BODY: the wrk script for POST /incidents/query
  # The body goes into Lua as a long bracket string: no escaping needed unless it contains "]==]".
  [[ $1 != *']==]'* ]] || die "BENCH_BODY must not contain ]==]"
  cat >"$tmp/post.lua" <<EOF
wrk.method = "POST"
wrk.body = [==[$1]==]
wrk.headers["Content-Type"] = "application/json"
EOF
}

# --- measuring -------------------------------------------------------------------------------

# run_wrk PORT PATH CONNS SECONDS: prints "req_per_s p50_us non2xx socket_errors".
# Every path but /health is POSTed with $tmp/post.lua (write_post_lua).
run_wrk() {
  local port=$1 path=$2 conns=$3 secs=$4 wrk_threads=2 args=()
  ((conns >= 2)) || wrk_threads=1
  [[ $path == /health ]] || args=(-s "$tmp/post.lua")
  timeout -k 5 $((secs + 30)) wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" --latency "${args[@]}" \
    "http://127.0.0.1:$port$path" >"$tmp/wrk.out" 2>&1 || {
    cat "$tmp/wrk.out" >&2
    die "wrk failed on :$port$path"
  }
  awk '
    function to_us(v,   n, u) {
      n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
      if (u == "us") return n
      if (u == "ms") return n * 1e3
      if (u == "s") return n * 1e6
      if (u == "m") return n * 6e7
      if (u == "h") return n * 3.6e9
      return -1
    }
    /^Requests\/sec:/ { rps = $2 }
    /^ *50% / { p50 = to_us($2) }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
    END {
      if (rps == "" || p50 == "" || p50 < 0) exit 1
      printf "%s %s %d %d\n", rps, p50, bad, errs
    }' "$tmp/wrk.out" || {
    cat "$tmp/wrk.out" >&2
    die "could not parse wrk output"
  }
}

# record_run KEY LABEL RPS P50 BAD ERRORS: adds one wrk run to the caller's associative arrays
# rps, p50 and raw (keyed by KEY) and its non-2xx responses and socket errors to `problems`.
record_run() {
  local k=$1 label=$2 v_rps=$3 v_p50=$4 v_bad=$5 v_err=$6
  rps[$k]+="$v_rps "
  p50[$k]+="$v_p50 "
  raw[$k]+="$(printf '%.0f/%.1f' "$v_rps" "$v_p50") "
  ((v_bad == 0)) || problems+=("$label: $v_bad non-2xx responses")
  ((v_err == 0)) || problems+=("$label: $v_err socket errors")
  log "$label: $v_rps req/s, p50 ${v_p50} us"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END {
  if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_start() {  # sets started and load_before; warns when the machine is busy
  started=$(date -u '+%Y-%m-%d %H:%M UTC')
  load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
  # Other work on the machine shifts the servers' numbers unevenly; say so rather than hide it.
  if awk -v l="${load_before%% *}" -v n="$(nproc)" 'BEGIN { exit !(l + 0 > n / 2) }'; then
    log "warning: load average is $load_before on $(nproc) cores; results will be noisy"
  fi
}

# --- report facts ----------------------------------------------------------------------------

tree_commit() {  # short commit of HEAD, noting uncommitted changes to tracked files
  local commit
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    commit+=" (uncommitted changes)"
  fi
  echo "$commit"
}

built_at() { date -u -r "$1" '+%Y-%m-%d %H:%M UTC'; }

wrk_version() { wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }'; }

machine_fact() {  # the "- machine:" line of a report, without the prefix (needs bench_start)
  local cpu
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
  echo "$(nproc) cores${cpu:+ ($cpu)}; servers and wrk share it; loopback only;" \
    "load average before the run: $load_before"
}

log_fact() {  # log_fact FILE: "N lines, SIZE"
  echo "$(wc -l <"$1") lines, $(du -h "$1" | cut -f1)"
}

publish_report() {  # publish_report MISSED: $tmp/report.md to $out and stdout; BENCH_STRICT exit
  mkdir -p "$(dirname "$out")"
  cp "$tmp/report.md" "$out"
  cat "$tmp/report.md"
  log "written to $out; $1 target(s) missed"
  if (($1 > 0 && strict == 1)); then exit 1; fi
  exit 0
}
