/**
 * One request into php.wasm through the C entry points PHP.runStream calls (the same calls, in the
 * same order), without runStream's per-request web streams, tee, text decoders and promise chains:
 * for a trivial script those cost more than PHP itself. Output is not returned here: the caller
 * takes it from php.wasm's output devices (pool/php-output.ts), as it already did under runStream.
 */
import type { PHP } from '@php-wasm/universal';
import { runtimeOf, type Runtime } from './internals.js';
import type { PhpJob } from '../cgi.js';

/** A job as the pool sends it (cgi.ts), with its body read. */
export type DirectRequest = PhpJob & { body?: Uint8Array };

/**
 * Runs the request and resolves with PHP's exit code. The instance must have started PHP already
 * (one php.run at boot: runStream's one-time php_wasm_init). A thrown error other than an exit
 * leaves the instance unusable, as under runStream: the caller discards it.
 */
export async function runDirect(php: PHP, request: DirectRequest): Promise<number> {
  const release = await php.semaphore.acquire(); // never beside a php.run (opcache samples)
  const runtime = runtimeOf(php);
  const call = (name: string, types: string[], args: unknown[]) => runtime.ccall(name, null, types, args);
  let bodyPointer = 0;
  try {
    // runStream's check; the router saw the file, but it may have gone since.
    if (!php.fileExists(request.scriptPath)) throw new Error(`The script path "${request.scriptPath}" does not exist.`);
    const uri = request.relativeUri;
    const queryAt = uri.indexOf('?');
    call('wasm_set_request_uri', ['string'], [uri]);
    call('wasm_set_query_string', ['string'], [queryAt === -1 ? '' : uri.slice(queryAt + 1)]);
    call('wasm_set_request_method', ['string'], [request.method]);
    const { host = 'example.com:443', cookie, 'content-type': contentType } = request.headers;
    call('wasm_set_request_host', ['string'], [host]);
    // php.wasm's own SERVER_PORT default (ours overrides it). runStream derives it from the Host
    // header, so a Host of "http://x:443" turned HTTPS on for a plain request; the scheme decides here.
    call('wasm_set_request_port', ['number'], [request.protocol === 'https' ? 443 : 80]);
    if (cookie) call('wasm_set_cookies', ['string'], [cookie]);
    if (contentType) call('wasm_set_content_type', ['string'], [contentType]);
    if (request.body) {
      bodyPointer = runtime.malloc(request.body.byteLength);
      if (!bodyPointer) throw new Error('Could not allocate memory for the request body.');
      runtime.HEAPU8.set(request.body, bodyPointer);
      call('wasm_set_request_body', ['number'], [bodyPointer]);
      call('wasm_set_content_length', ['number'], [request.body.byteLength]);
    }
    call('wasm_set_path_translated', ['string'], [request.scriptPath]);
    // runStream adds HTTPS=off and the headers above again (same values); the prepend drops
    // HTTPS=off, so $_SERVER ends up the same without them (test/direct-request.test.ts).
    for (const name in request.server) call('wasm_add_SERVER_entry', ['string', 'string'], [name, request.server[name]]);
    return await runtime.ccall('wasm_sapi_handle_request', 'number', [], [], { async: true });
  } catch (error) {
    if (isExitStatus(error)) return error.status;
    throw error;
  } finally {
    if (bodyPointer) runtime.free(bodyPointer);
    closeLeakedRequestStreams(runtime);
    release();
  }
}

const REQUEST_DEVICES = new Set(['/request/stdout', '/request/stderr']);

/**
 * php.wasm's C side opens /request/stdout and /request/stderr at each request's start, dup2()s
 * them onto fds 1 and 2, and never closes the opened ones: two descriptors lost per run (php.run's
 * too), until Emscripten's 4096 run out and the instance aborts (request 2046), and each open
 * meanwhile searches past them for a free number. After the run fds 1 and 2 are the terminal again,
 * so any descriptor still on those devices is one of the lost ones.
 */
function closeLeakedRequestStreams(runtime: Runtime): void {
  const { FS } = runtime;
  const streams = FS.streams as Array<{ fd: number; path?: string } | null | undefined>;
  for (let fd = 3; fd < streams.length; fd++) {
    const stream = streams[fd];
    if (stream && REQUEST_DEVICES.has(stream.path ?? '')) FS.close(stream);
  }
}

/** Emscripten's exit(): PHP ended through C exit() with this code (runStream reports it the same way). */
function isExitStatus(error: unknown): error is { status: number } {
  return error instanceof Error && error.name === 'ExitStatus' && 'status' in error;
}
