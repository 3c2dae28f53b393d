/**
 * Results checked against a target: one row per requirement, with the measured result, the
 * baseline measured in the same run, the target and whether it was met. Rendered as Markdown,
 * for a scenario's findings.
 */
import { renderTable } from './markdown.js';

export interface TargetRow {
  /** What was measured. */
  readonly measure: string;
  /** The measured result, formatted. */
  readonly result: string;
  /** The baseline measured in the same run, formatted; `–` when there is none. */
  readonly baseline: string;
  /** The requirement, e.g. `< 5 µs`; `–` for a row that is only reported. */
  readonly target: string;
  /** Whether the target was met; undefined for a row that is only reported. */
  readonly met: boolean | undefined;
}

export function renderTargetTable(rows: readonly TargetRow[]): string {
  return renderTable(
    ['Measure', 'Result', 'Baseline (same run)', 'Target', 'Met'],
    rows.map((row) => [
      row.measure,
      row.result,
      row.baseline,
      row.target,
      row.met === undefined ? '–' : row.met ? 'yes' : '**NO**',
    ]),
  );
}

/** True when some row missed its target. */
export const missedAny = (rows: readonly TargetRow[]): boolean =>
  rows.some((row) => row.met === false);
