import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const FIRST_CANDIDATE = 20_000;

/** The kernel's ephemeral range starts here: ports below it are never handed out by bind(0) or connect(). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST_CANDIDATE + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port free right now on 127.0.0.1, for a server whose address must be known before it starts.
 * It comes from below the ephemeral range: a port from bind(0) could be taken, in the seconds before
 * the server binds it, by any of the thousands of client connections the other test jobs open
 * (EADDRINUSE); below the range only another explicit bind can take it.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FIRST_CANDIDATE + Math.floor(Math.random() * (low - FIRST_CANDIDATE));
    if (await isFree(port)) return port;
  }
  throw new Error(`no free port found in ${FIRST_CANDIDATE}–${low - 1}`);
}
