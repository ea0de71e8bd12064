/**
 * Per method: how many calls, and how many ended with each status. Printed
 * after the storm, so a run shows what reached what.
 */
export class StatusTally {
  private readonly rows = new Map<string, Map<string, number>>();

  add(method: string, label: string): void {
    let row = this.rows.get(method);
    if (row === undefined) this.rows.set(method, (row = new Map()));
    row.set(label, (row.get(label) ?? 0) + 1);
  }

  total(): number {
    let n = 0;
    for (const row of this.rows.values()) for (const c of row.values()) n += c;
    return n;
  }

  callsOf(method: string): number {
    let n = 0;
    for (const c of this.rows.get(method)?.values() ?? []) n += c;
    return n;
  }

  /** One line per method: `calls  STATUS=n STATUS=n ...`, then the totals per status. */
  format(): string {
    const width = Math.max(...[...this.rows.keys()].map((k) => k.length), 10);
    const totals = new Map<string, number>();
    const lines = [...this.rows.entries()].map(([method, row]) => {
      const calls = [...row.values()].reduce((a, b) => a + b, 0);
      const parts = [...row.entries()].sort((a, b) => b[1] - a[1]).map(([label, n]) => {
        totals.set(label, (totals.get(label) ?? 0) + n);
        return `${label}=${n}`;
      });
      return `${method.padEnd(width)} ${String(calls).padStart(6)}  ${parts.join(' ')}`;
    });
    const all = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l}=${n}`).join(' ');
    return [...lines, `${'TOTAL'.padEnd(width)} ${String(this.total()).padStart(6)}  ${all}`].join('\n');
  }
}
