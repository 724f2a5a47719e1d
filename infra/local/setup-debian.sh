#!/usr/bin/env bash
# Debian packages the stack and tests need; installs only what is missing.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v curl >/dev/null || need+=(curl)
# The Kafka SASL_SSL listener's local CA and certificate.
command -v openssl >/dev/null || need+=(openssl)
# The project's own PostgreSQL cluster (initdb, pg_ctl, psql) for the registry and Debezium.
[[ -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ]] || need+=(postgresql-15)
command -v psql >/dev/null || need+=(postgresql-client-15)
# setfacl lets the postgres OS user traverse a closed parent of the data dir (a checkout in /root).
command -v setfacl >/dev/null || need+=(acl)
# Alertmanager (alert routing) and htpasswd for the bcrypt hash of its basic-auth password.
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v htpasswd >/dev/null || need+=(apache2-utils)
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
# Debian starts a package's service on install: Alertmanager's would listen on all
# interfaces on :9093/:9094, Kafka's controller and SASL ports here, before `make up` runs.
# The stack starts its own instances on loopback, so services stay down during the install
# (policy-rc.d answering 101 is Debian's switch for that) and Alertmanager's is disabled.
policy=/usr/sbin/policy-rc.d
own_policy=no
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null && $sudo chmod 755 $policy && own_policy=yes
fi
status=0
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || status=$?
[[ $own_policy == yes ]] && $sudo rm -f $policy
if [[ " ${need[*]} " == *" prometheus-alertmanager "* && -d /run/systemd/system ]]; then
  $sudo systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
fi
exit $status
