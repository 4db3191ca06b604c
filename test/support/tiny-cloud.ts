// A `nubes up` with the qemu driver and nubes-tiny registered, for a describe whose tests drive real
// guests through the openstack CLI: a project member (alice), a bigger flavor, a key and the user
// data of tiny-guest.ts; and the waits on what a guest prints on its console. Guests outlive the
// cloud by design, so its `after` deletes every server first.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startNubes, removeDir, type NubesProcess } from './nubes-process.ts';
import { osOk } from './openstack-cli.ts';
import { bootCountOf, BOOT_WAIT_MS, PUBLIC_KEY, sleep, USER_DATA } from './tiny-guest.ts';

export interface TinyCloud {
  readonly nubes: NubesProcess;
  /** The openstack CLI's environment for the admin, and for alice (member of project vmtest). */
  readonly admin: Record<string, string>;
  readonly alice: Record<string, string>;
  /** The file of USER_DATA, for --user-data. */
  readonly userData: string;
  consoleLog(server: string): Promise<string>;
  show(server: string): Promise<any>;
  /** Waits until the console shows `re` in what the guest printed after `from` characters. */
  guestSays(server: string, re: RegExp, from?: number): Promise<string>;
  /** Waits for a status; fails at once on ERROR. */
  status(server: string, want: string): Promise<any>;
  /** Runs an action, waits for `want`, then for the next boot: the boot counter one higher (or `count`). */
  rebooted(server: string, action: string[], want?: string, count?: number): Promise<string>;
  /** As alice: `server create` of nubes-tiny (m1.nano, her key, the user data) with --wait; its JSON. */
  createGuest(name: string): Promise<any>;
}

/** Registers the cloud's before and after hooks in the calling describe. */
export function tinyCloud(): TinyCloud {
  let nubes: NubesProcess | undefined;
  const admin: Record<string, string> = {};
  const alice: Record<string, string> = {};
  let userData = '';

  before(async () => {
    nubes = await startNubes({ env: { NUBES_TINY_IMAGE: 'on' }, readyWhen: /is up/ });
    Object.assign(admin, {
      OS_CLIENT_CONFIG_FILE: join(nubes.dataDir, 'clouds.yaml'),
      OS_CLOUD: 'nubes',
    });
    await osOk(['project', 'create', 'vmtest'], admin);
    await osOk(['user', 'create', '--password', 'alice-pw', 'alice'], admin);
    await osOk(['role', 'add', '--user', 'alice', '--project', 'vmtest', 'member'], admin);
    const base = parse(readFileSync(admin.OS_CLIENT_CONFIG_FILE!, 'utf8')).clouds.nubes;
    writeFileSync(
      join(nubes.dataDir, 'alice.yaml'),
      stringify({
        clouds: {
          alice: {
            ...base,
            auth: { ...base.auth, username: 'alice', password: 'alice-pw', project_name: 'vmtest' },
          },
        },
      }),
    );
    Object.assign(alice, {
      OS_CLIENT_CONFIG_FILE: join(nubes.dataDir, 'alice.yaml'),
      OS_CLOUD: 'alice',
    });
    await osOk(
      ['flavor', 'create', '--vcpus', '2', '--ram', '192', '--disk', '2', 'e2e.big'],
      admin,
    );
    writeFileSync(join(nubes.dataDir, 'key.pub'), `${PUBLIC_KEY}\n`);
    await osOk(
      ['keypair', 'create', '--public-key', join(nubes.dataDir, 'key.pub'), 'e2e-key'],
      alice,
    );
    userData = join(nubes.dataDir, 'user-data.sh');
    writeFileSync(userData, USER_DATA);
  });
  after(async () => {
    if (!nubes) return;
    for (const s of await osOk(['server', 'list', '--all-projects', '-f', 'json'], admin).catch(
      () => [],
    ))
      await osOk(['server', 'delete', '--wait', s.ID], admin).catch(() => undefined);
    await nubes.stop();
    removeDir(nubes.dataDir);
  });

  const consoleLog = async (server: string): Promise<string> =>
    osOk(['console', 'log', 'show', server], alice);
  const show = async (server: string) => osOk(['server', 'show', server, '-f', 'json'], alice);
  async function guestSays(server: string, re: RegExp, from = 0): Promise<string> {
    let out = '';
    for (const until = Date.now() + BOOT_WAIT_MS; Date.now() < until; await sleep(1000)) {
      out = await consoleLog(server);
      if (re.test(out.slice(from))) return out;
    }
    assert.fail(
      `the console of ${server} never showed ${re} after offset ${from}; it ends with:\n${out.slice(-3000)}`,
    );
  }
  async function status(server: string, want: string): Promise<any> {
    for (const until = Date.now() + BOOT_WAIT_MS; Date.now() < until; await sleep(500)) {
      const s = await show(server);
      if (s.status === want) return s;
      if (s.status === 'ERROR') assert.fail(`${server} went to ERROR: ${JSON.stringify(s.fault)}`);
    }
    const s = await show(server);
    assert.fail(
      `${server} never became ${want}: it is ${s.status}/${s['OS-EXT-STS:task_state']}; its lines in nubes.log:\n${logOf(s.id)}`,
    );
  }
  /** The cloud's log lines about one instance (the last 40), for a failure's message. */
  function logOf(id: string): string {
    try {
      const lines = readFileSync(join(nubes!.dataDir, 'nubes.log'), 'utf8').split('\n');
      return lines
        .filter((l) => l.includes(id))
        .slice(-40)
        .map((l) => l.slice(0, 600))
        .join('\n');
    } catch (e) {
      return `(no log: ${(e as Error).message})`;
    }
  }
  async function rebooted(
    server: string,
    action: string[],
    want = 'ACTIVE',
    count?: number,
  ): Promise<string> {
    const before = await consoleLog(server);
    await osOk(action, alice);
    await status(server, want);
    return guestSays(
      server,
      new RegExp(
        `^nubes-tiny: boot-count ${count ?? bootCountOf(before) + 1}\\b[\\s\\S]*^nubes-tiny: ready`,
        'm',
      ),
      before.length,
    );
  }
  const createGuest = (name: string) =>
    osOk(
      [
        'server',
        'create',
        '--image',
        'nubes-tiny',
        '--flavor',
        'm1.nano',
        '--key-name',
        'e2e-key',
        '--user-data',
        userData,
        '--wait',
        name,
        '-f',
        'json',
      ],
      alice,
    );
  return {
    get nubes() {
      assert.ok(nubes, 'the cloud is up (in a test, after before)');
      return nubes;
    },
    admin,
    alice,
    get userData() {
      return userData;
    },
    consoleLog,
    show,
    guestSays,
    status,
    rebooted,
    createGuest,
  };
}
