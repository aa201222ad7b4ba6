/**
 * A large, realistic run store for the sidebar benchmark (bench/sidebar.spec.ts): the
 * real schema (openStore) and insertRuns, through the Node build of sql.js, written as
 * the SQLite file the server hands out.
 *
 * Shape: `runs` runs over `environments` distinct environments (each a generated
 * manifest of `packages` packages, bench/manifest.ts, with versions that differ between
 * environments so that package filters select some of them) and `notebooks` notebooks;
 * a note on every 6th run, uncommitted changes (a small git patch) on every 5th, a
 * small saved notebook kept with each run.
 */
import { createHash, randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import initSqlJs from 'sql.js';
import { makeRun } from '../src/__tests__/helpers/sqljs';
import { openStore } from '../src/store/schema';
import { insertRuns } from '../src/store/store';
import type { IRunInput, RunTrigger } from '../src/store/types';
import { manifest } from './manifest';

export interface ISeedOptions {
  runs: number;
  environments: number;
  notebooks: number;
  /** Packages per manifest. */
  packages: number;
}

export interface ISeeded extends ISeedOptions {
  /** Bytes of the written store file. */
  bytes: number;
  /** Mean bytes of one manifest. */
  manifestBytes: number;
  /** Runs with a note. */
  notes: number;
  seconds: number;
}

const JULIA = ['1.9.4', '1.10.4', '1.10.5', '1.11.1'];
const TRIGGERS: RunTrigger[] = [
  'button',
  'kernel-start',
  'code',
  'environment-change'
];
export const NOTES = [
  'baseline before the refactor',
  'tuned learning rate',
  'after upgrading the solver',
  'figure 3 for the paper',
  'reviewer request: more samples',
  'regression on the larger grid',
  'sanity check with the old seed',
  'final numbers for the report'
];

/** The version of PackageK in environment `env` (so `Package12@1` picks 1 in 4). */
export function packageVersion(k: number, env: number): string {
  return `${(k + env) % 4}.${(k * 7 + env) % 13}.${env % 7}`;
}

/** A generated manifest whose versions (and Julia version) belong to `env`. */
function envManifest(env: number, packages: number, julia: string): string {
  let k = -1;
  return manifest(packages)
    .split('\n')
    .map(line => {
      const head = /^\[\[deps\.Package(\d+)\]\]$/.exec(line);
      if (head) {
        k = Number(head[1]);
        return line;
      }
      if (line.startsWith('version = ') && k >= 0) {
        return `version = "${packageVersion(k, env)}"`;
      }
      if (line.startsWith('julia_version = ')) {
        return `julia_version = "${julia}"`;
      }
      return line;
    })
    .join('\n');
}

function hex(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

/** The notebook path of notebook `n` (10 project folders). */
export function notebookPath(n: number): string {
  return `project-${String(n % 10).padStart(2, '0')}/analysis-${String(n).padStart(2, '0')}.ipynb`;
}

/**
 * Write a store of `options` to `file` (replaced atomically). Runs are inserted in
 * batches (one insertRuns transaction each) so that the decoded manifests of all
 * runs are never in memory at once.
 */
export async function seedStore(
  file: string,
  options: ISeedOptions
): Promise<ISeeded> {
  const started = Date.now();
  const SQL = await initSqlJs();
  const db = openStore(SQL, null);
  // One template per environment: its files (base64, sha256) are shared by its runs.
  const templates: IRunInput[] = [];
  let manifestBytes = 0;
  for (let e = 0; e < options.environments; e++) {
    const julia = JULIA[e % JULIA.length];
    const text = envManifest(e, options.packages, julia);
    manifestBytes += Buffer.byteLength(text);
    const deps = Array.from(
      { length: 20 },
      (_, i) =>
        `Package${(e * 13 + i) % options.packages} = "${hex(`${e}/${i}`, 8)}-0000-4000-8000-${hex(`${i}`, 12)}"`
    );
    const dir = `/home/u/work/env-${String(e).padStart(3, '0')}`;
    const template = makeRun({
      manifest: text,
      project: `name = "Analysis${e}"\n\n[deps]\n${deps.join('\n')}\n`,
      projectPath: `${dir}/Project.toml`
    });
    template.capture.julia_version = julia;
    template.capture.manifest!.path = `${dir}/Manifest.toml`;
    for (const f of template.capture.files) {
      f.path = `${dir}/${f.name}`;
    }
    template.kernel = {
      name: `julia-${julia.slice(0, julia.lastIndexOf('.'))}`,
      display_name: `Julia ${julia}`,
      language: 'julia'
    };
    templates.push(template);
  }

  const start = new Date('2024-01-01T08:00:00Z').getTime();
  const last = new Map<number, string>();
  const batch = 250;
  let notes = 0;
  for (let first = 0; first < options.runs; first += batch) {
    const inputs: IRunInput[] = [];
    for (let r = first; r < Math.min(options.runs, first + batch); r++) {
      const n = (r * 7) % options.notebooks;
      // Consecutive runs of a notebook mostly share their environment.
      const env = (n * 6 + Math.floor(r / 200)) % options.environments;
      const t = templates[env];
      const note =
        r % 6 === 0 ? `${NOTES[(r / 6) % NOTES.length]} (run ${r})` : '';
      notes += note ? 1 : 0;
      const nbPath = notebookPath(n);
      const nbBytes = new TextEncoder().encode(
        JSON.stringify({
          cells: [
            {
              cell_type: 'code',
              execution_count: 1,
              source: [`result_${r} = simulate(${r % 97})`],
              outputs: [{ output_type: 'stream', text: [`${Math.sin(r)}\n`] }]
            }
          ],
          metadata: { kernelspec: t.kernel },
          nbformat: 4,
          nbformat_minor: 5
        })
      );
      const dirty = r % 5 === 0;
      const patch = dirty
        ? `diff --git a/src/model.jl b/src/model.jl\n--- a/src/model.jl\n+++ b/src/model.jl\n@@ -${r % 300},3 +${r % 300},3 @@\n-const STEPS = ${r}\n+const STEPS = ${r + 1}\n`
        : '';
      const trigger = TRIGGERS[r % TRIGGERS.length];
      const created = new Date(start + r * 5 * 60000).toISOString();
      const snapshotId = randomUUID();
      const git = t.git.state === 'ok' ? t.git.git : null;
      inputs.push({
        ...t,
        snapshot_id: snapshotId,
        trigger,
        note,
        created_at: created,
        ended_at: new Date(start + r * 5 * 60000 + 3000).toISOString(),
        parent_snapshot_id:
          trigger === 'environment-change' ? (last.get(n) ?? null) : null,
        git: {
          state: 'ok',
          git: {
            ...git!,
            path: nbPath,
            head_sha: hex(`commit ${n}/${Math.floor(r / 400)}`, 40),
            dirty,
            dirty_files: dirty
              ? [
                  {
                    path: 'src/model.jl',
                    status: 'M',
                    xy: ' M',
                    orig_path: null,
                    submodule: false
                  }
                ]
              : [],
            patch,
            patch_bytes: patch.length
          }
        },
        notebook: {
          path: nbPath,
          bytes: nbBytes,
          sha256: createHash('sha256').update(nbBytes).digest('hex'),
          size: nbBytes.length,
          unsaved_changes: r % 11 === 0
        }
      });
      last.set(n, snapshotId);
    }
    await insertRuns(db, inputs);
  }
  const bytes = db.export();
  db.close();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
  return {
    ...options,
    bytes: bytes.length,
    manifestBytes: Math.round(manifestBytes / options.environments),
    notes,
    seconds: (Date.now() - started) / 1000
  };
}
