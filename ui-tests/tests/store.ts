/**
 * Test helpers that look at what the server stores, through its HTTP API only (the
 * server is the store's only writer, docs/store.md), and at the projects the tests
 * create on disk.
 */
import { APIRequestContext, expect, request } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';
import { prepare } from '../../src/store/prepare';
import type { IRunInput } from '../../src/store/types';

/** The server root of the test JupyterLab (jupyter_server_test_config.py). */
export const ROOT =
  process.env.DEARDIARY_UI_ROOT ?? path.join(__dirname, '..', '.jupyter-root');

/** A Jupyter server the helpers talk to: the Galata one (no token) unless told. */
export interface IServer {
  /** http://localhost:<port> */
  url: string;
  /** '' when the server asks for none. */
  token: string;
}

/** The Galata test server (ui-tests/playwright.config.js: no token). */
export const GALATA: IServer = {
  url: `http://localhost:${process.env.DEARDIARY_UI_PORT}`,
  token: ''
};

/** A request context for `server`, its token in every request. */
export function api(server: IServer = GALATA): Promise<APIRequestContext> {
  return request.newContext({
    baseURL: server.url,
    extraHTTPHeaders: server.token
      ? { Authorization: `token ${server.token}` }
      : {}
  });
}

/** Run `use` with a request context for `server`, disposed afterwards. */
async function withApi<T>(
  server: IServer,
  use: (api: APIRequestContext) => Promise<T>
): Promise<T> {
  const context = await api(server);
  try {
    return await use(context);
  } finally {
    await context.dispose();
  }
}

/** A run as GET /deardiary/runs lists it (IRunSummary's names). */
export interface IStoredRun {
  id: number;
  snapshot_id: string;
  number: number;
  notebook_path: string;
  trigger: string;
  parent_id: number | null;
  /** The active project file's path as the kernel saw it ('' when none). */
  project_path: string;
  note: string;
  /** The user had unsaved edits when the run was recorded. */
  notebook_unsaved: boolean;
}

type Column = unknown[] | { values: unknown[]; index: number[] };

/** Every run, as the server lists them (newest first); `[]` with no store yet. */
export async function listRuns(api: APIRequestContext): Promise<IStoredRun[]> {
  const response = await api.get('/deardiary/runs');
  expect(response.status(), await response.text()).toBe(200);
  const { columns } = (await response.json()) as {
    columns: Record<string, Column>;
  };
  // A column is a list, or distinct values and an index into them per run.
  const column = (name: string): any[] => {
    const c = columns[name];
    return Array.isArray(c) ? c : c.index.map(i => c.values[i]);
  };
  const names = [
    'id',
    'snapshot_id',
    'number',
    'notebook_path',
    'trigger',
    'parent_id',
    'project_path',
    'note',
    'notebook_unsaved'
  ] as const;
  const values = names.map(column);
  return values[0].map((_, i) => {
    const run = Object.fromEntries(names.map((n, j) => [n, values[j][i]]));
    return { ...run, project_path: run.project_path ?? '' } as IStoredRun;
  });
}

/**
 * The runs of one notebook (path relative to the root), oldest first. The server may
 * hold other tests' runs (the Galata run shares one store): only this notebook's count.
 */
export async function readRuns(
  notebook: string,
  server: IServer = GALATA
): Promise<IStoredRun[]> {
  const runs = await withApi(server, listRuns);
  return runs
    .filter(run => run.notebook_path === notebook)
    .sort((a, b) => a.id - b.id);
}

/** A stdlib-only project, as Julia 1.5 writes it (shared with the jest tests). */
const STDLIB_PROJECT = path.join(
  __dirname,
  '../../src/__tests__/fixtures/stdlib-project'
);

/** A Julia project (Project.toml + a stdlib-only Manifest.toml) in a folder of the root. */
export function writeProject(dir: string, project: string, root = ROOT): void {
  const folder = path.join(root, dir);
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
 * Add runs as another client would, through the API: ask which blobs the server lacks,
 * upload those, post the run (docs/store.md). Each run must be new (201).
 */
export async function addRuns(
  runs: IRunInput[],
  server: IServer = GALATA
): Promise<void> {
  await withApi(server, async api => {
    for (const input of runs) {
      const { record, blobs } = await prepare(input);
      const asked = await api.post('/deardiary/blobs/missing', {
        data: { sha256: blobs.map(b => b.sha256) }
      });
      expect(asked.status(), await asked.text()).toBe(200);
      const { missing } = (await asked.json()) as { missing: string[] };
      for (const blob of blobs.filter(b => missing.includes(b.sha256))) {
        const put = await api.put(`/deardiary/blobs/${blob.sha256}`, {
          data: Buffer.from(blob.bytes),
          headers: { 'Content-Type': 'application/octet-stream' }
        });
        expect([200, 201], await put.text()).toContain(put.status());
      }
      const posted = await api.post('/deardiary/runs', { data: record });
      expect(posted.status(), await posted.text()).toBe(201);
    }
  });
}
