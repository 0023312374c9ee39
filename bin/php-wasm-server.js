#!/usr/bin/env node
// Thin launcher so `npx php-wasm-server` works; the server is compiled TypeScript in dist/.
import '../dist/server/cli.js';
