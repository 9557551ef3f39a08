#!/usr/bin/env bash
# Measures incident text search and what its index costs ingestion (method and figures:
# docs/BENCHMARKS.md, "Incident search"):
#  1. SQLite: 1,000,000 incidents written by opsorch-generate-incidents, then
#     opsorch-search-bench (the store query behind POST /incidents/query: first page of 100,
#     newest first, without and with a status filter) on the store as it is and on a copy without
#     the search index (migration 7's objects dropped: searches scan, as before the index); and
#     the upgrade of a copy at schema version 6 (migration 7 builds the index), timed.
#  2. PostgreSQL: the same incidents in a private cluster (scripts/pg-test-cluster), searched
#     with and without pg_trgm (dropped, and a role that may not create it: searches scan).
#  3. Batched ingestion into opsorch (SQLite store, POST /v2/enqueue/batch, 500 events per
#     request, as bench/engine.sh's batch cell), with the search index and without it (the same
#     seeded store with migration 7's objects dropped), alternating, a fresh store per run: keys
#     cycling (nearly every event a repeat, as engine.sh) and unique keys (every event opens an
#     incident, the most the index can cost).
# Prints the figures as Markdown.
#
# Usage: bench/search.sh
#
# Environment (all optional):
#   BUILD             build directory holding the binaries                      (default: build)
#   SEARCH_INCIDENTS  incidents generated                                       (default: 1000000)
#   SEARCH_RUNS       timed runs per search (after a warm-up run)               (default: 20)
#   SEARCH_PARTS      which of the three parts run                (default: "sqlite pg ingest")
#   SEARCH_PG_DIR     the private cluster's directory, removed at the end
#                                                             (default: build/pg-bench-search)
#   BENCH_DURATION    seconds per ingestion run                                 (default: 5)
#   BENCH_RUNS        ingestion runs per variant; the median is reported        (default: 5)
#   BENCH_OUT         where the report is written     (default: bench/results/search-latest.md)
set -euo pipefail

caller_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. bench/lib.sh

incidents=${SEARCH_INCIDENTS:-1000000}
search_runs=${SEARCH_RUNS:-20}
parts=" ${SEARCH_PARTS:-sqlite pg ingest} "
pg_dir=${SEARCH_PG_DIR:-build/pg-bench-search}
duration=${BENCH_DURATION:-5}
runs=${BENCH_RUNS:-5}
build_dir=${BUILD:-build}
resolve_out bench/results/search-latest.md
strict=0
base_port=28480
batch=500
batch_conns=4
keys=1000
routing_key=bench-routing-key-000000000000001

require_positive incidents search_runs duration runs
require_tools wrk curl awk sqlite3
part() { [[ $parts == *" $1 "* ]]; }
gen="$build_dir/opsorch-generate-incidents"
search="$build_dir/opsorch-search-bench"
bin="$build_dir/opsorch"
require_binaries "$build_dir" "$gen" "$search" "$bin"

bench_setup
drop_opsorch_env
pg_started=0
# shellcheck disable=SC2317  # run by the EXIT trap
on_exit() {
  local rc=$?
  ((pg_started == 0)) || scripts/pg-test-cluster stop "$pg_dir" >/dev/null 2>&1 || true
  (exit "$rc")
  cleanup
}
trap on_exit EXIT
bench_start

# Migration 7's objects: without them the store scans, as every search did before.
drop_index_sql="DROP TRIGGER incidents_fts_update; DROP TRIGGER incidents_fts_delete;
DROP TABLE incidents_fts;"

# search_table STORE [ARGS...]: opsorch-search-bench's output ("store opened" line, then a table).
search_table() {
  local store=$1
  shift
  "$search" --store "$store" "$@" 2>"$tmp/search.err" || {
    cat "$tmp/search.err" >&2
    die "opsorch-search-bench failed on $store"
  }
}

# --- 1. SQLite ------------------------------------------------------------------------------

