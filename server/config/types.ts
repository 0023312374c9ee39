export type PhpVersion = '7.4' | '8.0' | '8.1' | '8.2' | '8.3' | '8.4' | '8.5';

export interface Mount {
  /** Absolute host folder. */
  host: string;
  /** Absolute path inside PHP. */
  guest: string;
  readOnly: boolean;
}

export interface ServerConfig {
  docroot: string;
  host: string;
  port: number;
  workers: number;
  php: PhpVersion;
  /** Seconds. */
  requestTimeout: number;
  /** Bytes. */
  maxBody: number;
  queueLimit: number;
  /** Seconds. */
  queueTimeout: number;
  maxRequests: number;
  trustProxy: string[];
  mounts: Mount[];
  env: Record<string, string>;
  ini: Record<string, string>;
  allowNetwork: string[];
  /** URL path of the front controller, '' for none. */
  frontController: string;
  deny: string[];
  /** Extensions (no dot) of files that never go to the front controller when missing. */
  assetExtensions: string[];
  warmup: string[];
  /** Seconds the router may reuse a file-exists answer. */
  statCache: number;
  opcacheValidate: boolean;
  /** Host folder for PHP session files (shared by all workers). */
  sessionDir: string;
  /** br/gzip for PHP output and static text when the client accepts it. */
  compress: boolean;
  /** Seconds a client may take to send its request head. */
  headerTimeout: number;
  /** Seconds an idle keep-alive connection stays open. */
  keepAliveTimeout: number;
  /** Bytes of the whole request head. */
  maxHeaderSize: number;
  maxRequestsPerConnection: number;
  /** Admin listener (health, readiness, metrics); undefined = off. */
  adminPort?: number;
  adminHost: string;
  logLevel: string;
  config?: string;
  /** PHP run before every script, set by presets (not a user setting). */
  extraPrepend?: string;
}
