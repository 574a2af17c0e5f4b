#!/usr/bin/env bash
# QueryService latency as a client sees it: GetLatest of one series and QueryAggregates of one
# day of its 1-minute windows, through the running aggregation service, each next to the same
# read done directly on Redis / PostgreSQL in the same run (what gRPC and the service add).
#
#   bench/query_latency.sh [calls (2000)]
#
# Brings the whole local stack up with the fresh build first (deploy/local/up.sh, idempotent),
# builds bench/query_bench in build/release, prints a markdown table and keeps it in
# $OUT/query_latency.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
calls=${1:-2000}
build=${BUILD:-$root/build/release}
OUT=${OUT:-$(mktemp -d /tmp/query-latency.XXXX)}

STREAMMETRICS_SKIP_DEMO=1 "$root/deploy/local/up.sh" >&2
source "$root/deploy/local/lib.sh"  # addresses of the local stack (and deploy/env.sh)
echo "building query_bench in $build" >&2
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTREAMMETRICS_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$STREAMMETRICS_RDKAFKA_PREFIX" >/dev/null
cmake --build "$build" --target query_bench >/dev/null

"$build/bench/query_bench" --target "${STREAMMETRICS_QUERY_ADDRESS:-127.0.0.1:50052}" \
  --calls "$calls" | tee "$OUT/query_latency.md"
echo "table kept in $OUT/query_latency.md" >&2
