// The Debian packages the guest is made of (the kernel, busybox-static, dropbear and the libraries
// it needs that the host lacks), fetched with `apt-get download` into the build cache and unpacked
// there with `dpkg-deb -x`: nothing is installed on the host, whose kernel and busybox stay its own.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../exec.ts';
import { MissingHostInput } from './host-inputs.ts';

/** Debian's metapackage naming the current kernel; the guest gets the package it depends on. */
export const KERNEL_META = 'linux-image-amd64';
/** The guest's userland; their libraries the host does not have are fetched as well. */
export const USERLAND = ['busybox-static', 'dropbear-bin'] as const;
/** Where apt-get install keeps the packages it fetched: a same-named file there is reused. */
export const APT_ARCHIVES = '/var/cache/apt/archives';

const APT = { timeoutMs: 30_000 };
/** depmod lives in /sbin, which a user's PATH may lack. */
const SBIN_PATH = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
};

/** One host command of the plan. */
export interface HostStep {
  readonly argv: readonly string[];
  readonly cwd?: string;
}

/** A package and the file name `apt-get download` gives it (name_version_arch.deb, ':' as %3a). */
export interface GuestPackage {
  readonly name: string;
  readonly file: string;
}

/**
 * Each package's dependencies in `apt-cache depends` output (a block per package, its name at the
 * start of a line): the first alternative of each Depends/PreDepends, no virtual ones.
 */
export function parseDepends(output: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  let current: string[] | undefined;
  let alternative = false;
  for (const line of output.split('\n')) {
    if (/^\S/.test(line)) {
      current = [];
      deps.set(line.trim(), current);
      alternative = false;
      continue;
    }
    const m = /^\s+(\|)?(?:Pre)?Depends:\s+(\S+)/.exec(line);
    if (!m || !current) continue;
    const name = m[2]!.replace(/:any$/, '');
    if (!alternative && !name.startsWith('<') && !current.includes(name)) current.push(name);
    // "|Depends: a" means "a, or the next one": only the first of a group is taken.
    alternative = m[1] === '|';
  }
  return deps;
}

/** The files in `apt-get download --print-uris` output: "'URL' FILE SIZE HASH" per package. */
export function parsePrintUris(output: string): string[] {
  return output
    .split('\n')
    .map((l) => /^'[^']+'\s+(\S+\.deb)\s/.exec(l)?.[1])
    .filter((f): f is string => f !== undefined);
}

/**
 * The host commands that bring `packages` into `debsDir` and unpack them into `rootDir`: one
 * `apt-get download` of those not there yet (into `downloadDir`, moved into `debsDir` after), one
 * `dpkg-deb -x` per package, and the kernel's `depmod` there. Never an `apt-get install`: nothing
 * reaches the host's own system.
 */
export function planGuestPackages(o: {
  readonly packages: readonly GuestPackage[];
  readonly have: ReadonlySet<string>;
  readonly debsDir: string;
  readonly downloadDir: string;
  readonly rootDir: string;
  /** As root, apt would download as its _apt user, which cannot write a root-owned cache. */
  readonly asRoot: boolean;
}): HostStep[] {
  const missing = o.packages.filter((p) => !o.have.has(p.file)).map((p) => p.name);
  const sandbox = o.asRoot ? ['-o', 'APT::Sandbox::User=root'] : [];
  return [
    ...(missing.length > 0
      ? [{ argv: ['apt-get', ...sandbox, 'download', ...missing], cwd: o.downloadDir }]
      : []),
    ...o.packages.map((p) => ({ argv: ['dpkg-deb', '-x', join(o.debsDir, p.file), o.rootDir] })),
    // The kernel package's postinst would make modules.dep; here depmod does, below rootDir only.
    ...o.packages
      .filter((p) => p.name.startsWith('linux-image-'))
      .map((p) => ({ argv: ['depmod', '-b', o.rootDir, p.name.slice('linux-image-'.length)] })),
  ];
}

