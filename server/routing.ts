/**
 * URL → what to serve. A pure function over a read-only view of the docroot, so every rule
 * (traversal, dotfiles, PATH_INFO, index files, front controller) is unit-tested without a server.
 */

export type EntryKind = 'file' | 'dir' | null;

/** What the router may ask of the docroot. Paths are docroot-relative, '/'-separated, no leading slash. */
export interface DocrootView {
  /** `null` when absent, or when it is a symlink that leads outside the docroot. */
  kind(relPath: string): EntryKind;
}

export interface RouteOptions {
  /** URL path of the script for paths that do not exist ('' for none). */
  frontController: string;
  /** Extra denied docroot-relative prefixes, e.g. 'wp-content/database/'. */
  deny: readonly string[];
  /** Missing files with these extensions get a plain 404, never the front controller (no PHP run). */
  assetExtensions: readonly string[];
  indexFiles: readonly string[];
  phpExtensions: readonly string[];
}

export const DEFAULT_ROUTE_OPTIONS: RouteOptions = {
  frontController: '/index.php',
  deny: [],
  assetExtensions: [],
  indexFiles: ['index.php', 'index.html', 'index.htm'],
  phpExtensions: ['.php'],
};

export type Resolution =
  | { type: 'static'; relPath: string }
  | { type: 'php'; relPath: string; scriptName: string; pathInfo: string }
  | { type: 'redirect'; status: 301; location: string }
  | { type: 'error'; status: 400 | 403 | 404; reason: string }
  | { type: 'error'; status: 405; reason: string; allow: string };

const error = (status: 400 | 403 | 404, reason: string): Resolution => ({ type: 'error', status, reason });

/** Methods a static file answers; anything else (POST, PUT, DELETE, TRACE…) is 405, as nginx does. */
export const STATIC_METHODS = ['GET', 'HEAD'] as const;

/**
 * Names PHP would treat as a script under another server's default handlers (Apache's AddHandler
 * matches any extension in the name, so x.php.jpg runs there). Here only `.php` runs: the others
 * are refused rather than served, since serving them would disclose source code.
 */
const PHP_LIKE = /\.(php\d*|phtml|pht|phar|phps)(\.|$)/i;

/** C0 controls and DEL: never part of a URL (RFC 3986), nor of a name PHP should see. */
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

export function resolveRequest(rawUrl: string, view: DocrootView, options: RouteOptions = DEFAULT_ROUTE_OPTIONS, method = 'GET'): Resolution {
  const queryAt = rawUrl.indexOf('?');
  const rawPath = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
  const rawQuery = queryAt === -1 ? '' : rawUrl.slice(queryAt);
  if (!rawPath.startsWith('/')) return error(400, 'request target is not an absolute path');
  // Node's parser refuses these already; checked here too so no caller (warm-up paths from the
  // config) can carry them into a redirect Location or REQUEST_URI.
  if (CONTROL_CHARACTER.test(rawUrl)) return error(400, 'control character in request target');
  // Encoded slashes and backslashes would let one segment act as several (Apache: AllowEncodedSlashes Off).
  if (/%(2f|5c)/i.test(rawPath) || rawPath.includes('\\')) return error(400, 'encoded slash or backslash in path');

  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return error(400, 'malformed percent-encoding');
  }
  // NUL would cut the name short in C; CR and LF would reach PHP in PATH_INFO and PHP_SELF, which
  // apps echo into headers and mails. No file name needs them.
  if (CONTROL_CHARACTER.test(decoded)) return error(400, decoded.includes('\0') ? 'NUL byte in path' : 'control character in path');

  const segments = normalizeSegments(decoded);
  if (!segments) return error(400, 'path climbs above the docroot');
  const denied = deniedReason(segments, options.deny);
  if (denied) return error(403, denied);

  const isPhp = (name: string) => options.phpExtensions.some((ext) => name.toLowerCase().endsWith(ext));
  const trailingSlash = decoded.endsWith('/');

  // Walk down the path: the first prefix that is a file is the target; the rest is PATH_INFO.
  for (let i = 1; i <= segments.length; i++) {
    const relPath = segments.slice(0, i).join('/');
    const kind = view.kind(relPath);
    if (kind === 'dir') continue;
    if (kind === 'file') {
      const rest = segments.slice(i);
      if (isPhp(relPath)) {
        const pathInfo = rest.length ? '/' + rest.join('/') + (trailingSlash ? '/' : '') : trailingSlash ? '/' : '';
        return { type: 'php', relPath, scriptName: '/' + relPath, pathInfo };
      }
      // Only PHP files take PATH_INFO: /upload.jpg/x.php must never run (or serve) upload.jpg.
      if (rest.length || trailingSlash) return error(404, 'path below a non-PHP file');
      return staticFile(relPath, method);
    }
    return missing(options, view, segments, isPhp);
  }

  // Every segment was a directory (or the path is "/").
  if (!trailingSlash && segments.length > 0) {
    // Built from the normalised segments, not rawPath: "//evil.example/../dir" would otherwise
    // redirect to "//evil.example/../dir/", a protocol-relative URL to another host (open redirect).
    const location = '/' + segments.map(encodeURIComponent).join('/') + '/' + rawQuery;
    return { type: 'redirect', status: 301, location };
  }
  const dir = segments.join('/');
  for (const index of options.indexFiles) {
    const relPath = dir ? `${dir}/${index}` : index;
    if (view.kind(relPath) !== 'file') continue;
    return isPhp(index) ? { type: 'php', relPath, scriptName: '/' + relPath, pathInfo: '' } : staticFile(relPath, method);
  }
  return segments.length === 0 ? missing(options, view, segments, isPhp) : error(403, 'directory without index');
}

