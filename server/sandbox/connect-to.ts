/**
 * --connect-to: where the relay really connects for a destination the allowlist allowed by name
 * (curl's option of the same name). Tests use it to send `api.wordpress.org:443` to a local
 * stand-in; PHP still connects to the name, so TLS checks the certificate for that name.
 */

/** `host:port` or `[v6]:port` → its parts (host lower case, without brackets); null if malformed. */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/i.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) return null;
  return { host: (match[1] ?? match[2]!).toLowerCase(), port };
}

/** The replacement destination for host:port, if the map names it. */
export function connectTarget(host: string, port: number, map: Readonly<Record<string, string>>): { host: string; port: number } | null {
  const wanted = `${host.toLowerCase().replace(/^\[|\]$/g, '')}:${port}`;
  for (const [from, to] of Object.entries(map)) {
    const source = parseHostPort(from);
    if (source && `${source.host}:${source.port}` === wanted) return parseHostPort(to);
  }
  return null;
}
