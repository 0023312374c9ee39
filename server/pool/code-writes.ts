import type { Runtime } from '../php-wasm/internals.js';

/**
 * Files PHP may compile, by name: what servers hand to PHP (.php, .phtml, the old .php3–.php8) and
 * what apps include under other names (.inc; CakePHP's .ctp; Drupal's .module, .install, .theme,
 * .profile, .engine). Data files (a SQLite database, uploads, JSON caches) are written far more
 * often and never compiled.
 */
const CODE_FILE = /\.(php[3-8]?|phtml|inc|ctp|module|install|theme|profile|engine)$/i;

export function isCodeFile(path: string): boolean {
  return CODE_FILE.test(path);
}

const O_ACCMODE = 0o3;
const O_RDONLY = 0;

/**
 * Tells `report` the guest path of every code file PHP wrote on a host folder (the docroot or a
 * writable mount), once the file is closed and so complete on the host, and of every code file or
 * folder it renamed into place there (a plugin or theme update moves a whole folder); a folder's path
 * ends in `/`. Each worker's opcache is its own, so the pool passes these on to the other workers
 * (see stale-code.ts). Files in the worker's own /tmp are seen by no other worker: not reported.
 */
export function reportCodeWrites(runtime: Runtime, report: (guestPath: string) => void): void {
  const { FS } = runtime;
  const onHost = (node: { mount?: { type?: unknown } } | undefined) => node?.mount?.type === FS.filesystems.NODEFS;

  const close = FS.close;
  FS.close = function (this: unknown, stream: { flags: number; path: string; node?: { mount?: { type?: unknown } } }) {
    const wrote = (stream.flags & O_ACCMODE) !== O_RDONLY && onHost(stream.node) && isCodeFile(stream.path);
    try {
      return close.call(this, stream);
    } finally {
      // Even when the host's close failed: the writes themselves went to the host as they were made.
      if (wrote) report(stream.path);
    }
  };

  const rename = FS.rename;
  FS.rename = function (this: unknown, oldPath: string, newPath: string) {
    const result = rename.call(this, oldPath, newPath);
    let node: { mode: number; mount?: { type?: unknown } } | undefined;
    try {
      node = FS.lookupPath(newPath).node;
    } catch {
      return result; // gone again already (another worker); the rename itself succeeded
    }
    if (!onHost(node)) return result;
    if (FS.isDir(node!.mode)) report(`${FS.getPath(node)}/`);
    else if (isCodeFile(newPath)) report(FS.getPath(node));
    return result;
  };
}

/**
 * PHP's socket sends go through this first: a loopback request (on a new connection or a kept-alive
 * one) must not reach the server before the code changes made before it.
 */
export function beforeSocketSends(imports: WebAssembly.Imports, hook: () => void): WebAssembly.Imports {
  const env = imports.env as Record<string, (...args: unknown[]) => unknown>;
  const sendto = env.__syscall_sendto!;
  return { ...imports, env: { ...env, __syscall_sendto: (...args: unknown[]) => { hook(); return sendto(...args); } } };
}

/** Paths per message to the pool: a script writing files in a loop sends one message per this many. */
export const CODE_CHANGE_BATCH = 256;
/** Nor is a change kept longer than this: a worker ended mid-request (a timeout) loses at most these. */
export const CODE_CHANGE_DELAY_MS = 50;

/**
 * The code changes of this worker not yet sent to the pool, each path once. They must reach the pool
 * before anything PHP does next can reach the server or the client: the worker flushes them before
 * PHP sends on a socket, before any of the response goes out, and when the request ends; they also
 * go when a batch is full or its first change is 50 ms old.
 */
export class CodeChangeBatch {
  private readonly pending = new Set<string>();
  private since = 0;

  constructor(
    private readonly send: (paths: string[]) => void,
    private readonly max = CODE_CHANGE_BATCH,
    private readonly now: () => number = () => performance.now(),
  ) {}

  note(path: string): void {
    if (this.pending.size === 0) this.since = this.now();
    this.pending.add(path);
    if (this.pending.size >= this.max || this.now() - this.since >= CODE_CHANGE_DELAY_MS) this.flush();
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const paths = [...this.pending];
    this.pending.clear();
    this.send(paths);
  }
}
