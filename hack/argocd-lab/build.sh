#!/usr/bin/env bash
# Builds the Argo CD lab's binaries from the Go module proxy into a cache
# directory (idempotent: a binary already built at the pinned version is kept).
#
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  k8s.io/kubernetes v1.34.2
#   kwok (+ its stage files)                                          sigs.k8s.io/kwok v0.8.0
#   argocd (server, repo-server, application-controller)              github.com/argoproj/argo-cd/v3 v3.2.2
#   kustomize (Argo CD's repo-server runs it)                         sigs.k8s.io/kustomize/kustomize/v5 v5.7.1
#   etcd 3.4, redis                                                   Debian's etcd-server, redis-server
#
# Exact versions only. Kubernetes and Argo CD carry replace directives, so
# `go install mod@v` refuses them: each is built from a throwaway module that
# pins the release and its replacements. About 22-25 min on 2 idle cores.
#
# SLIPWAY_ARGOCD_LAB (default $HOME/.cache/slipway-argocd-lab) is the cache.
# Arguments name the parts to build (debian, k8s, kwok, kustomize, argocd;
# default all),
# so that two can build at once on a machine with cores to spare.
set -euo pipefail
parts=${*:-debian k8s kwok kustomize argocd}
want() { case " $parts " in *" $1 "*) return 0;; esac; return 1; }

K8S_VERSION=v1.34.2
K8S_STAGING_VERSION=v0.34.2
KWOK_VERSION=v0.8.0
ARGOCD_VERSION=v3.2.2
KUSTOMIZE_VERSION=v5.7.1

LAB=${SLIPWAY_ARGOCD_LAB:-$HOME/.cache/slipway-argocd-lab}
BIN=$LAB/bin
SRC=$LAB/src
mkdir -p "$BIN" "$SRC"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOWORK=off
log() { printf '%s argocd-lab build: %s\n' "$(date +%T)" "$*"; }
stamp() { test -x "$BIN/$1" && test "$(cat "$BIN/.$1.version" 2>/dev/null)" = "$2"; }
mark() { echo "$2" > "$BIN/.$1.version"; }
start=$(date +%s)

# Debian packages: etcd 3.4 and redis.
if want debian && { ! command -v etcd >/dev/null || ! command -v redis-server >/dev/null; }; then
  if [ "$(id -u)" = 0 ]; then
    log "apt-get install etcd-server redis-server"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server redis-server >/dev/null
    # The packages start services on the host; the lab runs its own.
    (systemctl disable --now etcd redis-server 2>/dev/null || service etcd stop 2>/dev/null || true; service redis-server stop 2>/dev/null || true) >/dev/null 2>&1
  else
    echo "argocd-lab: etcd (etcd-server) and redis-server are needed; install them as root" >&2
    exit 1
  fi
fi

# Kubernetes: a throwaway module requiring k8s.io/kubernetes with its staging
# modules replaced by their published versions.
k8s_bins="kube-apiserver kube-controller-manager kube-scheduler kubectl"
need=0; want k8s && for b in $k8s_bins; do stamp "$b" "$K8S_VERSION" || need=1; done
if [ $need = 1 ]; then
  log "kubernetes $K8S_VERSION"
  d=$SRC/k8s; mkdir -p "$d"
  staging="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
    cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
    cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
    kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
    mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller"
  {
    echo "module slipway.local/argocd-lab/k8s"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	k8s.io/$m => k8s.io/$m $K8S_STAGING_VERSION"; done
    echo ")"
    echo
    echo "tool ("
    for b in $k8s_bins; do echo "	k8s.io/kubernetes/cmd/$b"; done
    echo ")"
  } > "$d/go.mod"
  (cd "$d" && go mod tidy)
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=34"
  for b in $k8s_bins; do
    stamp "$b" "$K8S_VERSION" && continue
    log "  go build $b"
    (cd "$d" && go build -trimpath -ldflags "$ldflags" -o "$BIN/$b" "k8s.io/kubernetes/cmd/$b")
    mark "$b" "$K8S_VERSION"
  done
fi

# kwok: no replace directives, so go install works; its stage files come from
# the same module in the module cache.
if want kwok && { ! stamp kwok "$KWOK_VERSION" || ! test -d "$LAB/kwok-stage"; }; then
  log "kwok $KWOK_VERSION"
  GOBIN=$BIN go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  moddir=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION
  rm -rf "$LAB/kwok-stage"; mkdir -p "$LAB/kwok-stage"
  # The stage files only: each directory also holds a kustomization.yaml.
  for f in "$moddir"/kustomize/stage/node/fast/*.yaml "$moddir"/kustomize/stage/pod/fast/*.yaml; do
    case $(basename "$f") in kustomization.yaml) continue;; esac
    cp "$f" "$LAB/kwok-stage/"
  done
  chmod -R u+w "$LAB/kwok-stage"
  mark kwok "$KWOK_VERSION"   # last: a failed copy builds again
fi

# kustomize: the repo-server renders kustomizations with the binary.
if want kustomize && ! stamp kustomize "$KUSTOMIZE_VERSION"; then
  log "kustomize $KUSTOMIZE_VERSION"
  GOBIN=$BIN go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  mv "$BIN/v5" "$BIN/kustomize" 2>/dev/null || true
  mark kustomize "$KUSTOMIZE_VERSION"
fi

# Argo CD: a throwaway module requiring the release with the replace block of
# its own go.mod (which `go install` would refuse).
if want argocd && { ! stamp argocd "$ARGOCD_VERSION" || ! test -d "$LAB/argocd-crds"; }; then
  log "argo-cd $ARGOCD_VERSION"
  d=$SRC/argocd; mkdir -p "$d"
  (cd "$d" && go mod download -json "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" >/dev/null)
  moddir=$(go env GOMODCACHE)/github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION
  {
    echo "module slipway.local/argocd-lab/argocd"
    echo
    echo "go 1.25.0"
    echo
    echo "require github.com/argoproj/argo-cd/v3 $ARGOCD_VERSION"
    echo
    sed -n '/^replace (/,/^)/p' "$moddir/go.mod"
    echo
    echo "tool github.com/argoproj/argo-cd/v3/cmd"
  } > "$d/go.mod"
  (cd "$d" && go mod tidy)
  log "  go build argocd"
  (cd "$d" && go build -trimpath -ldflags "-s -w -X github.com/argoproj/argo-cd/v3/common.version=${ARGOCD_VERSION#v}" -o "$BIN/argocd" github.com/argoproj/argo-cd/v3/cmd)
  mark argocd "$ARGOCD_VERSION"
  rm -rf "$LAB/argocd-crds"; mkdir -p "$LAB/argocd-crds"
  cp "$moddir"/manifests/crds/application-crd.yaml "$moddir"/manifests/crds/appproject-crd.yaml "$LAB/argocd-crds/"
  chmod -R u+w "$LAB/argocd-crds"
fi

log "done in $(( $(date +%s) - start ))s: $(ls "$BIN" | tr '\n' ' ')"