sqlite_gen="" sqlite_size="" sqlite_indexed="" sqlite_oldest="" sqlite_scan="" scan_size=""
sqlite_upgrade=""
if part sqlite; then
  log "SQLite: generating $incidents incidents"
  sqlite_gen=$("$gen" --store "sqlite:$tmp/search.db" --incidents "$incidents")
  log "$sqlite_gen"
  sqlite_size=$(du -h "$tmp/search.db" | cut -f1)
  log "SQLite: searching ($search_runs runs each)"
  sqlite_indexed=$(search_table "sqlite:$tmp/search.db" --runs "$search_runs")
  sqlite_oldest=$(search_table "sqlite:$tmp/search.db" --runs "$search_runs" --oldest \
    --search host-04711 --search kafka-broker --search " on host-")
  cp "$tmp/search.db" "$tmp/scan.db"
  sqlite3 "$tmp/scan.db" "$drop_index_sql VACUUM;"
  scan_size=$(du -h "$tmp/scan.db" | cut -f1)
  log "SQLite: searching without the index (3 runs each)"
  sqlite_scan=$(search_table "sqlite:$tmp/scan.db" --runs 3)
  # The same store at schema version 6, upgraded by the first open.
  sqlite3 "$tmp/scan.db" "PRAGMA user_version=6;"
  log "SQLite: upgrading a copy at schema version 6"
  sqlite_upgrade=$(search_table "sqlite:$tmp/scan.db" --runs 1 --search host-04711 | head -n 1)
  rm -f "$tmp"/scan.db* "$tmp"/search.db*
fi

# --- 2. PostgreSQL --------------------------------------------------------------------------

pg_gen="" pg_indexed="" pg_scan="" pg_sizes=""
if part pg; then
  require_tools psql
  admin=$(scripts/pg-test-cluster start "$pg_dir")
  pg_started=1
  db_url="${admin%/*}/search"
  psql -q "$admin" -c "CREATE DATABASE search" >/dev/null
  log "PostgreSQL: generating $incidents incidents"
  pg_gen=$("$gen" --store "$db_url" --incidents "$incidents")
  log "$pg_gen"
  psql -q "$db_url" -c "VACUUM ANALYZE" >/dev/null
  pg_sizes=$(psql -qAt "$db_url" -c "SELECT string_agg(relname || ' ' ||
    pg_size_pretty(pg_relation_size(oid)), ', ' ORDER BY relname) FROM pg_class
    WHERE relname IN ('incidents', 'incident_text', 'incident_text_trgm')")
  log "PostgreSQL: searching ($search_runs runs each)"
  pg_indexed=$(search_table "$db_url" --runs "$search_runs")
  # Without pg_trgm, and as a role that may not create it: the store starts and scans.
  psql -q "$db_url" >/dev/null <<'EOF'
DROP EXTENSION pg_trgm CASCADE;
CREATE ROLE search_bench LOGIN;
GRANT USAGE, CREATE ON SCHEMA public TO search_bench;
GRANT ALL ON ALL TABLES IN SCHEMA public TO search_bench;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO search_bench;
EOF
  log "PostgreSQL: searching without the indexes (3 runs each)"
  pg_scan=$(search_table "${db_url/postgres@/search_bench@}" --runs 3)
fi

# --- 3. Ingestion ---------------------------------------------------------------------------

declare -A eps
problems=()
if part ingest; then
  cat >"$tmp/seed.json" <<EOF
{"teams":[{"id":"bench","name":"Bench"}],
 "services":[{"id":"bench","name":"Bench service","team":"bench",
   "integrations":[{"id":"bench-events","name":"Events API v2","kind":"events_v2",
                    "key":"$routing_key"}]}]}
