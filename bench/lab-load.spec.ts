/**
 * Benchmark: what JupyterLab fetches of this extension at load, and when the wasm comes.
 *
 * In Debian Chromium against the test JupyterLab (ui-tests' server), with the PRODUCTION
 * build of the labextension (`jlpm build:prod` first). Every response from the
 * extension's static folder is recorded. Asserts the targets of issue #4:
 *   - at most 60 KB (61,440 bytes, decoded) of JS from the extension before first use;
 *   - neither the wasm nor the sql.js chunk is fetched before first use;
 * and shows that first use of the store (deardiary:show-run) does fetch them.
 *
 * Run: cd ui-tests && jlpm playwright test -c ../bench/playwright.config.js
 */
// From ui-tests' node_modules: the same @playwright/test as the runner's.
import { expect, test } from '../ui-tests/node_modules/@jupyterlab/galata';
import { report } from './stats';

const STATIC = '/lab/extensions/jupyterlab-deardiary/static/';
const JS_LIMIT = 60 * 1024;
/** A run id no store holds: first use of the store without a dialog to dismiss. */
const NO_SUCH_RUN = 2147483647;

interface IFetched {
  file: string;
  /** Decoded body size. */
  bytes: number;
  /** Body size on the wire (-1 when unknown). */
  transferred: number;
  encoding: string;
  wasm: boolean;
  /** The sql.js chunk (by name, or by its content in a production build). */
  sqljs: boolean;
  /** Bytes of the Julia code injected into kernels (deardiary.jl) bundled in this file. */
  julia: number;
}

/** Length of the string literal holding the bundled deardiary.jl, 0 when absent. */
function juliaLiteral(text: string): number {
  const start = text.indexOf('# jupyterlab-deardiary: the kernel side') - 1;
  if (start < 0) {
    return 0;
  }
  const quote = text[start];
  let i = start + 1;
  while (i < text.length && text[i] !== quote) {
    i += text[i] === '\\' ? 2 : 1;
  }
  return i + 1 - start;
}

test.use({ autoGoto: false });

test('JupyterLab load: extension JS before first use, wasm only on first use', async ({
  page
}) => {
  const fetched: IFetched[] = [];
  const pending: Array<Promise<void>> = [];
  page.on('response', response => {
    const url = new URL(response.url());
    if (!url.pathname.includes(STATIC)) {
      return;
    }
    pending.push(
      (async () => {
        const body = await response.body();
        const sizes = await response
          .request()
          .sizes()
          .catch(() => null);
        const headers = await response.allHeaders();
        const file = url.pathname.slice(
          url.pathname.indexOf(STATIC) + STATIC.length
        );
        const text = file.endsWith('.js') ? body.toString('latin1') : '';
        fetched.push({
          file,
          bytes: body.length,
          transferred: sizes?.responseBodySize ?? -1,
          encoding: headers['content-encoding'] ?? 'identity',
          wasm:
            file.endsWith('.wasm') ||
            (headers['content-type'] ?? '').includes('wasm'),
          sqljs:
            file.includes('sql-wasm') ||
            file.includes('sql_js') ||
            text.includes('sqlite3_prepare_v2'),
          julia: juliaLiteral(text)
        });
      })()
    );
  });

  // Load JupyterLab and wait until it is idle (started, restored, no network).
  await page.goto();
  await page.evaluate(async () => {
    await window.jupyterapp.started;
    await window.jupyterapp.restored;
  });
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(1000);
  await page.waitForLoadState('networkidle');
  await Promise.all(pending);
  const before = [...fetched];

  // First use of the store: sql.js, its wasm and the store module are fetched now.
  const wasmResponse = page.waitForResponse(
    r =>
      r.url().includes(STATIC) && new URL(r.url()).pathname.endsWith('.wasm'),
    { timeout: 60000 }
  );
  const outcome = await page.evaluate(async id => {
    try {
      await window.jupyterapp.commands.execute('deardiary:show-run', { id });
      return 'shown';
    } catch (error) {
      return `rejected (${(error as Error).message})`;
    }
  }, NO_SUCH_RUN);
  await wasmResponse.catch(() => null);
  await page.waitForLoadState('networkidle');
  await Promise.all(pending);
  const after = fetched.slice(before.length);

  const js = before.filter(f => f.file.endsWith('.js'));
  const jsBytes = sum(js.map(f => f.bytes));
  const jsTransferred = sum(js.map(f => f.transferred));
  const wasmBefore = before.filter(f => f.wasm);
  const sqlBefore = before.filter(f => f.sqljs);
  const wasmAfter = after.filter(f => f.wasm);
  const sqlAfter = after.filter(f => f.sqljs);
  const line = (f: IFetched) =>
    `${f.bytes} B (transferred ${f.transferred} B, ${f.encoding})`;
  // A production build names its chunks by number, a development build by module.
  const production = js
    .filter(f => !f.file.startsWith('remoteEntry.'))
    .every(f => /^\d+\.[0-9a-f]+\.js$/.test(f.file));
  const rows: Array<[string, string]> = [
    [
      'labextension build',
      production ? 'production' : 'DEVELOPMENT (run `jlpm build:prod` first)'
    ],
    [
      'JS before first use (target ≤ 60 KB = 61440 B)',
      `${jsBytes} B = ${(jsBytes / 1024).toFixed(1)} KB decoded, ${jsTransferred} B transferred, ${js.length} files`
    ],
    ...before.map(f => [`  ${f.file}`, line(f)] as [string, string]),
    [
      '  of which the bundled Julia code (deardiary.jl)',
      `${sum(js.map(f => f.julia))} B`
    ],
    [
      'wasm fetched before first use',
      wasmBefore.length ? `YES: ${wasmBefore.map(f => f.file)}` : 'no'
    ],
    [
      'sql.js chunk fetched before first use',
      sqlBefore.length ? `YES: ${sqlBefore.map(f => f.file)}` : 'no'
    ],
    ['first use: deardiary:show-run', outcome],
    [
      'wasm fetched on first use',
      wasmAfter.length
        ? `yes, ${wasmAfter.map(f => `${f.file} ${line(f)}`).join(', ')}`
        : 'NO'
    ],
    [
      'sql.js chunk fetched on first use',
      sqlAfter.length
        ? `yes, ${sqlAfter.map(f => `${f.file} ${line(f)}`).join(', ')}`
        : 'NO'
    ],
    ['fetched on first use, all', `${sum(after.map(f => f.bytes))} B`],
    ...after.map(f => [`  ${f.file}`, line(f)] as [string, string])
  ];
  report('JupyterLab load: what the extension fetches (Debian Chromium)', rows);

  // Soft: every target is checked and reported, even when one fails.
  expect.soft(js.length, 'the extension was loaded at all').toBeGreaterThan(0);
  expect
    .soft(
      wasmBefore.map(f => f.file),
      'wasm before first use'
    )
    .toEqual([]);
  expect
    .soft(
      sqlBefore.map(f => f.file),
      'sql.js chunk before first use'
    )
    .toEqual([]);
  expect
    .soft(jsBytes, 'bytes of extension JS before first use (≤ 60 KB)')
    .toBeLessThanOrEqual(JS_LIMIT);
  expect.soft(wasmAfter.length, 'wasm fetched on first use').toBe(1);
  expect
    .soft(sqlAfter.length, 'sql.js chunk fetched on first use')
    .toBeGreaterThan(0);
});

function sum(values: number[]): number {
  return values.reduce((a, b) => a + Math.max(0, b), 0);
}
