#!/usr/bin/env bash
# Debian packages the stack and tests need; installs only what is missing.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v curl >/dev/null || need+=(curl)
# Prometheus scrapes the services in `make up`; its package also ships promtool, which
# `make test` uses to check the config and unit-test the fitness-function rules.
{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || need+=(prometheus)
# Headless Chromium drives the built-in dashboard's browser test (playwright-core only
# talks to a browser; it never downloads one).
command -v chromium >/dev/null || need+=(chromium)
for extra in ${FLEETGRID_EXTRA_DEBS:-}; do need+=("$extra"); done
((${#need[@]} == 0)) && exit 0
echo "[setup] installing Debian packages: ${need[*]}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
