/**
 * The scenarios about recycling (recycling-run.ts runs them): not in the default list, since each
 * takes minutes and restarts the servers; --scenarios names them.
 */
export const RECYCLING_SCENARIOS = [
  { id: 'soak', title: 'Soak: 50,000 requests (90 % trivial .php + static, 10 % WordPress) with recycles' },
  { id: 'recycle', title: 'Home page p99 while workers recycle ÷ steady' },
] as const;