async function installedOnHost(name: string): Promise<boolean> {
  try {
    const { stdout } = await exec(['dpkg-query', '-W', '-f', '${db:Status-Abbrev}', name], APT);
    return stdout.startsWith('ii');
  } catch {
    return false;
  }
}

async function depends(names: readonly string[]): Promise<Map<string, string[]>> {
  const { stdout } = await exec(
    [
      'apt-cache',
      'depends',
      '--no-recommends',
      '--no-suggests',
      '--no-conflicts',
      '--no-breaks',
      '--no-replaces',
      '--no-enhances',
      ...names,
    ],
    APT,
  );
  return parseDepends(stdout);
}

/**
 * The packages to fetch, by name: the kernel the metapackage names, the userland, and the
 * libraries they need that the host has not installed (with theirs, and so on). Asks apt only.
 */
export async function resolveGuestPackages(): Promise<string[]> {
  let first;
  try {
    first = await depends([KERNEL_META, ...USERLAND]);
  } catch (e) {
    throw new MissingHostInput(
      `apt cannot resolve the guest's packages (${(e as Error).message}); run apt-get update`,
      ['apt'],
    );
  }
  const kernel = first.get(KERNEL_META)?.find((d) => d.startsWith('linux-image-'));
  if (!kernel)
    throw new MissingHostInput(
      `apt knows no kernel package behind ${KERNEL_META}; run apt-get update`,
      ['apt'],
    );
  const wanted = new Set<string>([kernel, ...USERLAND]);
  let level = USERLAND.flatMap((u) => first.get(u) ?? []);
  // One apt-cache call per level of libraries the host lacks (usually one: dropbear's crypto).
  while (level.length > 0) {
    const fetch: string[] = [];
    for (const dep of new Set(level)) {
      if (wanted.has(dep) || (await installedOnHost(dep))) continue;
      wanted.add(dep);
      fetch.push(dep);
    }
    level = fetch.length > 0 ? [...(await depends(fetch)).values()].flat() : [];
  }
  return [...wanted];
}

/** The file name apt gives each package's candidate version. */
async function fileNames(names: readonly string[]): Promise<GuestPackage[]> {
  const { stdout } = await exec(['apt-get', 'download', '--print-uris', ...names], APT);
  const files = parsePrintUris(stdout);
  return names.map((name) => {
    const file = files.find((f) => f.startsWith(`${name}_`));
    if (!file)
      throw new MissingHostInput(`apt has no package ${name} to download; run apt-get update`, [
        name,
      ]);
    return { name, file };
  });
}

export interface UnpackedPackages {
  /** The directory the packages are unpacked in, as they would be installed under /. */
  readonly root: string;
  readonly packages: readonly GuestPackage[];
}

/**
 * Fetches (unless cached) and unpacks the guest's packages under `packagesDir`: debs/ keeps the
 * .deb files, root-<hash>/ the unpacked set (made aside and renamed into place whole). Removes
 * the files and roots of older sets.
 */
