/**
 * The WordPress site both servers serve: same title and administrator, installed the same way
 * (WordPress's own installer over HTTP), and the small PHP files the bench adds to each tree.
 */
import { installedVersion } from '../server/wordpress/assemble.js';
import { submitInstaller } from '../server/wordpress/install.js';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchReport } from './report.js';

export const SITE = {
  title: 'Bench',
  adminUser: 'admin',
  adminPassword: 'bench-pass-123',
  adminEmail: 'a@example.com',
} as const;

/** Trivial script (one of the scenarios). */
export const HELLO_SCRIPT = 'bench-hello.php';
/** Reports the PHP version, SAPI and opcache state of whichever PHP process runs it. */
export const PROBE_SCRIPT = 'bench-probe.php';

const PROBE_SOURCE = `<?php
header('Content-Type: application/json');
$status = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo json_encode([
  'php' => PHP_VERSION,
  'sapi' => PHP_SAPI,
  'opcache_loaded' => extension_loaded('Zend OPcache'),
  'opcache_enable' => ini_get('opcache.enable'),
  'opcache_file_cache_only' => ini_get('opcache.file_cache_only'),
  'opcache_validate_timestamps' => ini_get('opcache.validate_timestamps'),
  'cached_scripts' => $status ? $status['opcache_statistics']['num_cached_scripts'] : false,
  'hits' => $status ? $status['opcache_statistics']['hits'] : null,
  'misses' => $status ? $status['opcache_statistics']['misses'] : null,
  'pid' => getmypid(),
]);
`;

/**
 * A site is assembled once and never changed after: a data folder assembled for another version is
 * measured as it is. Says so when an exact version (X.Y or X.Y.Z) was asked and the tree holds another.
 */
export function wordpressMismatch(asked: string, held: string): string | undefined {
  if (!/^\d+\.\d+(\.\d+)?$/.test(asked) || held === asked || held.startsWith(`${asked}.`)) return undefined;
  return `--wordpress-version ${asked} was asked, but the site (assembled earlier) holds WordPress ${held}: use another --data-dir or --fresh`;
}

/** Puts the version our site's tree holds in the report, with a warning if it is not the one asked. */
export function recordWordPress(r: BenchReport, asked: string, wordpressDir: string): void {
  const held = installedVersion(wordpressDir);
  r.wordpress.version = held;
  const mismatch = wordpressMismatch(asked, held);
  if (mismatch) r.warnings.push(mismatch);
}

export function writeBenchScripts(wordpressDir: string): void {
  writeFileSync(join(wordpressDir, HELLO_SCRIPT), '<?php echo "hello";');
  writeFileSync(join(wordpressDir, PROBE_SCRIPT), PROBE_SOURCE);
}

/**
 * Reads, or with ?set= changes, the site's permalink structure. WordPress's installer turns pretty
 * permalinks on only where its loopback request to the site works (nginx: yes; our sandbox: no), so
 * the bench aligns the native site with ours to get the same pages. Present only while in use.
 */
const PERMALINK_SCRIPT = 'bench-permalinks.php';
const PERMALINK_SOURCE = `<?php
if (($_SERVER['REMOTE_ADDR'] ?? '') !== '127.0.0.1') { http_response_code(403); exit; }
require __DIR__ . '/wp-load.php';
if (isset($_GET['set'])) {
  update_option('permalink_structure', (string) $_GET['set']);
  flush_rewrite_rules(false);
}
header('Content-Type: application/json');
echo json_encode(get_option('permalink_structure'));
`;

/** Gives the native site the permalink structure of ours; returns it, or undefined if they already matched. */
export async function alignPermalinks(ours: { baseUrl: string; wordpressDir: string }, native: { baseUrl: string; wordpressDir: string }): Promise<{ from: string; to: string } | undefined> {
  const files = [ours.wordpressDir, native.wordpressDir].map((dir) => join(dir, PERMALINK_SCRIPT));
  for (const file of files) writeFileSync(file, PERMALINK_SOURCE);
  try {
    const get = async (url: string) => {
      const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(60_000) });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`${url}: status ${response.status}: ${text.slice(0, 200)}`);
      return JSON.parse(text) as string;
    };
    const wanted = await get(`${ours.baseUrl}/${PERMALINK_SCRIPT}`);
    const current = await get(`${native.baseUrl}/${PERMALINK_SCRIPT}`);
    if (current === wanted) return undefined;
    const now = await get(`${native.baseUrl}/${PERMALINK_SCRIPT}?set=${encodeURIComponent(wanted)}`);
    if (now !== wanted) throw new Error(`could not set the native site's permalink structure to ${JSON.stringify(wanted)} (it is ${JSON.stringify(now)})`);
    return { from: current, to: wanted };
  } finally {
    for (const file of files) rmSync(file, { force: true });
  }
}

/** WordPress's installer form, as php-wasm-server's unattended install submits it; the address WordPress records is baseUrl. */
export async function installWordPress(baseUrl: string): Promise<void> {
  const outcome = await submitInstaller(baseUrl, { title: SITE.title, user: SITE.adminUser, password: SITE.adminPassword, email: SITE.adminEmail });
  if (outcome.result === 'already installed') throw new Error(`${baseUrl}/wp-admin/install.php shows no installer form`);
  if (outcome.result === 'failed') {
    throw new Error(`WordPress install at ${baseUrl} failed (status ${outcome.status}): ${outcome.page.replace(/\s+/g, ' ').slice(0, 500)}`);
  }
}

/** The address WordPress believes it is at (its "home" option), from the REST index. */
export async function siteAddress(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/?rest_route=/`, { redirect: 'manual', signal: AbortSignal.timeout(60_000) });
  const text = await response.text();
  try {
    return String((JSON.parse(text) as { home?: unknown }).home ?? '');
  } catch {
    throw new Error(`${baseUrl}/?rest_route=/ is not the REST index (status ${response.status}): ${text.slice(0, 200)}`);
  }
}
