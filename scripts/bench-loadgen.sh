#!/usr/bin/env bash
# Load-test keel and anvil side by side in one run: builds release binaries, starts
# `keel l2 --dev` on a fresh redb datadir, then runs keel-loadgen against it and against an anvil
# it starts itself (`anvil --block-time 1 --gas-limit 3000000000`).
#
#   scripts/bench-loadgen.sh [eth|erc20|storage] [extra keel-loadgen flags...]
#   ACCOUNTS=1000 TXS=180 scripts/bench-loadgen.sh eth      # 180,000 transfers
#
# Results are printed as a table with the keel/anvil ratio; docs/benchmarks.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."

workload=${1:-eth}
shift || true
accounts=${ACCOUNTS:-1000}
txs=${TXS:-60}
port=${KEEL_PORT:-18729}
target_dir=${CARGO_TARGET_DIR:-target}

[ -x tools/node_modules/.bin/anvil ] || npm ci --prefix tools --no-audit --no-fund
cargo build --release -p keel -p keel-loadgen

workdir=$(mktemp -d)
"$target_dir/release/keel" l2 --dev --datadir "$workdir/data" --http.port "$port" \
  --log.level "${KEEL_LOG:-warn}" > "$workdir/keel.log" 2>&1 &
keel_pid=$!
trap 'kill $keel_pid 2>/dev/null || true; wait $keel_pid 2>/dev/null || true; rm -rf "$workdir"' EXIT

for _ in $(seq 1 100); do
  if curl -sf -H 'content-type: application/json' \
    --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' \
    "http://127.0.0.1:$port" > /dev/null; then
    break
  fi
  sleep 0.1
done

"$target_dir/release/keel-loadgen" \
  --target "keel=http://127.0.0.1:$port" --spawn-anvil \
  --workload "$workload" --accounts "$accounts" --txs-per-account "$txs" "$@"
echo "keel datadir size: $(du -sh "$workdir/data" | cut -f1)"
