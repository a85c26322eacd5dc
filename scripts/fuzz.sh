#!/usr/bin/env bash
# Fuzz every target of fuzz/ (cargo-fuzz, libFuzzer) and print executions and findings per target.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60). KEEL_FUZZ_RUNS=N runs N executions per target instead (the
# recorded campaign: 10000000). Targets default to all of them (`cargo fuzz list`).
#
# Builds with the machine's nightly toolchain (`cargo +nightly`, for libFuzzer's coverage
# instrumentation; the project itself builds on stable), in release mode with debug assertions and
# overflow checks on, without a sanitizer (keel is safe Rust; ASan would only slow it down).
# Installs cargo-fuzz if it is missing. Each target starts from its committed corpus
# (fuzz/corpus/TARGET) plus the inputs of past findings (fuzz/regressions/TARGET); new inputs that
# reach new code are added to fuzz/corpus/TARGET. A crash leaves its input in
# fuzz/artifacts/TARGET/; the script goes on with the other targets and exits non-zero at the end.
# Set KEEL_FUZZ_CMIN=1 to minimize each corpus after its run (`cargo fuzz cmin`), and
# KEEL_FUZZ_NO_TRACE_COMPARES=1 to build without comparison tracing (into fuzz/target-notc): less
# precise guidance, but blob and blob_payload, whose time goes to instrumented compares in the
# brotli decoder's inner loop, run several times faster.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

seconds="${1:-60}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
    exit 2
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "error: no nightly toolchain (cargo +nightly); cargo-fuzz needs it" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
fi

flags=(-s none --release --debug-assertions)
if [[ "${KEEL_FUZZ_NO_TRACE_COMPARES:-0}" == 1 ]]; then
    flags+=(--no-trace-compares --target-dir target-notc)
fi
targets=("$@")
if (( ${#targets[@]} == 0 )); then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "==> building ${#targets[@]} targets"
cargo +nightly fuzz build "${flags[@]}" || exit 1

if [[ -n "${KEEL_FUZZ_RUNS:-}" ]]; then
    limit=(-runs="$KEEL_FUZZ_RUNS")
    what="$KEEL_FUZZ_RUNS executions"
else
    limit=(-max_total_time="$seconds")
    what="${seconds} s"
fi

logs="$(mktemp -d)"
failed=()
summary=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "regressions/$target" "artifacts/$target"
    echo "==> $target ($what)"
    start=$(date +%s)
    cargo +nightly fuzz run "${flags[@]}" "$target" "corpus/$target" "regressions/$target" -- \
        "${limit[@]}" -print_final_stats=1 -rss_limit_mb=4096 -timeout=30 \
        >"$logs/$target.log" 2>&1
    status=$?
    elapsed=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$target.log" | grep -o '[0-9]*$' | tail -1)
    corpus=$(find "corpus/$target" -type f | wc -l)
    if (( status != 0 )); then
        failed+=("$target")
        tail -40 "$logs/$target.log"
        outcome="FINDING (see fuzz/artifacts/$target/)"
    else
        outcome="0 crashes"
    fi
    if [[ "${KEEL_FUZZ_CMIN:-0}" == 1 && $status -eq 0 ]]; then
        cargo +nightly fuzz cmin "${flags[@]}" "$target" "corpus/$target" >/dev/null 2>&1
        corpus=$(find "corpus/$target" -type f | wc -l)
    fi
    line=$(printf '%-14s %6d s %12s execs %9s exec/s  corpus %5d  %s' "$target" "$elapsed" \
        "${execs:-?}" "$(( ${execs:-0} / (elapsed > 0 ? elapsed : 1) ))" "$corpus" "$outcome")
    echo "$line"
    summary+=("$line")
done

echo
echo "==> summary ($what per target)"
printf '%s\n' "${summary[@]}"
echo "logs: $logs"
if (( ${#failed[@]} > 0 )); then
    echo "findings in: ${failed[*]}" >&2
    exit 1
fi
