#!/usr/bin/env bash
# The signed-package flow end to end, on loopback:
#   keygen (publisher, packager, this agent's recipient key) → pack workflow.json as 1.0.0 →
#   upload it to `opsorch serve` (the configuration service) → an `opsorch agent` polls it,
#   verifies, decrypts and runs it → its status and audit records show on the server →
#   a tampered 1.1.0 is refused (1.0.0 keeps running, the refusal shows on the server) →
#   1.2.0 is picked up within the poll period → the agent's own metrics on its loopback listener.
# Exits 0 when every step behaved; otherwise non-zero with what went wrong. Leaves nothing behind.
#
# Usage: examples/signed-package/run.sh [path/to/opsorch]      (default: build/opsorch)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
opsorch=$(realpath "${1:-$here/../../build/opsorch}")
[ -x "$opsorch" ] || { echo "no opsorch binary at $opsorch (build it: make build)" >&2; exit 2; }
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*" >&2
  for log in "$work"/serve.log "$work"/agent.log; do
    [ -f "$log" ] && { echo "--- $log (last lines)" >&2; tail -n 20 "$log" >&2; }
  done
  exit 1
}
step() { printf '\n== %s\n' "$*"; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# Waits (up to 30 s) until the command succeeds.
wait_for() {
  local what=$1
  shift
  for _ in $(seq 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  fail "timed out waiting for $what"
}

cd "$work"
step "keys: a publisher signs, a packager builds, the agent is the recipient"
"$opsorch" workflow keygen --purpose sign -o publisher
"$opsorch" workflow keygen --purpose packager -o ci
"$opsorch" workflow keygen --purpose recipient -o edge-1
ls -l publisher.key publisher.pub ci.key edge-1.key edge-1.pub

step "pack workflow.json as health 1.0.0, signed by the publisher, for edge-1"
cp "$here/workflow.json" workflow.json
"$opsorch" workflow pack workflow.json --id health --version 1.0.0 \
  --sign publisher.key --packager ci.key --for edge-1.pub -o health-1.0.0.owfp
"$opsorch" workflow inspect health-1.0.0.owfp

step "start opsorch serve (the configuration service)"
port=$(free_port)
admin_token=admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
metrics_token=metrics-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
OPSORCH_ADDR=127.0.0.1:$port OPSORCH_DATA_DIR="$work/server" OPSORCH_BEARER_TOKEN=$admin_token \
  OPSORCH_METRICS_TOKEN=$metrics_token "$opsorch" serve >serve.log 2>&1 &
pids+=($!)
base=http://127.0.0.1:$port
admin=(-sS --fail-with-body -H "Authorization: Bearer $admin_token")
wait_for "opsorch serve" curl -sf -H "Authorization: Bearer $admin_token" "$base/health"

step "register agent edge-1 (its token is shown once) and upload the package"
agent_token=$(curl "${admin[@]}" -X PUT "$base/admin/agents/edge-1" \
  -H 'Content-Type: application/json' -d '{"packages":["health"]}' | jq -er .token)
curl "${admin[@]}" -X PUT "$base/admin/workflow-packages/health" \
  -H 'Content-Type: application/octet-stream' --data-binary @health-1.0.0.owfp | jq .

step "start opsorch agent: it trusts the publisher and the packager, and holds its own key"
cat >bootstrap.json <<JSON
{
  "keys": {
    "publisher": "$(cat publisher.pub)",
    "ci": "$(cat ci.pub)"
  },
  "report": {
    "url": "$base/agents/edge-1/status",
    "headers": { "Authorization": "Bearer \${AGENT_TOKEN}" },
    "interval": "2s"
  },
  "deployments": [
    {
      "id": "health",
      "config": {
        "url": "$base/workflow-packages/health",
        "headers": { "Authorization": "Bearer \${AGENT_TOKEN}" },
        "poll": "1s"
      },
      "packaging": {
        "required_signers": ["publisher"],
        "packagers": ["ci"],
        "recipient_key_file": "edge-1.key"
      },
      "hosts": {
        "opsorch": {
          "url": "$base",
          "allow_private": true,
          "headers": { "Authorization": "Bearer \${OPSORCH_METRICS_TOKEN}" },
          "allow": [ { "method": "GET", "path": "/health" } ]
        }
      },
      "outputs": [ { "id": "console", "stdout": true } ]
    }
  ]
}
JSON
metrics_port=$(free_port)
AGENT_TOKEN=$agent_token OPSORCH_METRICS_TOKEN=$metrics_token OPSORCH_DATA_DIR="$work/agent" \
  "$opsorch" agent --bootstrap bootstrap.json --metrics-listen "127.0.0.1:$metrics_port" \
  >agent.log 2>&1 &
pids+=($!)

agent_version() {
  curl "${admin[@]}" "$base/admin/agents/edge-1" | jq -r '.status.deployments[0].version // empty'
}
agent_refusal() {
  curl "${admin[@]}" "$base/admin/agents/edge-1" | jq -r '.status.deployments[0].refusal // empty'
}
version_is() { [ "$(agent_version)" = "$1" ]; }
refusal_is() { [ "$(agent_refusal)" = "$1" ]; }
wait_for "edge-1 to report 1.0.0" version_is 1.0.0
wait_for "a run of the workflow" grep -q '"key":"opsorch.healthy"' agent.log
echo "edge-1 runs health 1.0.0; its status and audit records on the server:"
curl "${admin[@]}" "$base/admin/agents/edge-1" |
  jq '{status: .status.deployments, audit: [.audit[] | {kind, message}]}'

step "upload a tampered 1.1.0: the agent refuses it and keeps running 1.0.0"
sed -i 's/"release": "1.0.0"/"release": "1.1.0"/' workflow.json
"$opsorch" workflow pack workflow.json --id health --version 1.1.0 \
  --sign publisher.key --packager ci.key --for edge-1.pub -o health-1.1.0.owfp
# One flipped byte inside the encrypted payload.
size=$(stat -c %s health-1.1.0.owfp)
python3 - health-1.1.0.owfp $((size - 300)) <<'PY'
import sys
path, at = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
data[at] ^= 0x01
open(path, "wb").write(data)
PY
curl "${admin[@]}" -X PUT "$base/admin/workflow-packages/health" \
  -H 'Content-Type: application/octet-stream' --data-binary @health-1.1.0.owfp | jq -c .warnings
wait_for "edge-1 to report the refusal" refusal_is bad_signature
[ "$(agent_version)" = 1.0.0 ] || fail "edge-1 does not run 1.0.0 any more"
curl "${admin[@]}" "$base/admin/agents/edge-1" |
  jq '.status.deployments[0] | {version, refusal, lastError}'

step "upload 1.2.0: picked up within the poll period"
sed -i 's/"release": "1.1.0"/"release": "1.2.0"/' workflow.json
"$opsorch" workflow pack workflow.json --id health --version 1.2.0 \
  --sign publisher.key --packager ci.key --for edge-1.pub -o health-1.2.0.owfp
"$opsorch" workflow verify health-1.2.0.owfp --signer publisher.pub --recipient-key edge-1.key
curl "${admin[@]}" -X PUT "$base/admin/workflow-packages/health" \
  -H 'Content-Type: application/octet-stream' --data-binary @health-1.2.0.owfp >/dev/null
wait_for "edge-1 to report 1.2.0" version_is 1.2.0
wait_for "a run of 1.2.0" grep -q '"release":"1.2.0"' agent.log

step "the agent's own metrics (loopback listener)"
curl -sSf "http://127.0.0.1:$metrics_port/metrics" | grep -E '^opsorch_workflow_(step_runs|config_loads|http_calls)_total'
step "audit records on the server"
curl "${admin[@]}" "$base/admin/agents/edge-1" | jq -r '.audit[] | "\(.kind): \(.message)"'
if grep -q "$agent_token" agent.log serve.log; then fail "the agent token appears in a log"; fi
printf '\nsigned-package example: ok\n'
