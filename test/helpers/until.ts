/**
 * Waits on a condition instead of a fixed time: polls `condition` every 10 ms and fails with the
 * name of what it waited for once `timeoutMs` have passed (a bound, never an assertion on speed).
 */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
