/**
 * Time as the pool sees it. Injected, so the pool's policies (queue and request timeouts, back-off,
 * idle self-call workers) are tested by moving a fake clock instead of waiting on the real one.
 */

declare const timerBrand: unique symbol;
/** A pending timer; only the clock that made it knows what is inside. */
export type Timer = { readonly [timerBrand]: true };

export interface Clock {
  /** Milliseconds since the epoch (the worker measures its waits for the client the same way). */
  now(): number;
  /** `background`: the timer does not keep the process alive (retries, idle countdowns, grace periods). */
  setTimeout(callback: () => void, ms: number, background?: boolean): Timer;
  clearTimeout(timer: Timer | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms, background = false) {
    const timer = setTimeout(callback, ms);
    if (background) timer.unref();
    return timer as unknown as Timer;
  },
  clearTimeout(timer) {
    if (timer !== undefined) clearTimeout(timer as unknown as NodeJS.Timeout);
  },
};
