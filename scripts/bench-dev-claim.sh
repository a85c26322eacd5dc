#!/usr/bin/env bash
# Time from an L2 withdrawal to its claim on L1 with `keel l2 --dev` (anvil with 1 s blocks, the
# in-process exec prover, batches every --committer.commit-time): deposit 2 ETH (so the L1 bridge
# holds what the claim pays), withdraw 1 ETH on L2, then `keel bridge claim --wait`. Prints the
# seconds from the withdrawal's L2 receipt to the claim's L1 receipt, per run.
#
# Usage: scripts/bench-dev-claim.sh [RUNS] [KEEL_BINARY]
set -euo pipefail
runs=${1:-3}
keel=${2:-target/release/keel}
log=$(mktemp)
trap 'kill $node 2>/dev/null || true; rm -f "$log"' EXIT

"$keel" l2 --dev --http.port 0 >"$log" 2>&1 &
node=$!
for _ in $(seq 100); do grep -q "L1 RPC:" "$log" && break; sleep 0.2; done
l2=$(grep "HTTP RPC:" "$log" | awk '{print $3}')
l1=$(grep "L1 RPC:" "$log" | awk '{print $3}')
bridge=$(grep "L1 bridge:" "$log" | awk '{print $3}')
key=$(grep "(6)" "$log" | awk '{print $4}')
endpoints=(--eth.rpc-url "$l1" --l1.bridge-address "$bridge" --l2.rpc-url "$l2")
"$keel" bridge deposit --amount 2ether --private-key "$key" --wait "${endpoints[@]}" >/dev/null
for run in $(seq "$runs"); do
  start=$(date +%s.%N)
  tx=$("$keel" bridge withdraw --amount 0.5ether --private-key "$key" --l2.rpc-url "$l2" |
    grep -o "claim --tx-hash 0x[0-9a-f]*" | awk '{print $3}')
  "$keel" bridge claim --tx-hash "$tx" --wait --private-key "$key" "${endpoints[@]}" >/dev/null
  end=$(date +%s.%N)
  printf 'run %d: withdrawal to claimed on L1: %.1f s\n' "$run" "$(echo "$end - $start" | bc)"
done
grep "verified on L1" "$log" | sed 's/.*since_last_block=/verified, after the last block of its batch: /' | tail -n "$runs"
