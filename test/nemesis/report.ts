/** One figure of the report: `<name> <value>` on a line of its own. */
export interface Figure {
  readonly name: string;
  readonly value: number | string;
}

/** A condition the run must meet; a failed one makes the exit status nonzero. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  /** What failed, precisely enough to start debugging from (the first few items). */
  readonly detail: string;
}

export interface Report {
  readonly figures: readonly Figure[];
  readonly checks: readonly Check[];
}

export function passed(report: Report): boolean {
  return report.checks.every((c) => c.ok);
}

/** The figures, one per line, then one `check_<name> pass|fail` line per check. */
export function formatReport(report: Report): string {
  const lines = report.figures.map((f) => `${f.name} ${f.value}`);
  for (const c of report.checks) lines.push(`check_${c.name} ${c.ok ? 'pass' : 'fail'}`);
  return lines.join('\n');
}

/** Why each failed check failed, for stderr. */
export function formatFailures(report: Report): string {
  return report.checks
    .filter((c) => !c.ok)
    .map((c) => `FAILED ${c.name}: ${c.detail}`)
    .join('\n');
}

/** The first `n` items of a list, and how many more there were. */
export function firstOf(items: readonly string[], n = 5): string {
  if (items.length === 0) return 'none';
  return items.slice(0, n).join('; ') + (items.length > n ? ` (and ${items.length - n} more)` : '');
}
