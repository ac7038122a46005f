#!/usr/bin/env bash
# Starts the Argo CD lab built by build.sh in a private network namespace
# (unshare -n, loopback only: Argo CD's controller binds 0.0.0.0) and runs a
# command in it with the lab's environment, then stops everything:
#
#   hack/argocd-lab/start.sh run -- go-test-binary -test.v   # start, run, stop
#   hack/argocd-lab/start.sh up                              # keep it running
#   hack/argocd-lab/start.sh exec -- CMD                     # run in it
#   hack/argocd-lab/start.sh down
#
# The stack: etcd (Debian's 3.4) → kube-apiserver, kube-controller-manager,
# kube-scheduler (v1.34.2) → kwok v0.8.0 (one fake node; pods run "ready")
# → redis → Argo CD v3.2.2 (repo-server, application-controller, server with
# ARGOCD_FAKE_IN_CLUSTER=true), seeded with a bare GitOps repository read
# over file:// and Applications for it. The command gets:
#   ARGOCD_SERVER, ARGOCD_PLAINTEXT=true, ARGOCD_AUTH_TOKEN (role: applications, get),
#   ARGOCD_LAB_SYNC_TOKEN (applications, get + sync), ARGOCD_LAB_NORIGHTS_TOKEN (no role),
#   ARGOCD_LAB_PROJECT_TOKEN (project default's role wait: applications, get),
#   ARGOCD_LAB_GITOPS (the bare repository), KUBECONFIG, ARGOCD_LAB_BIN.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB=${SLIPWAY_ARGOCD_LAB:-$HOME/.cache/slipway-argocd-lab}
BIN=$LAB/bin
export LAB BIN

need() {
  for b in etcd redis-server git openssl curl "$BIN/kube-apiserver" "$BIN/kube-controller-manager" "$BIN/kube-scheduler" "$BIN/kubectl" "$BIN/kwok" "$BIN/kustomize" "$BIN/argocd"; do
    command -v "$b" >/dev/null 2>&1 || { echo "argocd lab: $b is missing; run hack/argocd-lab/build.sh (make argocd-lab)" >&2; exit 3; }
  done
}

