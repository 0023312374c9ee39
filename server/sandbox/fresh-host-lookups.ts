import { lstatSync } from 'node:fs';
import type { Runtime } from '../php-wasm/internals.js';

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
      lstatSync(nodefs.realPath(node));
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR';
    }
  };
  // Only the node a path ends at is checked (one lstat): a stale folder above it is caught by
  // NODEFS itself, which looks its children up on the host.
  const lookupPath = FS.lookupPath.bind(FS);
  FS.lookupPath = (path: string, opts?: Record<string, unknown>) => {
    const found = lookupPath(path, opts);
    if (found.node && found.node !== found.node.parent && onHost(found.node) && goneFromHost(found.node)) {
      FS.destroyNode(found.node);
      return lookupPath(path, opts);
    }
    return found;
  };
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

interface EmscriptenNode {
  id: number;
  name: string;
  parent: EmscriptenNode;
  name_next?: EmscriptenNode;
  mount?: { type?: unknown };
}
