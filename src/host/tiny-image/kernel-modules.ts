// Which kernel modules the tiny guest carries and in what order its init insmods them, read from
// the kernel's own modules.dep. Pure parsing and ordering; reading files is the caller's job.

/**
 * The drivers the guest needs, by module name. Their dependencies come from modules.dep.
 * crc32c_generic is listed before ext4 on purpose: ext4 and jbd2 ask for "crypto-crc32c" through
 * a softdep that only modprobe resolves, and the guest loads modules with plain insmod.
 */
export const GUEST_MODULES = [
  // Buses and disks: virtio (the default), SCSI disks and the cdrom drivers for a config drive on IDE/SATA.
  'virtio_pci',
  'virtio_blk',
  'virtio_scsi',
  'sd_mod',
  'ata_piix',
  'ahci',
  'sr_mod',
  // Network: virtio-net and the e1000 that many images and old flavors still ask for.
  'virtio_net',
  'e1000',
  // Filesystems: ext4 for /data, iso9660 and vfat for config drives.
  'crc32c_generic',
  'ext4',
  'isofs',
  'vfat',
  'nls_cp437',
  'nls_ascii',
  'nls_utf8',
  // ACPI power button as an input device (acpid reads /dev/input/event*).
  'button',
  'evdev',
  // Nice to have: entropy from the host and memory statistics for the balloon.
  'virtio_rng',
  'virtio_balloon',
] as const;

export interface ModuleEntry {
  /** Module name, with '-' normalised to '_' as the kernel does. */
  readonly name: string;
  /** Path relative to /lib/modules/<release>/, as written in modules.dep (may end in .xz/.zst/.gz). */
  readonly path: string;
  /** Every module this one needs (modules.dep lists the whole closure). */
  readonly deps: readonly string[];
}

export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');
}

/** Parses modules.dep ("kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko ...") into entries by name. */
export function parseModulesDep(text: string): Map<string, ModuleEntry> {
  const out = new Map<string, ModuleEntry>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(moduleName);
    out.set(moduleName(path), { name: moduleName(path), path, deps });
  }
  return out;
}

/** Names in modules.builtin ("kernel/drivers/.../x.ko"): wanted modules that need no loading. */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').filter(Boolean).map(moduleName));
}

/**
 * The modules to insmod, each after everything it depends on, in the order `wanted` asks for
 * otherwise. Built-in modules are skipped; a wanted module that is neither loadable nor built in
 * is an error, because the image would boot without a driver it promises.
 */
export function moduleLoadOrder(
  wanted: readonly string[],
  dep: ReadonlyMap<string, ModuleEntry>,
  builtin: ReadonlySet<string> = new Set(),
): ModuleEntry[] {
  const order: ModuleEntry[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: readonly string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting')
      throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const entry = dep.get(name);
    if (!entry) {
      if (builtin.has(name)) {
        state.set(name, 'done');
        return;
      }
      throw new Error(
        `kernel module ${name} is neither in modules.dep nor built in${chain.length ? ` (needed by ${chain.at(-1)})` : ''}`,
      );
    }
    state.set(name, 'visiting');
    for (const d of entry.deps) visit(d, [...chain, name]);
    state.set(name, 'done');
    order.push(entry);
  };
  for (const name of wanted) visit(name, []);
  return order;
}
