#!/usr/bin/env bash
# Crash campaign (issue 17, part 2, "Crash under load"): runs crates/cli/tests/crash_under_load.rs
# with N SIGKILLs of `keel l2` under load (transfers and SSTOREs over JSON-RPC from the test's
# sender threads, deposits to the L1 bridge of an anvil the test starts), restarting the node on
# the same datadir after each, and prints the totals. After each restart the test checks: whole
# head block, flat state = trie, every acknowledged tx in a block or pending in the restarted pool,
# no nonce gap, every deposit on the L2 exactly once (docs/reliability.md, "Crash under load").
#
#   scripts/crash-campaign.sh [--kills N] [--seed S] [--release]
#
#   --kills N   SIGKILLs (default 50; the test suite runs 4)
#   --seed S    replay the kill moments and load of an earlier run (its KEEL_CRASH_SEED line)
#   --release   build and run the release profile (default: the debug build the tests use)
#
# Exits non-zero if the test fails (a lost or duplicated tx or deposit, a corrupt datadir, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

kills=50
seed=""
profile=()
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=${2:?--kills needs a number}; shift 2 ;;
    --kills=*) kills=${1#--kills=}; shift ;;
    --seed) seed=${2:?--seed needs a number}; shift 2 ;;
    --seed=*) seed=${1#--seed=}; shift ;;
    --release) profile=(--release); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$kills" in ''|*[!0-9]*) echo "--kills must be a number, got '$kills'" >&2; exit 2 ;; esac

# The test starts anvil from tools/ (foundry via npm).
[ -x tools/node_modules/.bin/anvil ] || npm ci --prefix tools --no-audit --no-fund

log=$(mktemp -t crash-campaign.XXXXXX.log)
export KEEL_CRASH_KILLS=$kills
if [ -n "$seed" ]; then export KEEL_CRASH_SEED=$seed; fi

echo "crash campaign: $kills SIGKILLs of keel l2 under load; full log: $log"
# Build first, so the duration below is the campaign's.
cargo nextest run -p keel --test crash_under_load "${profile[@]}" --no-run
started=$(date +%s)
set +e
cargo nextest run -p keel --test crash_under_load "${profile[@]}" --no-capture 2>&1 \
  | tee "$log" \
  | grep --line-buffered -E '^(KEEL_CRASH_SEED|round |restart |CRASH SUMMARY)|panicked|FAIL|PASS'
status=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - started ))

echo
echo "=== crash campaign summary ==="
summary=$(grep -o 'CRASH SUMMARY.*' "$log" | tail -n 1 || true)
if [ -n "$summary" ]; then
  # key=value pairs, one per line.
  for kv in ${summary#CRASH SUMMARY }; do
    printf '  %-38s %s\n' "${kv%%=*}" "${kv#*=}"
  done
else
  grep -o 'KEEL_CRASH_SEED=[0-9]*' "$log" | head -n 1 | sed 's/^/  replay with /' || true
  echo "  (no summary: the test failed before the end; see $log)"
fi
printf '  %-38s %s\n' "wall time (s, test run)" "$elapsed"
if [ "$status" -eq 0 ]; then
  echo "  result                                 PASS (0 acknowledged txs or deposits lost, 0 duplicated)"
else
  echo "  result                                 FAIL (exit $status; see $log)"
fi
exit "$status"
