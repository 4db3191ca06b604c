#!/usr/bin/env bash
# The whole test suite, as the README's second command and CI run it: installs what is missing
# (Node, npm dependencies, the OpenStack clients, PostgreSQL, RabbitMQ), starts the services on
# loopback, then runs format, typecheck and lint, the integration tests on SQLite and on
# PostgreSQL side by side, and then side by side the unit tests and the end-to-end tests (those
# that boot guests, and the others).
# Each concurrent stage's output is kept and shown whole when it ends; every stage prints its time,
# and a failing stage fails the script by name.
set -euo pipefail
here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
. "$here/bootstrap.sh"
. "$here/services.sh"
started=$SECONDS
nubes_bootstrap
nubes_test_services
cd "$NUBES_ROOT"
export NODE_OPTIONS="${NODE_OPTIONS:-} --disable-warning=ExperimentalWarning"

elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
summary=()
failed=()
note() {
  # note NAME RC SECONDS: one line of the closing table, and the failure list.
  local verdict=passed
  [ "$2" -eq 0 ] || { verdict="FAILED (exit $2)"; failed+=("$1"); }
  summary+=("$(printf '  %-34s %8s  %s' "$1" "$(elapsed "$3")" "$verdict")")
}
step() {
  # A stage in the foreground, its output as it comes; a failure stops the script here.
  local name=$1 t=$SECONDS rc=0
  shift
  printf '\n== %s\n' "$name" >&2
  "$@" || rc=$?
  note "$name" "$rc" $((SECONDS - t))
  if [ "$rc" -ne 0 ]; then
    printf '== %s FAILED (exit %s)\n' "$name" "$rc" >&2
    exit "$rc"
  fi
  printf '== %s: %s\n' "$name" "$(elapsed $((SECONDS - t)))" >&2
}

note "install and start services" 0 $((SECONDS - started))
step "format" npm run -s format:check
step "typecheck" npm run -s typecheck
step "lint" npm run -s lint

# The test stages share the 2 cores of a CI machine: guests boot under TCG while the API tests wait
# on the openstack CLI, so side by side they end far sooner than one after another. Each gets its
# own PostgreSQL databases and RabbitMQ vhosts; ports are picked free. The integration tests go
# first, on SQLite and PostgreSQL at once and nothing else: some of their in-process waits (a
# heartbeat, a claim given back) are short, and under the whole load a busy machine outlasts them.
# Then the unit tests and both groups of end-to-end tests run side by side.
logdir="$(mktemp -d)"
# On an early exit (Ctrl-C), the stages still running stop too.
trap 'kill "${!job[@]}" 2>/dev/null || true; rm -rf "$logdir"' EXIT
declare -A job=() # pid -> stage number
titles=() began=()
background() {
  local n=${#titles[@]}
  titles[n]=$1
  began[n]=$SECONDS
  shift
  "$@" >"$logdir/$n.log" 2>&1 &
  job[$!]=$n
  printf '== %s: started\n' "${titles[n]}" >&2
}
finish_one() {
  # Waits for whichever stage ends next and shows its output whole.
  local rc=0 pid n took verdict=passed
  wait -n -p pid "${!job[@]}" || rc=$?
  n=${job[$pid]}
  unset "job[$pid]"
  took=$((SECONDS - began[n]))
  printf '\n== %s (%s)\n' "${titles[n]}" "$(elapsed "$took")" >&2
  cat "$logdir/$n.log"
  [ "$rc" -eq 0 ] || verdict="FAILED (exit $rc)"
  printf '== %s: %s, %s\n' "${titles[n]}" "$verdict" "$(elapsed "$took")" >&2
  note "${titles[n]}" "$rc" "$took"
}
running() {
  # Whether a stage whose title starts with $1 still runs.
  local n
  for n in "${job[@]}"; do [[ ${titles[n]} == "$1"* ]] && return 0; done
  return 1
}
background "integration tests (SQLite)" env -u NUBES_TEST_DATABASE_URL npm run -s test:integration
if [ -n "${NUBES_TEST_DATABASE_URL:-}" ]; then
  background "integration tests (PostgreSQL)" npm run -s test:integration
fi
while running "integration"; do finish_one; done
background "end-to-end tests (guests)" npm run -s test:e2e:guests
background "end-to-end tests (API, CLI, SDK)" npm run -s test:e2e:api
background "unit tests" npm run -s test:unit
while [ ${#job[@]} -gt 0 ]; do finish_one; done

printf '\n== stage times (all: %s)\n' "$(elapsed $((SECONDS - started)))" >&2
printf '%s\n' "${summary[@]}" >&2
if [ ${#failed[@]} -gt 0 ]; then
  printf '\n== failed: %s\n' "$(IFS=,; echo "${failed[*]}")" >&2
  exit 1
fi
printf '\n== all tests passed\n' >&2
