/** Formatting shared by the report's tables. */

/** A Markdown table, columns padded; numeric columns (by index) right-aligned. */
export function table(head: string[], rows: string[][], rightAligned: number[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number) => (rightAligned.includes(i) ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (cells: string[]) => `| ${cells.map((c, i) => cell(c ?? '', i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (rightAligned.includes(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(head), rule, ...rows.map(line)];
}

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export function fmtRate(n: number): string {
  return n >= 100 ? fmtInt(n) : n.toFixed(n >= 10 ? 1 : 2);
}
export function fmtMs(n: number): string {
  if (!Number.isFinite(n)) return '—';
  return n >= 100 ? fmtInt(n) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}
