/**
 * PHP's response head as php.wasm serialises it (JSON: a status and "Name: value" lines), parsed
 * into a record with no prototype. @php-wasm/universal's own parser builds a plain object, so a
 * script sending `header("__proto__: x")` crashed the worker (TypeError in the parser) at will.
 */
export interface PhpHead {
  status: number;
  /** Lower-cased names; a name PHP sent several times keeps every value, in order. */
  headers: Record<string, string[]>;
}

export function parsePhpHead(json: string): PhpHead {
  const headers: Record<string, string[]> = Object.create(null);
  let parsed: { status?: unknown; headers?: unknown };
  try {
    parsed = JSON.parse(json) as typeof parsed;
  } catch {
    try {
      // php.wasm writes a header's control bytes (header("X: a\x01b") is legal PHP) into the JSON
      // unescaped, which made every header of the response vanish: escape them and read it again.
      parsed = JSON.parse(json.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)) as typeof parsed;
    } catch {
      return { status: 200, headers };
    }
  }
  const lines = Array.isArray(parsed?.headers) ? parsed.headers : [];
  for (const line of lines) {
    if (typeof line !== 'string') continue;
    const colon = line.indexOf(': ');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 2));
  }
  const status = typeof parsed?.status === 'number' && Number.isInteger(parsed.status) ? parsed.status : 200;
  return { status, headers };
}
