/**
 * A small language for lock test cases, run against any FileLockManager so that two of them can be
 * held to the same answers:
 *   'flock PID/FD sh|ex|un [FILE]'          → granted?
 *   'fcntl PID/FD rd|wr|un FROM-TO [FILE]'  → granted?  (FROM-TO as in fcntl: TO === FROM means to the end)
 *   'getlk PID rd|wr FROM-TO [FILE]'        → 'TYPE START-END pid PID' of the first conflict, or 'none'
 *   'close PID/FD [FILE]', 'exit PID'       → undefined
 */
import type { FileLockManager } from '@php-wasm/universal';

export type Step = [step: string, expected?: boolean | string];

const WHOLE = { sh: 'shared', ex: 'exclusive', un: 'unlock' } as const;
const RANGE = { rd: 'shared', wr: 'exclusive', un: 'unlocked' } as const;

export function runStep(manager: FileLockManager, step: string, root: string): boolean | string | undefined {
  const [verb, owner, ...rest] = step.split(' ');
  const [pid, fd] = owner!.split('/').map(Number) as [number, number | undefined];
  const file = (name: string | undefined) => `${root}/${name ?? 'a'}`;
  const range = (text: string) => text.split('-').map(BigInt) as [bigint, bigint];
  switch (verb) {
    case 'flock': {
      const type = WHOLE[rest[0] as keyof typeof WHOLE];
      const op = type === 'unlock' ? { type, pid, fd: fd! } : { type, pid, fd: fd!, waitForLock: false };
      return manager.lockWholeFile(file(rest[1]), op);
    }
    case 'fcntl': {
      const [start, end] = range(rest[1]!);
      return manager.lockFileByteRange(file(rest[2]), { type: RANGE[rest[0] as keyof typeof RANGE], pid, fd: fd!, start, end }, false);
    }
    case 'getlk': {
      const [start, end] = range(rest[1]!);
      const found = manager.findFirstConflictingByteRangeLock(file(rest[2]), { type: RANGE[rest[0] as keyof typeof RANGE], pid, fd: 0, start, end });
      return found ? `${found.type} ${found.start}-${found.end} pid ${found.pid}` : 'none';
    }
    case 'close':
      manager.releaseLocksOnFdClose(pid, fd!, file(rest[0]));
      return undefined;
    case 'exit':
      manager.releaseLocksForProcess(pid);
      return undefined;
    default:
      throw new Error(`unknown step: ${step}`);
  }
}
