#!/usr/bin/env bash
# Times the web console over a large incident store (method and figures: docs/BENCHMARKS.md,
# "Console"): navigation to the incidents list rendered, click to an incident's timeline
# rendered, and a search typed until the filtered list renders, in headless Chromium over
# loopback (bench/console_timing.mjs, the page's Performance API), median of BENCH_RUNS after one
# warm-up round; plus the bundle's size over the wire and the API responses' sizes.
#
# The store holds BENCH_INCIDENTS incidents from opsorch-generate-incidents (the SLA and search
# benchmarks' generator), plus one incident ingested through Events v2 with notes on its
# timeline: the generated incidents have no timeline entries, and being the newest it is the
# first row of the list, the one the benchmark clicks. The server runs `opsorch serve` with the
# incident engine (`local`) for incidents, alerts, services and teams, `mock` for the rest, and a
# bearer token, so the page signs in through /ui/login and every API call rides the session.
#
# Usage: bench/console.sh        (or: make bench-console)
#
# Environment (all optional):
#   BUILD            build directory holding opsorch and opsorch-generate-incidents (default: build)
#   BENCH_INCIDENTS  incidents in the store                                  (default: 1000000)
#   BENCH_STORE      sqlite or postgres (a private cluster: scripts/pg-test-cluster)
#                                                                            (default: sqlite)
#   BENCH_CACHE      where generated SQLite stores are kept between runs, one per
#                    BENCH_INCIDENTS; each run works on a copy (default: $TMPDIR/opsorch-bench-cache)
#   BENCH_REGENERATE 1 = generate the cached store again                     (default: 0)
#   BENCH_RUNS       measured rounds; the median is reported                 (default: 5)
#   BENCH_SEARCH     text typed into the search box                          (default: host-04711)
#   BENCH_THREADS    OPSORCH_HTTP_THREADS                                    (default: nproc)
#   BENCH_CONSOLE_DIR  serve this console build (`--console-dir`, sent without gzip) instead of
#                    the one built into the binary
#   BENCH_OUT        where the report is written    (default: bench/results/console-latest.md)
#   CONSOLE_CHROMIUM the Chromium binary                                (default: /usr/bin/chromium)
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. bench/lib.sh

incidents=${BENCH_INCIDENTS:-1000000}
store_kind=${BENCH_STORE:-sqlite}
runs=${BENCH_RUNS:-5}
threads=${BENCH_THREADS:-$(nproc)}
search=${BENCH_SEARCH:-host-04711}
cache=${BENCH_CACHE:-${TMPDIR:-/tmp}/opsorch-bench-cache}
regenerate=${BENCH_REGENERATE:-0}
console_dir=${BENCH_CONSOLE_DIR:-}
build_dir=${BUILD:-build}
chromium=${CONSOLE_CHROMIUM:-/usr/bin/chromium}
resolve_out bench/results/console-latest.md
routing_key=console-bench-routing-key-00000001

require_positive incidents runs threads
[[ $store_kind == sqlite || $store_kind == postgres ]] ||
  die "BENCH_STORE must be sqlite or postgres, got '$store_kind'"
[[ -n $search ]] || die "BENCH_SEARCH must not be empty"
require_tools node curl awk
[[ -x $chromium ]] || die "$chromium not found (set CONSOLE_CHROMIUM)"
[[ -d console/node_modules/playwright-core ]] ||
  die "console/node_modules/playwright-core missing (run: cd console && npm ci)"
