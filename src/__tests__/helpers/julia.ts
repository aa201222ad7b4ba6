/**
 * The test Julia: run code in a fresh temporary folder and depot, offline, and list
 * what it wrote. A missing Julia fails the test, never skips it.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** The test Julia, as the other Julia tests find it. */
export const JULIA =
  process.env.DEARDIARY_TEST_JULIA ??
  path.resolve(__dirname, '../../../.cache/julia/bin/julia');

/** Run Julia code in a fresh temporary folder and depot; `cwd` is its `work` folder. */
export function runJulia(code: string) {
  if (!fs.existsSync(JULIA)) {
    throw new Error(
      `no Julia at ${JULIA}: set DEARDIARY_TEST_JULIA or run scripts/get-julia.sh`
    );
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deardiary-snippet-'));
  const work = path.join(root, 'work');
  fs.mkdirSync(work);
  fs.writeFileSync(path.join(root, 'code.jl'), code);
  const result = spawnSync(
    JULIA,
    ['--startup-file=no', '--history-file=no', path.join(root, 'code.jl')],
    {
      cwd: work,
      encoding: 'utf8',
      timeout: 300000,
      env: {
        PATH: process.env.PATH,
        HOME: root,
        JULIA_DEPOT_PATH: path.join(root, 'depot'),
        JULIA_PKG_OFFLINE: 'true'
      }
    }
  );
  return { root, work, ...result };
}

/** Every path below `dir`, relative, sorted. */
export function tree(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    out.push(e.name);
    if (e.isDirectory()) {
      out.push(...tree(path.join(dir, e.name)).map(p => `${e.name}/${p}`));
    }
  }
  return out.sort();
}
