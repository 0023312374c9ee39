import type { Runtime } from '../php-wasm/internals.js';

// musl's flock() operations and Emscripten's errno for "would block".
const LOCK_SH = 1;
const LOCK_NB = 4;
const EWOULDBLOCK = 6;
/** Longest pause between tries of a blocking shared lock; short, so a terminated worker stops soon. */
const MAX_PAUSE_MS = 16;

type Flock = (fd: number, operation: number) => number;

/**
 * `flock($handle, LOCK_SH)` on a file opened 'r' returned false. php.wasm (3.1.54) checks a flock()
 * operation as if it were an fcntl lock type, and LOCK_SH (1) reads as F_WRLCK, which a read-only
 * descriptor may not take: EBADF. flock(2) has no such rule. Asked with LOCK_NB, the operation is no
 * lock type at all and passes the check, so a shared lock is asked that way; a blocking one is asked
 * again until granted, as flock(2) would wait (split-lock-manager.ts then does not wait itself: the
 * ask is non-blocking). opcache's file cache takes LOCK_SH on the files it reads this way too, and so
 * never loaded one.
 */
export function sharedFlockOnReadOnly(runtime: Runtime): void {
  const userSpace = runtime.userSpace;
  const flock = userSpace.flock.bind(userSpace) as Flock;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  userSpace.flock = (fd: number, operation: number): number => {
    if (operation !== LOCK_SH) return flock(fd, operation); // LOCK_SH|LOCK_NB already passes the check
    for (let wait = 1; ; wait = Math.min(wait * 2, MAX_PAUSE_MS)) {
      const result = flock(fd, LOCK_SH | LOCK_NB);
      if (result !== -EWOULDBLOCK) return result;
      Atomics.wait(pause, 0, 0, wait);
    }
  };
}
