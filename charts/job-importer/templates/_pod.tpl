{{/*
The pod template shared by the API, the workers and the scheduler: one place for the image,
settings, Secret references, security and writable scratch space (the root filesystem is read-only).

(dict "root" $ "component" "importer" "image" .Values.image.importer "args" (list "worker" "importer")
      "port" 9192 "portName" "metrics" "probes" "<yaml>" "resources" .Values.importer.resources
      "config" .Values.importer.config "graceSeconds" 75 "restartPolicy" "Never")
*/}}
{{- define "job-importer.podTemplate" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "job-importer.componentSelector" . | nindent 4 }}
    {{- with $root.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- include "job-importer.checksums" $root | nindent 4 }}
    {{- with $root.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "job-importer.serviceAccountName" $root }}
  automountServiceAccountToken: false
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  {{- with .graceSeconds }}
  terminationGracePeriodSeconds: {{ . }}
  {{- end }}
  {{- with .restartPolicy }}
  restartPolicy: {{ . }}
  {{- end }}
  containers:
    - name: {{ .component }}
      image: {{ include "job-importer.image" (dict "root" $root "image" .image) }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        {{- toYaml .args | nindent 8 }}
      {{- if .port }}
      ports:
        - name: {{ .portName }}
          containerPort: {{ .port }}
          protocol: TCP
      {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "job-importer.fullname" $root }}-config
        {{- with $root.Values.extraEnvFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      env:
        - name: REDIS_URL
          valueFrom:
            secretKeyRef:
              name: {{ include "job-importer.secretName" $root }}
              key: {{ $root.Values.secrets.keys.redisUrl }}
        - name: MONGODB_URL
          valueFrom:
            secretKeyRef:
              name: {{ include "job-importer.secretName" $root }}
              key: {{ $root.Values.secrets.keys.mongodbUrl }}
        {{- if and (eq .component "api") $root.Values.secrets.keys.apiToken }}
        - name: API_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ include "job-importer.secretName" $root }}
              key: {{ $root.Values.secrets.keys.apiToken }}
              optional: true
        {{- end }}
        {{- range $name, $value := .config }}
        - name: {{ $name }}
          value: {{ include "job-importer.envValue" $value | quote }}
        {{- end }}
        {{- with $root.Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .probes }}
      {{- . | nindent 6 }}
      {{- end }}
      resources:
        {{- toYaml .resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        # Scratch space on a read-only root: the workers' Prometheus multiprocess files live here
        # (`job-importer worker` makes a fresh directory under $TMPDIR on every start).
        - name: tmp
          mountPath: /tmp
        {{- if $root.Values.feeds }}
        - name: feeds
          mountPath: /etc/job-importer
          readOnly: true
        {{- end }}
        {{- with $root.Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        # The fetcher spools each download here, and its items until they are sent: about twice
        # FETCH_MAX_BYTES (256 MiB) per feed in flight, at worst.
        sizeLimit: {{ if eq .component "fetcher" }}2Gi{{ else }}256Mi{{ end }}
    {{- if $root.Values.feeds }}
    - name: feeds
      configMap:
        name: {{ include "job-importer.fullname" $root }}-feeds
    {{- end }}
    {{- with $root.Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $root.Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $root.Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range . }}
    {{- /* Without a labelSelector a constraint spreads this component's pods. */}}
    - {{- toYaml (merge (deepCopy .) (dict "labelSelector" (dict "matchLabels" (include "job-importer.componentSelector" $ | fromYaml)))) | nindent 6 }}
    {{- end }}
  {{- end }}
  {{- with $root.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
The probes of a worker pod: its metrics exporter accepts connections. Dramatiq's main process
forks the exporter but does not watch it (a dead worker process, it does: it stops and exits).
*/}}
{{- define "job-importer.workerProbes" -}}
{{- if .Values.metrics.enabled -}}
startupProbe:
  tcpSocket:
    port: metrics
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  tcpSocket:
    port: metrics
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
{{- end }}
{{- end }}
