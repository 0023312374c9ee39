#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=4194304:${GLIBC_TUNABLES} node --max-semi-space-size=4
// Thin launcher so `npx php-wasm-server` and `npm start` work; the server is compiled TypeScript in
// dist/. The shebang fixes glibc's mmap and trim thresholds before the process starts, which is the only
// time glibc reads it: worker threads then return the memory V8 freed (see server/malloc-tunables.ts).
// A tunable of your own in GLIBC_TUNABLES comes after it, and wins. It also passes the Node flags of
// server/node-flags.ts (V8 reads them only at start).
import '../dist/server/cli.js';
