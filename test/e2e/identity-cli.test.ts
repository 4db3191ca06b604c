// Identity through the openstack CLI against nubes up on SQLite (test/e2e/suites/identity-cli.ts; identity-cli-postgres.test.ts runs it on PostgreSQL).
import { identityCliSuite } from './suites/identity-cli.ts';
import { SQLITE } from '../support/databases.ts';

identityCliSuite(SQLITE);
