{{/*
Expand the name of the chart.
*/}}
{{- define "chorus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name (63 characters at most: DNS names).
If the release name contains the chart name it is used as the full name.
*/}}
{{- define "chorus.fullname" -}}
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

{{/*
Chart name and version as used by the chart label.
*/}}
{{- define "chorus.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "chorus.labels" -}}
helm.sh/chart: {{ include "chorus.chart" . }}
{{ include "chorus.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chorus
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels (name and instance).
*/}}
{{- define "chorus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chorus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one component: (dict "ctx" $ "component" "web").
*/}}
{{- define "chorus.componentLabels" -}}
{{ include "chorus.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Selector labels of one component: (dict "ctx" $ "component" "web").
*/}}
{{- define "chorus.componentSelectorLabels" -}}
{{ include "chorus.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Name of the ServiceAccount to use.
*/}}
{{- define "chorus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "chorus.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository@digest when a digest is set, else repository:tag (tag defaults to appVersion).
*/}}
{{- define "chorus.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the sensitive settings (the chart's own or existingSecret).
*/}}
{{- define "chorus.secretName" -}}
{{- default (include "chorus.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
Whether the processes run in one pod (sqlite) or scale out: "true" when the database is SQLite.
*/}}
{{- define "chorus.isSqlite" -}}
{{- if eq .Values.database.type "sqlite" }}true{{ end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the preStop sleep, the server's own drain time and a margin of 5 s, so that the
kubelet never kills a pod that is still closing its WebSockets.
*/}}
{{- define "chorus.terminationGracePeriodSeconds" -}}
{{- add (int .Values.web.preStopSleepSeconds) (int .Values.config.shutdownGraceSeconds) 5 }}
{{- end }}

{{/*
Name of the claim holding the data dir (sqlite).
*/}}
{{- define "chorus.claimName" -}}
{{- default (printf "%s-data" (include "chorus.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/*
Environment sources shared by every Chorus container.
*/}}
{{- define "chorus.envFrom" -}}
- configMapRef:
    name: {{ include "chorus.fullname" . }}
- secretRef:
    name: {{ include "chorus.secretName" . }}
{{- end }}

{{/*
Volumes of a Chorus pod: /tmp always an emptyDir; the data dir a PVC (sqlite with persistence) or an emptyDir.
Argument: (dict "ctx" $ "persistent" true|false).
*/}}
{{- define "chorus.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .ctx.Values.tmpSizeLimit }}
- name: data
{{- if and .persistent .ctx.Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "chorus.claimName" .ctx }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end }}

{{/*
Volume mounts of a Chorus container.
*/}}
{{- define "chorus.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: {{ .Values.config.dataDir }}
{{- end }}

{{/*
Checksums of the configuration, so that pods roll when it changes.
*/}}
{{- define "chorus.configChecksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end }}

{{/*
Egress rules of every Chorus pod: everything, or DNS plus networkPolicy.extraEgress.
*/}}
{{- define "chorus.networkPolicyEgress" -}}
{{- if .Values.networkPolicy.allowExternalEgress }}
- {}
{{- else }}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- with .Values.networkPolicy.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end }}
