/**
 * Node flags the launcher (bin/php-wasm-server.js) and the container start the server with; V8 reads
 * them only as the process starts (setting one later changes nothing).
 *
 * `--max-semi-space-size=4`: under request load V8 grows the main thread's young generation to
 * 2 × 16 MB, and it stays resident. In a soak with recycles the main heap went 37 → 60 MB; capped at
 * 2 × 4 MB, 21 → 32 MB, with the same CPU per trivial request (0.7 ms; measured, see the #12 note).
 * Worker threads size their own young generation (pool.ts).
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=4'] as const;
