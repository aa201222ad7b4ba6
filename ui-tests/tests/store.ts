/**
 * Test helpers that look at what the server has on disk: the store file (read, or added
 * to, with sql.js's Node build) and the projects the tests create.
 */
import * as fs from 'fs';
import * as path from 'path';
import { openStore } from '../../src/store/schema';
import { insertRuns } from '../../src/store/store';
import type { IRunInput } from '../../src/store/types';

/** The server root of the test JupyterLab (jupyter_server_test_config.py). */
export const ROOT =
  process.env.DEARDIARY_UI_ROOT ?? path.join(__dirname, '..', '.jupyter-root');
const STORE = path.join(ROOT, '.deardiary', 'deardiary.sqlite');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const initSqlJs = require(
  path.join(__dirname, '..', '..', 'node_modules', 'sql.js')
);

export interface IStoredRun {
  id: number;
  snapshot_id: string;
  number: number;
  trigger: string;
  parent_id: number | null;
  project_path: string;
  note: string;
}

/** The runs of one notebook (path relative to the root), oldest first. */
export async function readRuns(notebook: string): Promise<IStoredRun[]> {
  if (!fs.existsSync(STORE)) {
    return [];
  }
  const SQL = await initSqlJs();
  const db = new SQL.Database(fs.readFileSync(STORE));
  try {
    const result = db.exec(
      `SELECT i.id, i.snapshot_id, i.number, i.trigger, i.parent_iteration_id, i.notes,
              (SELECT f.path FROM iteration_file f
               WHERE f.iteration_id = i.id AND f.role = 'project')
       FROM iteration i JOIN experiment e ON e.id = i.experiment_id
       WHERE e.name = ? ORDER BY i.id`,
      [notebook]
    );
    return (result[0]?.values ?? []).map((row: any[]) => ({
      id: row[0],
      snapshot_id: row[1],
      number: row[2],
      trigger: row[3],
      parent_id: row[4],
      note: row[5],
      project_path: row[6] ?? ''
    }));
  } finally {
    db.close();
  }
}

/** A stdlib-only project, as Julia 1.5 writes it (shared with the jest tests). */
const STDLIB_PROJECT = path.join(
  __dirname,
  '../../src/__tests__/fixtures/stdlib-project'
);

/** A Julia project (Project.toml + a stdlib-only Manifest.toml) in a folder of the root. */
export function writeProject(dir: string, project: string): void {
  const folder = path.join(ROOT, dir);
  fs.mkdirSync(folder, { recursive: true });
  const stdlib = (name: string) =>
    fs.readFileSync(path.join(STDLIB_PROJECT, name), 'utf8');
  fs.writeFileSync(
    path.join(folder, 'Project.toml'),
    project + stdlib('Project.toml')
  );
  fs.writeFileSync(path.join(folder, 'Manifest.toml'), stdlib('Manifest.toml'));
}

/**
 * Add runs to the store as another program would: straight into the file (replaced
 * atomically), with the real schema and RunStore's insertRuns.
 */
export async function addRuns(runs: IRunInput[]): Promise<void> {
  const SQL = await initSqlJs();
  const db = openStore(
    SQL,
    fs.existsSync(STORE) ? fs.readFileSync(STORE) : null
  );
  try {
    await insertRuns(db, runs);
    fs.mkdirSync(path.dirname(STORE), { recursive: true });
    fs.writeFileSync(`${STORE}.new`, db.export());
    fs.renameSync(`${STORE}.new`, STORE);
  } finally {
    db.close();
  }
}
