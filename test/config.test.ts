import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../server/config/coerce.js';
import { loadConfig, type LoadRequest } from '../server/config/load.js';
import { OPTIONS } from '../server/config/options.js';
import { parseSize, toIniSize } from '../server/config/size.js';
import type { ServerConfig } from '../server/config/types.js';
import { projectRoot } from '../server/paths.js';
import { buildPhpIni, buildPrepend, GUEST_PREPEND, GUEST_SESSION_DIR } from '../server/php-ini.js';
import { WORDPRESS_OPTIONS, type WordPressConfig } from '../server/wordpress/options.js';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'config-test-')));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cwd = path.join(tmp, 'work');
fs.mkdirSync(cwd);

let files = 0;
/** Writes a JSON config file (in its own folder unless `rel` says where) and returns its absolute path. */
function configFile(content: unknown, rel = `conf${++files}/config.json`): string {
  const file = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const load = (argv: string[] = [], env: Record<string, string | undefined> = {}, extra: Partial<LoadRequest> = {}) =>
  loadConfig({ argv, env, cwd, ...extra }).config;

/** Asserts that loading fails with a one-line ConfigError whose message holds every fragment. */
function rejects(t: Asserts, request: () => unknown, key: string, fragments: string[], label: string) {
  let error: unknown;
  try {
    request();
  } catch (e) {
    error = e;
  }
  t.ok(error instanceof ConfigError, `${label}: throws ConfigError (got ${error === undefined ? 'no error' : String(error)})`);
  if (!(error instanceof ConfigError)) return;
  t.equal(error.key, key, `${label}: names the key ${key}`);
  t.notMatch(error.message, /[\r\n]/, `${label}: one line`);
  for (const fragment of fragments) t.ok(error.message.includes(fragment), `${label}: message mentions ${JSON.stringify(fragment)} — ${error.message}`);
}
type Asserts = Pick<typeof t, 'ok' | 'equal' | 'notMatch'>;

t.test('defaults from config/defaults.json', async (t) => {
  const saved = process.env.PHP_WASM_SERVER_PORT;
  process.env.PHP_WASM_SERVER_PORT = '1'; // must not leak in: only request.env counts
  t.teardown(() => { if (saved === undefined) delete process.env.PHP_WASM_SERVER_PORT; else process.env.PHP_WASM_SERVER_PORT = saved; });
  const { config, positionals, help } = loadConfig({ argv: [], env: {}, cwd });
  t.strictSame(config, {
    docroot: path.join(projectRoot, 'docroot'),
    host: '127.0.0.1',
    port: 8087,
    workers: os.availableParallelism(),
    php: '8.5',
    requestTimeout: 30,
    maxBody: 67108864,
    bodyTimeout: 20,
    bodyMinRate: 500,
    queueLimit: 512,
    selfCallWorkers: 1,
    queueTimeout: 30,
    maxRequests: 10000,
    trustProxy: [],
    mounts: [],
    env: {},
    ini: {},
    allowNetwork: [],
    connectTo: {},
    frontController: '/index.php',
    deny: [],
    assetExtensions: [],
    warmup: [],
    statCache: 1,
    opcacheValidate: true,
    workerImage: true,
    workerResets: 10,
    maxWorkerMemory: 268435456,
    tmpSize: 134217728,
    compress: true,
    pageCache: false,
    pageCacheTtl: 10,
    pageCacheSize: 67108864,
    headerTimeout: 60,
    keepAliveTimeout: 75,
    sendTimeout: 60,
    maxHeaderSize: 16384,
    maxRequestsPerConnection: 1000,
    adminHost: '127.0.0.1',
    smtpRequireTls: false,
    smtpMaxPerHour: 100,
    logLevel: 'info',
  });
  t.equal(config.smtp, undefined, 'no mail relay unless one is given');
  t.equal(config.sessionDir, undefined, 'no default session folder: each server makes a private one (session-dir.ts)');
  t.same(positionals, []);
  t.equal(help, false);
  t.ok(loadConfig({ argv: ['-h'], env: {}, cwd }).help, '-h asks for help');
  t.ok(loadConfig({ argv: ['--help'], env: {}, cwd }).help, '--help asks for help');
  t.same(loadConfig({ argv: ['wordpress', '--port', '1'], env: {}, cwd }).positionals, ['wordpress']);
});

/** For each setting: [flag, env var, file value, env value, flag value, and what each becomes]. */
const SAMPLES: Record<string, { flag: string; env: string; raw: [unknown, string, string]; want: [unknown, unknown, unknown] }> = {
  docroot: { flag: '--docroot', env: 'PHP_WASM_SERVER_DOCROOT', raw: ['/f/docroot', '/e/docroot', '/c/docroot'], want: ['/f/docroot', '/e/docroot', '/c/docroot'] },
  host: { flag: '--host', env: 'PHP_WASM_SERVER_HOST', raw: ['file.test', 'env.test', 'flag.test'], want: ['file.test', 'env.test', 'flag.test'] },
  port: { flag: '--port', env: 'PHP_WASM_SERVER_PORT', raw: [1001, '2002', '3003'], want: [1001, 2002, 3003] },
  workers: { flag: '--workers', env: 'PHP_WASM_SERVER_WORKERS', raw: [2, '3', '4'], want: [2, 3, 4] },
  php: { flag: '--php', env: 'PHP_WASM_SERVER_PHP', raw: ['8.1', '8.2', '8.4'], want: ['8.1', '8.2', '8.4'] },
  requestTimeout: { flag: '--request-timeout', env: 'PHP_WASM_SERVER_REQUEST_TIMEOUT', raw: [11, '12', '13.5'], want: [11, 12, 13.5] },
  maxBody: { flag: '--max-body', env: 'PHP_WASM_SERVER_MAX_BODY', raw: ['1M', '2m', '3K'], want: [1048576, 2097152, 3072] },
  bodyTimeout: { flag: '--body-timeout', env: 'PHP_WASM_SERVER_BODY_TIMEOUT', raw: [5, '6', '7.5'], want: [5, 6, 7.5] },
  bodyMinRate: { flag: '--body-min-rate', env: 'PHP_WASM_SERVER_BODY_MIN_RATE', raw: [100, '1K', '2048'], want: [100, 1024, 2048] },
  queueLimit: { flag: '--queue-limit', env: 'PHP_WASM_SERVER_QUEUE_LIMIT', raw: [5, '6', '7'], want: [5, 6, 7] },
  selfCallWorkers: { flag: '--self-call-workers', env: 'PHP_WASM_SERVER_SELF_CALL_WORKERS', raw: [0, '2', '3'], want: [0, 2, 3] },
  queueTimeout: { flag: '--queue-timeout', env: 'PHP_WASM_SERVER_QUEUE_TIMEOUT', raw: [5, '6', '7'], want: [5, 6, 7] },
  maxRequests: { flag: '--max-requests', env: 'PHP_WASM_SERVER_MAX_REQUESTS', raw: [100, '200', '300'], want: [100, 200, 300] },
  trustProxy: { flag: '--trust-proxy', env: 'PHP_WASM_SERVER_TRUST_PROXY', raw: [['10.0.0.1'], '10.0.0.2,loopback', '10.0.0.3'], want: [['10.0.0.1'], ['10.0.0.2', 'loopback'], ['10.0.0.3']] },
  mounts: {
    flag: '--mount', env: 'PHP_WASM_SERVER_MOUNT', raw: [['/f:/f'], '/e:/e:ro', '/c:/c:rw'],
    want: [[{ host: '/f', guest: '/f', readOnly: false }], [{ host: '/e', guest: '/e', readOnly: true }], [{ host: '/c', guest: '/c', readOnly: false }]],
  },
  allowNetwork: { flag: '--allow-network', env: 'PHP_WASM_SERVER_ALLOW_NETWORK', raw: [['f.test'], 'e.test', 'c.test:443'], want: [['f.test'], ['e.test'], ['c.test:443']] },
  connectTo: {
    flag: '--connect-to', env: 'PHP_WASM_SERVER_CONNECT_TO', raw: [{ 'f.test:443': '127.0.0.1:1' }, 'e.test:443=127.0.0.1:2', 'c.test:443=127.0.0.1:3'],
    want: [{ 'f.test:443': '127.0.0.1:1' }, { 'e.test:443': '127.0.0.1:2' }, { 'c.test:443': '127.0.0.1:3' }],
  },
  frontController: { flag: '--front-controller', env: 'PHP_WASM_SERVER_FRONT_CONTROLLER', raw: ['/f.php', '/e.php', '/c.php'], want: ['/f.php', '/e.php', '/c.php'] },
  assetExtensions: { flag: '--asset-extensions', env: 'PHP_WASM_SERVER_ASSET_EXTENSIONS', raw: [['js'], 'css', 'png'], want: [['js'], ['css'], ['png']] },
  warmup: { flag: '--warmup', env: 'PHP_WASM_SERVER_WARMUP', raw: [['/f'], '/e', '/c'], want: [['/f'], ['/e'], ['/c']] },
  statCache: { flag: '--stat-cache', env: 'PHP_WASM_SERVER_STAT_CACHE', raw: ['2', '0', '0.5'], want: [2, 0, 0.5] },
  opcacheValidate: { flag: '--opcache-validate', env: 'PHP_WASM_SERVER_OPCACHE_VALIDATE', raw: [false, 'yes', 'off'], want: [false, true, false] },
  workerImage: { flag: '--worker-image', env: 'PHP_WASM_SERVER_WORKER_IMAGE', raw: [false, 'yes', 'off'], want: [false, true, false] },
  workerResets: { flag: '--worker-resets', env: 'PHP_WASM_SERVER_WORKER_RESETS', raw: [0, '5', '20'], want: [0, 5, 20] },
  sessionDir: { flag: '--session-dir', env: 'PHP_WASM_SERVER_SESSION_DIR', raw: ['/f/s', '/e/s', '/c/s'], want: ['/f/s', '/e/s', '/c/s'] },
  opcacheFileCache: { flag: '--opcache-file-cache', env: 'PHP_WASM_SERVER_OPCACHE_FILE_CACHE', raw: ['/f/o', '/e/o', '/c/o'], want: ['/f/o', '/e/o', '/c/o'] },
  maxWorkerMemory: { flag: '--max-worker-memory', env: 'PHP_WASM_SERVER_MAX_WORKER_MEMORY', raw: ['64M', '0', '1G'], want: [67108864, 0, 1073741824] },
  tmpSize: { flag: '--tmp-size', env: 'PHP_WASM_SERVER_TMP_SIZE', raw: ['64M', '2G', '100M'], want: [67108864, 2147483648, 104857600] },
  compress: { flag: '--compress', env: 'PHP_WASM_SERVER_COMPRESS', raw: [false, 'on', 'false'], want: [false, true, false] },
  pageCache: { flag: '--page-cache', env: 'PHP_WASM_SERVER_PAGE_CACHE', raw: [true, 'off', 'true'], want: [true, false, true] },
  pageCacheTtl: { flag: '--page-cache-ttl', env: 'PHP_WASM_SERVER_PAGE_CACHE_TTL', raw: [5, '60', '2.5'], want: [5, 60, 2.5] },
  pageCacheSize: { flag: '--page-cache-size', env: 'PHP_WASM_SERVER_PAGE_CACHE_SIZE', raw: ['16M', '1G', '2M'], want: [16777216, 1073741824, 2097152] },
  headerTimeout: { flag: '--header-timeout', env: 'PHP_WASM_SERVER_HEADER_TIMEOUT', raw: [10, '20', '30.5'], want: [10, 20, 30.5] },
  keepAliveTimeout: { flag: '--keepalive-timeout', env: 'PHP_WASM_SERVER_KEEPALIVE_TIMEOUT', raw: [5, '6', '7'], want: [5, 6, 7] },
  sendTimeout: { flag: '--send-timeout', env: 'PHP_WASM_SERVER_SEND_TIMEOUT', raw: [5, '6', '7'], want: [5, 6, 7] },
  maxHeaderSize: { flag: '--max-header-size', env: 'PHP_WASM_SERVER_MAX_HEADER_SIZE', raw: ['8K', '32K', '2048'], want: [8192, 32768, 2048] },
  maxRequestsPerConnection: { flag: '--max-requests-per-connection', env: 'PHP_WASM_SERVER_MAX_REQUESTS_PER_CONNECTION', raw: [10, '0', '100'], want: [10, 0, 100] },
  adminPort: { flag: '--admin-port', env: 'PHP_WASM_SERVER_ADMIN_PORT', raw: [9087, '0', '9187'], want: [9087, 0, 9187] },
  adminHost: { flag: '--admin-host', env: 'PHP_WASM_SERVER_ADMIN_HOST', raw: ['0.0.0.0', '::', '10.0.0.1'], want: ['0.0.0.0', '::', '10.0.0.1'] },
  smtp: { flag: '--smtp', env: 'PHP_WASM_SERVER_SMTP', raw: ['smtp://f.test', 'smtps://e.test', 'smtp://c.test:2525'], want: ['smtp://f.test', 'smtps://e.test', 'smtp://c.test:2525'] },
  smtpRequireTls: { flag: '--smtp-require-tls', env: 'PHP_WASM_SERVER_SMTP_REQUIRE_TLS', raw: [true, 'no', 'yes'], want: [true, false, true] },
  smtpMaxPerHour: { flag: '--smtp-max-per-hour', env: 'PHP_WASM_SERVER_SMTP_MAX_PER_HOUR', raw: [10, '20', '30'], want: [10, 20, 30] },
  logLevel: { flag: '--log-level', env: 'PHP_WASM_SERVER_LOG_LEVEL', raw: ['warn', 'error', 'debug'], want: ['warn', 'error', 'debug'] },
};
/** Settings whose layers merge instead of replacing each other (tested on their own below). */
const MERGING = ['env', 'ini', 'deny'];

t.test('every setting has a flag and a PHP_WASM_SERVER_* variable', async (t) => {
  const keys = OPTIONS.map((o) => o.key).filter((k) => k !== 'config' && !MERGING.includes(k));
  t.same(keys.filter((k) => !(k in SAMPLES)), [], 'every option is in the precedence table below');
  for (const [key, sample] of Object.entries(SAMPLES)) {
    const option = OPTIONS.find((o) => o.key === key);
    t.equal(option && `--${option.flag}`, sample.flag, `${key} flag`);
    t.equal(option?.env, sample.env, `${key} variable`);
  }
  t.equal(OPTIONS.find((o) => o.key === 'config')?.env, 'PHP_WASM_SERVER_CONFIG');
});

t.test('precedence flag > env > file > defaults, key by key', async (t) => {
  const defaults = load();
  // Which layers set each key: a rotating pattern, so different keys win from different layers in one load.
  const patterns: Array<{ file: boolean; env: boolean; flag: boolean }> = [
    { file: true, env: false, flag: false },
    { file: true, env: true, flag: false },
    { file: true, env: true, flag: true },
    { file: false, env: true, flag: true },
    { file: false, env: false, flag: true },
    { file: false, env: true, flag: false },
    { file: true, env: false, flag: true },
    { file: false, env: false, flag: false },
  ];
  for (let shift = 0; shift < patterns.length; shift++) {
    const fileValues: Record<string, unknown> = {};
    const env: Record<string, string> = {};
    const argv: string[] = [];
    const expected: Record<string, unknown> = {};
    Object.entries(SAMPLES).forEach(([key, sample], i) => {
      const layers = patterns[(i + shift) % patterns.length];
      if (layers.file) fileValues[key] = sample.raw[0];
      if (layers.env) env[sample.env] = sample.raw[1];
      if (layers.flag) argv.push(`${sample.flag}=${sample.raw[2]}`);
      expected[key] = layers.flag ? sample.want[2] : layers.env ? sample.want[1] : layers.file ? sample.want[0] : ({ ...defaults } as Record<string, unknown>)[key];
    });
    const file = configFile(fileValues);
    const config: Record<string, unknown> = { ...load([...argv, '--config', file], env) };
    for (const key of Object.keys(SAMPLES)) t.same(config[key], expected[key], `rotation ${shift}: ${key}`);
  }
});

t.test('relative paths: a config file against its folder, flags and variables against cwd', async (t) => {
  const file = configFile({ docroot: 'public', sessionDir: '../sessions', mounts: ['data:/data:ro', { host: './up', guest: '/up' }] }, 'site/conf/site.json');
  const fromFile = load(['--config', file]);
  t.equal(fromFile.docroot, path.join(tmp, 'site', 'conf', 'public'));
  t.equal(fromFile.sessionDir, path.join(tmp, 'site', 'sessions'));
  t.same(fromFile.mounts, [
    { host: path.join(tmp, 'site', 'conf', 'data'), guest: '/data', readOnly: true },
    { host: path.join(tmp, 'site', 'conf', 'up'), guest: '/up', readOnly: false },
  ]);
  t.equal(fromFile.config, file);

  const fromFlags = load(['--docroot', 'web', '--session-dir', '../s', '--mount', 'd:/m']);
  t.equal(fromFlags.docroot, path.join(cwd, 'web'));
  t.equal(fromFlags.sessionDir, path.join(tmp, 's'));
  t.same(fromFlags.mounts, [{ host: path.join(cwd, 'd'), guest: '/m', readOnly: false }]);

  const fromEnv = load([], { PHP_WASM_SERVER_DOCROOT: 'envweb', PHP_WASM_SERVER_SESSION_DIR: 'envsessions', PHP_WASM_SERVER_MOUNT: 'envdata:/e' });
  t.equal(fromEnv.docroot, path.join(cwd, 'envweb'), 'a variable resolves against the given cwd, not the process cwd');
  t.equal(fromEnv.sessionDir, path.join(cwd, 'envsessions'));
  t.same(fromEnv.mounts, [{ host: path.join(cwd, 'envdata'), guest: '/e', readOnly: false }]);

  const relFlag = load(['--config', '../site/conf/site.json']);
  t.equal(relFlag.docroot, path.join(tmp, 'site', 'conf', 'public'), '--config itself resolves against cwd');
  t.equal(relFlag.config, file);
  const relEnv = load([], { PHP_WASM_SERVER_CONFIG: '../site/conf/site.json' });
  t.equal(relEnv.docroot, path.join(tmp, 'site', 'conf', 'public'), 'PHP_WASM_SERVER_CONFIG resolves against cwd');
  t.equal(relEnv.config, file);
  const both = load(['--config', file], { PHP_WASM_SERVER_CONFIG: 'missing.json' });
  t.equal(both.config, file, '--config beats PHP_WASM_SERVER_CONFIG (the missing file is never read)');

  t.equal(load(['--docroot', '/abs/root']).docroot, '/abs/root', 'absolute paths stay');
  t.equal(load(['--config', configFile({ docroot: '/abs/x' })]).docroot, '/abs/x');
  t.equal(load().docroot, path.join(projectRoot, 'docroot'), "defaults.json's ../docroot is relative to config/");
});

t.test('int settings', async (t) => {
  t.equal(load(['--port', '0']).port, 0);
  t.equal(load(['--port', '65535']).port, 65535);
  t.equal(load(['--port', ' 8080 ']).port, 8080);
  t.equal(load(['--config', configFile({ port: '8081' })]).port, 8081, 'a JSON string holding a number');
  t.equal(load(['--workers', '1']).workers, 1);
  t.equal(load(['--workers', '64']).workers, 64);
  t.equal(load(['--queue-limit', '0']).queueLimit, 0);
  t.equal(load(['--max-requests', '1000000']).maxRequests, 1000000);
  for (const bad of ['65536', '-1', 'abc', '80.5', '1e3', '0x50', '', '+80', '8080a']) {
    rejects(t, () => load([`--port=${bad}`]), 'port', ['port', 'whole number', 'from 0 to 65535', '--port'], `--port=${bad}`);
  }
  rejects(t, () => load(['--config', configFile({ port: 8080.5 })]), 'port', ['whole number'], 'JSON 8080.5');
  rejects(t, () => load(['--config', configFile({ port: true })]), 'port', ['whole number'], 'JSON true');
  rejects(t, () => load(['--workers', '0']), 'workers', ['from 1 to 64'], 'workers 0');
  rejects(t, () => load(['--workers', '65']), 'workers', ['from 1 to 64'], 'workers 65');
  rejects(t, () => load(['--max-requests', '1000001']), 'maxRequests', ['from 1 to 1000000', '--max-requests'], 'max-requests 1000001');
  rejects(t, () => load(['--queue-limit', '-5']), 'arguments', ['--queue-limit', 'ambiguous'], 'queue-limit -5 (parseArgs: write --queue-limit=-5)');
  rejects(t, () => load(['--queue-limit=-5']), 'queueLimit', ['from 0 to 100000', '--queue-limit'], 'queue-limit=-5');
});

t.test('seconds settings', async (t) => {
  t.equal(load(['--request-timeout', '30']).requestTimeout, 30);
  t.equal(load(['--request-timeout', '1.5']).requestTimeout, 1.5);
  t.equal(load(['--request-timeout', '2s']).requestTimeout, 2);
  t.equal(load(['--request-timeout', '0.1']).requestTimeout, 0.1);
  t.equal(load(['--request-timeout', '86400']).requestTimeout, 86400);
  t.equal(load(['--config', configFile({ requestTimeout: 2.5, queueTimeout: '3s' })]).queueTimeout, 3);
  for (const bad of ['0', '0.05', '-1', 'abc', '1m', '86401', '', '.5', 'Infinity']) {
    rejects(t, () => load([`--request-timeout=${bad}`]), 'requestTimeout', ['requestTimeout', 'seconds', 'from 0.1 to 86400', '--request-timeout'], `--request-timeout=${bad}`);
  }
  rejects(t, () => load(['--queue-timeout', '3601']), 'queueTimeout', ['from 0.1 to 3600'], 'queue-timeout 3601');
});

t.test('size settings', async (t) => {
  const sizes: Array<[string, number]> = [
    ['64M', 67108864], ['64m', 67108864], ['64MiB', 67108864], ['64MB', 67108864], ['64 M', 67108864],
    ['512K', 524288], ['512k', 524288], ['1g', 1073741824], ['1G', 1073741824], ['1T', 1099511627776],
    ['1048576', 1048576], ['1.5M', 1572864], ['0', 0], ['100b', 100], ['100B', 100],
  ];
  for (const [raw, bytes] of sizes) t.equal(load(['--max-body', raw]).maxBody, bytes, `--max-body ${raw}`);
  t.equal(load(['--config', configFile({ maxBody: 1024 })]).maxBody, 1024, 'a JSON number is bytes');
  for (const bad of ['64X', '-1', 'M', '', '64ib', '1,5M', 'lots', '64 MM', '1e6']) {
    rejects(t, () => load([`--max-body=${bad}`]), 'maxBody', ['maxBody', '64M, 512K', '--max-body'], `--max-body=${bad}`);
  }
  rejects(t, () => load(['--config', configFile({ maxBody: -5 })]), 'maxBody', ['64M'], 'JSON -5');
  rejects(t, () => load(['--config', configFile({ maxBody: [1] })]), 'maxBody', ['64M'], 'JSON [1]');

  t.equal(parseSize('64M'), 67108864);
  t.equal(parseSize(' 2k '), 2048);
  t.equal(parseSize(1.9), 1, 'bytes are whole');
  t.equal(parseSize(-1), null);
  t.equal(parseSize(Number.NaN), null);
  t.equal(parseSize('64iB'), null);
  t.equal(toIniSize(67108864), '64M');
  t.equal(toIniSize(524288), '512K');
  t.equal(toIniSize(1572864), '1536K');
  t.equal(toIniSize(1000), '1000');
  t.equal(toIniSize(1025), '1025');
});

t.test('bool settings', async (t) => {
  for (const raw of ['true', '1', 'yes', 'on', 'On', 'TRUE']) t.equal(load([`--opcache-validate=${raw}`]).opcacheValidate, true, raw);
  for (const raw of ['false', '0', 'no', 'off', 'Off', 'FALSE']) t.equal(load([`--opcache-validate=${raw}`]).opcacheValidate, false, raw);
  t.equal(load(['--config', configFile({ opcacheValidate: false })]).opcacheValidate, false);
  t.equal(load([], { PHP_WASM_SERVER_OPCACHE_VALIDATE: 'no' }).opcacheValidate, false);
  for (const bad of ['maybe', '', '2', 'enabled']) {
    rejects(t, () => load([`--opcache-validate=${bad}`]), 'opcacheValidate', ['true or false', '--opcache-validate'], `--opcache-validate=${bad}`);
  }
  rejects(t, () => load(['--config', configFile({ opcacheValidate: [true] })]), 'opcacheValidate', ['true or false'], 'JSON [true]');
  rejects(t, () => load(['--config', configFile({ opcacheValidate: { on: true } })]), 'opcacheValidate', ['true or false'], 'JSON object');
});

t.test('choice settings', async (t) => {
  for (const version of ['7.4', '8.0', '8.1', '8.2', '8.3', '8.4', '8.5']) t.equal(load(['--php', version]).php, version);
  t.equal(load(['--config', configFile({ php: 8.2 })]).php, '8.2', 'a JSON number');
  t.equal(load(['--config', configFile({ php: 8 })]).php, '8.0', 'JSON 8 is 8.0');
  rejects(t, () => load(['--config', configFile({ php: 8.25 })]), 'php', ['must be one of'], 'JSON 8.25 is no version');
  for (const bad of ['9.0', '8', '8.3.1', 'latest', '']) {
    rejects(t, () => load([`--php=${bad}`]), 'php', ['must be one of 7.4, 8.0, 8.1, 8.2, 8.3, 8.4', '--php'], `--php=${bad}`);
  }
  t.equal(load(['--log-level', 'debug']).logLevel, 'debug');
  t.equal(load(['--log-level', 'silent']).logLevel, 'silent');
  rejects(t, () => load([], { PHP_WASM_SERVER_LOG_LEVEL: 'verbose' }), 'logLevel', ['fatal, error, warn, info, debug, trace, silent', 'PHP_WASM_SERVER_LOG_LEVEL'], 'log level verbose');
});

t.test('list settings', async (t) => {
  t.same(load(['--trust-proxy', 'loopback, 10.0.0.0/8']).trustProxy, ['loopback', '10.0.0.0/8']);
  t.same(load(['--trust-proxy', 'a', '--trust-proxy', 'b,c']).trustProxy, ['a', 'b', 'c'], 'repeated flags add up');
  t.same(load(['--trust-proxy', 'a,,b,']).trustProxy, ['a', 'b'], 'blanks dropped');
  t.same(load(['--config', configFile({ allowNetwork: ['x.test', 'y.test:80'] })]).allowNetwork, ['x.test', 'y.test:80']);
  t.same(load(['--config', configFile({ warmup: '/a,/b' })]).warmup, ['/a', '/b'], 'a JSON string is comma-separated too');
  t.same(load([], { PHP_WASM_SERVER_ALLOW_NETWORK: 'a.test, b.test' }).allowNetwork, ['a.test', 'b.test']);
  rejects(t, () => load(['--config', configFile({ trustProxy: [1] })]), 'trustProxy', ['comma-separated list'], 'JSON [1]');
  rejects(t, () => load(['--config', configFile({ warmup: { a: 1 } })]), 'warmup', ['comma-separated list'], 'JSON object');
  // Lists that do not merge: a higher layer replaces a lower one.
  t.same(load(['--trust-proxy', 'loopback', '--config', configFile({ trustProxy: ['10.0.0.1'] })]).trustProxy, ['loopback']);
});

t.test('map settings', async (t) => {
  t.same(load(['--env', 'A=1', '--env', 'B=x=y', '--env', 'C=']).env, { A: '1', B: 'x=y', C: '' }, "values keep '=' and may be empty");
  t.same(load(['--ini', 'memory_limit=512M']).ini, { memory_limit: '512M' });
  t.same(load(['--config', configFile({ env: { A: 1, B: true, C: 'c' } })]).env, { A: '1', B: 'true', C: 'c' });
  t.same(load(['--config', configFile({ env: ['A=1', 'B=2'] })]).env, { A: '1', B: '2' });
  t.same(load([], { PHP_WASM_SERVER_ENV: 'GREETING=hello, world' }).env, { GREETING: 'hello, world' });
  for (const bad of ['novalue', '=x', ' =x']) {
    rejects(t, () => load(['--env', bad]), 'env', ['NAME=VALUE', '--env'], `--env ${bad}`);
  }
  rejects(t, () => load(['--config', configFile({ env: { A: null } })]), 'env', ['NAME=VALUE'], 'JSON null value');
  rejects(t, () => load(['--config', configFile({ ini: { a: { b: 1 } } })]), 'ini', ['NAME=VALUE'], 'JSON nested object');
  rejects(t, () => load(['--config', configFile({ env: { '': 'x' } })]), 'env', ['NAME=VALUE'], 'JSON empty name');
  rejects(t, () => load(['--config', configFile({ env: { 'A=B': 'x' } })]), 'env', ['NAME=VALUE'], "JSON name with '='");
  rejects(t, () => load(['--config', configFile({ env: 5 })]), 'env', ['NAME=VALUE'], 'JSON number');
});

t.test('env, ini and deny merge across layers instead of replacing', async (t) => {
  const file = configFile({ env: { A: '1', B: '2' }, ini: { memory_limit: '128M', 'date.timezone': 'UTC' }, deny: ['secret/'] });
  const config = load(['--config', file, '--env', 'C=4', '--ini', 'memory_limit=512M', '--deny', 'private/'], { PHP_WASM_SERVER_ENV: 'B=3' });
  t.same(config.env, { A: '1', B: '3', C: '4' }, 'env: key by key, the higher layer wins');
  t.same(config.ini, { memory_limit: '512M', 'date.timezone': 'UTC' });
  t.same(config.deny, ['secret/', 'private/']);
  t.same(load(['--deny', 'a/', '--config', configFile({ deny: ['a/'] })]).deny, ['a/'], 'no duplicates');
});

t.test('mount settings', async (t) => {
  const mounts = (...specs: string[]) => load(specs.flatMap((s) => ['--mount', s])).mounts;
  t.same(mounts('/h:/g'), [{ host: '/h', guest: '/g', readOnly: false }]);
  t.same(mounts('/h:/g:ro'), [{ host: '/h', guest: '/g', readOnly: true }]);
  t.same(mounts('/h:/g:rw'), [{ host: '/h', guest: '/g', readOnly: false }]);
  t.same(mounts('/h:/g/'), [{ host: '/h', guest: '/g', readOnly: false }], 'trailing slash dropped');
  t.same(mounts('/h:/a/../b'), [{ host: '/h', guest: '/b', readOnly: false }], 'guest normalised');
  t.same(mounts('rel:/g'), [{ host: path.join(cwd, 'rel'), guest: '/g', readOnly: false }]);
  t.same(mounts('/a:/x:ro', '/b:/y'), [{ host: '/a', guest: '/x', readOnly: true }, { host: '/b', guest: '/y', readOnly: false }], 'repeatable');
  const file = configFile({ mounts: [{ host: 'data', guest: '/data', mode: 'ro' }, '/abs:/abs'] });
  t.same(load(['--config', file]).mounts, [
    { host: path.join(path.dirname(file), 'data'), guest: '/data', readOnly: true },
    { host: '/abs', guest: '/abs', readOnly: false },
  ]);
  for (const bad of ['/h:g', '/h:/', '/h:/tmp/..', '/h:/g:xx', '/h', '/h:/g:ro:x', ':/g', '/h:/g:']) {
    rejects(t, () => mounts(bad), 'mounts', ['HOST:GUEST[:ro|rw]', '--mount'], `--mount ${bad}`);
  }
  rejects(t, () => load(['--config', configFile({ mounts: [{ host: '/h', guest: '/g', readOnly: true }] })]), 'mounts', ['HOST:GUEST'], 'an unknown key (readOnly) is not silently read-write');
  rejects(t, () => load(['--config', configFile({ mounts: [{ host: '/h', guest: '/g', mode: 'readonly' }] })]), 'mounts', ['HOST:GUEST'], 'mode readonly');
  rejects(t, () => load(['--config', configFile({ mounts: 5 })]), 'mounts', ['HOST:GUEST'], 'JSON number');
});

t.test('string and path settings', async (t) => {
  t.equal(load(['--front-controller', '']).frontController, '', 'an empty front controller is allowed');
  rejects(t, () => load(['--config', configFile({ host: 123 })]), 'host', ['must be a string'], 'JSON number host');
  rejects(t, () => load(['--docroot', '']), 'docroot', ['must be a path', '--docroot'], 'empty docroot');
  rejects(t, () => load(['--config', configFile({ docroot: ['a'] })]), 'docroot', ['must be a path'], 'JSON array docroot');
  t.equal(load([], { PHP_WASM_SERVER_PORT: '' }).port, 8087, 'an empty variable counts as unset');
});

t.test('error messages name the key, what is allowed and the source', async (t) => {
  rejects(t, () => load(['--port', '99999']), 'port', ['port', 'from 0 to 65535', '--port', '99999'], 'flag');
  rejects(t, () => load([], { PHP_WASM_SERVER_PORT: 'abc' }), 'port', ['port', 'whole number', 'PHP_WASM_SERVER_PORT', 'abc'], 'env var');
  const file = configFile({ port: 'abc' });
  rejects(t, () => load(['--config', file]), 'port', ['port', 'whole number', file], 'config file');

  const unknownKey = configFile({ prot: 1 });
  rejects(t, () => load(['--config', unknownKey]), 'prot', ['prot', 'is not a setting', 'port', unknownKey], 'unknown key in a file');
  rejects(t, () => load(['--prot', '1']), 'arguments', ["'--prot'", '--help'], 'unknown flag');
  rejects(t, () => load(['--port']), 'arguments', ['--port'], 'flag without its value');
  rejects(t, () => load(['--port', '--host', 'x']), 'arguments', ['--port'], 'ambiguous flag value');
  rejects(t, () => load(['--dir', 'x']), 'arguments', ["'--dir'"], 'a wordpress flag without the wordpress options');

  const missing = path.join(cwd, 'nope.json');
  rejects(t, () => load(['--config', 'nope.json']), 'config', ['config', 'readable JSON file', missing, '--config'], 'missing file');
  rejects(t, () => load([], { PHP_WASM_SERVER_CONFIG: 'nope.json' }), 'config', [missing, 'PHP_WASM_SERVER_CONFIG'], 'missing file from env');
  const broken = configFile('{ "port": 8080, }');
  rejects(t, () => load(['--config', broken]), 'config', ['readable JSON file', broken], 'invalid JSON');
  const array = configFile([1, 2]);
  rejects(t, () => load(['--config', array]), 'config', ['JSON object', array], 'a JSON array');
  rejects(t, () => load(['--config', configFile('null')]), 'config', ['JSON object'], 'JSON null');
  rejects(t, () => load(['--config', '']), 'config', ['must be a path', '--config'], 'empty --config');
});

t.test('null in a config file keeps the computed default', async (t) => {
  const config = load(['--config', configFile({ workers: null, port: null, sessionDir: null })]);
  t.equal(config.workers, os.availableParallelism());
  t.equal(config.port, 8087);
  t.equal(config.sessionDir, undefined, 'null sessionDir: each server makes a private one');
});

t.test('the wordpress options and preset', async (t) => {
  const preset = path.join(projectRoot, 'config', 'wordpress.json');
  const wp = (argv: string[] = [], env: Record<string, string> = {}) =>
    loadConfig<WordPressConfig>({ argv, env, cwd, extraOptions: WORDPRESS_OPTIONS, presetFile: preset }).config;
  const config = wp();
  t.equal(config.dir, path.join(projectRoot, 'var', 'wordpress'), 'preset paths are relative to config/');
  t.equal(config.sessionDir, path.join(projectRoot, 'var', 'sessions'));
  t.equal(config.opcacheFileCache, path.join(projectRoot, 'var', 'opcache'), 'compiled scripts kept across restarts');
  t.equal(config.cronInterval, 60);
  t.equal(config.frontController, '/index.php');
  t.same(config.warmup, ['/']);
  t.same(config.deny, ['wp-content/database/', 'wp-content/debug.log', 'wp-content/uploads/wc-logs/']);
  t.same(config.ini, { memory_limit: '256M', max_execution_time: '0', max_input_vars: '5000' });
  t.equal(config.port, 8087, 'core defaults still apply');
  t.equal(config.siteTitle, undefined);

  const flagged = wp(['--dir', 'site', '--cron-interval', '0', '--site-title', 'My Site', '--admin-user', 'admin',
    '--admin-password', 'pw', '--admin-email', 'a@example.com', '--port', '9000', '--ini', 'display_errors=On', '--deny', 'private/']);
  t.equal(flagged.dir, path.join(cwd, 'site'));
  t.equal(flagged.cronInterval, 0);
  t.equal(flagged.siteTitle, 'My Site');
  t.equal(flagged.adminUser, 'admin');
  t.equal(flagged.adminPassword, 'pw');
  t.equal(flagged.adminEmail, 'a@example.com');
  t.equal(flagged.port, 9000);
  t.same(flagged.ini, { memory_limit: '256M', max_execution_time: '0', max_input_vars: '5000', display_errors: 'On' },
    'an --ini flag keeps the preset ini');
  t.ok(flagged.deny.includes('wp-content/debug.log') && flagged.deny.includes('private/'), 'a --deny flag keeps the preset denials');

  const fromEnv = wp([], { PHP_WASM_SERVER_DIR: 'envsite', PHP_WASM_SERVER_CRON_INTERVAL: '120', PHP_WASM_SERVER_SITE_TITLE: 'T' });
  t.equal(fromEnv.dir, path.join(cwd, 'envsite'));
  t.equal(fromEnv.cronInterval, 120);
  t.equal(fromEnv.siteTitle, 'T');

  const file = configFile({ dir: 'wp', cronInterval: 30 });
  const fromFile = wp(['--config', file]);
  t.equal(fromFile.dir, path.join(path.dirname(file), 'wp'));
  t.equal(fromFile.cronInterval, 30);
  t.equal(wp(['--config', file, '--cron-interval', '5']).cronInterval, 5);

  rejects(t, () => wp(['--cron-interval', '-1']), 'arguments', ['--cron-interval'], 'cron-interval -1');
  rejects(t, () => wp(['--cron-interval=-1']), 'cronInterval', ['from 0 to 86400', '--cron-interval'], 'cron-interval=-1');
  rejects(t, () => wp(['--cron-interval', '86401']), 'cronInterval', ['from 0 to 86400'], 'cron-interval 86401');
  rejects(t, () => wp(['--dir', '']), 'dir', ['must be a path', '--dir'], 'empty dir');
  rejects(t, () => loadConfig({ argv: [], env: {}, cwd, presetFile: preset }), 'dir', ['is not a setting', preset], 'the preset needs the wordpress options');
  rejects(t, () => load(['--config', configFile({ cronInterval: 5 })]), 'cronInterval', ['is not a setting'], 'wordpress keys are unknown to the core command');
});

/** The value PHP ends up with: in php.ini the last line for a key wins. */
function iniValue(ini: string, key: string): string | undefined {
  let value: string | undefined;
  for (const line of ini.split('\n')) {
    const match = /^\s*([^;=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
    if (match && match[1] === key) value = match[2];
  }
  return value;
}

t.test('buildPhpIni: documented defaults, limits from maxBody, user overrides win', async (t) => {
  const base = load();
  const ini = buildPhpIni(base);
  t.equal(iniValue(ini, 'upload_max_filesize'), '64M');
  t.equal(iniValue(ini, 'post_max_size'), '64M');
  t.equal(iniValue(ini, 'output_buffering'), '4096');
  t.equal(iniValue(ini, 'display_errors'), 'Off');
  t.equal(iniValue(ini, 'log_errors'), 'On');
  t.equal(iniValue(ini, 'date.timezone'), 'UTC');
  t.ok(iniValue(ini, 'memory_limit'), 'memory_limit is set');
  t.equal(iniValue(ini, 'session.save_path'), GUEST_SESSION_DIR);
  t.equal(iniValue(ini, 'opcache.validate_timestamps'), '1');
  t.equal(iniValue(ini, 'auto_prepend_file'), GUEST_PREPEND);
  const disabled = (iniValue(ini, 'disable_functions') ?? '').replace(/"/g, '').split(',');
  for (const fn of ['exec', 'shell_exec', 'system', 'passthru', 'popen', 'proc_open']) t.ok(disabled.includes(fn), `${fn} is disabled`);

  for (const [maxBody, size] of [['512K', '512K'], ['1.5M', '1536K'], ['1000', '1000'], ['2G', '2048M']]) {
    const sized = buildPhpIni(load(['--max-body', maxBody]));
    t.equal(iniValue(sized, 'upload_max_filesize'), size, `upload_max_filesize follows --max-body ${maxBody}`);
    t.equal(iniValue(sized, 'post_max_size'), size, `post_max_size follows --max-body ${maxBody}`);
  }
  t.equal(iniValue(buildPhpIni(load(['--opcache-validate', 'off'])), 'opcache.validate_timestamps'), '0');

  const overridden = buildPhpIni(load(['--ini', 'memory_limit=512M', '--ini', 'upload_max_filesize=2M', '--ini', 'output_buffering=0',
    '--ini', 'date.timezone=Europe/Berlin', '--ini', 'session.save_path=/data/sessions', '--ini', 'display_errors=On']));
  t.equal(iniValue(overridden, 'memory_limit'), '512M', 'over config/php.ini');
  t.equal(iniValue(overridden, 'upload_max_filesize'), '2M', 'over the derived value');
  t.equal(iniValue(overridden, 'post_max_size'), '64M', 'what is not overridden stays derived');
  t.equal(iniValue(overridden, 'output_buffering'), '0');
  t.equal(iniValue(overridden, 'date.timezone'), 'Europe/Berlin');
  t.equal(iniValue(overridden, 'session.save_path'), '/data/sessions');
  t.equal(iniValue(overridden, 'display_errors'), 'On');
  t.equal(iniValue(buildPhpIni(load(['--ini', 'sendmail_path=/usr/sbin/sendmail -t'])), 'sendmail_path'), '"/usr/sbin/sendmail -t"', 'spaces are quoted');

  // php.ini evaluates constants and | & ~ ^ ! only in unquoted values: quoted, "E_ALL & ~E_DEPRECATED"
  // is a string and error_reporting() becomes 0 (checked against php.wasm 8.3: int(0) vs int(24575)).
  const expression = buildPhpIni(load(['--ini', 'error_reporting=E_ALL & ~E_DEPRECATED']));
  t.equal(iniValue(expression, 'error_reporting'), 'E_ALL & ~E_DEPRECATED', 'an ini expression is written unquoted');
});

t.test('buildPhpIni/buildPrepend: a user auto_prepend_file is chained, not replacing ours', async (t) => {
  const config = load(['--ini', "auto_prepend_file=/docroot/it's-prepend.php"]);
  const ini = buildPhpIni(config);
  t.equal(iniValue(ini, 'auto_prepend_file'), GUEST_PREPEND, 'php.ini keeps our prepend');
  t.equal(ini.split('\n').filter((l) => /^\s*auto_prepend_file\s*=/.test(l)).length, 1, 'only one auto_prepend_file line');
  const prepend = buildPrepend(config);
  t.ok(prepend.startsWith('<?php'), 'a PHP file');
  const httpsAt = prepend.indexOf("unset($_SERVER['HTTPS'])");
  const requireAt = prepend.indexOf("require '/docroot/it\\'s-prepend.php';");
  t.ok(httpsAt > 0, 'our HTTPS fix is there');
  t.ok(requireAt > httpsAt, 'then the user prepend is required, quote escaped');

  const plain = buildPrepend(load());
  t.notOk(plain.includes('require'), 'nothing to chain without a user prepend');
  const withExtra = buildPrepend({ ...load(), extraPrepend: '$GLOBALS["x"] = 1;' } as ServerConfig);
  t.ok(withExtra.includes('$GLOBALS["x"] = 1;'), 'a preset prepend is included');
});
