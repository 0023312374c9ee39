import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { hasMmapThreshold, MALLOC_TUNABLE, runsOnGlibc, withMallocTunable } from '../server/malloc-tunables.js';
import { projectRoot } from '../server/paths.js';
import { runCli } from './helpers/cli.js';
import { until } from './helpers/until.js';

const DOCROOT = 'test/fixtures/docroot';
const NOT_FIXED = "glibc's malloc keeps memory";

t.test('the tunable is added once, after a tunable of the user', async (t) => {
  t.same(withMallocTunable({}).GLIBC_TUNABLES, MALLOC_TUNABLE);
  t.same(withMallocTunable({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES, `glibc.malloc.arena_max=2:${MALLOC_TUNABLE}`);
  const own = { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' };
  t.equal(withMallocTunable(own), own, "the user's own threshold stays");
  t.ok(hasMmapThreshold({ MALLOC_MMAP_THRESHOLD_: '131072' }), "glibc's older spelling counts");
  t.notOk(hasMmapThreshold({ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold_x=1' }));
  t.notOk(hasMmapThreshold({}));
});

/** The environment a process started with (Linux). */
function environOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

/** What glibc's own loader makes of a GLIBC_TUNABLES value: one tunable's value. */
function asGlibcReads(tunables: string, name: string): string {
  const listing = execFileSync('/lib64/ld-linux-x86-64.so.2', ['--list-tunables'], { env: { GLIBC_TUNABLES: tunables }, encoding: 'utf8' });
  return new RegExp(`glibc\\.malloc\\.${name}: (\\S+)`).exec(listing)?.[1] ?? 'missing';
}

t.test('the launcher starts the server with the threshold fixed, as glibc reads it', { skip: !runsOnGlibc() || process.arch !== 'x64' ? 'glibc on x86-64 only' : false }, async (t) => {
  const run = runCli(['--docroot', DOCROOT, '--port', '0', '--workers', '1'], { GLIBC_TUNABLES: '' }, { asExecutable: true });
  await run.listening;
  // glibc rewrites the variable in the process's initial environment as it parses it, and leaves
  // the mmap threshold there; what it parsed is checked on the launcher's own string below.
  t.match(environOf(run.child.pid!).GLIBC_TUNABLES, /(^|:)glibc\.malloc\.mmap_threshold=131072(:|$)/, 'the launcher set it');
  const launched = `${MALLOC_TUNABLE}:`; // the shebang's value when GLIBC_TUNABLES is empty
  t.equal(asGlibcReads(launched, 'mmap_threshold'), '0x20000', '128 KiB');
  t.equal(asGlibcReads(launched, 'trim_threshold'), '0x400000', '4 MiB');
  run.child.kill('SIGTERM');
  t.equal(await run.exit, 0);
  t.ok(run.lines.some((line) => line.msg === 'shutting down'), 'the whole log was read');
  t.notOk(run.lines.some((line) => String(line.msg).includes(NOT_FIXED)), 'no hint in it');
});

t.test('a server started without the launcher says how to fix it', { skip: !runsOnGlibc() ? 'glibc only' : false }, async (t) => {
  const run = runCli(['--docroot', DOCROOT, '--port', '0', '--workers', '1'], { GLIBC_TUNABLES: '' });
  await run.listening;
  await until("the hint in the log", () => run.lines.some((line) => String(line.msg).includes(NOT_FIXED)));
  const hint = run.lines.find((line) => String(line.msg).includes(NOT_FIXED))!;
  t.match(hint.hint, MALLOC_TUNABLE);
  t.equal(hint.level, 30, 'info: the server runs as well, with more memory');
  run.child.kill('SIGTERM');
  t.equal(await run.exit, 0);
});

t.test("glibc is looked up once, before the server's first worker thread exists", { skip: !runsOnGlibc() ? 'glibc only' : false }, async (t) => {
  // Node's report (where glibc's version is) waits for every worker thread to answer: once the pool
  // ran, one took the main thread 54–114 ms. The preload names each report the main thread asks for.
  const preload = join(projectRoot, 'test', 'fixtures', 'count-reports.mjs');
  const run = runCli(['--docroot', DOCROOT, '--port', '0', '--workers', '2'], { GLIBC_TUNABLES: '', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(preload).href}` });
  const url = await run.listening;
  t.equal((await fetch(`${url}/index.php`)).status, 200, 'the workers serve');
  // The hint is the server's last question of this kind at start (after the pool and the trimmer).
  await until('the hint in the log', () => run.lines.some((line) => String(line.msg).includes(NOT_FIXED)));
  const reports = run.stderr().split('\n').filter((line) => line.startsWith('diagnostic report'));
  t.same(reports, ['diagnostic report after 0 worker threads'], 'one report, made before the server started a thread');
  run.child.kill('SIGTERM');
  t.equal(await run.exit, 0);
});
