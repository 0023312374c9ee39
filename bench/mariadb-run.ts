/**
 * `--db mariadb`: one MariaDB for everything, with a database for ours and one for native, each
 * installed by WordPress's installer. First native and ours as 1 process run side by side and are
 * measured in turn (as with SQLite); both stop, then ours as N processes behind nginx, on ours'
 * database, is measured on the same scenarios. Ours × 1 is process 0 of the N (its tree), but it
 * is restarted: its site URL is its own port, the replicas' is the balancer's.
 */
import { join } from 'node:path';
import type { BenchArgs } from './args.js';
import { linesSince, markLogs } from './logs.js';
import { HOST, freePort } from './loopback.js';
import { startMariaDb } from './mariadb.js';
import type { NativeBinaries } from './native-packages.js';
import { startNative } from './native.js';
import { startOursMysql } from './ours.js';
import { measurePhase } from './phase.js';
import { mysqlSite, startReplicas } from './replicas.js';
import type { BenchReport } from './report.js';
import type { Scenario } from './scenarios.js';
import { alignPermalinks, recordWordPress } from './site.js';

/** The sites' database user; the password reaches our server through WORDPRESS_DB_PASSWORD only. */
const DB_USER = 'bench';
const DB_PASSWORD = 'bench-db-pass-123';

export interface MariaDbRun {
  projectRoot: string;
  args: BenchArgs;
  binaries: NativeBinaries;
  report: BenchReport;
  scenarios: Scenario[];
  say: (line: string) => void;
}

export async function runMariaDbBench({ projectRoot, args, binaries, report: r, scenarios, say }: MariaDbRun): Promise<void> {
  const logDir = join(args.dataDir, 'logs');
  say('bench: starting MariaDB (fresh data folder)');
  const maria = await startMariaDb({ dataDir: args.dataDir, logDir, startTimeoutMs: 120_000 });
  r.database.label = `MariaDB ${maria.version}: the bench's own instance at ${HOST}:${maria.port}, one for all servers`;
  r.database.notes.push(
    `fresh data folder (${join(args.dataDir, 'mariadb')}), databases bench_ours and bench_native, each installed by WordPress's installer; ` +
      'mariadbd --no-defaults --innodb-buffer-pool-size=128M --skip-name-resolve; logs in ' + maria.errorLog,
  );
  const oursDb = maria.createDatabase('bench_ours', DB_USER, DB_PASSWORD);
  const nativeDb = maria.createDatabase('bench_native', DB_USER, DB_PASSWORD);
  // Startup notes are expected; warnings (aborted connections…) and errors during the measurements
  // are worth a look. Stopping a server may abort its connections: that part of the log is skipped.
  let dbMark = markLogs([maria.errorLog]);
  const keepDbLog = () => r.database.logLines.push(...linesSince(dbMark).filter((line) => /\[(ERROR|Warning)\]/.test(line)));
  const oursOptions = { projectRoot, dataDir: args.dataDir, workers: args.workers, wordpressVersion: args.wordpressVersion, startTimeoutMs: 180_000 };

  say('bench: starting php-wasm-server × 1 on MariaDB');
  const port = await freePort();
  const ours = await startOursMysql(oursOptions, mysqlSite(args.dataDir, 0, oursDb, port, `http://${HOST}:${port}`));
  ours.shared = [maria.child];
  recordWordPress(r, args.wordpressVersion, ours.wordpressDir);
  say(`bench: php-wasm-server ready at ${ours.baseUrl} in ${ours.startSeconds.toFixed(1)} s`);
  say('bench: starting nginx + php-fpm on MariaDB');
  const native = await startNative({ bin: binaries, dataDir: args.dataDir, sourceDir: ours.wordpressDir, children: args.workers, startTimeoutMs: 120_000, db: nativeDb });
  native.shared = [maria.child];
  say(`bench: nginx + php-fpm ready at ${native.baseUrl} in ${native.startSeconds.toFixed(1)} s`);
  const aligned = await alignPermalinks(ours, native);
  if (aligned) {
    native.notes.push(`permalink structure set from ${JSON.stringify(aligned.from)} (what its installer chose) to ours, ${JSON.stringify(aligned.to)}, so both serve the same pages`);
  }
  await measurePhase([ours, native], scenarios, r, args, say);
  keepDbLog();
  say('bench: stopping php-wasm-server × 1 and nginx + php-fpm');
  await Promise.all([ours.stop(), native.stop()]);
  dbMark = markLogs([maria.errorLog]);

  if (args.replicas > 1) {
    say(`bench: starting php-wasm-server × ${args.replicas} behind nginx on MariaDB`);
    const replicas = await startReplicas({ ...oursOptions, count: args.replicas, sameWordPressAs: r.wordpress.version, nginx: binaries.nginx, db: oursDb });
    replicas.shared = [maria.child];
    say(`bench: ${args.replicas} replicas ready behind ${replicas.baseUrl} in ${replicas.startSeconds.toFixed(1)} s`);
    await measurePhase([replicas], scenarios, r, args, say);
    keepDbLog();
    await replicas.stop();
  }
}
