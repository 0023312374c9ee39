import type { MessagePort } from 'node:worker_threads';
import type { PhpJob } from '../cgi.js';
import type { Mount, PhpVersion } from '../config/types.js';
import type { SelfRoute } from '../sandbox/self-route.js';
import type { WarmImageMeta, WarmImageRef } from './warm-image.js';

/** Everything a worker needs to boot its php.wasm instance (sent as workerData). */
export interface WorkerBoot {
  processId: number;
  phpVersion: PhpVersion;
  /** Compiled once in the main thread; each worker only instantiates it. */
  wasmModule?: WebAssembly.Module;
  /** Where the module comes when it was not ready at the worker's start (then wasmModule is absent). */
  modulePort?: MessagePort;
  /** Host folder mounted at /docroot. */
  docroot: string;
  mounts: Mount[];
  env: Record<string, string>;
  phpIni: string;
  /** Files written into the instance's own memory before the first request (guest path → text). */
  files: Record<string, string>;
  allowNetwork: string[];
  /** --connect-to: NAME:PORT → HOST:PORT for allowed destinations (see sandbox/connect-to.ts). */
  connectTo: Record<string, string>;
  /** Quota of the guest's /tmp (in the worker's memory), emptied after every request. */
  tmpSize: number;
  /** How far wasm memory may grow past its booted size (memory_limit plus headroom); null: no ceiling. */
  memoryCeiling: number | null;
  /** Output flow control shared with the main thread (see output-flow.ts). */
  flowBuffer: SharedArrayBuffer;
  /** The file lock table shared by all workers (see lock-table/shared-lock-table.ts). */
  lockTable: SharedArrayBuffer;
  /** What the worker's koffi calls go through, so the pool never terminates it inside one (see native-call-gate.ts). */
  nativeCallGate: SharedArrayBuffer;
  /** Where to report each request's host file-system calls (see host-fs-calls-channel.ts); absent: not counted. */
  hostFsCallsChannel?: string;
  /** A warm worker's memory to start from instead of starting PHP up (see warm-image.ts). */
  warmImage?: WarmImageRef;
}

/** A request body: in memory, or spooled to a host file the worker reads when the request starts. */
export type WorkerBody = Uint8Array | { path: string } | null;

export type ToWorker =
  | { type: 'run'; id: number; job: PhpJob; body: WorkerBody }
  /** The main thread's answer to a 'mail' message: did the relay accept it. */
  | { type: 'mail-result'; mailId: number; sent: boolean }
  /** Where PHP's connections to this server go, once it listens (see sandbox/self-route.ts). */
  | { type: 'self-route'; route: SelfRoute }
  /** Code files another worker's PHP changed: drop their compiled copies before the next request (see stale-code.ts). */
  | { type: 'invalidate-code'; paths: string[] }
  /** Give the system back the wasm memory pages that are all zeros (once warm, and when the pool is quiet; see zero-pages.ts). */
  | { type: 'release-memory' }
  /** Does the instance run optimised code yet (see wasm-code-cache/optimized-probe.ts)? */
  | { type: 'probe-optimized-code'; probeId: number }
  /** Write this instance's memory image to `path` (a new file), for the workers started after it (see warm-image.ts). */
  | { type: 'take-warm-image'; path: string }
  /** Between requests: become `image` again, in place of a new worker taking over (see warm-image.ts, resetToWarmImage). */
  | { type: 'reset-to-image'; image: WarmImageRef };

export interface RunEnd {
  exitCode: number;
  /** What PHP wrote to stderr (its log lines). */
  errors: string;
  /** The instance's wasm linear memory after the request, in bytes. */
  memoryBytes: number;
  /** The worker's opcache, when it was sampled after this request (an extra PHP run: counts as a request). */
  opcache?: import('./opcache-sample.js').OpcacheSample;
  /** The script hit the memory ceiling (it had tried to lift memory_limit). */
  hitMemoryCeiling?: boolean;
}

export type FromWorker =
  /** `image`: whether it started from the warm image it was given, or why not. */
  | { type: 'ready'; bootMs: number; memoryBytes: number; image?: import('./php-instance.js').ImageOutcome }
  /** The answer to 'take-warm-image': what the file holds, or why there is none. */
  | { type: 'warm-image'; path: string; meta: WarmImageMeta }
  /** `retry`: not now, the next warm worker may. */
  | { type: 'warm-image'; path: string; error: string; retry?: boolean }
  | { type: 'boot-failed'; error: string }
  /** The answer to 'reset-to-image', with its wasm memory afterwards. */
  | ({ type: 'reset'; memoryBytes: number; ms: number } & import('./php-instance.js').ResetOutcome)
  /** Something the sandbox refused that the operator should hear of (logged as a warning). */
  | { type: 'notice'; message: string; detail: Record<string, unknown> }
  /** The head, with the first body bytes and, for a response already complete, its end. */
  | { type: 'head'; id: number; status: number; headers: Record<string, string[]>; data?: Uint8Array; end?: RunEnd }
  | { type: 'chunk'; id: number; data: Uint8Array }
  | ({ type: 'end'; id: number; data?: Uint8Array } & RunEnd)
  | { type: 'failed'; id: number; error: string }
  /** What mail() wrote to sendmail (args after the command name), for the main thread's relay. */
  | { type: 'mail'; mailId: number; args: string[]; message: Uint8Array }
  /** Code files PHP wrote or folders it moved into place (guest paths; see code-writes.ts). */
  | { type: 'code-changed'; paths: string[] }
  /** What a 'release-memory' gave back (up to where a request that arrived ended the scan), or why it cannot. */
  | { type: 'memory-released'; bytes: number; residentBytes: number; ms: number; unavailable?: string }
  /** The answer to 'probe-optimized-code': yes, no, or why it cannot tell. */
  | { type: 'optimized-code'; probeId: number; optimized: boolean | string };
