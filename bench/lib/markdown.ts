/** Markdown rendering: tables, and the number formats every benchmark table uses. */

export type Align = 'left' | 'right';

const escapeCell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A GitHub-flavoured Markdown table with padded columns, readable as plain text too. */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  const cells = [header, ...rows].map((row) => header.map((_, i) => escapeCell(row[i] ?? '')));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((row) => (row[i] ?? '').length)));
  const pad = (text: string, i: number): string => {
    const width = widths[i] ?? 0;
    return align[i] === 'right' ? text.padStart(width) : text.padEnd(width);
  };
  const line = (row: readonly string[]): string => `| ${row.map(pad).join(' | ')} |`;
  const rule = `|${widths
    .map((width, i) => (align[i] === 'right' ? `${'-'.repeat(width + 1)}:` : '-'.repeat(width + 2)))
    .join('|')}|`;
  const [head = [], ...body] = cells;
  return [line(head), rule, ...body.map(line)].join('\n');
}

/** Milliseconds with three decimals (microsecond resolution). */
export const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(3) : '–');

/** Requests per second, rounded. */
export const rate = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toString() : '–';
