/**
 * --db mariadb's summary: native, ours as 1 process and ours as N processes behind nginx, all on
 * one MariaDB, and what the N/1 ratio says. More processes add workers, not cores: where one
 * process's workers already keep every core busy, throughput can only stay flat (or drop, with N
 * times the memory and the balancer's hop), so the summary says which case the run was.
 */
import type { BenchReport } from './report.js';
import { mb } from './rss.js';
import { fmtMs, fmtRate, table } from './table.js';

/** |N/1 − 1| below this counts as flat: run-to-run noise on a shared 2-core machine is about that. */
const FLAT = 0.1;

export function formatReplicaSummary(r: BenchReport): string[] {
  const n = r.settings.replicas ?? 0;
  const { ours, native, replicas } = r.servers;
  if (!ours || !replicas) return [];
  const cores = r.machine.cores;
  const out: string[] = [];
  out.push(`1 process vs ${n} behind nginx, all on one MariaDB (${cores} cores):`);
  const head = [
    'scenario',
    ...(native ? [`native: ${native.workers} children`] : []),
    `ours ×1: ${ours.workers} workers`,
    `ours ×${n}: ${n} × ${ours.workers} = ${replicas.workers} workers`,
    ...(native ? ['ours ×1/native'] : []),
    `×${n}/×1`,
  ];
  const rows = r.scenarios.map((sc) => {
    const cell = (name: 'ours' | 'native' | 'replicas') => {
      const m = sc.results[name];
      return m?.load ? `${fmtRate(m.load.reqPerSec)} req/s, ${m.cpu ? fmtMs(m.cpu.serverMsPerRequest) : '?'} ms CPU/req` : m ? 'skipped' : '—';
    };
    const ratio = (x: number | undefined) => (x === undefined ? '—' : `${x.toFixed(2)}×`);
    return [sc.title, ...(native ? [cell('native')] : []), cell('ours'), cell('replicas'), ...(native ? [ratio(sc.ratio)] : []), ratio(sc.replicaRatio)];
  });
  out.push(...table(head, rows, head.map((_, i) => i).slice(1)));

  for (const sc of r.scenarios) {
    const x = sc.replicaRatio;
    const one = sc.results.ours?.cpu, many = sc.results.replicas?.cpu;
    if (x === undefined || !one || !many) continue;
    const verdict = Math.abs(x - 1) < FLAT ? 'flat' : x > 1 ? 'higher' : 'lower';
    out.push(
      `  ${sc.title}: ×${n}/×1 = ${x.toFixed(2)} (${verdict}); CPU per request ${(many.serverMsPerRequest / one.serverMsPerRequest).toFixed(2)}× as much; ` +
        `cores busy: ours ×1 ${one.serverCores.toFixed(2)}, ours ×${n} ${many.serverCores.toFixed(2)} (+ load generator ${one.loadGeneratorCores.toFixed(2)} / ${many.loadGeneratorCores.toFixed(2)}) of ${cores}.`,
    );
  }
  if (ours.workers >= cores) {
    out.push(
      `  One process's ${ours.workers} workers can already keep all ${cores} cores busy: ${n} processes add workers, not CPU, so throughput cannot rise here ` +
        '(flat at best); where it falls, each request costs more CPU (more processes and PHP instances share the same cores).',
    );
  }
  const idle = (kb: number | undefined) => (kb === undefined ? '?' : `${mb(kb)} MB`);
  out.push(`  Memory: ours ×1 ${idle(ours.rssAfterKb)} after load, ours ×${n} ${idle(replicas.rssAfterKb)} (with the balancer nginx).`);
  return out;
}
