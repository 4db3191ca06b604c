// Every server command through the openstack CLI on two api replicas and three agents, on
// PostgreSQL and RabbitMQ (test/e2e/suites/server-cli.ts; server-cli.test.ts runs it on nubes up).
import { SCALED_OUT, serverCliSuite } from './suites/server-cli.ts';

serverCliSuite(SCALED_OUT);
