{{/* Chart name, overridable with nameOverride. */}}
{{- define "chatops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or the release name when it already contains the chart name. */}}
{{- define "chatops.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "chatops.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "chatops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chatops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "chatops.labels" -}}
helm.sh/chart: {{ include "chatops.chart" . }}
{{ include "chatops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: chatops
{{- end }}

{{- define "chatops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "chatops.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the pods read: existingSecret, or the one this chart creates. */}}
{{- define "chatops.secretName" -}}
{{- default (include "chatops.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* CHATOPS_STORE_URL: store.url, or SQLite in the /data volume. */}}
{{- define "chatops.storeUrl" -}}
{{- default "sqlite:////data/chatops.db" .Values.store.url }}
{{- end }}

{{/* CHATOPS_PUBLIC_URL: publicUrl, else the first ingress host (https when it has TLS), else empty. */}}
{{- define "chatops.publicUrl" -}}
{{- if .Values.publicUrl }}
{{- .Values.publicUrl | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- $scheme := ternary "https" "http" (gt (len .Values.ingress.tls) 0) }}
{{- printf "%s://%s" $scheme (first .Values.ingress.hosts).host }}
{{- end }}
{{- end }}

{{/* "true" when the store is Redis (shared by every replica). */}}
{{- define "chatops.storeIsRedis" -}}
{{- if or (hasPrefix "redis://" .Values.store.url) (hasPrefix "rediss://" .Values.store.url) }}true{{- end }}
{{- end }}

{{/*
Secret keys: values key -> environment variable (and Secret key). The Deployment
lists these before CHATOPS_STORE_URL, so store.url can reference $(REDIS_PASSWORD).
*/}}
{{- define "chatops.secretEnv" -}}
slackBotToken: SLACK_BOT_TOKEN
slackSigningSecret: SLACK_SIGNING_SECRET
slackAppToken: SLACK_APP_TOKEN
gitlabToken: GITLAB_TOKEN
githubToken: GITHUB_TOKEN
webhookToken: CHATOPS_WEBHOOK_TOKEN
driftSecret: CHATOPS_DRIFT_SECRET
grafanaToken: GRAFANA_TOKEN
mlflowTrackingToken: MLFLOW_TRACKING_TOKEN
mlflowWebhookSecret: CHATOPS_MLFLOW_WEBHOOK_SECRET
redisPassword: REDIS_PASSWORD
{{- end }}

{{/*
Rules the schema cannot express. Each one fails the render with the fix in the
message, so a bad install stops at `helm install`, not in a crash-looping pod.
*/}}
{{- define "chatops.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "chatops.storeIsRedis" .)) }}
{{- fail (printf "replicaCount is %d but store.url is %q: more than one replica needs a shared Redis store, set store.url to redis://HOST:PORT/DB (or rediss://). SQLite is one file in one pod; replicas on separate files would each post the same Slack message." (int .Values.replicaCount) (include "chatops.storeUrl" .)) }}
{{- end }}
{{- if and .Values.persistence.enabled (include "chatops.storeIsRedis" .) }}
{{- fail "persistence.enabled is for the SQLite store; with a Redis store.url the pods keep no state, set persistence.enabled=false" }}
{{- end }}
{{- if not .Values.existingSecret }}
{{- if not .Values.secrets.webhookToken }}
{{- fail "secrets.webhookToken is required (or an existingSecret with CHATOPS_WEBHOOK_TOKEN): the pod listens on every address and refuses to accept unauthenticated webhooks there. Make one with: openssl rand -hex 32" }}
{{- end }}
{{- if and .Values.grafana.url (not .Values.secrets.grafanaToken) (not (contains "@" .Values.grafana.url)) }}
{{- fail "grafana.url is set without secrets.grafanaToken: the Silence button on Grafana alerts needs GRAFANA_TOKEN (a Grafana service account token allowed to create silences), and the pod refuses to start without it. Set secrets.grafanaToken, or an existingSecret with GRAFANA_TOKEN" }}
{{- end }}
{{- if and .Values.slack.socketMode (not .Values.secrets.slackAppToken) }}
{{- fail "slack.socketMode=true needs secrets.slackAppToken (an xapp- token) or an existingSecret with SLACK_APP_TOKEN" }}
{{- end }}
{{- if and .Values.secrets.slackBotToken (not .Values.slack.socketMode) (not .Values.secrets.slackSigningSecret) }}
{{- fail "secrets.slackBotToken is set without secrets.slackSigningSecret: Slack requests to /slack/events cannot be verified. Set the signing secret, or slack.socketMode=true" }}
{{- end }}
{{- end }}
{{- end }}
