/**
 * A translator for tests: JupyterLab's nullTranslator without its ESM import; `%1`,
 * `%2`… are replaced, `_n` picks the singular for 1 (and makes the count `%1`).
 */
import type { TranslationBundle } from '@jupyterlab/translation';

const fill = (text: string, args: unknown[]) =>
  text.replace(/%(\d+)/g, (_, n) => String(args[Number(n) - 1]));

export const trans = {
  __: (text: string, ...args: unknown[]) => fill(text, args),
  _n: (one: string, many: string, n: number, ...args: unknown[]) =>
    fill(n === 1 ? one : many, [n, ...args])
} as unknown as TranslationBundle;
