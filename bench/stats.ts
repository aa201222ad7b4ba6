/** Small helpers shared by the Node benchmarks. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(
    sorted.length - 1,
    Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)
  );
  return sorted[rank];
}

/** Print one readable block (stderr is not captured by jest's console wrapper). */
export function report(title: string, rows: Array<[string, string]>): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    `\n== ${title}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    ''
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** A target's verdict row, as the Python benchmarks print it ("target: … OK (value)"). */
export function target(
  text: string,
  ok: boolean,
  value: string
): [string, string] {
  return [`target: ${text}`, `${ok ? 'OK' : 'MISSED'} (${value})`];
}
