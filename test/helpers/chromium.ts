import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';

/** Debian's `chromium` package (installed by `.ci/run`). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Headless Chromium with nothing of its own talking to the network (no updates, sync, QUIC). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    timeout: 60_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface PageProblem {
  kind: 'console' | 'pageerror' | 'requestfailed' | 'response';
  page: string;
  url?: string;
  status?: number;
  /** A script, stylesheet, image or font (by the browser's own account or the URL's extension). */
  asset?: boolean;
  text: string;
}

/** Same-origin files a missing one of which means the server (or the assembled tree) is broken. */
export const STATIC_ASSET = /\.(js|css|png|jpe?g|gif|svg|webp|avif|ico|woff2?|ttf|eot|otf|map)$/i;
const ASSET_TYPES = new Set(['script', 'stylesheet', 'image', 'font']);

function isAsset(request: Request): boolean {
  let first = request;
  while (first.redirectedFrom()) first = first.redirectedFrom()!;
  return ASSET_TYPES.has(request.resourceType()) || STATIC_ASSET.test(new URL(first.url()).pathname);
}

/** The URL the page asked for, before any redirect. */
function originalUrl(request: Request): string {
  let first = request;
  while (first.redirectedFrom()) first = first.redirectedFrom()!;
  return first.url();
}

export interface Watcher {
  /** Everything that went wrong in the context's pages, in order. */
  problems: PageProblem[];
  /** Requests aborted because they left 127.0.0.1 (expected: the machine is offline). */
  offHost: string[];
  /** Same-origin requests that were made (for the report). */
  requests: number;
  /** Problems on the server's own origin, i.e. those a test should fail on. */
  sameOrigin(): PageProblem[];
}

/**
 * Records console errors, uncaught page errors, failed requests and >= 400 responses of every page
 * of `context`. Requests to any host but `origin`'s are aborted at once, and recorded in `offHost`:
 * the machine has no internet (Gravatar, wordpress.org, fonts...), and aborting them keeps the
 * browser from waiting on DNS or TCP timeouts. Their failures are expected and not the server's.
 */
export async function watchContext(context: BrowserContext, origin: string): Promise<Watcher> {
  const own = new URL(origin);
  const isOwn = (url: string | undefined): boolean => {
    if (!url) return true; // messages with no URL come from the page's own scripts
    try {
      const u = new URL(url);
      return u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:' || u.host === own.host;
    } catch {
      return true;
    }
  };
  const watcher: Watcher = {
    problems: [],
    offHost: [],
    requests: 0,
    sameOrigin() {
      return this.problems.filter((p) => isOwn(p.url));
    },
  };
  await context.route(
    (url) => url.host !== own.host && (url.protocol === 'http:' || url.protocol === 'https:'),
    async (route) => {
      watcher.offHost.push(route.request().url());
      await route.abort('internetdisconnected');
    },
  );
  const watch = (page: Page): void => {
    const where = (): string => page.url();
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const url = message.location().url || undefined;
      // "Failed to load resource" names the page, not the resource; the matching requestfailed /
      // response event below carries the resource's URL. Keep the message with that URL when known.
      watcher.problems.push({ kind: 'console', page: where(), url, text: message.text() });
    });
    page.on('pageerror', (error) => {
      watcher.problems.push({ kind: 'pageerror', page: where(), text: `${error.name}: ${error.message}` });
    });
    page.on('request', (request) => {
      if (isOwn(request.url())) watcher.requests++;
    });
    page.on('requestfailed', (request) => {
      const failure = request.failure()?.errorText ?? 'failed';
      // A navigation away from a page cancels its pending requests: not a server problem.
      if (failure === 'net::ERR_ABORTED' && request.resourceType() !== 'stylesheet' && request.resourceType() !== 'script') return;
      if (!isOwn(request.url())) return; // aborted by the route above: offline, expected
      watcher.problems.push({ kind: 'requestfailed', page: where(), url: request.url(), asset: isAsset(request), text: `${request.method()} ${failure}` });
    });
    page.on('response', (response) => {
      const request = response.request();
      const status = response.status();
      if (status >= 400) {
        watcher.problems.push({ kind: 'response', page: where(), url: response.url(), status, asset: isAsset(request), text: `${request.method()} ${status} ${response.statusText()}` });
        return;
      }
      // A missing file that the server hands to the front controller can come back as a page of
      // HTML with status 200 (WordPress with plain permalinks: a 301 to "file.js/", then the home
      // page). The browser then reports no 404, only a broken script, style, image or font.
      const type = response.headers()['content-type'] ?? '';
      if (status < 300 && isAsset(request) && /^text\/html/i.test(type)) {
        const asked = originalUrl(request);
        watcher.problems.push({
          kind: 'response',
          page: where(),
          url: asked,
          status,
          asset: true,
          text: `${request.method()} ${status} ${type} for a ${request.resourceType()}${asked === response.url() ? '' : ` (redirected to ${response.url()})`}`,
        });
      }
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return watcher;
}
