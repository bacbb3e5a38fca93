{{/*
Names. fullname is the release name unless fullnameOverride is set: `helm install us-east`
runs pods us-east-0, us-east-1, ... whose names are also the Raft replica ids.
*/}}
{{- define "atoll.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "atoll.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- end }}

{{- define "atoll.peersService" -}}
{{- include "atoll.fullname" . }}-peers
{{- end }}

{{- define "atoll.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "atoll.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atoll.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "atoll.labels" -}}
helm.sh/chart: {{ include "atoll.chart" . }}
{{ include "atoll.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: site
atoll.io/site: {{ .Values.site.name | quote }}
{{- end }}

{{- define "atoll.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "atoll.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- include "atoll.fullname" . }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "atoll.identitySecret" -}}
{{- default (printf "%s-identity" (include "atoll.fullname" .)) .Values.identity.existingSecret }}
{{- end }}

{{- define "atoll.genesisSecret" -}}
{{- default (printf "%s-genesis" (include "atoll.fullname" .)) .Values.genesis.existingSecret }}
{{- end }}

{{/*
atoll.validate fails the render on values that cannot work.
*/}}
{{- define "atoll.validate" -}}
{{- $n := int .Values.replicas }}
{{- if not (or (eq $n 1) (eq $n 3)) }}
{{- fail (printf "replicas is %v: want 1 (one process) or 3 (Raft)" .Values.replicas) }}
{{- end }}
{{- if not .Values.site.name }}
{{- fail "site.name is required: the site's name in the charter" }}
{{- end }}
{{- if and (not .Values.identity.existingSecret) (not .Values.identity.pem) }}
{{- fail "identity.existingSecret (or identity.pem) is required: the site's key (atoll keys new)" }}
{{- end }}
{{- if and (not .Values.genesis.existingSecret) (not .Values.genesis.base64) }}
{{- fail "genesis.existingSecret (or genesis.base64) is required: the federation's genesis charter (atoll keys charter)" }}
{{- end }}
{{- if lt (int .Values.terminationGracePeriodSeconds) 30 }}
{{- fail "terminationGracePeriodSeconds: at least 30" }}
{{- end }}
{{- if not (has .Values.peers.external.type (list "LoadBalancer" "NodePort")) }}
{{- fail (printf "peers.external.type %s: want LoadBalancer or NodePort" .Values.peers.external.type) }}
{{- end }}
{{- with .Values.peers.external.advertise }}
{{- if ne (len .) $n }}
{{- fail (printf "peers.external.advertise has %d addresses: want one per replica (%d)" (len .) $n) }}
{{- end }}
{{- end }}
{{- $names := dict }}
{{- range .Values.clusters }}
{{- if or (not .name) (not .secret) }}
{{- fail "clusters: every cluster needs a name and a secret" }}
{{- end }}
{{- if hasKey $names .name }}
{{- fail (printf "clusters: %s twice" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- end }}
{{- if and .Values.kubeAPI.enabled (not .Values.kubeAPI.operatorKey.existingSecret) (not .Values.kubeAPI.operatorKey.pem) }}
{{- fail "kubeAPI.operatorKey.existingSecret (or kubeAPI.operatorKey.pem) is required: the charter operator the API's writes are signed as" }}
{{- end }}
{{- if and .Values.kubeAPI.enabled (hasKey .Values.site.extraConfig "kubeAPI") }}
{{- fail "kubeAPI is set in both kubeAPI.enabled and site.extraConfig: use kubeAPI" }}
{{- end }}
{{- if and .Values.rbac.manageLocalCluster (hasKey $names .Values.rbac.localCluster.name) }}
{{- fail (printf "rbac.localCluster.name %s is also in clusters" .Values.rbac.localCluster.name) }}
{{- end }}
{{- end }}

{{/*
atoll.siteConfig is the site.yaml every replica shares (site/config.go documents each
field). What differs between replicas comes from the command line: --replica-id (the pod's
name) and --advertise (the pod's IP) unless peers.external.advertise names each pod's
address here.
*/}}
{{- define "atoll.siteConfig" -}}
{{- $full := include "atoll.fullname" . }}
{{- $n := int .Values.replicas }}
{{- $cfg := dict
  "name" .Values.site.name
  "identity" (printf "/etc/atoll/identity/%s" .Values.identity.secretKey)
  "genesis" (printf "/etc/atoll/genesis/%s" .Values.genesis.secretKey)
  "listen" (printf "0.0.0.0:%d" (int .Values.ports.peer))
  "http" (printf "0.0.0.0:%d" (int .Values.ports.http))
  "dataDir" "/var/lib/atoll"
  "profile" .Values.site.profile }}
{{- with .Values.site.region }}{{ $_ := set $cfg "region" . }}{{ end }}
{{- with .Values.site.jurisdiction }}{{ $_ := set $cfg "jurisdiction" . }}{{ end }}
{{- with .Values.site.seeds }}{{ $_ := set $cfg "seeds" . }}{{ end }}
{{- if .Values.httpTLSSecret }}
{{- $_ := set $cfg "httpCert" "/etc/atoll/tls/tls.crt" }}
{{- $_ := set $cfg "httpKey" "/etc/atoll/tls/tls.key" }}
{{- end }}
{{- $adv := .Values.peers.external.advertise }}
{{- if and (eq $n 1) $adv }}
{{- $_ := set $cfg "advertise" (index $adv 0) }}
{{- else if and (eq $n 1) .Values.site.advertise }}
{{- $_ := set $cfg "advertise" .Values.site.advertise }}
{{- end }}
{{- if gt $n 1 }}
{{- $peers := list }}
{{- range $i := until $n }}
{{- $p := dict "id" (printf "%s-%d" $full $i) "address" (printf "%s-%d.%s.%s.svc.%s:%d" $full $i (include "atoll.peersService" $) $.Release.Namespace $.Values.peers.clusterDomain (int $.Values.ports.peer)) }}
{{- if $adv }}{{ $_ := set $p "advertise" (index $adv $i) }}{{ end }}
{{- $peers = append $peers $p }}
{{- end }}
{{- $_ := set $cfg "replica" (dict "peers" $peers) }}
{{- end }}
{{- $clusters := list }}
{{- range .Values.clusters }}
{{- $c := dict "name" .name "kubeconfig" (printf "/etc/atoll/clusters/%s/kubeconfig" .name) }}
{{- with .labels }}{{ $_ := set $c "labels" . }}{{ end }}
{{- with .taints }}{{ $_ := set $c "taints" . }}{{ end }}
{{- $clusters = append $clusters $c }}
{{- end }}
{{- if .Values.rbac.manageLocalCluster }}
{{- $l := .Values.rbac.localCluster }}
{{- $c := dict "name" $l.name "kubeconfig" (printf "/etc/atoll/clusters/%s/kubeconfig" $l.name) }}
{{- with $l.labels }}{{ $_ := set $c "labels" . }}{{ end }}
{{- with $l.taints }}{{ $_ := set $c "taints" . }}{{ end }}
{{- $clusters = append $clusters $c }}
{{- end }}
{{- with $clusters }}{{ $_ := set $cfg "clusters" . }}{{ end }}
{{- if .Values.kubeAPI.enabled }}
{{- $_ := set $cfg "kubeAPI" (dict "operatorKey" (printf "/etc/atoll/kubeapi/%s" .Values.kubeAPI.operatorKey.secretKey) "dir" (include "atoll.kubeAPIDir" .) "external" true) }}
{{- end }}
{{- toYaml (mergeOverwrite $cfg (deepCopy .Values.site.extraConfig)) }}
{{- end }}

{{/*
atoll.advertiseFlag: whether the pods pass --advertise $(POD_IP):<peer port>, i.e. no
address for other sites is set in site.yaml.
*/}}
{{- define "atoll.advertiseFlag" -}}
{{- if not (or .Values.peers.external.advertise (and (eq (int .Values.replicas) 1) .Values.site.advertise)) }}true{{ end }}
{{- end }}

{{/*
atoll.kubeAPIDir is where the site's Kubernetes API keeps its PKI and etcd's data: on the
data volume, which every container of the pod mounts at /var/lib/atoll.
*/}}
{{- define "atoll.kubeAPIDir" -}}
/var/lib/atoll/kubeapi
{{- end }}

{{/*
atoll.kubeAPIOperatorSecret is the Secret holding the key of the Kubernetes API's operator.
*/}}
{{- define "atoll.kubeAPIOperatorSecret" -}}
{{- default (printf "%s-kubeapi-operator" (include "atoll.fullname" .)) .Values.kubeAPI.operatorKey.existingSecret }}
{{- end }}
