/** Parses human sizes ("64M", "64MiB", "1g", "512k", "1048576") into bytes; null when not a size. */
export function parseSize(input: string | number): number | null {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.floor(input) : null;
  // "iB" only after a unit letter: "64ib" is not a size (the old pattern read it as 64 bytes).
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(input);
  if (!match) return null;
  const power = ' kmgt'.indexOf((match[2] || ' ').toLowerCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
}

/** The php.ini spelling of a byte count ("64M"), so upload limits match the body limit exactly. */
export function toIniSize(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}M`;
  if (bytes % 1024 === 0) return `${bytes / 1024}K`;
  return String(bytes);
}
