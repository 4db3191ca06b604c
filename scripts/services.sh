# Sourced by scripts/test.sh and the benchmarks: installs and starts, on loopback only, the
# services the test suite drives (PostgreSQL, RabbitMQ) and the OpenStack clients it uses.
# Exports NUBES_TEST_DATABASE_URL and NUBES_TEST_AMQP_URL when they are up.

nubes_start_postgres() {
  local ver
  ver="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)"
  [ -n "$ver" ] || { nubes_log "PostgreSQL is not installed"; return 1; }
  if ! pg_lsclusters -h 2>/dev/null | grep -q .; then pg_createcluster "$ver" main >/dev/null; fi
  local cluster
  cluster="$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')"
  if ! pg_lsclusters -h | awk 'NR==1 {print $4}' | grep -q online; then
    # shellcheck disable=SC2086
    pg_ctlcluster --skip-systemctl-redirect $cluster start >&2 || return 1
  fi
  local port
  port="$(pg_lsclusters -h | awk 'NR==1 {print $3}')"
  su postgres -c "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname='nubes'\"" | grep -q 1 \
    || su postgres -c "psql -p $port -qc \"CREATE ROLE nubes LOGIN SUPERUSER PASSWORD 'nubes'\"" >&2
  export NUBES_TEST_DATABASE_URL="postgres://nubes:nubes@127.0.0.1:$port/postgres"
}

nubes_start_rabbitmq() {
  command -v rabbitmq-server >/dev/null || { nubes_log "RabbitMQ is not installed"; return 1; }
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    # Loopback only: tests never reach another address.
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT=25672 ERL_EPMD_ADDRESS=127.0.0.1
    rabbitmq-server -detached >&2
    local i
    for i in $(seq 1 60); do rabbitmqctl -q await_startup >/dev/null 2>&1 && break; sleep 1; done
  fi
  rabbitmqctl -q status >/dev/null 2>&1 || { nubes_log "RabbitMQ did not start"; return 1; }
  export NUBES_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/"
}

nubes_test_services() {
  # chromium: the console test opens noVNC as a browser does (tests only; hosts need no browser).
  # xorriso: tests read config drives back and build their own for the tiny image's boot tests.
  # dropbear-bin: dbclient, the ssh client the tiny image's boot tests log in with; a busybox on
  # the host relays the guests' metadata requests (QEMU guestfwd) and runs json-flat.awk's tests.
  nubes_apt_install python3-openstackclient python3-openstacksdk postgresql rabbitmq-server chromium xorriso dropbear-bin || return 1
  [ -x /bin/busybox ] || nubes_apt_install busybox || return 1
  # CI sets NUBES_REQUIRE_SERVICES=1: there a suite skipped for want of a service is a failure.
  if [ "${NUBES_REQUIRE_SERVICES:-0}" = 1 ]; then
    nubes_start_postgres || { nubes_log "PostgreSQL did not start; the suite needs it"; return 1; }
    nubes_start_rabbitmq || { nubes_log "RabbitMQ did not start; the suite needs it"; return 1; }
  else
    nubes_start_postgres || nubes_log "PostgreSQL did not start: its suites will be skipped"
    nubes_start_rabbitmq || nubes_log "RabbitMQ did not start: its suites will be skipped"
  fi
}
