import type { Runtime } from './internals.js';

const SLASH = 0x2f;
const ENOENT = 44; // Emscripten's errno numbering

/** FS.lookupPath's options, as Emscripten reads them. */
export interface LookupOptions {
  parent?: boolean;
  follow?: boolean;
  follow_mount?: boolean;
  noent_okay?: boolean;
}

export interface Lookup {
  path: string;
  node?: EmscriptenNode;
}

interface EmscriptenNode {
  mode: number;
  mounted?: { root: EmscriptenNode } | null;
}

/**
 * Emscripten's FS.lookupPath builds each prefix of the path with PATH.join2, which normalises the
 * whole prefix again (split, filter, splice, join) at every step: the walk costs the square of the
 * path's depth, and it runs for every open, stat, access and lock php.wasm makes (~4 % of a worker's
 * time on a WordPress REST request; the host calls themselves took ~7 %). Almost every path PHP
 * passes is absolute and already normal (no `.` or `..`), and meets no symlink on the way: for those
 * this walk takes the same steps (the same lookupNode, mount and link rules) with one split. Any
 * other path, and any symlink met, goes to Emscripten's own walk, which answers it from the start.
 */
export function fastLookupPath(runtime: Runtime): void {
  const { FS } = runtime;
  const emscriptenLookupPath = FS.lookupPath.bind(FS) as (path: string, opts?: LookupOptions) => Lookup;
  FS.lookupPath = (path: string, opts: LookupOptions = {}): Lookup => {
    if (typeof path !== 'string' || path.charCodeAt(0) !== SLASH) return emscriptenLookupPath(path, opts);
    const parts = path.split('/');
    let lastPart = -1;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (part === '.' || part === '..') return emscriptenLookupPath(path, opts);
      if (part) lastPart = i;
    }
    opts.follow_mount ??= true; // as Emscripten's walk defaults it (callers may read it back)
    let node = FS.root as EmscriptenNode;
    let nodePath = '/';
    for (let i = 0; i <= lastPart; i++) {
      const name = parts[i];
      if (!name) continue;
      const isLast = i === lastPart;
      if (isLast && opts.parent) break;
      nodePath = nodePath === '/' ? `/${name}` : `${nodePath}/${name}`;
      try {
        node = FS.lookupNode(node, name);
      } catch (error) {
        if ((error as { errno?: number } | undefined)?.errno === ENOENT && isLast && opts.noent_okay) return { path: nodePath };
        throw error;
      }
      if (FS.isMountpoint(node) && (!isLast || opts.follow_mount)) node = node.mounted!.root;
      if (FS.isLink(node.mode) && (!isLast || opts.follow)) return emscriptenLookupPath(path, opts);
    }
    return { path: nodePath, node };
  };
}
