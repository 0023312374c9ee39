/** The recycling scenarios' tables: the soak's memory and the home page's p99 with and without recycles. */
import { RECYCLES_PER_WORKER, recycleP99Ratio } from './recycle-figures.js';
import type { BenchReport, ServerName } from './report.js';
import { mb } from './rss.js';
import { growthPercent } from './settle.js';
import { fmtInt, fmtMs, fmtRate, table } from './table.js';

const NAMES: ServerName[] = ['ours', 'native'];

export function formatRecycling(r: BenchReport): string[] {
  const out: string[] = [];
  const soak = r.soak;
  if (soak) {
    const rows = NAMES.filter((n) => soak[n]).map((n) => {
      const s = soak[n]!;
      const growth = growthPercent(s.rssBeforeKb, s.rssAfterKb);
      return [
        n, `${fmtInt(s.requests)} in ${s.seconds.toFixed(0)} s`, fmtRate(s.reqPerSec), `${s.errors} / ${s.non2xx}`, fmtInt(s.maxRequests), s.recycles === undefined ? '?' : fmtInt(s.recycles),
        `${mb(s.rssBeforeKb)} MB`, `${mb(s.rssAfterKb)} MB`, `${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %`, s.cpu.otherCores.toFixed(2),
      ];
    });
    out.push('', 'Soak (90 % trivial .php + static, 10 % WordPress: home and REST), RSS of the whole process tree, idle and settled:');
    out.push(...table(['server', 'requests', 'req/s', 'errors / non-2xx', 'recycle every', 'recycles', 'RSS before', 'RSS after', 'growth', 'other cores'], rows, [1, 2, 4, 5, 6, 7, 8, 9]));
  }
  const latency = r.recycleLatency;
  if (latency) {
    const rows = NAMES.filter((n) => latency[n]).map((n) => {
      const e = latency[n]!;
      const p99 = (l?: { latencyMs: { p99: number } }) => (l ? fmtMs(l.latencyMs.p99) : '—');
      const ratio = recycleP99Ratio(e);
      return [
        n, p99(e.steady.load), e.steadyRecycles === undefined ? '?' : String(e.steadyRecycles), e.maxRequests === undefined ? '—' : fmtInt(e.maxRequests),
        p99(e.recycling?.load), e.recycles === undefined ? '?' : String(e.recycles), ratio === undefined ? '—' : `${ratio.toFixed(2)}×`,
      ];
    });
    out.push('', `Home page p99 while workers recycle (recycle interval chosen for ~${RECYCLES_PER_WORKER} recycles per worker in the window at the steady rate):`);
    out.push(...table(['server', 'steady p99 ms', 'recycles', 'recycle every', 'recycling p99 ms', 'recycles', 'ratio'], rows, [1, 2, 3, 4, 5, 6]));
  }
  return out;
}
