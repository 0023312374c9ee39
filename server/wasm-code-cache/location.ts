import type { ServerConfig } from '../config/types.js';
import type { CodeCacheLocation } from '../pool/wasm-module.js';
import type { WordPressConfig } from '../wordpress/options.js';

/**
 * Where php.wasm's machine code is kept between runs: beside the compiled scripts, in a configured
 * opcache file cache folder. Without one the server has a fresh folder per run, so nothing is kept.
 * PHP's folders go along so the loader can refuse a folder PHP could write (the server's own check
 * of the setting runs after the module is loaded).
 */
export function codeCacheLocation(settings: { opcacheFileCache?: string; docroot: string; mountHosts: string[]; sessionDir?: string }): CodeCacheLocation | undefined {
  if (settings.opcacheFileCache === undefined) return undefined;
  return {
    root: settings.opcacheFileCache,
    phpFolders: [settings.docroot, ...settings.mountHosts, ...(settings.sessionDir === undefined ? [] : [settings.sessionDir])],
  };
}

/** For a server of a docroot. */
export function serverCodeCacheLocation(config: Pick<ServerConfig, 'opcacheFileCache' | 'docroot' | 'mounts' | 'sessionDir'>): CodeCacheLocation | undefined {
  return codeCacheLocation({ opcacheFileCache: config.opcacheFileCache, docroot: config.docroot, mountHosts: config.mounts.map((mount) => mount.host), sessionDir: config.sessionDir });
}

/** For a WordPress site: its folder is the docroot, and the shared uploads folder is mounted too. */
export function wordpressCodeCacheLocation(config: Pick<WordPressConfig, 'opcacheFileCache' | 'dir' | 'mounts' | 'uploads' | 'sessionDir'>): CodeCacheLocation | undefined {
  return codeCacheLocation({
    opcacheFileCache: config.opcacheFileCache,
    docroot: config.dir,
    mountHosts: [...config.mounts.map((mount) => mount.host), ...(config.uploads ? [config.uploads] : [])],
    sessionDir: config.sessionDir,
  });
}
