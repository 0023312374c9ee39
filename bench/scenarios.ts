/**
 * What the bench measures, and the check each response must pass before it is measured, so the
 * numbers are about the page named and not about a redirect or an error page (or, for the cached
 * home page, about a page made by PHP).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { request } from './loopback.js';
import { HELLO_SCRIPT, SITE } from './site.js';
import type { Target } from './target.js';

export interface Scenario {
  id: string;
  title: string;
  path: string;
  /**
   * Measured with both page caches on (ours' and nginx's fastcgi_cache; the servers are restarted
   * for it): a first request fills the cache, and the checked one must be a hit.
   */
  pageCache?: boolean;
  /** Returns a problem, or undefined when the response is the expected one. */
  check(status: number, body: string, headers: Headers, target: Target): string | undefined;
}

const STATIC_ASSET = '/wp-includes/js/jquery/jquery.min.js';

function checkHomePage(status: number, body: string, target: Target): string | undefined {
  if (status !== 200) return `status ${status}, expected 200`;
  if (!new RegExp(`<title>${SITE.title}\\b`).test(body)) return `no <title>${SITE.title} in the page`;
  if (!body.includes('wp-content/themes/') || !body.includes('</html>')) return 'not a complete themed WordPress page';
  if (!body.includes(`${target.baseUrl}/`)) return `the page does not link to ${target.baseUrl}/ (WordPress thinks it is elsewhere)`;
  return undefined;
}

export const SCENARIOS: Scenario[] = [
  {
    id: 'home',
    title: 'WordPress home page',
    path: '/',
    check: (status, body, _headers, target) => checkHomePage(status, body, target),
  },
  {
    id: 'static',
    title: 'Static file (jquery.min.js)',
    path: STATIC_ASSET,
    check: (status, body, headers, target) => {
      if (status !== 200) return `status ${status}, expected 200`;
      const size = statSync(join(target.wordpressDir, STATIC_ASSET)).size;
      if (Buffer.byteLength(body) !== size) return `body is ${Buffer.byteLength(body)} bytes, the file ${size}`;
      const contentType = headers.get('content-type') ?? '';
      if (!/javascript/.test(contentType)) return `content-type ${contentType}`;
      return undefined;
    },
  },
  {
    id: 'hello',
    title: 'Trivial .php (echo "hello")',
    path: `/${HELLO_SCRIPT}`,
    check: (status, body) => (status !== 200 ? `status ${status}, expected 200` : body !== 'hello' ? `body ${JSON.stringify(body.slice(0, 80))}` : undefined),
  },
  {
    id: 'rest',
    title: 'REST: /wp/v2/posts',
    path: '/?rest_route=/wp/v2/posts',
    check: (status, body) => {
      if (status !== 200) return `status ${status}, expected 200`;
      try {
        const posts = JSON.parse(body) as Array<{ id?: number }>;
        if (!Array.isArray(posts) || posts.length === 0 || typeof posts[0].id !== 'number') return 'not a JSON list of posts';
      } catch {
        return `not JSON: ${body.slice(0, 80)}`;
      }
      return undefined;
    },
  },
  {
    id: 'home-cache',
    title: 'WordPress home (page cache)',
    path: '/',
    pageCache: true,
    check: (status, body, headers, target) => {
      const cache = headers.get('x-cache');
      return checkHomePage(status, body, target) ?? (cache !== 'HIT' ? `X-Cache: ${cache ?? '(none)'}, expected HIT (a page from the cache)` : undefined);
    },
  },
];

export interface CheckResult {
  ok: boolean;
  problem?: string;
  status: number;
  bytes: number;
  /** Bytes with the server's host:port replaced by a placeholder, to compare the servers' pages. */
  normalizedBytes?: number;
  ms: number;
}

export async function checkScenario(scenario: Scenario, target: Target): Promise<CheckResult> {
  try {
    if (scenario.pageCache) await request(target.baseUrl + scenario.path, {}, 60_000);
    const reply = await request(target.baseUrl + scenario.path, {}, 60_000);
    const problem = scenario.check(reply.status, reply.body, reply.headers, target);
    const normalizedBytes = Buffer.byteLength(reply.body.replaceAll(new URL(target.baseUrl).host, 'HOST'));
    return { ok: !problem, problem, status: reply.status, bytes: Buffer.byteLength(reply.body), normalizedBytes, ms: reply.ms };
  } catch (error) {
    return { ok: false, problem: (error as Error).message, status: 0, bytes: 0, ms: 0 };
  }
}
