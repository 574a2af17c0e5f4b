#!/usr/bin/env bash
# The offline checks of docker/ (no Docker engine needed): hadolint on every Dockerfile, and the
# compose file loaded and validated by docker-compose (`config`), with and without the demo
# profile. tests/run.sh runs it; the tools come from deploy/install-deps.sh. Exits non-zero on any
# finding.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/env.sh
source "$root/deploy/env.sh"
SM_COMPONENT=docker-check

command -v hadolint >/dev/null || sm_die "hadolint missing: run deploy/install-deps.sh"
command -v docker-compose >/dev/null || sm_die "docker-compose missing: run deploy/install-deps.sh"

mapfile -t dockerfiles < <(cd "$root" && ls docker/*.Dockerfile)
sm_log "hadolint $(hadolint --version | awk '{print $NF}') on ${dockerfiles[*]}"
(cd "$root" && hadolint "${dockerfiles[@]}")

compose="$root/docker/docker-compose.yml"
for profile in "" demo; do
  args=(-f "$compose")
  [ -n "$profile" ] && args+=(--profile "$profile")
  services=$(docker-compose "${args[@]}" config --services | tr '\n' ' ')
  docker-compose "${args[@]}" config -q
  sm_log "compose${profile:+ (profile $profile)}: valid, services: $services"
done
