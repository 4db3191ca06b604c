// Every server command through the openstack CLI on `nubes up` with three fake hosts
// (test/e2e/suites/server-cli.ts; server-cli-scale-out.test.ts runs it on the scaled-out layout).
import { FAKE_HOSTS_UP, serverCliSuite } from './suites/server-cli.ts';

serverCliSuite(FAKE_HOSTS_UP);
