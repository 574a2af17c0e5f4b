{{/* Names, labels and the pieces both Deployments share. */}}

{{- define "streammetrics.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "streammetrics.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "ingest"). */}}
{{- define "streammetrics.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "streammetrics.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .name (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{/* The Secret holding the PostgreSQL URL: the existing one, or the chart's. */}}
{{- define "streammetrics.pgSecret" -}}
{{- if .Values.postgres.url -}}
{{- printf "%s-postgres" (include "streammetrics.fullname" .) -}}
{{- else -}}
{{- required "postgres.existingSecret or postgres.url is required" .Values.postgres.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "streammetrics.pgSecretKey" -}}
{{- if .Values.postgres.url -}}url{{- else -}}{{ .Values.postgres.existingSecretKey }}{{- end -}}
{{- end -}}

{{- define "streammetrics.pageTokenSecret" -}}
{{- default (printf "%s-page-tokens" (include "streammetrics.fullname" .)) .Values.aggregation.pageTokenKeysSecret -}}
{{- end -}}

{{/* Refuses a configuration the services would refuse at start. */}}
{{- define "streammetrics.checkSecurity" -}}
{{- if and (not .Values.security.allowInsecure) (not .Values.security.tls.enabled) -}}
{{- fail "security.tls.enabled is false: the services refuse to listen beyond loopback without TLS; enable TLS or set security.allowInsecure (trusted networks only)" -}}
{{- end -}}
{{- if and (not .Values.security.allowInsecure) (not .Values.security.tokensSecret) (not .Values.security.tls.clientCASecret) -}}
{{- fail "no security.tokensSecret and no security.tls.clientCASecret: the services must know their callers; set one, or security.allowInsecure" -}}
{{- end -}}
{{- end -}}

{{/* STREAMMETRICS_* settings for TLS, tokens and insecure mode, with the file paths mounted below. */}}
{{- define "streammetrics.securityEnv" -}}
{{- if .Values.security.tls.enabled }}
- name: STREAMMETRICS_TLS_CERT_FILE
  value: /etc/streammetrics/tls/tls.crt
- name: STREAMMETRICS_TLS_KEY_FILE
  value: /etc/streammetrics/tls/tls.key
{{- if .Values.security.tls.clientCASecret }}
- name: STREAMMETRICS_TLS_CLIENT_CA_FILE
  value: /etc/streammetrics/client-ca/ca.crt
{{- end }}
{{- end }}
{{- include "streammetrics.probeClientEnv" . }}
{{- if .Values.security.tokensSecret }}
- name: STREAMMETRICS_AUTH_TOKENS_FILE
  value: /etc/streammetrics/tokens/tokens
{{- end }}
{{- if .Values.security.allowInsecure }}
- name: STREAMMETRICS_ALLOW_INSECURE
  value: "true"
{{- end }}
# /metrics listens on the pod's address for the scraper; the NetworkPolicy limits who reaches it.
- name: STREAMMETRICS_ALLOW_EXPOSED_METRICS
  value: "true"
{{- end -}}

{{- define "streammetrics.securityMounts" -}}
{{- if .Values.security.tls.enabled }}
- name: tls
  mountPath: /etc/streammetrics/tls
  readOnly: true
{{- if .Values.security.tls.clientCASecret }}
- name: client-ca
  mountPath: /etc/streammetrics/client-ca
  readOnly: true
{{- if .Values.security.tls.probeClientSecret }}
- name: probe-client
  mountPath: /etc/streammetrics/probe-client
  readOnly: true
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.security.tokensSecret }}
- name: tokens
  mountPath: /etc/streammetrics/tokens
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "streammetrics.securityVolumes" -}}
{{- if .Values.security.tls.enabled }}
- name: tls
  secret:
    secretName: {{ .Values.security.tls.secretName }}
{{- if .Values.security.tls.clientCASecret }}
- name: client-ca
  secret:
    secretName: {{ .Values.security.tls.clientCASecret }}
{{- if .Values.security.tls.probeClientSecret }}
- name: probe-client
  secret:
    secretName: {{ .Values.security.tls.probeClientSecret }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.security.tokensSecret }}
- name: tokens
  secret:
    secretName: {{ .Values.security.tokensSecret }}
{{- end }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{/*
Probes. Startup and liveness ask only that the gRPC port accepts connections: the health status
turns NOT_SERVING while Kafka or PostgreSQL is unreachable, and restarting pods for an outage of
a dependency would only lose in-flight work. Readiness asks grpc.health.v1, so a pod that cannot
do its work takes no traffic. Kubernetes' native gRPC probe speaks plaintext only: with TLS the
image's health checker (grpc_health_probe) runs instead, presenting
security.tls.probeClientSecret's certificate when client certificates are required.
(dict "root" $ "port" 50051)
*/}}
{{- define "streammetrics.probes" -}}
{{- $ready := dict "grpc" (dict "port" .port) -}}
{{- if .root.Values.security.tls.enabled -}}
{{- $ready = dict "exec" (dict "command" (list "/usr/local/bin/streammetrics-healthcheck" (toString .port))) -}}
{{- end }}
startupProbe:
  tcpSocket: {port: grpc}
  # The aggregation service runs a partition pass before it listens: up to 10 minutes.
  periodSeconds: 5
  failureThreshold: 120
livenessProbe:
  tcpSocket: {port: grpc}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 6
readinessProbe:
  {{- toYaml $ready | nindent 2 }}
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 2
{{- end -}}

{{/* The health checker's client certificate under mutual TLS (env, then mount, then volume). */}}
{{- define "streammetrics.probeClientEnv" -}}
{{- if and .Values.security.tls.enabled .Values.security.tls.clientCASecret .Values.security.tls.probeClientSecret }}
- name: STREAMMETRICS_HEALTHCHECK_CLIENT_CERT_FILE
  value: /etc/streammetrics/probe-client/tls.crt
- name: STREAMMETRICS_HEALTHCHECK_CLIENT_KEY_FILE
  value: /etc/streammetrics/probe-client/tls.key
{{- end }}
{{- end -}}
