// Issue 3, end to end: a real `nubes up` driven by Debian's `openstack` CLI exactly as a user
// would, on SQLite and (when NUBES_TEST_DATABASE_URL is set) on PostgreSQL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startNubes, removeDir, type NubesProcess } from '../../support/nubes-process.ts';
import { haveOpenstackCli, os, osOk } from '../../support/openstack-cli.ts';
import type { DatabaseVariant } from '../../support/databases.ts';

/** The suite on one database variant; each variant is a file of its own so that they run at once. */
export function identityCliSuite(variant: DatabaseVariant): void {
  describe(
    `openstack CLI against nubes up (${variant.name})`,
    {
      skip:
        variant.skip ||
        (haveOpenstackCli()
          ? false
          : 'python3-openstackclient is not installed (scripts/test.sh installs it)'),
    },
    () => {
      let nubes: NubesProcess;
      let env: Record<string, string>;
      let extraClouds: string;
      const as = (cloud: string) => ({ OS_CLIENT_CONFIG_FILE: extraClouds, OS_CLOUD: cloud });

      before(async () => {
        nubes = await startNubes({ args: variant.args });
        env = { OS_CLIENT_CONFIG_FILE: join(nubes.dataDir, 'clouds.yaml'), OS_CLOUD: 'nubes' };
        extraClouds = join(nubes.dataDir, 'test-clouds.yaml');
      });
      after(async () => {
        if (nubes) {
          await nubes.stop();
          removeDir(nubes.dataDir);
        }
        await variant.cleanup();
      });

      it('nubes up wrote clouds.yaml and openrc for the admin, owner-only, and printed what to do next', async () => {
        const clouds = parse(readFileSync(env.OS_CLIENT_CONFIG_FILE!, 'utf8'));
        const c = clouds.clouds.nubes;
        assert.equal(c.auth.auth_url, `${nubes.url}/identity/v3`);
        assert.equal(c.auth.username, 'admin');
        assert.equal(c.identity_api_version, 3);
        assert.equal(c.region_name, 'RegionOne');
        assert.equal(statSync(env.OS_CLIENT_CONFIG_FILE!).mode & 0o777, 0o600);
        assert.match(
          readFileSync(join(nubes.dataDir, 'openrc'), 'utf8'),
          /export OS_AUTH_URL=.*\/identity\/v3/,
        );
        // Standard output reaches a pipe asynchronously: it may trail the "is up" line a little.
        for (let n = 0; n < 200 && !/openstack token issue/.test(nubes.output()); n++)
          await new Promise((r) => setTimeout(r, 50));
        assert.match(nubes.output(), /openstack token issue/);
        assert.match(nubes.output(), new RegExp(nubes.dataDir));
      });

      it('token issue, catalog list, endpoint list, service list', async () => {
        const t = await osOk(['token', 'issue', '-f', 'json'], env);
        assert.ok(t.id && t.project_id && t.user_id && t.expires);
        const cat = await osOk(['catalog', 'list', '-f', 'json'], env);
        assert.ok(cat.some((s: any) => s.Type === 'identity' && s.Name === 'keystone'));
        const eps = await osOk(['endpoint', 'list', '-f', 'json'], env);
        assert.deepEqual(
          eps
            .filter((e: any) => e['Service Type'] === 'identity')
            .map((e: any) => e.Interface)
            .sort(),
          ['admin', 'internal', 'public'],
        );
        const svcs = await osOk(['service', 'list', '-f', 'json'], env);
        assert.ok(svcs.some((s: any) => s.Type === 'identity'));

        // The log is JSON lines; each request's line carries the id the client got back.
        const lines = readFileSync(join(nubes.dataDir, 'nubes.log'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const requests = lines.filter((l) => l.msg === 'request');
        assert.ok(
          requests.some(
            (l) => l.method === 'POST' && l.url === '/identity/v3/auth/tokens' && l.status === 201,
          ),
        );
        for (const l of requests) assert.match(l.request_id, /^req-[0-9a-f-]{36}$/);
        const r = await fetch(`${nubes.url}/identity/v3`);
        const id = r.headers.get('x-openstack-request-id');
        const logged = () =>
          readFileSync(join(nubes.dataDir, 'nubes.log'), 'utf8').includes(`"request_id":"${id}"`);
        for (let i = 0; i < 50 && !logged(); i++) await new Promise((ok) => setTimeout(ok, 40)); // written asynchronously
        assert.ok(logged(), 'the response id is in the log');
      });

      it('token revoke makes the token unusable', async () => {
        const t = await osOk(['token', 'issue', '-f', 'json'], env);
        await osOk(['token', 'revoke', t.id], env);
        const r = await fetch(`${nubes.url}/identity/v3/users`, {
          headers: { 'x-auth-token': t.id },
        });
        assert.equal(r.status, 401);
      });

      it('domains, projects, users, groups and roles through their lifecycle', async () => {
        await osOk(['domain', 'create', '--description', 'the ACME domain', 'acme'], env);
        assert.ok(
          (await osOk(['domain', 'list', '-f', 'json'], env)).some((d: any) => d.Name === 'acme'),
        );
        await osOk(
          ['project', 'create', '--domain', 'acme', '--description', 'web shop', 'shop'],
          env,
        );
        await osOk(['project', 'create', 'alpha'], env);
        await osOk(['project', 'create', 'beta'], env);
        await osOk(['project', 'create', 'doomed'], env);
        const shop = await osOk(['project', 'show', '--domain', 'acme', 'shop', '-f', 'json'], env);
        assert.equal(shop.description, 'web shop');
        await osOk(
          ['project', 'set', '--description', 'web shop, v2', '--domain', 'acme', 'shop'],
          env,
        );
        assert.equal(
          (await osOk(['project', 'show', '--domain', 'acme', 'shop', '-f', 'json'], env))
            .description,
          'web shop, v2',
        );
        const names = (await osOk(['project', 'list', '-f', 'json'], env)).map((p: any) => p.Name);
        for (const n of ['admin', 'alpha', 'beta', 'doomed', 'shop'])
          assert.ok(names.includes(n), n);
        await osOk(['project', 'delete', 'doomed'], env);
        assert.ok(
          !(await osOk(['project', 'list', '-f', 'json'], env)).some(
            (p: any) => p.Name === 'doomed',
          ),
        );

        await osOk(
          [
            'user',
            'create',
            '--password',
            'alice-pw-1',
            '--project',
            'alpha',
            '--email',
            'alice@example.com',
            'alice',
          ],
          env,
        );
        await osOk(['user', 'create', '--password', 'reed-pw', 'reed'], env);
        await osOk(['user', 'create', '--password', 'gone-pw', 'gone'], env);
        const alice = await osOk(['user', 'show', 'alice', '-f', 'json'], env);
        assert.equal(alice.email, 'alice@example.com');
        await osOk(['user', 'set', '--description', 'developer', 'alice'], env);
        assert.equal(
          (await osOk(['user', 'show', 'alice', '-f', 'json'], env)).description,
          'developer',
        );
        assert.ok(
          (await osOk(['user', 'list', '-f', 'json'], env)).some((u: any) => u.Name === 'reed'),
        );
        await osOk(['user', 'delete', 'gone'], env);
        assert.notEqual((await os(['user', 'show', 'gone'], env)).code, 0);

        await osOk(['group', 'create', 'devs'], env);
        await osOk(['group', 'add', 'user', 'devs', 'alice'], env);
        assert.match(
          await osOk(['group', 'contains', 'user', 'devs', 'alice'], env),
          /alice in group devs/,
        );

        await osOk(['role', 'create', 'auditor'], env);
        const roles = (await osOk(['role', 'list', '-f', 'json'], env)).map((r: any) => r.Name);
        for (const n of ['admin', 'member', 'reader', 'auditor']) assert.ok(roles.includes(n), n);
      });

      it('role add for users and groups on projects and domains; role assignment list --names', async () => {
        await osOk(['role', 'add', '--user', 'alice', '--project', 'alpha', 'member'], env);
        await osOk(['role', 'add', '--group', 'devs', '--project', 'beta', 'member'], env);
        await osOk(['role', 'add', '--user', 'reed', '--project', 'alpha', 'reader'], env);
        await osOk(['role', 'add', '--user', 'alice', '--domain', 'acme', 'reader'], env);
        await osOk(['role', 'add', '--group', 'devs', '--domain', 'acme', 'auditor'], env);
        const rows = await osOk(['role', 'assignment', 'list', '--names', '-f', 'json'], env);
        const seen = rows.map(
          (r: any) => `${r.Role}|${r.User || r.Group}|${r.Project || r.Domain}`,
        );
        for (const want of [
          'member|alice@Default|alpha@Default',
          'member|devs@Default|beta@Default',
          'reader|reed@Default|alpha@Default',
          'reader|alice@Default|acme',
          'auditor|devs@Default|acme',
          'admin|admin@Default|admin@Default',
        ]) {
          assert.ok(seen.includes(want), `${want} in ${JSON.stringify(seen)}`);
        }
        const eff = await osOk(
          ['role', 'assignment', 'list', '--names', '--effective', '--user', 'alice', '-f', 'json'],
          env,
        );
        assert.ok(
          eff.some((r: any) => r.Role === 'member' && r.Project === 'beta@Default'),
          'alice is a member of beta through devs',
        );
      });

      it('other users: a token scoped to another project, the password set, the reader who cannot change anything', async () => {
        const clouds = parse(readFileSync(env.OS_CLIENT_CONFIG_FILE!, 'utf8'));
        const base = clouds.clouds.nubes;
        const cloud = (user: string, password: string, project: string) => ({
          ...base,
          auth: { ...base.auth, username: user, password, project_name: project },
        });
        writeFileSync(
          extraClouds,
          stringify({
            clouds: {
              alice: cloud('alice', 'alice-pw-1', 'alpha'),
              alice2: cloud('alice', 'alice-pw-2', 'alpha'),
              reed: cloud('reed', 'reed-pw', 'alpha'),
            },
          }),
        );
        const a = await osOk(['token', 'issue', '-f', 'json'], as('alice'));
        const alpha = await osOk(['project', 'show', 'alpha', '-f', 'json'], env);
        const beta = await osOk(['project', 'show', 'beta', '-f', 'json'], env);
        assert.equal(a.project_id, alpha.id);
        // --os-project-id rescopes; this client release ignores --os-project-name when the cloud names a project.
        const b = await osOk(
          ['--os-project-id', beta.id, 'token', 'issue', '-f', 'json'],
          as('alice'),
        );
        assert.equal(b.project_id, beta.id, 'a token scoped to another project');

        await osOk(
          [
            'user',
            'password',
            'set',
            '--original-password',
            'alice-pw-1',
            '--password',
            'alice-pw-2',
          ],
          as('alice'),
        );
        assert.notEqual(
          (await os(['token', 'issue'], as('alice'))).code,
          0,
          'the old password no longer works',
        );
        await osOk(['token', 'issue'], as('alice2'));

        // The reader of alpha: reads alpha, changes nothing, sees nothing of beta.
        assert.equal(
          (await osOk(['project', 'show', 'alpha', '-f', 'json'], as('reed'))).id,
          alpha.id,
        );
        for (const args of [
          ['project', 'set', '--description', 'x', 'alpha'],
          ['project', 'create', 'mine'],
          ['user', 'create', 'x'],
          ['role', 'add', '--user', 'reed', '--project', 'alpha', 'admin'],
          ['project', 'delete', 'beta'],
          ['user', 'set', '--email', 'x@y', 'alice'],
        ]) {
          const r = await os(args, as('reed'));
          assert.notEqual(r.code, 0, `reader ran: ${args.join(' ')}`);
          assert.match(r.stderr, /403|not authorized|Forbidden|No project/i, args.join(' '));
        }
        const show = await os(['project', 'show', beta.id], as('reed'));
        assert.notEqual(show.code, 0);
        assert.doesNotMatch(show.stdout, /beta/);
        // GET /projects is refused to a project reader; the CLI then falls back to the user's own projects.
        const list = await osOk(['project', 'list', '-f', 'json'], as('reed'));
        assert.deepEqual(
          list.map((p: any) => p.Name),
          ['alpha'],
        );
        const mine = await osOk(['project', 'list', '--my-projects', '-f', 'json'], as('reed'));
        assert.deepEqual(
          mine.map((p: any) => p.Name),
          ['alpha'],
        );
      });

      it('application credential create, then authenticate with it', async () => {
        const ac = await osOk(
          ['application', 'credential', 'create', '--role', 'member', 'ci-bot', '-f', 'json'],
          as('alice2'),
        );
        assert.ok(ac.id && ac.secret);
        const appEnv = {
          OS_AUTH_TYPE: 'v3applicationcredential',
          OS_AUTH_URL: `${nubes.url}/identity/v3`,
          OS_IDENTITY_API_VERSION: '3',
          OS_APPLICATION_CREDENTIAL_ID: ac.id,
          OS_APPLICATION_CREDENTIAL_SECRET: ac.secret,
          OS_REGION_NAME: 'RegionOne',
        };
        const t = await osOk(['token', 'issue', '-f', 'json'], appEnv);
        const alpha = await osOk(['project', 'show', 'alpha', '-f', 'json'], env);
        assert.equal(t.project_id, alpha.id);
        assert.ok(
          (await osOk(['application', 'credential', 'list', '-f', 'json'], as('alice2'))).some(
            (x: any) => x.Name === 'ci-bot',
          ),
        );
        await osOk(['application', 'credential', 'delete', 'ci-bot'], as('alice2'));
        assert.notEqual((await os(['token', 'issue'], appEnv)).code, 0);
      });

      it('Ctrl-C stops cleanly and a restart keeps all data', async () => {
        assert.equal(await nubes.stop(), 0);
        assert.match(nubes.output(), /stopped/);
        nubes = await startNubes({ args: variant.args, dataDir: nubes.dataDir });
        env = { OS_CLIENT_CONFIG_FILE: join(nubes.dataDir, 'clouds.yaml'), OS_CLOUD: 'nubes' };
        assert.match(nubes.output(), /existing data/);
        assert.equal(
          (await osOk(['user', 'show', 'alice', '-f', 'json'], env)).email,
          'alice@example.com',
        );
        assert.ok(
          (await osOk(['project', 'list', '-f', 'json'], env)).some((p: any) => p.Name === 'alpha'),
        );
      });
    },
  );
}
