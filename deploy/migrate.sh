#!/usr/bin/env bash
# migrate.sh [DATABASE_URL]: applies deploy/migrations/NNNN_*.sql that are not yet applied, in
# order, each in its own transaction together with its row in metrics.schema_migrations. Safe to run
# concurrently (an advisory lock serialises runners) and repeatedly (applied versions are skipped).
# A migration whose file changed after it was applied is reported, not re-run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
SM_COMPONENT=migrate
# The URL from the argument, STREAMMETRICS_PG_URL, or the file STREAMMETRICS_PG_URL_FILE names (a
# mounted secret, as the services read it).
if [ -z "${1:-}" ] && [ -z "${STREAMMETRICS_PG_URL:-}" ] && [ -n "${STREAMMETRICS_PG_URL_FILE:-}" ]; then
  STREAMMETRICS_PG_URL=$(<"$STREAMMETRICS_PG_URL_FILE")
fi
url="${1:-${STREAMMETRICS_PG_URL:?set STREAMMETRICS_PG_URL (or STREAMMETRICS_PG_URL_FILE) or pass a database URL}}"
psql_q() { psql "$url" -v ON_ERROR_STOP=1 -X -q -t -A "$@"; }

psql_q -c "CREATE SCHEMA IF NOT EXISTS metrics;
  CREATE TABLE IF NOT EXISTS metrics.schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW());" 2>&1 | grep -v 'already exists' || true

applied=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for file in "$here"/migrations/[0-9][0-9][0-9][0-9]_*.sql; do
  base=$(basename "$file" .sql)
  version=$((10#${base%%_*}))
  # The checksum ("v2:" and the SHA-256 of the statements) leaves out comments and blank lines:
  # a comment may be edited (e.g. a path it names moved) without making an applied migration look
  # changed.
  sum="v2:$(grep -v -E '^[[:space:]]*(--|$)' "$file" | sha256sum | cut -c1-64)"
  have=$(psql_q -c "SELECT checksum FROM metrics.schema_migrations WHERE version = $version")
  if [ -n "$have" ]; then
    if [ "$have" != "$sum" ]; then
      if [ "${have#v2:}" = "$have" ]; then
        # Recorded by an older migrate.sh, which summed the whole file, comments included (and
        # some comments have changed since): recorded again in the current form, once.
        psql_q -c "UPDATE metrics.schema_migrations SET checksum = '$sum' WHERE version = $version"
        sm_log "recorded the statements-only checksum of $base"
      else
        sm_log "WARNING: $base changed after it was applied; add a new migration instead"
      fi
    fi
    continue
  fi
  # The advisory lock is taken inside the transaction and the version re-checked under it, so two
  # concurrent runners apply each migration once.
  if ! psql_q -1 <<SQL >/dev/null 2>"$tmp"
SELECT pg_advisory_xact_lock(4242);
DO \$\$ BEGIN
  IF EXISTS (SELECT 1 FROM metrics.schema_migrations WHERE version = $version) THEN
    RAISE EXCEPTION 'already-applied';
  END IF;
END \$\$;
\i $file
INSERT INTO metrics.schema_migrations (version, name, checksum) VALUES ($version, '$base', '$sum');
SQL
  then
    grep -q already-applied "$tmp" && continue  # a concurrent runner applied it first
    cat "$tmp" >&2
    sm_die "$base failed; the database is unchanged by it"
  fi
  sm_log "applied $base"
  applied=$((applied + 1))
done
sm_log "schema up to date ($applied applied now)"
