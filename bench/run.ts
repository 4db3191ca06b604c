// `npm run bench`: runs the benchmarks (all, or those named as arguments) and prints their
// tables; also writes bench/results/<name>.json for the record. Set BENCH_SECONDS to change
// the length of each load phase (default 5).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runIdentityBench, printIdentity } from './identity.bench.ts';
import { runImageBench, printImage } from './image.bench.ts';
import { runComputeBench, printCompute } from './compute.bench.ts';
import { runBootBench, printBoot } from './boot.bench.ts';

const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
const wanted = process.argv.slice(2);
// BENCH_IMAGE_MIB sizes the throughput file (default 1024), BENCH_BIG_GIB the streaming check (default 4).
const imageMib = Number(process.env['BENCH_IMAGE_MIB'] ?? 1024);
const bigGiB = Number(process.env['BENCH_BIG_GIB'] ?? 4);
// BENCH_HOSTS fake hosts (default 1000), BENCH_CREATES timed creates (default 2000), BENCH_SERVERS listed (default 10000).
const computeOpts = {
  hosts: Number(process.env['BENCH_HOSTS'] ?? 1000),
  creates: Number(process.env['BENCH_CREATES'] ?? 2000),
  listServers: Number(process.env['BENCH_SERVERS'] ?? 10000),
  seconds,
  concurrency: Number(process.env['BENCH_CLIENTS'] ?? 32),
};
// BENCH_BOOTS real guests booted at once (default 10), BENCH_SINGLE_ROUNDS single boots one after another (default 5),
// BENCH_ACTIVE_POLL_MS between GETs of each server until ACTIVE (default 20).
const bootOpts = {
  boots: Number(process.env['BENCH_BOOTS'] ?? 10),
  singleRounds: Number(process.env['BENCH_SINGLE_ROUNDS'] ?? 5),
  pollMs: Number(process.env['BENCH_ACTIVE_POLL_MS'] ?? 20),
};
const suites = [
  {
    name: 'identity',
    run: async () => {
      const r = await runIdentityBench({ seconds });
      return { text: printIdentity(r), data: r };
    },
  },
  {
    name: 'image',
    run: async () => {
      const r = await runImageBench({ mib: imageMib, bigGiB });
      return { text: printImage(r), data: r };
    },
  },
  {
    name: 'compute',
    run: async () => {
      const r = await runComputeBench(computeOpts);
      return { text: printCompute(r), data: r };
    },
  },
  {
    name: 'boot',
    run: async () => {
      const r = await runBootBench(bootOpts);
      return { text: printBoot(r), data: r };
    },
  },
];

const outDir = join(import.meta.dirname, 'results');
mkdirSync(outDir, { recursive: true });
for (const s of suites) {
  if (wanted.length > 0 && !wanted.includes(s.name)) continue;
  process.stdout.write(`\n== ${s.name} (${seconds} s per phase)\n`);
  const { text, data } = await s.run();
  process.stdout.write(text);
  writeFileSync(
    join(outDir, `${s.name}.json`),
    `${JSON.stringify({ date: new Date().toISOString(), seconds, ...data }, null, 2)}\n`,
  );
}
