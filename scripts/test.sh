#!/usr/bin/env bash
# The whole test suite, as the README's second command and CI run it: installs what is missing
# (Node, npm dependencies, the OpenStack clients, PostgreSQL, RabbitMQ), starts the services on
# loopback, then runs typecheck, lint, unit, integration and end-to-end tests on SQLite and on
# PostgreSQL.
set -euo pipefail
here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
. "$here/bootstrap.sh"
. "$here/services.sh"
nubes_bootstrap
nubes_test_services
cd "$NUBES_ROOT"
export NODE_OPTIONS="${NODE_OPTIONS:-} --disable-warning=ExperimentalWarning"

step() { printf '\n== %s\n' "$*" >&2; }
step "format";      npm run -s format:check
step "typecheck";   npm run -s typecheck
step "lint";        npm run -s lint
step "unit tests";  npm run -s test:unit
step "integration tests (SQLite)"; env -u NUBES_TEST_DATABASE_URL npm run -s test:integration
if [ -n "${NUBES_TEST_DATABASE_URL:-}" ]; then
  step "integration tests (PostgreSQL)"; npm run -s test:integration
fi
step "end-to-end tests (openstack CLI, openstacksdk)"; npm run -s test:e2e
step "all tests passed"