export async function fetchGuestPackages(o: {
  readonly packagesDir: string;
  readonly log?: (line: string) => void;
  /** Where a same-named .deb may already be (apt-get install's own cache); read only. */
  readonly archives?: string;
}): Promise<UnpackedPackages> {
  const log = o.log ?? (() => {});
  // Asking apt costs seconds: the last answer holds until apt's lists or the host's packages change.
  const stamp = await aptStamp();
  const last = await readCurrent(o.packagesDir);
  if (last && last.stamp === stamp && existsSync(join(last.root, '.complete')))
    return { root: last.root, packages: last.packages };
  const packages = await fileNames(await resolveGuestPackages());
  const debsDir = join(o.packagesDir, 'debs');
  const key = createHash('sha256')
    .update(
      packages
        .map((p) => p.file)
        .sort()
        .join('\n'),
    )
    .digest('hex')
    .slice(0, 16);
  const rootDir = join(o.packagesDir, `root-${key}`);
  if (existsSync(join(rootDir, '.complete'))) {
    await writeCurrent(o.packagesDir, { stamp, root: rootDir, packages });
    return { root: rootDir, packages };
  }

  await mkdir(debsDir, { recursive: true });
  // What builders that died mid-way left (older than an hour: not a build running now).
  for (const d of await readdir(o.packagesDir)) {
    if (!d.startsWith('.unpack-')) continue;
    const st = await stat(join(o.packagesDir, d)).catch(() => null);
    if (st && st.mtimeMs < Date.now() - 3_600_000)
      await rm(join(o.packagesDir, d), { recursive: true, force: true });
  }
  const have = new Set(await readdir(debsDir));
  const archives = o.archives ?? APT_ARCHIVES;
  // Each builder works in a directory of its own and renames whole files into debs/: builders
  // running at once into one cache never see (or remove) each other's partial files.
  const work = join(o.packagesDir, `.unpack-${randomUUID()}`);
  const download = join(work, 'download');
  const unpacked = join(work, 'root');
  await mkdir(download, { recursive: true });
  await mkdir(unpacked);
  try {
    for (const p of packages) {
      if (have.has(p.file) || !existsSync(join(archives, p.file))) continue;
      await copyFile(join(archives, p.file), join(work, `${p.file}.part`));
      await rename(join(work, `${p.file}.part`), join(debsDir, p.file));
      have.add(p.file);
    }
    const steps = planGuestPackages({
      packages,
      have,
      debsDir,
      downloadDir: download,
      rootDir: unpacked,
      asRoot: process.getuid?.() === 0,
    });
    for (const step of steps) {
      if (step.argv[0] === 'apt-get') {
        log(
          `tiny image: apt-get download ${step.argv.slice(step.argv.indexOf('download') + 1).join(' ')}`,
        );
        await exec(step.argv, { ...(step.cwd ? { cwd: step.cwd } : {}), timeoutMs: 600_000 });
        for (const f of await readdir(download)) await rename(join(download, f), join(debsDir, f));
      } else {
        await exec(step.argv, { timeoutMs: 120_000, env: SBIN_PATH });
      }
    }
    await writeFile(join(unpacked, '.complete'), `${packages.map((p) => p.file).join('\n')}\n`);
    await rename(unpacked, rootDir).catch((e: NodeJS.ErrnoException) => {
      // Another build unpacked the same set first: theirs is as good.
      if (e.code !== 'EEXIST' && e.code !== 'ENOTEMPTY') throw e;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  // Older sets: debs no package of this set is, and their unpacked roots.
  const keep = new Set(packages.map((p) => p.file));
  for (const f of await readdir(debsDir))
    if (!keep.has(f) && !f.startsWith('.')) await rm(join(debsDir, f), { force: true });
  for (const d of await readdir(o.packagesDir))
    if (d.startsWith('root-') && join(o.packagesDir, d) !== rootDir)
      await rm(join(o.packagesDir, d), { recursive: true, force: true });
  await writeCurrent(o.packagesDir, { stamp, root: rootDir, packages });
  return { root: rootDir, packages };
}

/** What apt's answer depends on: its package lists and the host's installed packages. */
const APT_STATE = ['/var/lib/apt/lists', '/var/lib/dpkg/status'];

async function aptStamp(): Promise<string> {
  const times = await Promise.all(
    APT_STATE.map((p) =>
      stat(p).then(
        (s) => s.mtimeMs,
        () => 0,
      ),
    ),
  );
  return times.join(',');
}

interface Current {
  readonly stamp: string;
  readonly root: string;
  readonly packages: readonly GuestPackage[];
}

async function readCurrent(dir: string): Promise<Current | null> {
  try {
    return JSON.parse(await readFile(join(dir, 'current.json'), 'utf8')) as Current;
  } catch {
    return null;
  }
}

async function writeCurrent(dir: string, c: Current): Promise<void> {
  const tmp = join(dir, `.current-${randomUUID()}`);
  await writeFile(tmp, `${JSON.stringify(c)}\n`);
  await rename(tmp, join(dir, 'current.json'));
}
