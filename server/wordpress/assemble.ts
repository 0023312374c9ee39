/**
 * Assembles a ready-to-serve WordPress + SQLite tree on first start, from a
 * WordPress release ZIP and the SQLite plugin's ZIP when given (fetched and
 * verified by sources.ts), else from the files shipped in
 * @wp-playground/wordpress-builds (WordPress 6.5):
 *
 *   src/wordpress/wp-6.5.zip                         WordPress, minus ~1700 static assets
 *   public/wp-6.5/wordpress-remote-asset-paths       the stripped paths, one per line
 *   public/wp-6.5/<path>                             the stripped files themselves
 *   src/sqlite-database-integration/sqlite-database-integration.zip
 *                                                    the SQLite Database Integration plugin
 *                                                    (top folder: sqlite-database-integration-main/)
 *
 * The tree is built in a sibling `${dir}.partial-<pid>` folder and renamed into
 * place, so an interrupted run never leaves a half tree that looks complete.
 * An existing WordPress tree is served as is and never touched.
 */
import { readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { GUEST_DOCROOT } from '../paths.js';
import { renderWpConfig } from './wp-config.js';
import { DB_ERROR_DROPIN } from './database-php.js';
import { extractZip, safeRelative } from './zip-extract.js';
import { processRuns } from '../process-runs.js';

export interface AssembleOptions {
  log: { info(obj: object, msg?: string): void; info(msg: string): void };
  /** A complete WordPress release ZIP (see sources.ts); absent: the bundled build. */
  wordpressZip?: string;
  /** The SQLite plugin's ZIP; absent: the bundled one. */
  sqliteZip?: string;
  /** Default SQLite (plugin and drop-in installed); MySQL gets neither, and the db-error.php drop-in. */
  database?: 'sqlite' | 'mysql';
}

const WP_VERSION = '6.5';
const SQLITE_PLUGIN_SLUG = 'sqlite-database-integration';
/** Plugin main file, relative to wp-content/plugins (what the plugin computes for {SQLITE_PLUGIN}). */
const SQLITE_PLUGIN_MAIN = `${SQLITE_PLUGIN_SLUG}/load.php`;

/**
 * Zip entries not to extract from wp-6.5.zip. The Playground build ships a
 * pre-installed database (user admin, password "password", siteurl
 * http://127.0.0.1:9400) and its own wp-config.php; we want a fresh install
 * with our own config instead. wordpress-remote-asset-paths and .default_theme
 * are Playground build metadata, not WordPress (and the asset list would be
 * wrong once the assets are restored).
 */
const WP_ZIP_SKIP = new Set([
  'wp-config.php',
  'wp-content/database/.ht.sqlite',
  'wordpress-remote-asset-paths',
  '.default_theme',
]);

/**
 * Paths in wordpress-remote-asset-paths that are not static assets and are not
 * restored. The list holds every non-PHP file of the build, including that
 * same pre-installed database (wp-content/database/.htaccess is listed too; we
 * write our own).
 */
const ASSETS_NOT_RESTORED = new Set(['wp-content/database/.ht.sqlite']);

/** The WordPress version a tree holds (wp-includes/version.php), or 'unknown'. */
export function installedVersion(dir: string): string {
  try {
    return /\$wp_version\s*=\s*'([^']+)'/.exec(readFileSync(path.join(dir, 'wp-includes', 'version.php'), 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** True if dir looks like a WordPress tree. */
export function isWordPressTree(dir: string): boolean {
  return isFile(path.join(dir, 'wp-includes', 'version.php')) && isFile(path.join(dir, 'wp-settings.php'));
}

/**
 * Assembles WordPress 6.5 + SQLite into dir, unless dir already holds a
 * WordPress tree (then nothing is touched and {assembled:false} is returned).
 * Refuses (throws) if dir exists, is not empty and is not a WordPress tree.
 */
export async function assembleWordPress(dir: string, opts: AssembleOptions): Promise<{ assembled: boolean }> {
  const { log } = opts;
  dir = path.resolve(dir);
  if (isWordPressTree(dir)) return { assembled: false };
  await assertEmptyOrMissing(dir);

  const started = performance.now();
  const bundled = locateSources();
  const src = { ...bundled, wordpressZip: opts.wordpressZip ?? bundled.wordpressZip, sqliteZip: opts.sqliteZip ?? bundled.sqliteZip };
  // The bundled build lacks static assets it keeps beside the ZIP; a release ZIP is complete.
  const restore = opts.wordpressZip === undefined;
  await fs.mkdir(path.dirname(dir), { recursive: true });
  await removeStalePartials(dir, log);

  const partial = `${dir}.partial-${process.pid}`;
  await fs.rm(partial, { recursive: true, force: true }); // left over by an earlier process with our pid
  await fs.mkdir(partial);
  try {
    log.info({ from: src.wordpressZip, to: partial }, 'unzipping WordPress');
    const wpFiles = await extractZip(src.wordpressZip, partial, (rel) => !WP_ZIP_SKIP.has(rel));
    if (!isWordPressTree(partial)) {
      throw new Error(`${src.wordpressZip} does not contain a WordPress tree (no wp-settings.php / wp-includes/version.php)`);
    }

    const assetPaths = restore ? (await readAssetList(src.assetList)).filter((p) => !ASSETS_NOT_RESTORED.has(p)) : [];
    if (restore) log.info({ from: src.assetsDir }, `restoring ${assetPaths.length} static assets`);
    await restoreAssets(src.assetsDir, partial, assetPaths);
    const missing = assetPaths.find((p) => !isFile(path.join(partial, p)));
    if (missing !== undefined) {
      throw new Error(
        `WordPress assembly failed: static asset "${missing}" (listed in ${src.assetList}) ` +
          `is missing after restoring from ${src.assetsDir}`,
      );
    }

    const database = opts.database ?? 'sqlite';
    const pluginFiles = database === 'sqlite' ? await installSqlite(src.sqliteZip, partial, log) : 0;
    if (database === 'mysql') await fs.writeFile(path.join(partial, 'wp-content', 'db-error.php'), DB_ERROR_DROPIN);
    await fs.mkdir(path.join(partial, 'wp-content', 'uploads'), { recursive: true });

    await fs.writeFile(path.join(partial, 'wp-config.php'), renderWpConfig({ docroot: GUEST_DOCROOT, database }));

    if (!(await moveIntoPlace(partial, dir))) {
      // Another process assembled dir while we were busy: use theirs.
      await fs.rm(partial, { recursive: true, force: true });
      log.info({ dir }, 'WordPress was assembled concurrently by another process; using it');
      return { assembled: false };
    }
    const ms = Math.round(performance.now() - started);
    const version = installedVersion(dir);
    log.info(
      { dir, ms, version, files: wpFiles, assets: assetPaths.length, pluginFiles },
      `WordPress ${version} assembled in ${ms} ms`,
    );
    return { assembled: true };
  } catch (err) {
    await fs.rm(partial, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
}

/** The SQLite integration plugin, its db.php drop-in, and the (web-denied) database folder. Returns the plugin's file count. */
async function installSqlite(sqliteZip: string, tree: string, log: AssembleOptions['log']): Promise<number> {
  log.info({ from: sqliteZip }, 'installing SQLite integration');
  const pluginDir = path.join(tree, 'wp-content', 'plugins', SQLITE_PLUGIN_SLUG);
  await fs.mkdir(pluginDir, { recursive: true });
  // .github/ (CI workflows) is repository tooling, not part of the plugin.
  const pluginFiles = await extractZip(sqliteZip, pluginDir, (rel) => !rel.startsWith('.github/'));
  for (const required of ['load.php', 'db.copy', 'wp-includes/sqlite/db.php']) {
    if (!isFile(path.join(pluginDir, required))) {
      throw new Error(`SQLite integration zip ${sqliteZip} has no ${required}`);
    }
  }
  const dbCopy = await fs.readFile(path.join(pluginDir, 'db.copy'), 'utf8');
  await fs.writeFile(path.join(tree, 'wp-content', 'db.php'), fillDbDropin(dbCopy));

  const databaseDir = path.join(tree, 'wp-content', 'database');
  await fs.mkdir(databaseDir, { recursive: true });
  await fs.writeFile(path.join(databaseDir, '.htaccess'), 'Deny from all\n');
  await fs.writeFile(path.join(databaseDir, 'index.php'), '');
  return pluginFiles;
}

/**
 * db.copy with its placeholders filled exactly as the plugin's own activation
 * code (activate.php, sqlite_plugin_copy_db_file) does:
 *   {SQLITE_IMPLEMENTATION_FOLDER_PATH} -> __DIR__ of the plugin (guest path)
 *   {SQLITE_PLUGIN}                     -> SQLITE_MAIN_FILE relative to WP_PLUGIN_DIR
 */
function fillDbDropin(template: string): string {
  const filled = template
    .replaceAll('{SQLITE_IMPLEMENTATION_FOLDER_PATH}', `${GUEST_DOCROOT}/wp-content/plugins/${SQLITE_PLUGIN_SLUG}`)
    .replaceAll('{SQLITE_PLUGIN}', SQLITE_PLUGIN_MAIN);
  const unfilled = /\{[A-Z][A-Z0-9_]*\}/.exec(filled);
  if (unfilled) throw new Error(`SQLite db.copy has an unknown placeholder ${unfilled[0]}`);
  return filled;
}

interface Sources {
  wordpressZip: string;
  assetList: string;
  assetsDir: string;
  sqliteZip: string;
}

function locateSources(): Sources {
  const require = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    pkgDir = path.dirname(require.resolve('@wp-playground/wordpress-builds/package.json'));
  } catch (err) {
    throw new Error(`cannot find @wp-playground/wordpress-builds (is it installed?): ${(err as Error).message}`);
  }
  const src: Sources = {
    wordpressZip: path.join(pkgDir, 'src', 'wordpress', `wp-${WP_VERSION}.zip`),
    assetList: path.join(pkgDir, 'public', `wp-${WP_VERSION}`, 'wordpress-remote-asset-paths'),
    assetsDir: path.join(pkgDir, 'public', `wp-${WP_VERSION}`),
    sqliteZip: path.join(pkgDir, 'src', 'sqlite-database-integration', 'sqlite-database-integration.zip'),
  };
  for (const file of [src.wordpressZip, src.assetList, src.sqliteZip]) {
    if (!isFile(file)) throw new Error(`@wp-playground/wordpress-builds is missing ${file}`);
  }
  return src;
}

/** The remote-asset list: one relative path per line (no leading slash). */
async function readAssetList(file: string): Promise<string[]> {
  const lines = (await fs.readFile(file, 'utf8')).split(/\r?\n/);
  const paths: string[] = [];
  for (const line of lines) {
    const rel = line.trim().replace(/^\/+/, '');
    if (rel === '') continue;
    paths.push(safeRelative(rel, file));
  }
  return paths;
}

/** The container image packs the listed assets into this ZIP beside the list (43 MB → 13 MB). */
export const PACKED_ASSETS = 'wordpress-remote-assets.zip';

/**
 * Copies each listed asset from the package's public folder, or from PACKED_ASSETS there when the
 * files were packed. Sources that do not exist are skipped here; the caller's existence check names them.
 */
export async function restoreAssets(fromDir: string, toDir: string, assetPaths: string[]): Promise<void> {
  const packed = path.join(fromDir, PACKED_ASSETS);
  if (isFile(packed)) {
    const wanted = new Set(assetPaths);
    await extractZip(packed, toDir, (rel) => wanted.has(rel));
    return;
  }
  const dirs = new Set(assetPaths.map((p) => path.dirname(path.join(toDir, p))));
  for (const d of dirs) await fs.mkdir(d, { recursive: true });
  await forEachLimited(assetPaths, 32, async (rel) => {
    try {
      await fs.copyFile(path.join(fromDir, rel), path.join(toDir, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  });
}

async function assertEmptyOrMissing(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new Error(`cannot assemble WordPress into ${dir}: it is not a directory`);
    throw err;
  }
  if (names.length > 0) {
    throw new Error(
      `refusing to assemble WordPress into ${dir}: the folder is not empty and is not a WordPress tree ` +
        `(no wp-settings.php / wp-includes/version.php); point at an empty or missing folder, or at a WordPress tree`,
    );
  }
}

/**
 * Renames partial to dir. Returns false (leaving partial alone) if dir became
 * a WordPress tree meanwhile (a concurrent process won the race).
 */
async function moveIntoPlace(partial: string, dir: string): Promise<boolean> {
  try {
    // An empty dir may exist (e.g. a mount point created by the user); rename
    // cannot portably replace it, so remove it first.
    await fs.rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') {
      if (isWordPressTree(dir)) return false;
      throw new Error(`cannot replace ${dir}: ${(err as Error).message}`);
    }
  }
  try {
    await fs.rename(partial, dir);
    return true;
  } catch (err) {
    if (isWordPressTree(dir)) return false;
    throw err;
  }
}

/** Removes `${dir}.partial-<pid>` siblings left by processes that no longer run. */
async function removeStalePartials(dir: string, log: AssembleOptions['log']): Promise<void> {
  const parent = path.dirname(dir);
  const prefix = `${path.basename(dir)}.partial-`;
  let names: string[];
  try {
    names = await fs.readdir(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processRuns(pid)) continue;
    log.info({ path: path.join(parent, name) }, 'removing leftover of an interrupted WordPress assembly');
    await fs.rm(path.join(parent, name), { recursive: true, force: true });
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
