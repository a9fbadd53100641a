{{/* Names: with release name "snugfit" they equal deploy/manifests/. */}}
{{- define "snugfit.fullname" -}}
{{- if contains "snugfit" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-snugfit" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "snugfit.serviceAccountName" -}}
{{- default (include "snugfit.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "snugfit.schedulerName" -}}
{{- if .Values.replaceDefault -}}default-scheduler{{- else -}}{{ .Values.schedulerName }}{{- end -}}
{{- end -}}

{{- define "snugfit.leaseName" -}}
{{- if .Values.replaceDefault -}}
kube-scheduler
{{- else -}}
{{- default .Values.schedulerName .Values.leaderElection.resourceName -}}
{{- end -}}
{{- end -}}

{{- define "snugfit.labels" -}}
app.kubernetes.io/name: snugfit
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "snugfit.selectorLabels" -}}
app.kubernetes.io/name: snugfit
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: scheduler
{{- end -}}

{{/* Fail early on values kube-scheduler or the extender would reject at start-up. */}}
{{- define "snugfit.validate" -}}
{{- if not (has .Values.extender.mode (list "scores" "narrow")) -}}
{{- fail (printf "extender.mode: must be scores or narrow, got %v" .Values.extender.mode) -}}
{{- end -}}
{{- if and (eq .Values.extender.mode "scores") (le (int64 .Values.extender.weight) 0) -}}
{{- fail "extender.weight: must be a positive integer in scores mode" -}}
{{- end -}}
{{- $p := int .Values.percentageOfNodesToScore -}}
{{- if or (lt $p 0) (gt $p 100) -}}
{{- fail "percentageOfNodesToScore: must be 0..100" -}}
{{- end -}}
{{- end -}}

{{/* The extender container; placed in initContainers (native sidecar) or containers. */}}
{{- define "snugfit.extenderContainer" -}}
- name: extender
  image: "{{ .Values.image.snugfit.repository }}:{{ .Values.image.snugfit.tag | default .Chart.AppVersion }}"
  imagePullPolicy: {{ .Values.image.snugfit.pullPolicy }}
  {{- if .Values.extender.nativeSidecar }}
  restartPolicy: Always
  {{- end }}
  args: ["serve", "--config", "/etc/snugfit/extender.yaml"]
  ports:
    - name: extender
      containerPort: {{ int .Values.extender.port }}  # bound to 127.0.0.1 only
      protocol: TCP
  env:
    - name: PYTHONDONTWRITEBYTECODE
      value: "1"
    - name: HOME
      value: /tmp
    - name: MPLCONFIGDIR
      value: /tmp/matplotlib
  {{- $readyz := printf "import urllib.request as u; u.urlopen('http://127.0.0.1:%d/readyz', timeout=3)" (int .Values.extender.port) }}
  {{- $healthz := printf "import urllib.request as u; u.urlopen('http://127.0.0.1:%d/healthz', timeout=3)" (int .Values.extender.port) }}
  # exec probes: the kubelet cannot reach a listener on the Pod's loopback with httpGet.
  startupProbe:
    exec:
      command: ["python3", "-c", {{ $readyz | quote }}]
    periodSeconds: 5
    timeoutSeconds: 5
    failureThreshold: 60
  readinessProbe:
    exec:
      command: ["python3", "-c", {{ $readyz | quote }}]
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 3
  livenessProbe:
    exec:
      command: ["python3", "-c", {{ $healthz | quote }}]
    periodSeconds: 20
    timeoutSeconds: 5
    failureThreshold: 3
  resources:
    {{- toYaml .Values.resources.extender | nindent 4 }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    capabilities:
      drop: ["ALL"]
    seccompProfile:
      type: RuntimeDefault
  volumeMounts:
    - name: config
      mountPath: /etc/snugfit
      readOnly: true
    - name: tmp
      mountPath: /tmp
{{- end -}}