log() { printf '%s argocd-lab: %s\n' "$(date +%T)" "$*" >&2; }

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
  local n=$1 what=$2; shift 2
  local end=$(( $(date +%s) + n ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then
      log "timed out waiting for $what"; tail -n 30 "$RUN"/logs/* >&2 || true; return 1
    fi
    sleep 0.5
  done
}

start_bg() { # start_bg NAME CMD... : a process of the lab, its pid recorded
  local name=$1; shift
  "$@" > "$RUN/logs/$name.log" 2>&1 &
  echo $! >> "$RUN/pids"
}

stop_stack() {
  [ -f "$RUN/pids" ] || return 0
  # Newest first; only the processes this script started, by pid.
  tac "$RUN/pids" | while read -r pid; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  tac "$RUN/pids" | while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done
  rm -f "$RUN/pids"
}

apps_ready() {
  local st
  st=$(kubectl -n argocd get applications -o jsonpath='{range .items[*]}{.metadata.name}={.status.sync.status}/{.status.health.status} {end}') || return 1
  case " $st " in *"=/"*) return 1;; esac
  case " $st " in *" web-staging=Synced/Healthy "*) ;; *) return 1;; esac
  case " $st " in *" api-staging=Synced/Healthy "*) ;; *) return 1;; esac
}

start_stack() {
  local t0; t0=$(date +%s)
  rm -rf "$RUN"; mkdir -p "$RUN/logs" "$RUN/pki" "$RUN/home" "$RUN/tmp"
  ip link set lo up
  export HOME=$RUN/home TMPDIR=$RUN/tmp PATH=$BIN:$PATH
  # etcd 3.4
  start_bg etcd etcd --name lab --data-dir "$RUN/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster lab=http://127.0.0.1:2380 --logger zap --log-level warn
  openssl genrsa -out "$RUN/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$RUN/pki/sa.key" -pubout -out "$RUN/pki/sa.pub" 2>/dev/null
  local admin; admin=$(openssl rand -hex 16)
  echo "$admin,admin,admin,system:masters" > "$RUN/pki/tokens.csv"
  cat > "$RUN/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: lab, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "$admin"}}]
contexts: [{name: lab, context: {cluster: lab, user: admin}}]
current-context: lab
KC
  export KUBECONFIG=$RUN/kubeconfig
  wait_for 30 etcd curl -sf http://127.0.0.1:2379/health
  # --watch-cache=false: kwok's client-go (v0.36) asks for watch-list
  # streams, which the watch cache cannot serve on etcd 3.4 (no
  # RequestWatchProgress); each of kwok's watches would end at once and kwok
  # see a new pod only at a re-list, 10-45 s later. etcd's own watch serves them.
  start_bg kube-apiserver kube-apiserver --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port=6443 --cert-dir="$RUN/pki" \
    --endpoint-reconciler-type=none --service-cluster-ip-range=10.96.0.0/16 \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$RUN/pki/sa.pub" \
    --service-account-signing-key-file="$RUN/pki/sa.key" --token-auth-file="$RUN/pki/tokens.csv" \
    --authorization-mode=AlwaysAllow --disable-admission-plugins=ServiceAccount \
    --enable-priority-and-fairness=false --profiling=false --v=0 --watch-cache=false
  wait_for 120 kube-apiserver kubectl get --raw /readyz
  # A node monitor grace period of an hour: kwok's lease renewals conflict
  # now and then (etcd 3.4), the node lifecycle controller would then mark
  # the node not-ready and every pod on it NotReady, and kwok never sets a
  # pod Ready again. (The controller stays: it lifts the not-ready taint the
  # apiserver puts on a new node.)
  start_bg kube-controller-manager kube-controller-manager --kubeconfig="$KUBECONFIG" --leader-elect=false \
    --service-account-private-key-file="$RUN/pki/sa.key" --use-service-account-credentials=false \
    --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
    --bind-address=127.0.0.1 --secure-port=10257 --profiling=false --concurrent-deployment-syncs=2 \
    --node-monitor-grace-period=1h --node-startup-grace-period=1h
  start_bg kube-scheduler kube-scheduler --kubeconfig="$KUBECONFIG" --leader-elect=false \
    --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
    --bind-address=127.0.0.1 --secure-port=10259 --profiling=false
  local cfg=()
  for f in "$LAB"/kwok-stage/*.yaml; do cfg+=(--config="$f"); done
  start_bg kwok kwok --kubeconfig="$KUBECONFIG" "${cfg[@]}" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=10.0.0.1 --cidr=10.0.0.0/24 --node-lease-duration-seconds=40 --server-address=127.0.0.1:10247
  wait_for 60 "namespace default" kubectl get namespace default
  kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-0, type: kwok}
spec: {}
YAML
  start_bg redis redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no
  # Argo CD
  kubectl create namespace argocd >/dev/null
  # create, not apply: the Application CRD is too big for the last-applied annotation
  kubectl create -f "$LAB/argocd-crds/" >/dev/null
  kubectl create -f "$HERE/rollout-crd.yaml" >/dev/null
  kubectl wait --for condition=established --timeout=60s crd/applications.argoproj.io crd/appprojects.argoproj.io crd/rollouts.argoproj.io >/dev/null
  local pass; pass=$(openssl rand -hex 12)
  local hash; hash=$(ARGOCD_BINARY_NAME=argocd argocd account bcrypt --password "$pass")
  kubectl -n argocd apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cm, labels: {app.kubernetes.io/part-of: argocd}}
data:
  admin.enabled: "true"
  accounts.slipway: apiKey
  accounts.syncer: apiKey
  accounts.nobody: apiKey
  timeout.reconciliation: 180s
---
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-rbac-cm, labels: {app.kubernetes.io/part-of: argocd}}
data:
  policy.default: ""
  policy.csv: |
    p, role:slipway-wait, applications, get, */*, allow
    p, role:slipway-sync, applications, get, */*, allow
    p, role:slipway-sync, applications, sync, */*, allow
    g, slipway, role:slipway-wait
    g, syncer, role:slipway-sync
---
apiVersion: v1
kind: Secret
metadata: {name: argocd-secret, labels: {app.kubernetes.io/part-of: argocd}}
stringData:
  server.secretkey: "$(openssl rand -hex 32)"
  admin.password: '$hash'
  admin.passwordMtime: "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
YAML
  export ARGOCD_FAKE_IN_CLUSTER=true ARGOCD_GPG_ENABLED=false ARGOCD_EXEC_TIMEOUT=60s
  start_bg argocd-repo-server env ARGOCD_BINARY_NAME=argocd-repo-server argocd \
    --port 8081 --metrics-port 8084 --redis 127.0.0.1:6379 --disable-tls --loglevel warn
  start_bg argocd-application-controller env ARGOCD_BINARY_NAME=argocd-application-controller argocd \
    --namespace argocd --repo-server 127.0.0.1:8081 --repo-server-plaintext --redis 127.0.0.1:6379 \
    --status-processors 4 --operation-processors 2 --app-resync 180 --loglevel warn
  start_bg argocd-server env ARGOCD_BINARY_NAME=argocd-server argocd \
    --namespace argocd --insecure --port 8080 --metrics-port 8083 --repo-server 127.0.0.1:8081 \
    --repo-server-plaintext --redis 127.0.0.1:6379 --disable-auth=false --loglevel warn
  wait_for 120 argocd-server curl -sf http://127.0.0.1:8080/healthz
  # The admin password and session go to curl on stdin and through a file
  # descriptor, not in its arguments (the process list). (They are
  # throwaway, and `argocd account bcrypt` above still takes the password
  # as an argument.)
  local session
  session=$(printf '{"username":"admin","password":"%s"}' "$pass" | curl -sf -X POST http://127.0.0.1:8080/api/v1/session \
    -H 'Content-Type: application/json' -d @- | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  admin_post() { # admin_post PATH JSON: POST as admin, print the answer's token
    curl -sf -X POST "http://127.0.0.1:8080$1" -H @<(printf 'Authorization: Bearer %s\n' "$session") \
      -H 'Content-Type: application/json' -d "$2" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
  }
  token() { admin_post "/api/v1/account/$1/token" '{"name":"lab"}'; }
  local t_wait t_sync t_none t_proj
  t_wait=$(token slipway); t_sync=$(token syncer); t_none=$(token nobody)
  # A project role, the other read-only kind of token: Applications of
  # project default only.
  kubectl -n argocd patch appproject default --type merge -p \
    '{"spec":{"roles":[{"name":"wait","policies":["p, proj:default:wait, applications, get, default/*, allow"]}]}}' >/dev/null
  t_proj=$(admin_post /api/v1/projects/default/roles/wait/token '{"project":"default","role":"wait"}')
  [ -n "$t_wait" ] && [ -n "$t_sync" ] && [ -n "$t_none" ] && [ -n "$t_proj" ] || { log "could not create the tokens"; tail -n 30 "$RUN/logs/argocd-server.log" >&2; return 1; }
  "$HERE/seed.sh" "$RUN/gitops.git" >/dev/null
  # Applications: the GitOps repository over file://.
  local apps=""
  # web-invalid retries a failed sync once (Argo CD's default for an
  # automated sync is 5 retries, 5s doubling: about 3 minutes to "Failed").
  # web-frozen's project has a deny sync window around the clock (a change
  # freeze): Argo CD holds its automated sync, OutOfSync.
  kubectl -n argocd apply -f - >/dev/null <<'YAML'
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: frozen, namespace: argocd}
spec:
  sourceRepos: ['*']
  destinations: [{server: '*', namespace: '*'}]
  clusterResourceWhitelist: [{group: '*', kind: '*'}]
  syncWindows: [{kind: deny, schedule: '* * * * *', duration: 24h, applications: ['*']}]
YAML
  for spec in "web staging auto" "web production manual" "web unschedulable auto" "web invalid auto-retry1" "api staging auto" "canary staging auto" "web frozen auto frozen"; do
    set -- $spec
    local policy=""
    [ "$3" = auto ] && policy="syncPolicy: {automated: {prune: true}, syncOptions: [CreateNamespace=true]}"
    [ "$3" = auto-retry1 ] && policy="syncPolicy: {automated: {prune: true}, syncOptions: [CreateNamespace=true], retry: {limit: 1}}"
    [ "$3" = manual ] && policy="syncPolicy: {syncOptions: [CreateNamespace=true]}"
    apps+="---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: $1-$2, namespace: argocd}
spec:
  project: ${4:-default}
  source: {repoURL: 'file://$RUN/gitops.git', path: $1/overlays/$2, targetRevision: main}
  destination: {server: https://kubernetes.default.svc, namespace: $1-$2}
  $policy
"
  done
  printf '%s' "$apps" | kubectl apply -f - >/dev/null
  cat > "$RUN/env" <<ENV
export ARGOCD_SERVER=127.0.0.1:8080
export ARGOCD_PLAINTEXT=true
export ARGOCD_AUTH_TOKEN='$t_wait'
export ARGOCD_LAB_SYNC_TOKEN='$t_sync'
export ARGOCD_LAB_NORIGHTS_TOKEN='$t_none'
export ARGOCD_LAB_PROJECT_TOKEN='$t_proj'
export ARGOCD_LAB_GITOPS='$RUN/gitops.git'
export ARGOCD_LAB_BIN='$BIN'
export ARGOCD_LAB_RUN='$RUN'
export KUBECONFIG='$KUBECONFIG'
export ARGOCD_LAB_STARTED_SECONDS=$(( $(date +%s) - t0 ))
ENV
  chmod 600 "$RUN/env"
  # Ready when every Application has been compared (a sync status) and the
  # two plain automated ones are synced and healthy.
  wait_for 180 "the Applications' first sync" apps_ready
  sed -i "s/^export ARGOCD_LAB_STARTED_SECONDS=.*/export ARGOCD_LAB_STARTED_SECONDS=$(( $(date +%s) - t0 ))/" "$RUN/env"
  log "stack up in $(( $(date +%s) - t0 ))s (Argo CD at http://127.0.0.1:8080, logs in $RUN/logs)"
}

RUN=${ARGOCD_LAB_RUN:-$LAB/run}
export RUN
cmd=${1:-}
shift || true
[ "${1:-}" = "--" ] && shift
case "$cmd" in
  run)
    need
    exec unshare -n "$0" _inner "$@"
    ;;
  _inner)
    trap stop_stack EXIT
    start_stack
    # shellcheck disable=SC1091
    . "$RUN/env"
    "$@"
    ;;
  up)
    need
    # The holder must not keep the caller's stdout open (a pipe would never end).
    unshare -n sleep infinity </dev/null >/dev/null 2>&1 &
    holder=$!
    sleep 0.5
    mkdir -p "$RUN"
    echo $holder > "$LAB/netns.pid"
    nsenter -t "$holder" -n "$0" _up
    ;;
  _up)
    start_stack
    ;;
  exec)
    holder=$(cat "$LAB/netns.pid")
    # shellcheck disable=SC2016
    exec nsenter -t "$holder" -n bash -c '. "$RUN/env"; exec "$@"' lab "$@"
    ;;
  down)
    stop_stack
    [ -f "$LAB/netns.pid" ] && kill "$(cat "$LAB/netns.pid")" 2>/dev/null || true
    rm -f "$LAB/netns.pid"
    ;;
  *)
    echo "usage: $0 run -- CMD... | up | exec -- CMD... | down" >&2
    exit 2
    ;;
esac
