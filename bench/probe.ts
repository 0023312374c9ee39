/** Asks a server's PHP what it is: version, SAPI and whether opcache holds compiled scripts. */
import { request } from './loopback.js';
import { PROBE_SCRIPT } from './site.js';
import type { Target } from './target.js';

export interface ProbeResult {
  php?: string;
  sapi?: string;
  opcacheLoaded?: boolean;
  opcacheEnable?: string | false;
  opcacheFileCacheOnly?: string | false;
  opcacheValidateTimestamps?: string | false;
  /** false when opcache is off (opcache_get_status() returned false). */
  cachedScripts?: number | false;
  hits?: number | null;
  misses?: number | null;
  xPoweredBy?: string;
  error?: string;
}

export async function probe(target: Target): Promise<ProbeResult> {
  try {
    const reply = await request(`${target.baseUrl}/${PROBE_SCRIPT}`, {}, 30_000);
    const xPoweredBy = reply.headers.get('x-powered-by') ?? undefined;
    if (reply.status !== 200) return { xPoweredBy, error: `status ${reply.status}: ${reply.body.slice(0, 200)}` };
    const data = JSON.parse(reply.body) as Record<string, unknown>;
    return {
      php: data.php as string,
      sapi: data.sapi as string,
      opcacheLoaded: data.opcache_loaded as boolean,
      opcacheEnable: data.opcache_enable as string | false,
      opcacheFileCacheOnly: data.opcache_file_cache_only as string | false,
      opcacheValidateTimestamps: data.opcache_validate_timestamps as string | false,
      cachedScripts: data.cached_scripts as number | false,
      hits: data.hits as number | null,
      misses: data.misses as number | null,
      xPoweredBy,
    };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** "active, 412 scripts cached" / "off (opcache_get_status() = false)" / the error. */
export function describeOpcache(p: ProbeResult): string {
  if (p.error) return `unknown (${p.error})`;
  if (!p.opcacheLoaded) return 'not loaded';
  if (p.cachedScripts === false) return `off (opcache.enable=${p.opcacheEnable || '0'}, opcache_get_status() = false)`;
  const mode = p.opcacheFileCacheOnly === '1' ? ', file cache only' : '';
  return `active${mode}: ${p.cachedScripts} scripts cached, ${p.hits} hits / ${p.misses} misses, validate_timestamps=${p.opcacheValidateTimestamps || '0'}`;
}
