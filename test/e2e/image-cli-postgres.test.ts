// Images through the openstack CLI against nubes up on PostgreSQL and RabbitMQ (test/e2e/suites/image-cli.ts; image-cli.test.ts runs it on SQLite).
import { imageCliSuite } from './suites/image-cli.ts';
import { postgresVariant } from '../support/databases.ts';

imageCliSuite(await postgresVariant());
