import type { PathKey } from './path-key.js';

/**
 * Remembers, per process, which path each of its keys stands for while it holds records under that
 * key. A second path with the same key (a hash collision) is refused while the first is held: its
 * unlock or close would otherwise drop the process's records on the first path (a missed conflict).
 * A refusal is an extra conflict: the caller gets EWOULDBLOCK, SQLite reports busy.
 */
export class OwnPathGuard {
  private readonly pathByKey = new Map<string, string>();

  private static id(pid: number, key: PathKey): string {
    return `${pid}/${key.high}/${key.low}`;
  }

  collides(pid: number, key: PathKey, path: string): boolean {
    const known = this.pathByKey.get(OwnPathGuard.id(pid, key));
    return known !== undefined && known !== path;
  }

  holding(pid: number, key: PathKey, path: string): void {
    this.pathByKey.set(OwnPathGuard.id(pid, key), path);
  }

  released(pid: number, key: PathKey): void {
    this.pathByKey.delete(OwnPathGuard.id(pid, key));
  }

  releasedAll(pid: number): void {
    const prefix = `${pid}/`;
    for (const id of this.pathByKey.keys()) if (id.startsWith(prefix)) this.pathByKey.delete(id);
  }
}
