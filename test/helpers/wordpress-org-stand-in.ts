import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The WordPress.org hosts the stand-in answers for (its certificate names them). */
export const STAND_IN_HOSTS = ['api.wordpress.org', 'downloads.wordpress.org'];

export interface StandInRelease {
  version: string;
  /** The core package (wordpress/… inside). */
  zip: Buffer;
}

export interface StandInPlugin {
  slug: string;
  name: string;
  version: string;
  zip: Buffer;
}

export interface WordPressOrgStandIn {
  port: number;
  /** The self-signed certificate PHP must trust (it is its own CA). */
  certificate: Buffer;
  /** Paths asked for, in order (method and path, no query). */
  requests: string[];
  /** --connect-to entries sending the WordPress.org hosts here. */
  connectTo: Record<string, string>;
  close(): Promise<void>;
}

/**
 * A local HTTPS stand-in for api.wordpress.org and downloads.wordpress.org, with the answers
 * WordPress's updater needs: one core release to offer, one plugin in the directory, nothing else
 * to update. PHP reaches it by those names through --connect-to and trusts its certificate.
 */
export async function startWordPressOrgStandIn(release: StandInRelease, plugin: StandInPlugin): Promise<WordPressOrgStandIn> {
  const dir = mkdtempSync(join(tmpdir(), 'pws-dotorg-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const made = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=WordPress.org stand-in',
    '-addext', `subjectAltName=${STAND_IN_HOSTS.map((host) => `DNS:${host}`).join(',')}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-keyout', key, '-out', cert,
  ]);
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  const certificate = readFileSync(cert);
  const requests: string[] = [];
  const releaseUrl = `https://downloads.wordpress.org/release/wordpress-${release.version}.zip`;
  const pluginUrl = `https://downloads.wordpress.org/plugin/${plugin.slug}.${plugin.version}.zip`;
  const pluginInfo = {
    name: plugin.name, slug: plugin.slug, version: plugin.version, author: 'php-wasm-server tests', requires: '6.0', tested: release.version,
    requires_php: '7.4', rating: 100, num_ratings: 1, active_installs: 1, last_updated: '2026-12-01', download_link: pluginUrl,
    short_description: 'A plugin served by the test stand-in.', sections: { description: 'A plugin served by the test stand-in.' }, icons: { default: 'https://s.w.org/plugins/geopattern-icon/pws-hello.svg' },
  };
  const offer = {
    response: 'upgrade', download: releaseUrl, locale: 'en_US',
    packages: { full: releaseUrl, no_content: false, new_bundled: false, partial: false, rollback: false },
    current: release.version, version: release.version, php_version: '7.4.0', mysql_version: '5.5.5', new_bundled: '6.7', partial_version: false,
  };
  const answers: Record<string, () => { type: string; body: string | Buffer }> = {
    '/core/version-check/1.7/': () => json({ offers: [offer], translations: [] }),
    '/core/checksums/1.0/': () => json({ checksums: false }),
    '/plugins/update-check/1.1/': () => json({ plugins: {}, translations: [], no_update: {} }),
    '/themes/update-check/1.1/': () => json({ themes: {}, translations: [], no_update: {} }),
    [new URL(releaseUrl).pathname]: () => ({ type: 'application/zip', body: release.zip }),
    [new URL(pluginUrl).pathname]: () => ({ type: 'application/zip', body: plugin.zip }),
  };
  const server: Server = createServer({ key: readFileSync(key), cert: certificate }, (request, response) => {
    const url = new URL(request.url ?? '/', 'https://stand-in');
    requests.push(`${request.method} ${url.pathname}`);
    request.resume();
    let answer = answers[url.pathname]?.();
    if (!answer && url.pathname.startsWith('/plugins/info/1.2/')) {
      const action = url.searchParams.get('action');
      if (action === 'query_plugins') answer = json({ info: { page: 1, pages: 1, results: 1 }, plugins: [pluginInfo] });
      else if (action === 'plugin_information') answer = json(url.searchParams.get('request[slug]') === plugin.slug || url.searchParams.get('slug') === plugin.slug ? pluginInfo : { error: 'Plugin not found.' });
    }
    if (!answer) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
      return;
    }
    response.writeHead(200, { 'content-type': answer.type, 'content-length': String(Buffer.byteLength(answer.body)) }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    certificate,
    requests,
    connectTo: Object.fromEntries(STAND_IN_HOSTS.map((host) => [`${host}:443`, `127.0.0.1:${port}`])),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
      rmSync(dir, { recursive: true, force: true });
    }),
  };
}

function json(value: unknown): { type: string; body: string } {
  return { type: 'application/json', body: JSON.stringify(value) };
}