function staticFile(relPath: string, method: string): Resolution {
  if (PHP_LIKE.test(relPath.slice(relPath.lastIndexOf('/') + 1))) return error(403, 'PHP source that does not run here');
  if (!(STATIC_METHODS as readonly string[]).includes(method)) {
    return { type: 'error', status: 405, reason: `${method} on a static file`, allow: STATIC_METHODS.join(', ') };
  }
  return { type: 'static', relPath };
}

/** The route options a server's settings imply. */
export function routeOptionsFrom(settings: Pick<RouteOptions, 'frontController' | 'deny' | 'assetExtensions'>): RouteOptions {
  const { frontController, deny, assetExtensions } = settings;
  return { ...DEFAULT_ROUTE_OPTIONS, frontController, deny, assetExtensions };
}

function missing(options: RouteOptions, view: DocrootView, segments: string[], isPhp: (name: string) => boolean): Resolution {
  const name = segments[segments.length - 1] ?? '';
  const dot = name.lastIndexOf('.');
  if (dot > 0 && options.assetExtensions.includes(name.slice(dot + 1).toLowerCase())) return error(404, 'missing asset');
  // The same rules as a requested script: only a .php file inside the docroot runs. A front
  // controller set to index.html or .env would otherwise run that file as PHP.
  const front = (normalizeSegments('/' + options.frontController) ?? []).join('/');
  if (front && isPhp(front) && view.kind(front) === 'file') return { type: 'php', relPath: front, scriptName: '/' + front, pathInfo: '' };
  return error(404, 'not found');
}

/** Resolves "." and ".." and collapses empty segments; null if ".." would leave the root. */
export function normalizeSegments(path: string): string[] | null {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else {
      out.push(segment);
    }
  }
  return out;
}

function deniedReason(segments: string[], deny: readonly string[]): string | null {
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (!segment.startsWith('.')) continue;
    if (i === 0 && segment === '.well-known') continue;
    return segment.toLowerCase().startsWith('.ht') ? 'server configuration file' : 'hidden file';
  }
  // Compared case-insensitively and in normalised form: on a case-insensitive filesystem
  // /WP-CONTENT/database/ is the same folder, and "./private//" means "private/".
  const joined = segments.join('/').toLowerCase() + '/';
  for (const prefix of deny) {
    const clean = (normalizeSegments(prefix) ?? []).join('/').toLowerCase();
    if (clean && joined.startsWith(clean + '/')) return 'denied by configuration';
  }
  return null;
}
