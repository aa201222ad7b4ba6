/**
 * The IJulia generations the TEST-ONLY Julia kernel imitates, each with its kernelspec
 * (ui-tests/test-kernel/README.md; the facts are in src/kernel/PROTOCOL.md). Server tests
 * that talk to a kernel run once per generation. DEARDIARY_IJULIA_GENS (e.g. "1.34" or
 * "1.24,1.34") narrows the list for a quick local run.
 */
export const ALL_GENERATIONS: [generation: string, kernel: string][] = [
  ['1.24', 'deardiary-test-julia-1.5'], // IJulia 1.24.x (1.25-1.26 alike for us)
  ['1.30', 'deardiary-test-julia-gen130'], // IJulia 1.27-1.30
  ['1.34', 'deardiary-test-julia-gen134'] // IJulia 1.31-1.34
];

const only = (process.env.DEARDIARY_IJULIA_GENS ?? '')
  .split(',')
  .map(g => g.trim())
  .filter(Boolean);

export const GENERATIONS = only.length
  ? ALL_GENERATIONS.filter(([g]) => only.includes(g))
  : ALL_GENERATIONS;
