#!/usr/bin/env bash
# Refreshes the OpenTelemetry protocol files under proto/opentelemetry/proto/ from the official
# release on Maven Central (io.opentelemetry.proto:opentelemetry-proto, whose jar carries the
# .proto sources of github.com/open-telemetry/opentelemetry-proto), at the pinned version. Only
# what the OTLP/gRPC metrics door needs is kept: the metrics service and the messages it uses.
#   proto/opentelemetry/update.sh [version]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="${1:-$(cat "$here/VERSION")}"
files=(
  opentelemetry/proto/collector/metrics/v1/metrics_service.proto
  opentelemetry/proto/metrics/v1/metrics.proto
  opentelemetry/proto/common/v1/common.proto
  opentelemetry/proto/resource/v1/resource.proto
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
  -Dartifact="io.opentelemetry.proto:opentelemetry-proto:$version" -DoutputDirectory="$work"
(cd "$work" && python3 -m zipfile -e "opentelemetry-proto-$version.jar" jar)
for f in "${files[@]}"; do
  mkdir -p "$(dirname "$here/../$f")"
  cp "$work/jar/$f" "$here/../$f"
done
echo "$version" >"$here/VERSION"
echo "proto/opentelemetry: ${#files[@]} files of opentelemetry-proto $version"
