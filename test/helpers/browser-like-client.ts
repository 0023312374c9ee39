/**
 * A fetch client that keeps cookies like a browser (per test), follows no redirects by itself
 * so tests can assert them, and sends form posts.
 */
export class CookieClient {
  private readonly cookies = new Map<string, string>();

  /** `fetcher` replaces fetch() (e.g. https with a test certificate). */
  constructor(readonly baseUrl: string, private readonly fetcher: (url: URL, init: RequestInit) => Promise<Response> = fetch) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await this.fetcher(new URL(path, this.baseUrl), { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now())
        || attributes.some((a) => /^\s*max-age=0/i.test(a));
      if (expired || value === 'deleted' || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** A client for another address holding the same cookies (one login, several servers of one site). */
  at(baseUrl: string): CookieClient {
    const other = new CookieClient(baseUrl, this.fetcher);
    for (const [name, value] of this.cookies) other.cookies.set(name, value);
    return other;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, { headers });
  }

  postForm(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, { method: 'POST', body: new URLSearchParams(form), headers });
  }

  /** GET, following redirects within the site (as a browser would), returning the final response. */
  async follow(path: string, max = 5): Promise<Response> {
    let response = await this.get(path);
    for (let i = 0; i < max && response.status >= 300 && response.status < 400; i++) {
      await response.arrayBuffer();
      response = await this.get(response.headers.get('location')!);
    }
    return response;
  }

  has(cookiePrefix: string): boolean {
    return [...this.cookies.keys()].some((name) => name.startsWith(cookiePrefix));
  }
}
