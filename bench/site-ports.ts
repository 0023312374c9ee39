/**
 * What the bench remembers between runs in its data folder: the port each site was installed at.
 * WordPress records its address (siteurl/home) at install time and redirects requests for any
 * other host:port, so a site is reused only on the port it was installed at; when that port is
 * taken, the bench reinstalls the site at a new one.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, isPortFree } from './loopback.js';

export type SiteName = 'ours' | 'native';
type State = Partial<Record<SiteName, { port: number }>>;

const file = (dataDir: string) => join(dataDir, 'state.json');

export function installedPort(dataDir: string, site: SiteName): number | undefined {
  try {
    return (JSON.parse(readFileSync(file(dataDir), 'utf8')) as State)[site]?.port;
  } catch {
    return undefined;
  }
}

export function rememberPort(dataDir: string, site: SiteName, port: number): void {
  let state: State = {};
  try {
    state = JSON.parse(readFileSync(file(dataDir), 'utf8')) as State;
  } catch {
    // first run
  }
  state[site] = { port };
  writeFileSync(file(dataDir), JSON.stringify(state, null, 2) + '\n');
}

/**
 * The port to serve a site on: the one it was installed at if still free, else a new free port,
 * in which case the site's database (dbFile) is deleted so that it is installed again there.
 */
export async function choosePort(dataDir: string, site: SiteName, dbFile: string): Promise<{ port: number; note?: string }> {
  const remembered = installedPort(dataDir, site);
  if (remembered !== undefined) {
    // A process that was just killed may hold it for a moment longer.
    for (let tries = 0; tries < 25; tries++) {
      if (await isPortFree(remembered)) return { port: remembered };
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const port = await freePort();
  if (!existsSync(dbFile)) return { port };
  rmSync(dbFile, { force: true });
  return { port, note: `port ${remembered ?? '?'} of the earlier install is taken: reinstalling ${site} WordPress at port ${port}` };
}
