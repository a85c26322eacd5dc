#!/usr/bin/env bash
# Install what the tests need and run every test in the workspace.
#
#   bash scripts/test.sh
#
# Steps: npm L1 tools (tools/), a check that the committed contract artifacts match
# their sources and that the upgradeable contracts' storage layouts only grew,
# `cargo fmt --check`, `cargo clippy --all-targets -- -D warnings`,
# cargo-nextest, doctests of the crates that have them (nextest does not run those), then `cargo nextest run`
# over all targets. A pre-set CARGO_TARGET_DIR is respected. Exits non-zero if
# any step fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

# 1. npm L1 tools (anvil, cast, solcjs, OpenZeppelin) from tools/package-lock.json.
#    Skipped when tools/node_modules was installed from the current lock file.
step "npm L1 tools (tools/)"
if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm not found; install Node.js >= 20 with npm" >&2
    exit 1
fi
stamp=tools/node_modules/.keel-lock-stamp
lock_sum="$(sha256sum tools/package.json tools/package-lock.json | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_sum" \
      && -x tools/node_modules/.bin/anvil && -x tools/node_modules/.bin/cast \
      && -e tools/node_modules/.bin/solcjs ]]; then
    echo "tools/node_modules is up to date with tools/package-lock.json"
else
    npm ci --prefix tools --no-audit --no-fund
    echo "$lock_sum" > "$stamp"
fi
tools/node_modules/.bin/anvil --version | sed -n 1p
tools/node_modules/.bin/cast --version | sed -n 1p
echo "solcjs $(tools/node_modules/.bin/solcjs --version)"

# Debian packages two end-to-end tests run for real: tmux (the terminal monitor's test runs
# `keel l2` in a real terminal) and prometheus (a real Prometheus scrapes the node).
step "tmux and prometheus (for the monitor and metrics tests)"
missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
if (( ${#missing[@]} > 0 )); then
    if command -v apt-get >/dev/null 2>&1; then
        sudo_cmd=""
        if [[ $(id -u) -ne 0 ]]; then sudo_cmd="sudo"; fi
        echo "installing ${missing[*]} with apt-get"
        $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
            || { $sudo_cmd apt-get update && $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
    else
        echo "error: ${missing[*]} not found and no apt-get to install them; install them" >&2
        exit 1
    fi
fi
tmux -V
prometheus --version 2>&1 | sed -n 1p

# 2. the committed contract artifacts must be what the sources compile to, and the upgradeable
#    contracts' storage layouts must be compatible with (and equal to) the recorded ones
step "contract artifacts and storage layouts match a fresh compile"
fresh="$(mktemp -d)"
node contracts/compile.js --out "$fresh/artifacts" --layouts "$fresh/layouts" > /dev/null
if ! diff -r -q "$fresh/artifacts" contracts/artifacts; then
    echo "error: contracts/artifacts differ from a fresh compile; run \`node contracts/compile.js\` and commit the result" >&2
    rm -rf "$fresh"
    exit 1
fi
echo "contracts/artifacts are up to date"
if ! node contracts/check-layouts.js "$fresh/layouts" contracts/layouts; then
    rm -rf "$fresh"
    exit 1
fi
if ! diff -r -q "$fresh/layouts" contracts/layouts; then
    echo "error: contracts/layouts differ from a fresh compile; run \`node contracts/compile.js\` and commit the result" >&2
    rm -rf "$fresh"
    exit 1
fi
rm -rf "$fresh"
echo "contracts/layouts are up to date"

# 3. formatting and lints: the code is rustfmt-clean and clippy-clean
step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# 4. cargo-nextest
step "cargo-nextest"
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi
cargo nextest --version | sed -n 1p

# The prover executes without the database: keel-prover must not link redb (issue 13).
step "keel-prover builds without the store"
if cargo tree -p keel-prover -e normal --prefix none | grep -E '^(redb|keel-storage) '; then
    step "FAILED: keel-prover depends on the store"
    exit 1
fi

# 5. doctests first (nextest does not run them), so that nextest's summary closes the output.
#    Only for the crates that have doctests on: the others set `[lib] doctest = false`, which
#    saves minutes of compiling empty doctest binaries.
status=0
doc_crates="$(cargo metadata --no-deps --format-version 1 | node -e '
let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
  for (const p of JSON.parse(s).packages)
    if (p.targets.some(t => t.kind.includes("lib") && t.doctest)) console.log(p.name);
});')"
if [[ -n "$doc_crates" ]]; then
    doc_args=()
    for c in $doc_crates; do doc_args+=(-p "$c"); done
    step "cargo test --doc ${doc_args[*]}"
    cargo test --doc "${doc_args[@]}" || status=$?
else
    step "doctests: none (every crate sets [lib] doctest = false)"
fi

# 6. every other test (run even if doctests failed, so every failure is reported)
step "cargo nextest run --workspace --all-targets --no-fail-fast"
cargo nextest run --workspace --all-targets --no-fail-fast || status=$?

if [[ $status -ne 0 ]]; then
    step "FAILED (exit $status)"
else
    step "all tests passed"
fi
exit "$status"
