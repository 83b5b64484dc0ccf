{{/* Names and labels. */}}

{{- define "job-importer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's base name, cut so that "<fullname>-<component>" stays within 63 characters. */}}
{{- define "job-importer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "job-importer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "job-importer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "job-importer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "job-importer.labels" -}}
helm.sh/chart: {{ include "job-importer.chart" . }}
{{ include "job-importer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: job-importer
{{- end }}

{{/* Labels of one component: (dict "root" $ "component" "importer"). */}}
{{- define "job-importer.componentLabels" -}}
{{ include "job-importer.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "job-importer.componentSelector" -}}
{{ include "job-importer.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "job-importer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "job-importer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Images. */}}

{{/* (dict "root" $ "image" .Values.image.importer) */}}
{{- define "job-importer.image" -}}
{{- $repository := .image.repository }}
{{- with .root.Values.image.registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s@%s" $repository .image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/* An in-chart database's image, behind image.registry when set: (dict "root" $ "image" .Values.redis.image) */}}
{{- define "job-importer.databaseImage" -}}
{{- $repository := .image.repository }}
{{- with .root.Values.image.registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository }}
{{- end }}
{{- printf "%s:%s" $repository .image.tag }}
{{- end }}

{{/* Where Redis and MongoDB are. */}}

{{/* "true" when the in-chart Redis runs: enabled, and no external URL or existing Secret given. */}}
{{- define "job-importer.redis.inChart" -}}
{{- if and .Values.redis.enabled (not .Values.secrets.redisUrl) (not .Values.secrets.existingSecret) }}true{{ end }}
{{- end }}

{{- define "job-importer.mongodb.inChart" -}}
{{- if and .Values.mongodb.enabled (not .Values.secrets.mongodbUrl) (not .Values.secrets.existingSecret) }}true{{ end }}
{{- end }}

{{- define "job-importer.secretName" -}}
{{- default (include "job-importer.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "job-importer.redis.host" -}}
{{- printf "%s-redis.%s.svc.%s" (include "job-importer.fullname" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{- define "job-importer.mongodb.host" -}}
{{- printf "%s-mongodb.%s.svc.%s" (include "job-importer.fullname" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/*
A password of the chart's Secret: the value given, else the one already stored (so upgrades keep
it), else a new random one. (dict "root" $ "value" .Values.redis.password "key" "redis-password")
*/}}
{{- define "job-importer.password" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace (include "job-importer.fullname" .root) }}
{{- if .value }}
{{- .value }}
{{- else if and $existing (index ($existing.data | default dict) .key) }}
{{- index $existing.data .key | b64dec }}
{{- else }}
{{- randAlphaNum 32 }}
{{- end }}
{{- end }}

{{/*
KEDA's view of Redis as JSON {address, databaseIndex, enableTLS}: keda.redis.address when given,
else parsed from the Redis URL (in-chart or secrets.redisUrl). KEDA cannot read an existing Secret's
URL, so keda.redis.address is required then.
*/}}
{{- define "job-importer.keda.redis" -}}
{{- $keda := .Values.keda.redis }}
{{- if $keda.address }}
{{- dict "address" $keda.address "databaseIndex" (int $keda.databaseIndex) "enableTLS" $keda.enableTLS | toJson }}
{{- else if include "job-importer.redis.inChart" . }}
{{- dict "address" (printf "%s:6379" (include "job-importer.redis.host" .)) "databaseIndex" 0 "enableTLS" false | toJson }}
{{- else if .Values.secrets.redisUrl }}
{{- $url := urlParse .Values.secrets.redisUrl }}
{{- $host := $url.host }}
{{- if not (regexMatch ":[0-9]+$" $host) }}{{ $host = printf "%s:6379" $host }}{{ end }}
{{- $db := trimPrefix "/" $url.path | default "0" }}
{{- dict "address" $host "databaseIndex" (int $db) "enableTLS" (eq $url.scheme "rediss") | toJson }}
{{- else }}
{{- fail "keda.redis.address (host:port) is required with secrets.existingSecret: KEDA reads Redis directly and cannot parse the URL in your Secret" }}
{{- end }}
{{- end }}

{{/* "true" when KEDA authenticates to Redis with the password in the Secret. */}}
{{- define "job-importer.keda.auth" -}}
{{- if .Values.secrets.existingSecret }}
{{- if .Values.secrets.keys.redisPassword }}true{{ end }}
{{- else if include "job-importer.redis.inChart" . }}true
{{- else if include "job-importer.redis.urlPassword" . }}true
{{- end }}
{{- end }}

{{/* The password in secrets.redisUrl ("redis://[user]:password@host..."), if any. */}}
{{- define "job-importer.redis.urlPassword" -}}
{{- $userinfo := (urlParse .Values.secrets.redisUrl).userinfo }}
{{- if contains ":" $userinfo }}
{{- regexReplaceAll "^[^:]*:" $userinfo "" }}
{{- end }}
{{- end }}

{{/* Configuration. */}}

{{/*
One environment variable value as a string. Helm reads YAML numbers as float64, which would print
52428800 as "5.24288e+07"; whole numbers are printed as integers, lists joined with commas.
*/}}
{{- define "job-importer.envValue" -}}
{{- if kindIs "slice" . }}
{{- join "," . }}
{{- else if and (kindIs "float64" .) (eq . (floor .)) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* The grace period of worker pods: the workers' own shutdown timeout plus a margin. */}}
{{- define "job-importer.workerGraceSeconds" -}}
{{- $ms := int64 .Values.config.WORKER_SHUTDOWN_TIMEOUT_MS }}
{{- add (div (add $ms 999) 1000) .Values.workerShutdownMarginSeconds }}
{{- end }}

{{/* The configured cron schedule, which the scheduler CronJob follows too. */}}
{{- define "job-importer.scheduleCron" -}}
{{- .Values.scheduler.schedule | default .Values.config.SCHEDULE_CRON }}
{{- end }}

{{/*
Checksums that roll the pods when their configuration or Secret changes. The Secret's is taken
over the values it is made from, not over the rendered Secret: generated passwords are random on
every render until stored, and must not roll the pods.
*/}}
{{- define "job-importer.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ list .Values.secrets .Values.redis.password .Values.mongodb.rootPassword (include "job-importer.redis.inChart" .) (include "job-importer.mongodb.inChart" .) | toJson | sha256sum }}
{{- end }}
{{- end }}

{{/* The in-chart databases run as the official images' own user (uid/gid 999). */}}
{{- define "job-importer.databasePodSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 999
  runAsGroup: 999
  fsGroup: 999
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{/* The "data" volume claim of an in-chart database. */}}
{{- define "job-importer.volumeClaim" -}}
- metadata:
    name: data
  spec:
    accessModes: ["ReadWriteOnce"]
    {{- with .storageClass }}
    storageClassName: {{ . | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ .size }}
{{- end }}
