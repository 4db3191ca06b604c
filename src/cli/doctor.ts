// `nubes doctor`: what this host can do for Nubes, one line per check, the features those checks
// make ready (or not, and why), what to do about each check that fails, and an exit status (1 when
// something essential is missing). The probes live in src/host/doctor/; the features in
// doctor-features.ts; this file picks the data dir, formats, and decides the exit status.
import type { Config } from './config.ts';
import { check, type Check } from '../host/doctor/check.ts';
import { runDoctor } from '../host/doctor/doctor.ts';
import { assessFeatures, needingAttention, onlyForLater } from './doctor-features.ts';
import { runningClouds, type RunningCloud } from './running.ts';
import { novncDir } from './console.ts';
import { NOVNC_DIR } from '../compute/agent/console/static-files.ts';

/** 1 when an essential check says 'no' (the cloud cannot run here), else 0. */
export function doctorExitCode(checks: readonly Check[]): 0 | 1 {
  return checks.some((c) => c.essential && c.status === 'no') ? 1 : 0;
}

const QEMU_NEEDS = ['qemu', 'qemu-img', 'genisoimage'];

/** The last line: whether the cloud runs here, and with which virt drivers. */
export function verdict(checks: readonly Check[], virtDriver: Config['virtDriver']): string {
  const blocking = checks.filter((c) => c.essential && c.status === 'no').map((c) => c.name);
  const attention = needingAttention(checks).length;
  const qemuMissing = QEMU_NEEDS.filter((n) => checks.find((c) => c.name === n)?.status === 'no');
  const accel = checks.find((c) => c.name === 'accelerator');
  const qemu =
    qemuMissing.length > 0
      ? `the qemu driver cannot (${qemuMissing.join(', ')} missing)`
      : `the qemu driver can${accel ? ` (${accel.status === 'ok' ? 'KVM' : 'TCG'})` : ''}`;
  const tail =
    attention === 0
      ? 'Every check needed today passed.'
      : `${attention} check${attention === 1 ? ' needs' : 's need'} attention.`;
  if (blocking.length > 0)
    return `Nubes cannot run here (virt driver ${virtDriver}): ${blocking.join(', ')} failed. ${tail}`;
  return `Nubes can run here: the fake driver can, ${qemu}; configured: ${virtDriver}. ${tail}`;
}

/** The data dir and virt driver doctor reports on, and why those. */
export interface DoctorTarget {
  readonly dataDir: string;
  readonly virtDriver: Config['virtDriver'];
  /** How the data dir was chosen, for the header. */
  readonly source: string;
}

/**
 * The data dir as configured (--data-dir, NUBES_DATA_DIR, the config file) when it was given;
 * else the one of the `nubes up` running here, when there is one; else the default.
 */
export function doctorTarget(
  config: Pick<Config, 'dataDir' | 'dataDirSet' | 'virtDriver'>,
  running: readonly RunningCloud[],
): DoctorTarget {
  const configured = { dataDir: config.dataDir, virtDriver: config.virtDriver };
  if (config.dataDirSet) return { ...configured, source: 'as configured' };
  const mine = running.find((r) => r.dataDir === config.dataDir);
  const only = running.length === 1 ? running[0] : undefined;
  const pick = only ?? mine;
  if (pick)
    return {
      dataDir: pick.dataDir,
      virtDriver: pick.virtDriver,
      source: `the running nubes up's (pid ${pick.pid}${running.length > 1 ? `; ${running.length - 1} more run: choose with --data-dir` : ''})`,
    };
  if (running.length > 1)
    return {
      ...configured,
      source: `the default; ${running.length} clouds run here with other data dirs (${running.map((r) => r.dataDir).join(', ')}): choose one with --data-dir`,
    };
  return { ...configured, source: 'the default; no nubes up runs here' };
}

/** The report: a header, the checks, the features, the fixes, and the verdict. */
export function formatChecks(
  checks: readonly Check[],
  opts: { dataDir: string; virtDriver: Config['virtDriver']; source?: string },
): string {
  const w = Math.max('CHECK'.length, ...checks.map((c) => c.name.length));
  const row = (a: string, b: string, c: string) => `${a.padEnd(w)}  ${b.padEnd(6)}  ${c}`.trimEnd();
  const features = assessFeatures(checks);
  const fw = Math.max(...features.map((f) => f.feature.name.length));
  const sw = Math.max(...features.map((f) => f.state.length));
  const frow = (a: string, b: string, c: string) =>
    `${a.padEnd(fw)}  ${b.padEnd(sw)}  ${c}`.trimEnd();
  const lines = [
    `nubes doctor: this host (data dir ${opts.dataDir}${opts.source ? `, ${opts.source}` : ''}; virt driver ${opts.virtDriver})`,
    '',
    row('CHECK', 'STATUS', 'DETAIL'),
    ...checks.map((c) => row(c.name, c.status, c.detail)),
    '',
    frow('FEATURE', 'STATE', 'WHY'),
    ...features.map((f) => frow(f.feature.name, f.state, f.why)),
  ];
  const fixes = needingAttention(checks).filter((c) => c.fix);
  if (fixes.length > 0)
    lines.push('', 'What to do:', ...fixes.map((c) => `  ${c.name.padEnd(w)}  ${c.fix}`));
  const later = onlyForLater(checks).filter((c) => c.status !== 'ok' && c.fix);
  if (later.length > 0)
    lines.push(
      '',
      'Not needed today (for features still to come):',
      ...later.map((c) => `  ${c.name.padEnd(w)}  ${c.fix}`),
    );
  lines.push('', verdict(checks, opts.virtDriver), '');
  return lines.join('\n');
}

/** noVNC, the page a console URL opens (Debian's novnc package). */
function novncCheck(): Check {
  return novncDir()
    ? check('novnc', 'ok', `noVNC in ${NOVNC_DIR}`)
    : check('novnc', 'no', `noVNC is not installed (${NOVNC_DIR})`, { fix: 'apt install novnc' });
}

export async function runDoctorCommand(config: Config): Promise<number> {
  const target = doctorTarget(config, runningClouds(config.runDir));
  const checks = [
    ...(await runDoctor({ dataDir: target.dataDir, virtDriver: target.virtDriver })),
    novncCheck(),
  ];
  process.stdout.write(formatChecks(checks, target));
  return doctorExitCode(checks);
}
