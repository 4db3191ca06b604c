// Images through the openstack CLI against nubes up on SQLite (test/e2e/suites/image-cli.ts; image-cli-postgres.test.ts runs it on PostgreSQL).
import { imageCliSuite } from './suites/image-cli.ts';
import { SQLITE } from '../support/databases.ts';

imageCliSuite(SQLITE);
