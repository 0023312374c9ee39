import type { Runtime } from '../php-wasm/internals.js';

const ENOSPC = 51; // Emscripten's errno for "no space left on device"
const O_APPEND = 1024;

export interface TmpArea {
  /** Removes what the request left in /tmp (keeping what was there at boot) and resets the quota. */
  endRequest(): void;
  /** Bytes the files in /tmp hold now. */
  usedBytes(): number;
}

/**
 * The guest's /tmp lives in the worker's memory (Emscripten's MEMFS) for the worker's whole life:
 * unbounded, and shared by its requests (a request could read what an earlier one, maybe another
 * user's upload, left there). Here it gets a quota, enforced where files grow (write, truncate:
 * ENOSPC past it, as a full disk answers), and is emptied after every request. What it held once
 * the instance booted (opcache's lock file) belongs to the server and stays.
 */
export function limitTmp(runtime: Runtime, dir: string, maxBytes: number): TmpArea {
  const { FS } = runtime;
  const memfs = FS.filesystems.MEMFS;
  const prefix = dir + '/';
  const kept = new Set<string>(FS.readdir(dir) as string[]);
  // Grows with writes; only when it would pass the quota is it recounted from the files, so
  // deleting a file frees its space without every write walking the folder.
  let estimate = count();

  const isTmpFile = (node: TmpNode) => node.mount?.type === memfs && FS.isFile(node.mode) && (FS.getPath(node) as string).startsWith(prefix);

  function reserve(node: TmpNode, newSize: number): void {
    const growth = newSize - (node.usedBytes ?? 0);
    if (growth <= 0 || !isTmpFile(node)) return;
    if (estimate + growth > maxBytes) estimate = count();
    if (estimate + growth > maxBytes) throw new FS.ErrnoError(ENOSPC);
    estimate += growth;
  }

  const write = FS.write.bind(FS);
  FS.write = (stream: TmpStream, buffer: Uint8Array, offset: number, length: number, position?: number, canOwn?: boolean) => {
    const start = stream.flags & O_APPEND ? stream.node.usedBytes ?? 0 : position ?? stream.position;
    reserve(stream.node, start + length);
    return write(stream, buffer, offset, length, position, canOwn);
  };
  // truncate() and ftruncate() both end here.
  const doTruncate = FS.doTruncate.bind(FS);
  FS.doTruncate = (stream: TmpStream | null, node: TmpNode, length: number) => {
    reserve(node, length);
    return doTruncate(stream, node, length);
  };

  function count(): number {
    let total = 0;
    const walk = (path: string) => {
      for (const name of FS.readdir(path) as string[]) {
        if (name === '.' || name === '..') continue;
        const node = FS.lookupPath(`${path}/${name}`, { follow: false }).node as TmpNode;
        if (FS.isDir(node.mode)) walk(`${path}/${name}`);
        else if (FS.isFile(node.mode)) total += node.usedBytes ?? 0;
      }
    };
    walk(dir);
    return total;
  }

  function removeTree(path: string): void {
    const node = FS.lookupPath(path, { follow: false }).node as TmpNode;
    if (FS.isDir(node.mode)) {
      for (const name of FS.readdir(path) as string[]) if (name !== '.' && name !== '..') removeTree(`${path}/${name}`);
      FS.rmdir(path);
    } else {
      FS.unlink(path);
    }
  }

  return {
    endRequest() {
      for (const name of FS.readdir(dir) as string[]) {
        if (name === '.' || name === '..' || kept.has(name)) continue;
        try {
          removeTree(`${dir}/${name}`);
        } catch {
          // Left for the next request's end; the quota still counts it.
        }
      }
      estimate = count();
    },
    usedBytes: count,
  };
}

interface TmpNode {
  mode: number;
  usedBytes?: number;
  mount?: { type?: unknown };
}

interface TmpStream {
  node: TmpNode;
  flags: number;
  position: number;
}
