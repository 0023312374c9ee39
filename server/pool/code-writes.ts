import type { Runtime } from '../php-wasm/internals.js';

/**
 * Files PHP may compile, by name: what servers hand to PHP (.php, .phtml, the old .php3–.php8) and
 * what apps include under other names (.inc; Drupal's .module, .install, .theme, .profile, .engine).
 * Data files (a SQLite database, uploads, JSON caches) are written far more often and never compiled.
 */
const CODE_FILE = /\.(php[3-8]?|phtml|inc|module|install|theme|profile|engine)$/i;

export function isCodeFile(path: string): boolean {
  return CODE_FILE.test(path);
}

const O_ACCMODE = 0o3;
const O_RDONLY = 0;

/**
 * Tells `report` the guest path of every code file PHP wrote on a host folder (the docroot or a
 * writable mount), once the file is closed and so complete on the host, and of every folder or code
 * file it renamed into place there (a plugin or theme update moves a whole folder). Each worker's
 * opcache is its own, so the pool passes these on to the other workers (see stale-code.ts); files
 * in the worker's own /tmp are seen by no other worker and are not reported.
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
    if (onHost(node) && (FS.isDir(node!.mode) || isCodeFile(newPath))) report(FS.getPath(node));
    return result;
  };
}

/** Paths per message to the pool: a script writing files in a loop sends one message per this many. */
export const CODE_CHANGE_BATCH = 256;

/**
 * The code changes of this worker not yet sent to the pool, each path once. They must reach the pool
 * before anything PHP does next can reach the server: so they are sent before PHP opens a connection
 * (a loopback request), when the request ends, and whenever a batch is full.
 */
export class CodeChangeBatch {
  private readonly pending = new Set<string>();

  constructor(private readonly send: (paths: string[]) => void, private readonly max = CODE_CHANGE_BATCH) {}

  note(path: string): void {
    this.pending.add(path);
    if (this.pending.size >= this.max) this.flush();
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const paths = [...this.pending];
    this.pending.clear();
    this.send(paths);
  }
}