if [[ -n $console_dir ]]; then
  [[ $console_dir == /* ]] || console_dir="$caller_dir/$console_dir"
  [[ -f $console_dir/index.html ]] || die "BENCH_CONSOLE_DIR: no index.html in $console_dir"
fi

bin="$build_dir/opsorch"
gen="$build_dir/opsorch-generate-incidents"
require_binaries "$build_dir" "$bin" "$gen"

bench_setup
drop_opsorch_env
chmod 711 "$tmp"  # the PostgreSQL cluster runs as `postgres` and must reach its directory

# The server goes before the PostgreSQL cluster it is connected to, then lib.sh's cleanup.
trap cleanup_with_cluster EXIT

# --- the store -------------------------------------------------------------------------------

# The generator's own summary line ("generated N incidents … in S s"), whatever else it logs.
gen_summary() { grep -m 1 '^generated ' "$1" 2>/dev/null || echo "no summary in $1"; }

generated=""
if [[ $store_kind == sqlite ]]; then
  cached="$cache/sqlite-$incidents"
  if [[ $regenerate == 1 ]]; then rm -rf "$cached"; fi
  if [[ ! -f $cached/store.db ]]; then
    mkdir -p "$cache"
    rm -rf "$cached.partial"
    mkdir -p "$cached.partial"
    log "generating $incidents incidents into $cached (kept for later runs)"
    t0=$(date +%s.%N)
    "$gen" --store "sqlite:$cached.partial/store.db" --incidents "$incidents" >"$cached.partial/generate.log" 2>&1 || {
      cat "$cached.partial/generate.log" >&2
      die "the generator failed"
    }
    t1=$(date +%s.%N)
    # The generator prints its own timing; the wall clock includes opening and closing the store.
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "wall clock %.1f s\n", b - a }' >>"$cached.partial/generate.log"
    mv "$cached.partial" "$cached"  # only a complete store is ever reused
    generated="generated by this run: $(gen_summary "$cached/generate.log")"
  else
    generated="reused from $cached ($(gen_summary "$cached/generate.log"), $(built_at "$cached/store.db"))"
    if [[ $gen -nt $cached/store.db ]]; then
      log "warning: $gen is newer than the cached store; BENCH_REGENERATE=1 makes a fresh one"
      generated+="; the generator was rebuilt since"
    fi
  fi
  # Each run works on a copy: the run adds an incident and notes, the cache stays as generated.
  mkdir -p "$tmp/store"
  cp --reflink=auto "$cached"/store.db* "$tmp/store/"
  store_url="sqlite:$tmp/store/store.db"
  store_fs=$(findmnt -no FSTYPE,SOURCE -T "$tmp/store" 2>/dev/null | awk '{ print $1 " on " $2 }' || true)
  store_fact="SQLite ($store_fs), $(du -sh "$tmp/store" | cut -f1); $generated"
else
  pg_dir="$tmp/pg"
  pg_url=$(scripts/pg-test-cluster start "$pg_dir") || die "could not start a PostgreSQL cluster"
  store_url=$pg_url
  log "generating $incidents incidents into PostgreSQL ($pg_url)"
  t0=$(date +%s.%N)
  "$gen" --store "$pg_url" --incidents "$incidents" >"$tmp/generate.log" 2>&1 || {
    cat "$tmp/generate.log" >&2
    die "the generator failed"
  }
  t1=$(date +%s.%N)
  pg_version=$("${PG_BIN:-/usr/lib/postgresql/15/bin}/postgres" --version 2>/dev/null | awk '{ print $3 }' || echo '?')
  store_fact="PostgreSQL $pg_version (private cluster from scripts/pg-test-cluster, loopback TCP,"
  store_fact+=" shared_buffers 64MB, fsync on); $(gen_summary "$tmp/generate.log")"
  store_fact+=" ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s wall clock)"
fi

# --- the server ------------------------------------------------------------------------------

cat >"$tmp/seed.json" <<EOF
{"teams":[{"id":"team-console-bench","name":"Console bench"}],
 "services":[{"id":"svc-console-bench","name":"Console bench service","team":"team-console-bench",
   "integrations":[{"id":"console-bench-events","name":"Events API v2","kind":"events_v2",
                    "key":"$routing_key"}]}]}
EOF

token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
# Port 0: the kernel picks a free port and the server logs it, so no other benchmark starting
# servers at the same time can take it between a check and the bind.
args=(serve)
[[ -z $console_dir ]] || args+=(--console-dir "$console_dir")
env OPSORCH_ADDR="127.0.0.1:0" OPSORCH_DATA_DIR="$tmp/data" OPSORCH_HTTP_THREADS="$threads" \
  OPSORCH_ENGINE_STORE="$store_url" OPSORCH_ENGINE_SEED="$tmp/seed.json" \
  OPSORCH_BEARER_TOKEN="$token" \
  OPSORCH_INCIDENT_PROVIDER=local OPSORCH_ALERT_PROVIDER=local OPSORCH_SERVICE_PROVIDER=local \
  OPSORCH_TEAM_PROVIDER=local OPSORCH_LOG_PROVIDER=mock OPSORCH_METRIC_PROVIDER=mock \
  OPSORCH_TICKET_PROVIDER=mock OPSORCH_MESSAGING_PROVIDER=mock OPSORCH_DEPLOYMENT_PROVIDER=mock \
  OPSORCH_ORCHESTRATION_PROVIDER=mock \
  "$bin" "${args[@]}" >"$tmp/opsorch.log" 2>&1 &
srv_pid=$!
bench_track "$srv_pid"
api() {  # api METHOD PATH [BODY]: the response body; dies on a non-2xx
  local code body=()
  [[ $# -lt 3 ]] || body=(--data-binary "$3")
  code=$(curl -sS -o "$tmp/api.out" -w '%{http_code}' --max-time 60 -X "$1" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    "${body[@]}" "http://127.0.0.1:$port$2") || code=000
  [[ $code == 2* ]] || {
    cat "$tmp/api.out" >&2 2>/dev/null || true
    tail -n 20 "$tmp/opsorch.log" >&2
    die "$1 $2 answered $code"
  }
  cat "$tmp/api.out"
}
port=""
for ((i = 0; i < 150; i++)); do
  check_alive "$srv_pid" opsorch "$tmp/opsorch.log"
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$tmp/opsorch.log" | head -n 1)
  [[ -z $port ]] || break
  sleep 0.1
done
[[ -n $port ]] || die "opsorch did not log the port it listens on within 15 s"
# Up: /health answers (it needs the token as well, so lib.sh's wait_http does not fit).
for ((i = 0; i < 150; i++)); do
  check_alive "$srv_pid" opsorch "$tmp/opsorch.log"
  curl -fsS -o /dev/null --max-time 1 -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/health" 2>/dev/null && break
  sleep 0.1
done
((i < 150)) || die "opsorch did not answer /health within 15 s"

# The engine opens its store on first use and then loads the SLA cache (the console's status
# counters) in the background: open it now, and measure only once the server is idle.
t0=$(date +%s.%N)
counts=$(api GET /analytics/incident-counts)
t1=$(date +%s.%N)
first_counts_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
total=$(grep -o '"\(triggered\|acknowledged\|resolved\)":[0-9]*' <<<"$counts" |
  awk -F: '{ s += $2 } END { print s + 0 }')
((total >= incidents)) || die "the store holds $total incidents, expected $incidents ($counts)"

# The incident the benchmark clicks: the newest, with a timeline of a trigger, repeats and notes.
event() {
  printf '{"routing_key":"%s","event_action":"%s","dedup_key":"console-bench","payload":{"summary":"Console bench: checkout latency above SLO","source":"bench-host","severity":"critical"}}' \
    "$routing_key" "$1"
}
curl -fsS -o /dev/null -H 'Content-Type: application/json' --data-binary "$(event trigger)" \
  "http://127.0.0.1:$port/v2/enqueue" || die "POST /v2/enqueue failed"
inc_id=""
for ((i = 0; i < 50; i++)); do
  inc_id=$(api POST '/incidents/query?sort=newest' '{"limit":1,"scope":{}}' |
    sed -n 's/^\[{"id":"\([^"]*\)","title":"Console bench:.*/\1/p')
  [[ -z $inc_id ]] || break
  sleep 0.1
done
[[ -n $inc_id ]] || die "the ingested incident is not the newest one"
for n in 1 2 3; do
  curl -fsS -o /dev/null -H 'Content-Type: application/json' --data-binary "$(event trigger)" \
    "http://127.0.0.1:$port/v2/enqueue" || die "POST /v2/enqueue failed"
done
for n in $(seq 1 8); do
  api POST "/incidents/$inc_id/timeline" \
    "{\"kind\":\"note\",\"body\":\"Console bench note $n: checked the dashboards, p99 latency still above the target.\"}" \
    >/dev/null
done
api PATCH "/incidents/$inc_id" '{"status":"acknowledged"}' >/dev/null
entries=$(api GET "/incidents/$inc_id/timeline?limit=200" | grep -o '"kind":' | wc -l)

# Idle: the server used under 2% of a core over the last second (at most 60 s).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
idle=0
for ((i = 0; i < 120; i++)); do
  a=$(cpu_ticks "$srv_pid")
  sleep 1
  b=$(cpu_ticks "$srv_pid")
  if (((b - a) * 100 < 2 * hz)); then
    idle=1
    break
  fi
done
((idle)) || log "warning: opsorch did not become idle within 120 s"

# --- the console -----------------------------------------------------------------------------

# What the served bundle is, and whether it is the one the console's source builds today.
served=$(curl -fsS "http://127.0.0.1:$port/ui/" | grep -o '/ui/assets/app-[A-Za-z0-9]*\.\(js\|css\)' |
  sort | paste -sd ' ')
[[ -n $served ]] || die "GET /ui/ names no assets"
build_line=$(node console/build.mjs --outdir "$tmp/dist" 2>&1 | tail -n 1 || true)
built=$(find "$tmp/dist/assets" -maxdepth 1 \( -name '*.js' -o -name '*.css' \) -printf '/ui/assets/%f\n' \
  2>/dev/null | sort | paste -sd ' ' || true)
if [[ $served == "$built" ]]; then
  bundle_fact="the served bundle is what console/build.mjs makes of the working tree: $build_line"
else
  bundle_fact="the served bundle ($served) is NOT what the working tree builds ($built): rebuild"
  bundle_fact+=" opsorch to measure the current console; the tree's build: $build_line"
fi

# What else the machine did meanwhile: all CPU time (/proc/stat) minus the benchmark's own
# (Chromium and node as console_timing.mjs counts them; opsorch from its /proc stat).
cpu_total() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
bench_start
cc_before=$(pgrep -c cc1plus || true)
busy0=$(cpu_total)
srv0=$(cpu_ticks "$srv_pid")
wall0=$(date +%s.%N)
log "opsorch on 127.0.0.1:$port, $total incidents; clicking $inc_id ($entries timeline entries)"
CONSOLE_BENCH_TOKEN=$token CONSOLE_CHROMIUM=$chromium \
  node bench/console_timing.mjs --url "http://127.0.0.1:$port" --runs "$runs" \
  --search "$search" --json "$tmp/timing.json" >"$tmp/timing.md" || {
  cat "$tmp/timing.md"
  tail -n 20 "$tmp/opsorch.log" >&2
  die "bench/console_timing.mjs could not measure"
}
check_alive "$srv_pid" opsorch "$tmp/opsorch.log"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
read -r cpu_chromium cpu_node < <(node -e \
  'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).cpu; console.log(c.chromium, c.node)' \
  "$tmp/timing.json")
cpu_fact=$(awk -v b0="$busy0" -v b1="$(cpu_total)" -v c="$cpu_chromium" -v nd="$cpu_node" \
  -v s0="$srv0" -v s1="$(cpu_ticks "$srv_pid")" -v w0="$wall0" -v w1="$(date +%s.%N)" \
  -v hz="$hz" -v n="$(nproc)" 'BEGIN {
    wall = w1 - w0; srv = (s1 - s0) / hz; all = (b1 - b0) / hz; other = all - c - nd - srv
    if (other < 0) other = 0
    printf "%.1f s wall clock; CPU time: Chromium %.1f s, node %.1f s, opsorch %.1f s, everything else on the machine %.1f s (%.0f%% of the %d cores)",
      wall, c, nd, srv, other, 100 * other / (wall * n), n }')
cc_after=$(pgrep -c cc1plus || true)

{
  echo "# opsorch console: incidents list, timeline and search over $total incidents"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/console.sh\` (BENCH_INCIDENTS=$incidents BENCH_STORE=$store_kind" \
    "BENCH_RUNS=$runs BENCH_SEARCH=$search BENCH_THREADS=$threads)"
  echo "- opsorch: tree at $(tree_commit), \`$bin\` built $(built_at "$bin"), $threads HTTP" \
    "threads, bearer token set (the page signs in once at /ui/login), incident engine" \
    "\`local\`, console ${console_dir:+from \`$console_dir\` (sent without gzip)}${console_dir:-built into the binary}"
  echo "- store: $store_fact; first GET /analytics/incident-counts after start ${first_counts_ms} ms;" \
    "measured once the server was idle"
  echo "- clicked: $inc_id, the newest incident (ingested by Events v2 with 3 repeats, 8 notes" \
    "and an acknowledgement: $entries timeline entries)"
  echo "- bundle: $bundle_fact"
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
  echo "- machine: $(nproc) cores${cpu:+ ($cpu)}; opsorch, Chromium and node share them;" \
    "loopback only; load average before: $load_before, after: $load_after; compilers running" \
    "(cc1plus) before/after: ${cc_before:-0}/${cc_after:-0}"
  echo "- during the measurements: $cpu_fact"
  echo
  cat "$tmp/timing.md"
} >"$tmp/report.md"

mkdir -p "$(dirname "$out")"
cp "$tmp/report.md" "$out"
cp "$tmp/timing.json" "${out%.md}.json"
cat "$tmp/report.md"
log "written to $out (per-run data: ${out%.md}.json)"
