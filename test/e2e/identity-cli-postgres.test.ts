// Identity through the openstack CLI against nubes up on PostgreSQL and RabbitMQ (test/e2e/suites/identity-cli.ts; identity-cli.test.ts runs it on SQLite).
import { identityCliSuite } from './suites/identity-cli.ts';
import { postgresVariant } from '../support/databases.ts';

identityCliSuite(await postgresVariant());
