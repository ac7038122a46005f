#!/usr/bin/env bash
# Seeds the lab's bare GitOps repository (argument: its path) with apps in
# Slipway's default layout, APP/overlays/ENV/kustomization.yaml:
#   web: staging (automated), production (manual sync), frozen (automated,
#        in a project whose deny sync window never ends), unschedulable (a
#        nodeSelector no node has: never ready, Degraded after 15s), invalid (replicas -1: the
#        API server refuses it, so Argo CD's sync fails)
#   api: staging (automated)
#   canary: staging, an Argo Rollout (the lab runs no Rollouts controller:
#        a test writes the Rollout's status as the controller would)
set -euo pipefail
repo=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
zero=sha256:0000000000000000000000000000000000000000000000000000000000000000
deployment() { # deployment NAME
  cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
spec:
  replicas: 1
  progressDeadlineSeconds: 120
  selector:
    matchLabels: {app: $1}
  template:
    metadata:
      labels: {app: $1}
    spec:
      containers:
        - name: $1
          image: $1
          ports: [{containerPort: 8080}]
YAML
}
service() {
  cat <<YAML
apiVersion: v1
kind: Service
metadata:
  name: $1
spec:
  selector: {app: $1}
  ports: [{port: 80, targetPort: 8080}]
YAML
}
overlay() { # overlay APP ENV [EXTRA]
  mkdir -p "$work/$1/overlays/$2"
  cat > "$work/$1/overlays/$2/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: $1-$2
resources:
  - ../../base
${3:-}
images:
  - name: $1
    newName: registry.lab/$1
    digest: $zero
YAML
}
for app in web api; do
  mkdir -p "$work/$app/base"
  deployment $app > "$work/$app/base/deployment.yaml"
  service $app > "$work/$app/base/service.yaml"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n' > "$work/$app/base/kustomization.yaml"
done
overlay web staging
overlay web production
overlay web unschedulable 'patches:
  - target: {kind: Deployment, name: web}
    patch: |
      - op: replace
        path: /spec/progressDeadlineSeconds
        value: 15
      - op: add
        path: /spec/template/spec/nodeSelector
        value: {lab.slipway/never: "true"}'
overlay web invalid 'patches:
  - target: {kind: Deployment, name: web}
    patch: |
      - op: replace
        path: /spec/replicas
        value: -1'
overlay web frozen
overlay api staging
mkdir -p "$work/canary/base"
cat > "$work/canary/base/rollout.yaml" <<'YAML'
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: canary
spec:
  replicas: 1
  selector:
    matchLabels: {app: canary}
  strategy:
    canary:
      steps: [{setWeight: 20}, {pause: {}}, {setWeight: 100}]
  template:
    metadata:
      labels: {app: canary}
    spec:
      containers:
        - name: canary
          image: canary
YAML
printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - rollout.yaml\n' > "$work/canary/base/kustomization.yaml"
overlay canary staging
git init -q --bare -b main "$repo"
git -C "$work" init -q -b main
git -C "$work" add -A
git -C "$work" -c user.name=lab -c user.email=lab@lab commit -qm "seed the lab"
git -C "$work" push -q "$repo" main
git --git-dir "$repo" rev-parse main
