/**
 * php.wasm's network relay (@php-wasm/node) runs in the worker's thread and calls process.exit() when
 * a frame carries a command byte it does not know (anything but 1 "data" and 2 "socket option"): one
 * frame would end the worker and the request it runs. A frame on a socket is never a reason to stop,
 * so process.exit() becomes a call that only reports the attempt; the relay then drops the frame and
 * the connection goes on. Nothing else calls it in a worker: the instance's own C exit() goes through
 * bootPhp's quit hook, and the pool ends workers with terminate().
 * Returns a function that puts the original back.
 */
export function ignoreRelayExit(report: (code: number | string | null | undefined) => void): () => void {
  const original = process.exit;
  process.exit = ((code?: number | string | null) => {
    report(code);
  }) as typeof process.exit;
  return () => {
    process.exit = original;
  };
}
