/**
 * The request path (server/php-wasm/direct-request.ts) calls php.wasm's C entry points itself
 * instead of PHP.runStream. Pinned here on one real instance: for the same request both give PHP
 * the same superglobals, body, head, output and exit code, and a request leaves no descriptor
 * behind (php.wasm's own path loses two per run and aborts at run 2046).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { FileLockManagerInMemory, type HTTPMethod } from '@php-wasm/universal';
import { runDirect, type DirectRequest } from '../server/php-wasm/direct-request.js';
import { runtimeOf } from '../server/php-wasm/internals.js';
import { bootPhp } from '../server/pool/php-instance.js';
import { compilePhpModule } from '../server/pool/wasm-module.js';
import { GUEST_PREPEND, buildPrepend } from '../server/php-ini.js';
import { projectRoot } from '../server/paths.js';
import type { ServerConfig } from '../server/config/types.js';
import type { ResponseSink } from '../server/pool/response-sink.js';
import { tempDir } from './helpers/server.js';

const DUMP = `<?php
$server = $_SERVER;
unset($server['REQUEST_TIME'], $server['REQUEST_TIME_FLOAT']);
header('X-Seen: ' . count($server));
setcookie('a', 'b');
error_log('to stderr');
echo json_encode(['server' => $server, 'get' => $_GET, 'post' => $_POST, 'cookie' => $_COOKIE, 'input' => file_get_contents('php://input'), 'env' => getenv()]);
exit((int) ($_GET['exit'] ?? 0));`;

const server = (extra: Record<string, string>) => ({
  GATEWAY_INTERFACE: 'CGI/1.1', SERVER_SOFTWARE: 'test', SERVER_PROTOCOL: 'HTTP/1.1', SERVER_NAME: 'example.test', SERVER_ADDR: '127.0.0.1',
  SERVER_PORT: '8080', REQUEST_SCHEME: 'http', DOCUMENT_ROOT: '/docroot', SCRIPT_NAME: '/dump.php', SCRIPT_FILENAME: '/docroot/dump.php',
  PHP_SELF: '/dump.php', REMOTE_ADDR: '10.0.0.9', REMOTE_PORT: '5555', REDIRECT_STATUS: '200', HTTP_HOST: 'example.test:8080', ...extra,
});

const REQUESTS: Array<[string, DirectRequest]> = [
  ['GET with a query and cookies', {
    scriptPath: '/docroot/dump.php', relativeUri: '/dump.php?x=1&y[]=2', method: 'GET', protocol: 'http',
    headers: { host: 'example.test:8080', cookie: 'c=1; d=2' },
    server: server({ REQUEST_METHOD: 'GET', REQUEST_URI: '/dump.php?x=1&y[]=2', QUERY_STRING: 'x=1&y[]=2', HTTP_COOKIE: 'c=1; d=2' }),
  }],
  ['POST form over https, exit code 3', {
    scriptPath: '/docroot/dump.php', relativeUri: '/dump.php?exit=3', method: 'POST', protocol: 'https',
    headers: { host: 'example.test', 'content-type': 'application/x-www-form-urlencoded' },
    server: server({ REQUEST_METHOD: 'POST', REQUEST_URI: '/dump.php?exit=3', QUERY_STRING: 'exit=3', HTTPS: 'on', REQUEST_SCHEME: 'https', HTTP_HOST: 'example.test', CONTENT_TYPE: 'application/x-www-form-urlencoded', CONTENT_LENGTH: '12' }),
    body: new TextEncoder().encode('a=1&b=%C3%A9'),
  }],
];

t.test('the direct path gives PHP what runStream gives it, and leaves no descriptor open', async (t) => {
  const docroot = tempDir(t, 'pws-direct-');
  writeFileSync(join(docroot, 'dump.php'), DUMP);
  // The pool's channels (flow control, shared locks) are not used by an instance on its own.
  const { php, output } = await bootPhp({
    processId: 4242, phpVersion: '8.3', wasmModule: await compilePhpModule('8.3'), docroot, mounts: [], env: { ONLY: 'this' },
    phpIni: `${readFileSync(join(projectRoot, 'config', 'php.ini'), 'utf8')}\nauto_prepend_file = ${GUEST_PREPEND}\n`,
    files: { [GUEST_PREPEND]: buildPrepend({ ini: {} } as unknown as ServerConfig) },
    allowNetwork: [], connectTo: {}, tmpSize: 1 << 20, memoryCeiling: null,
  } as unknown as Parameters<typeof bootPhp>[0], { fileLockManager: new FileLockManagerInMemory() });
  t.teardown(() => runtimeOf(php).outboundNetworkProxyServer.close());

  /** One request through `run`, its head, output, errors and exit code as the worker takes them. */
  const capture = async (run: () => Promise<number>) => {
    const head: Uint8Array[] = [];
    const body: Uint8Array[] = [];
    output.route({ head: (bytes: Uint8Array) => head.push(Buffer.from(bytes)), write: (bytes: Uint8Array) => body.push(Buffer.from(bytes)) !== 0 } as unknown as ResponseSink);
    try {
      const exitCode = await run();
      return { exitCode, head: Buffer.concat(head).toString(), body: Buffer.concat(body).toString(), errors: output.takeErrors() };
    } finally {
      output.route(undefined);
    }
  };
  const viaRunStream = (request: DirectRequest) => capture(async () => {
    const response = await php.runStream({ ...request, method: request.method as HTTPMethod, $_SERVER: request.server });
    await response.stderrText;
    return response.exitCode;
  });

  for (const [name, request] of REQUESTS) {
    const expected = await viaRunStream(request);
    const actual = await capture(() => runDirect(php, request));
    t.same(actual, expected, name);
    t.match(actual.errors, /to stderr/, `${name}: stderr is captured`);
  }

  const openStreams = () => (runtimeOf(php).FS.streams as unknown[]).filter(Boolean).length;
  await capture(() => runDirect(php, REQUESTS[0]![1]));
  const before = openStreams();
  for (let i = 0; i < 5; i++) await capture(() => runDirect(php, REQUESTS[0]![1]));
  t.equal(openStreams(), before, 'no descriptor left open per request');

  const gone = { ...REQUESTS[0]![1], scriptPath: '/docroot/missing.php' };
  await t.rejects(runDirect(php, gone), /does not exist/, 'a script gone since routing is refused before PHP runs (php.wasm aborts on it)');
});