EOF

  # write_lua FILE MODE: batches of $batch events; MODE cycle (each wrk thread cycles over $keys
  # keys) or unique (every event a new key, so a new incident). Counts statuses and events
  # answered with an error ("search-bench …" lines after wrk's summary).
  write_lua() {
    cat >"$1" <<EOF
local mode, per_request, keys, routing_key = "$2", $batch, $keys, "$routing_key"
EOF
    cat >>"$1" <<'EOF'
local headers = {["Content-Type"] = "application/json"}
local threads, thread_count = {}, 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end
local function build(n)
  local parts = {}
  for j = 0, per_request - 1 do
    local i = n * per_request + j
    if mode == "cycle" then i = i % keys end
    local key = "t" .. tid .. "-k" .. i
    parts[#parts + 1] = '{"routing_key":"' .. routing_key .. '","event_action":"trigger",' ..
      '"dedup_key":"' .. key .. '","payload":{"summary":"Bench alert ' .. key ..
      ' on host-' .. (i % 997) .. '","source":"bench-host","severity":"critical"}}'
  end
  return wrk.format("POST", nil, headers, "[" .. table.concat(parts, ",") .. "]")
end
local cache, period, n = {}, 1, 0
function init(args)
  codes, item_errors = {}, 0
  if mode == "cycle" then
    local a, b = keys, per_request
    while b > 0 do a, b = b, a % b end
    period = keys / a
    for r = 0, period - 1 do cache[r] = build(r) end
  end
end
function request()
  local req
  if mode == "cycle" then req = cache[n % period] else req = build(n) end
  n = n + 1
  return req
end
function response(status, hdrs, body)
  local s = tostring(status)
  codes[s] = (codes[s] or 0) + 1
  local pos = 1
  while true do
    local a, e = string.find(body, '{"status":"error"', pos, true)
    if not a then break end
    item_errors, pos = item_errors + 1, e + 1
  end
end
function done(summary, latency, requests)
  local total, errors = {}, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("codes") or {}) do total[k] = (total[k] or 0) + v end
    errors = errors + (t:get("item_errors") or 0)
  end
  local parts = {}
  for k, v in pairs(total) do parts[#parts + 1] = k .. "=" .. v end
  table.sort(parts)
  io.write("search-bench statuses: " .. table.concat(parts, " ") .. "\n")
  io.write("search-bench item errors: " .. errors .. "\n")
end
EOF
  }
  write_lua "$tmp/cycle.lua" cycle
  write_lua "$tmp/unique.lua" unique

  untrack() {  # untrack PID: after stop, so that cleanup never signals a reused PID
    local p keep=()
    for p in "${bench_pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    bench_pids=("${keep[@]}")
  }

  # start_opsorch DATA_DIR LOG: sets srv_pid and srv_port once /health answers.
  start_opsorch() {
    srv_port=$(free_port "$base_port")
    env OPSORCH_ADDR="127.0.0.1:$srv_port" OPSORCH_INCIDENT_PROVIDER=local \
      OPSORCH_ENGINE_SEED="$tmp/seed.json" OPSORCH_DATA_DIR="$1" "$bin" serve >"$2" 2>&1 &
    srv_pid=$!
    bench_track "$srv_pid"
    wait_http "http://127.0.0.1:$srv_port/health" "$srv_pid" opsorch "$2"
  }

  # The two stores every run starts from: seeded, empty, with and without the search index.
  start_opsorch "$tmp/template-fts" "$tmp/template.log"
  stop "$srv_pid"
  untrack "$srv_pid"
  cp -r "$tmp/template-fts" "$tmp/template-scan"
  sqlite3 "$tmp/template-scan/opsorch.db" "$drop_index_sql"

  log "ingestion: 2 variants x 2 loads x $runs runs of ${duration}s"
  for ((r = 1; r <= runs; r++)); do
    for load in cycle unique; do
      # Alternating, first one then the other first, so that a slow phase of the machine (or
      # the write-back a run leaves behind) hits both variants.
      order=(fts scan)
      ((r % 2)) || order=(scan fts)
      for variant in "${order[@]}"; do
        dir="$tmp/run-$r-$load-$variant"
        cp -r "$tmp/template-$variant" "$dir"
        sync  # the previous run's dirty pages, written back now rather than during this run
        start_opsorch "$dir" "$dir.log"
        cp "$tmp/$load.lua" "$tmp/post.lua"
        read -r v_rps _ v_bad v_err < <(run_wrk "$srv_port" /v2/enqueue/batch "$batch_conns" \
          "$duration")
        check_alive "$srv_pid" opsorch "$dir.log"
        stop "$srv_pid"
        untrack "$srv_pid"
        item_errors=$(sed -n 's/^search-bench item errors: //p' "$tmp/wrk.out")
        ((v_bad == 0 && v_err == 0 && ${item_errors:-0} == 0)) ||
          problems+=("$variant/$load run $r: $v_bad non-2xx, $v_err socket errors, ${item_errors:-?} events failed")
        events=$(awk -v r="$v_rps" -v b="$batch" 'BEGIN { printf "%.0f", r * b }')
        eps[$variant $load]+="$events "
        log "$variant, $load keys, run $r: $events events/s"
        rm -rf "$dir"
      done
    done
  done
fi

# --- report ---------------------------------------------------------------------------------

{
  echo "# opsorch incident search"
  echo
  echo "- date: $started (start of the measurements)"
  echo "- command: \`bench/search.sh\` (SEARCH_INCIDENTS=$incidents SEARCH_RUNS=$search_runs" \
    "BENCH_DURATION=$duration BENCH_RUNS=$runs)"
  echo "- opsorch: tree at $(tree_commit), binaries in \`$build_dir\` built $(built_at "$bin")"
  echo "- machine: $(machine_fact)"
  if part sqlite; then
    echo
    echo "## SQLite, $incidents incidents"
    echo
    echo "Generated: $sqlite_gen; store $sqlite_size with the index, $scan_size without."
    echo "Upgrade of the store at schema version 6: ${sqlite_upgrade#store }."
    echo
    echo "With the index (migration 7):"
    echo
    echo "$sqlite_indexed" | sed 1,2d
    echo
    echo "Oldest first:"
    echo
    echo "$sqlite_oldest" | sed 1,2d
    echo
    echo "Without it (a scan, as before):"
    echo
    echo "$sqlite_scan" | sed 1,2d
  fi
  if part pg; then
    echo
    echo "## PostgreSQL 15 (scripts/pg-test-cluster: shared_buffers 64MB), $incidents incidents"
    echo
    echo "Generated: $pg_gen; sizes: $pg_sizes."
    echo
    echo "With pg_trgm (migration 5):"
    echo
    echo "$pg_indexed" | sed 1,2d
    echo
    echo "Without it (a scan, as before):"
    echo
    echo "$pg_scan" | sed 1,2d
  fi
  if part ingest; then
    echo
    echo "## Batched ingestion (SQLite), events/s"
    echo
    echo "$batch events per POST /v2/enqueue/batch at $batch_conns connections, ${duration}s per" \
      "run, median of $runs (runs alternate between the variants, each first in every other" \
      "round):"
    echo
    echo "| keys | with the index | without | with / without |"
    echo "|---|---|---|---|"
    for load in cycle unique; do
      with=$(median <<<"${eps[fts $load]}")
      without=$(median <<<"${eps[scan $load]}")
      awk -v l="$([[ $load == cycle ]] && echo "cycling ($keys per thread)" || echo unique)" \
        -v a="$with" -v b="$without" \
        'BEGIN { printf "| %s | %.0f | %.0f | %.3f |\n", l, a, b, (b > 0 ? a / b : 0) }'
    done
    echo
    echo "Per run: with ${eps[fts cycle]% } / without ${eps[scan cycle]% } (cycling);" \
      "with ${eps[fts unique]% } / without ${eps[scan unique]% } (unique)."
  fi
  if ((${#problems[@]})); then
    echo
    echo "Warnings:"
    echo
    printf -- '- %s\n' "${problems[@]}"
  fi
} >"$tmp/report.md"

publish_report 0
