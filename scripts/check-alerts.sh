#!/usr/bin/env bash
# Checks the shipped Prometheus alert rules: `promtool check rules` (syntax, PromQL) and
# `promtool test rules` (the unit tests of every alert). promtool comes with Debian's
# `prometheus` package; when it is missing and apt-get is available (as root, or through sudo),
# the package is installed first. Exits non-zero when a check fails or promtool cannot be had.
set -euo pipefail

cd "$(dirname "$0")/.."
rules=prometheus/alerts.yaml
tests=prometheus/alerts.test.yaml

install_promtool() {
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "check-alerts: promtool is missing and installing it needs root (or passwordless sudo)" >&2
      return 1
    fi
  fi
  echo "check-alerts: promtool not found; installing Debian's prometheus package"
  # The package's service is not wanted here: only its promtool binary.
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends prometheus; then
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update &&
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends prometheus
  fi
}

if ! command -v promtool >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    install_promtool || true
  fi
  if ! command -v promtool >/dev/null 2>&1; then
    echo "check-alerts: promtool is not installed and could not be installed;" \
      "install Debian's 'prometheus' package or put promtool on PATH" >&2
    exit 1
  fi
fi

promtool check rules "$rules"
promtool test rules "$tests"
