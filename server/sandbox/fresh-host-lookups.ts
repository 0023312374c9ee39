import { lstatSync } from 'node:fs';
import type { Runtime } from '../php-wasm/internals.js';

const O_CREAT = 0o100;

/**
 * Emscripten keeps every looked-up node in its name table and trusts it afterwards: a file another
 * worker (or the host) deleted still passes access() — PHP's file_exists() — and blocks mkdir()
 * with EEXIST for the rest of this worker's life. With several workers on one site that is wrong
 * answers (WordPress's `.maintenance` flag would outlive the update that removed it). A node of a
 * host folder (NODEFS) found in the table is checked on the host before it is believed; a gone one
 * is dropped, so the lookup falls through to NODEFS, which reports ENOENT.
 */
export function freshHostLookups(runtime: Runtime): void {
  const { FS } = runtime;
  const nodefs = FS.filesystems.NODEFS;
  const onHost = (node: EmscriptenNode) => node.mount?.type === nodefs;
  const goneFromHost = (node: EmscriptenNode): boolean => {
    try {
      // No exception for the expected answer, gone (see php-wasm/quiet-missing-lookups.ts).
      return lstatSync(nodefs.realPath(node), { throwIfNoEntry: false }) === undefined;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR';
    }
  };
  const isOpen = countOpenStreams(nodefs);
  // Only the node a path ends at is checked (one lstat): a stale folder above it is caught by
  // NODEFS itself, which looks its children up on the host.
  const lookupPath = FS.lookupPath.bind(FS);
  let answeredByHost = 0; // > 0: inside a call whose own host call fails for a gone node
  FS.lookupPath = (path: string, opts?: Record<string, unknown>) => {
    const found = lookupPath(path, opts);
    if (found.node && !answeredByHost && found.node !== found.node.parent && onHost(found.node) && !isOpen(found.node) && goneFromHost(found.node)) {
      FS.destroyNode(found.node);
      return lookupPath(path, opts);
    }
    return found;
  };
  // stat() and an open that creates nothing ask the host right after their lookup (lstat, open),
  // and a gone file fails there with ENOENT: a check before would only double the host calls
  // (opcache's timestamp checks are stats; includes and file reads are opens). A stale node stays
  // until a lookup that needs the check (access, mkdir, a creating open) meets it.
  const answering = <T>(call: () => T): T => {
    answeredByHost++;
    try {
      return call();
    } finally {
      answeredByHost--;
    }
  };
  const stat = FS.stat.bind(FS);
  FS.stat = (path: string, dontFollow?: boolean) => answering(() => stat(path, dontFollow));
  const open = FS.open.bind(FS);
  FS.open = (path: string | object, flags: number | string, mode?: number) =>
    typeof flags === 'number' && (flags & O_CREAT) === 0 ? answering(() => open(path, flags, mode)) : open(path, flags, mode);
  const mayCreate = FS.mayCreate.bind(FS);
  FS.mayCreate = (dir: EmscriptenNode, name: string) => {
    const hash = FS.hashName(dir.id, name);
    for (let node = FS.nameTable[hash]; node; node = node.name_next) {
      if (node.parent.id === dir.id && node.name === name && onHost(node) && goneFromHost(node)) {
        FS.destroyNode(node);
        break;
      }
    }
    return mayCreate(dir, name);
  };
}

/**
 * A node this instance holds open skips the check: its descriptor still reaches the file (a process
 * holding a file open does not notice its removal either). That matters for SQLite: php.wasm's
 * locking code looks the database path up twice at each lock and unlock (fcntl), 206 of the 1141
 * host calls of a warm WordPress home page.
 */
function countOpenStreams(nodefs: { stream_ops: Record<string, (stream: { node: EmscriptenNode }, ...rest: unknown[]) => unknown> }): (node: EmscriptenNode) => boolean {
  const open = new Map<EmscriptenNode, number>();
  const add = (node: EmscriptenNode, by: number) => {
    const count = (open.get(node) ?? 0) + by;
    if (count > 0) open.set(node, count);
    else open.delete(node);
  };
  const ops = nodefs.stream_ops;
  for (const [op, by] of [['open', 1], ['dup', 1], ['close', -1]] as const) {
    const original = ops[op]!;
    ops[op] = op === 'close'
      ? function (this: unknown, stream, ...rest) {
        try {
          return original.call(this, stream, ...rest);
        } finally {
          add(stream.node, by); // closed for this instance even when the host's close failed
        }
      }
      : function (this: unknown, stream, ...rest) {
        const result = original.call(this, stream, ...rest);
        add(stream.node, by); // after the host call: a failed open holds nothing
        return result;
      };
  }
  return (node) => open.has(node);
}

interface EmscriptenNode {
  id: number;
  name: string;
  parent: EmscriptenNode;
  name_next?: EmscriptenNode;
  mount?: { type?: unknown };
}
