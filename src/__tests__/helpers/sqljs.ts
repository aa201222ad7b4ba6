/**
 * Test helpers of the run store: real sql.js (the browser build jest's jsdom preset
 * resolves, its wasm read from disk), the store endpoints in memory, runs.
 */
import { createHash, randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { pathToString } from '../../kernel/protocol';
import { parseManifest } from '../../manifest/parse';
import type {
  IndexAnswer,
  IPackagesAnswer,
  IRunAdded,
  IRunList,
  RunColumns
} from '../../server/api';
import { ServerError } from '../../server/request';
import { IRunStoreOptions, IStoreAPI, RunStore } from '../../store/client';
import { MemoryOutbox } from '../../store/outbox';
import { compareRuns } from '../../store/runindex';
import { ISqlJsLoader, loadSqlJs } from '../../store/sqljs';
import type {
  IRunDetail,
  IRunInput,
  IRunRecord,
  IRunSummary,
  RunGit
} from '../../store/types';

// Not require.resolve('….wasm'): jest maps .wasm files to a stub.
const wasm = fs.readFileSync(
  path.join(
    path.dirname(require.resolve('sql.js/dist/sql-wasm.js')),
    'sql-wasm.wasm'
  )
);

/** Load sql.js without fetching: the wasm comes from node_modules. */
export const SQLJS: ISqlJsLoader = {
  wasmBinary: wasm.buffer.slice(
    wasm.byteOffset,
    wasm.byteOffset + wasm.byteLength
  ) as ArrayBuffer
};

export function sha(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The store endpoints of docs/store.md in memory, for the widget tests that need a
 * store but are not about it (the store itself is tested against the real server:
 * store*.server.ts). It keeps the same rules: blobs by sha256, runs by snapshot id,
 * a version `<store_id>.<seq>`, the index as an SQLite image (sql.js) or a delta.
 */
export class FakeStoreAPI implements IStoreAPI {
  blobs = new Map<string, Uint8Array>();
  puts = 0;
  /** Answer every call with this error instead (a server out of reach). */
  down: ServerError | null = null;

  get version(): string {
    return `${this._storeId}.${this._seq}`;
  }

  async missingBlobs(shas: string[]): Promise<string[]> {
    this._check();
    return shas.filter(s => !this.blobs.has(s));
  }

  async putBlob(sha256: string, bytes: Uint8Array): Promise<void> {
    this._check();
    if (sha(bytes) !== sha256) {
      throw new ServerError('sha256 mismatch', 400, 'sha256_mismatch');
    }
    this.puts++;
    this.blobs.set(sha256, new Uint8Array(bytes));
  }

  async getBlob(sha256: string): Promise<Uint8Array | null> {
    this._check();
    const bytes = this.blobs.get(sha256);
    return bytes ? new Uint8Array(bytes) : null;
  }

  async addRun(record: IRunRecord): Promise<IRunAdded> {
    this._check();
    const known = [...this._runs.values()].find(
      r => r.record.snapshot_id === record.snapshot_id
    );
    if (known) {
      return { run: known.summary, created: false, version: this.version };
    }
    const missing = referenced(record).filter(s => !this.blobs.has(s));
    if (missing.length) {
      throw new ServerError('missing blobs', 409, 'missing_blobs', {
        missing
      });
    }
    const id = ++this._lastId;
    const path = record.notebook.path;
    const numbers = [...this._runs.values()]
      .filter(r => r.summary.notebook_path === path)
      .map(r => r.summary.number);
    const parent = [...this._runs.values()].find(
      r => r.record.snapshot_id === record.parent_snapshot_id
    );
    const summary = toSummary(
      id,
      record,
      Math.max(0, ...numbers) + 1,
      parent?.summary.id ?? null
    );
    this._runs.set(id, { record, summary });
    this._change(id);
    return { run: summary, created: true, version: this.version };
  }

  async listRuns(
    options: { limit?: number; ifNoneMatch?: string | null } = {}
  ): Promise<IRunList | null> {
    this._check();
    if (options.ifNoneMatch === this.version) {
      return null;
    }
    const runs = this._sorted();
    return {
      runs: runs.slice(0, options.limit ?? runs.length),
      version: this.version,
      total: runs.length
    };
  }

  async getRun(id: number): Promise<IRunDetail> {
    this._check();
    const run = this._runs.get(id);
    if (!run) {
      throw new ServerError(`There is no run with id ${id}.`, 404, 'no_run');
    }
    const { record, summary } = run;
    const files = record.capture.files
      .filter(f => !f.role.startsWith('env_'))
      .map(f => ({
        role: f.env === undefined ? f.role : `${f.role}:${f.env}`,
        name: f.name,
        path: pathToString(f.path),
        size: f.size,
        sha256: f.sha256
      }))
      .sort((a, b) =>
        a.role !== b.role
          ? a.role < b.role
            ? 1
            : -1
          : a.name < b.name
            ? -1
            : 1
      );
    let git: RunGit;
    if (record.git.state === 'ok') {
      const { patch_sha256: patchSha, ...rest } = record.git.git;
      git = {
        state: 'ok',
        git: patchSha
          ? {
              ...rest,
              patch: new TextDecoder().decode(this.blobs.get(patchSha))
            }
          : rest
      };
    } else {
      git = record.git;
    }
    return {
      ...summary,
      files,
      capture: record.capture,
      git,
      notebook: record.notebook,
      kernel: record.kernel
    };
  }

  async updateNote(
    id: number,
    note: string
  ): Promise<{ run: IRunSummary; version: string }> {
    this._check();
    const run = this._runs.get(id);
    if (!run) {
      throw new ServerError(`There is no run with id ${id}.`, 404, 'no_run');
    }
    if (run.summary.note !== note) {
      run.summary = { ...run.summary, note };
      this._change(id);
    }
    return { run: run.summary, version: this.version };
  }

  async deleteRun(id: number): Promise<{ version: string }> {
    this._check();
    const run = this._runs.get(id);
    if (!run) {
      throw new ServerError(`There is no run with id ${id}.`, 404, 'no_run');
    }
    this._runs.delete(id);
    for (const other of this._runs.values()) {
      if (other.summary.parent_id === id) {
        other.summary = { ...other.summary, parent_id: null };
        this._change(other.summary.id);
      }
    }
    const used = new Set(
      [...this._runs.values()].flatMap(r => referenced(r.record))
    );
    referenced(run.record)
      .filter(s => !used.has(s))
      .forEach(s => this.blobs.delete(s));
    this._change(id);
    return { version: this.version };
  }

  async index(since: string | null = null): Promise<IndexAnswer> {
    this._check();
    if (since === this.version) {
      return { kind: 'current', version: since };
    }
    const [storeId, seq] = (since ?? '').split('.');
    const runs = this._sorted();
    if (storeId === this._storeId && seq !== undefined) {
      const ids = new Set(
        this._log.filter(c => c.seq > Number(seq)).map(c => c.id)
      );
      const changed = runs.filter(r => ids.has(r.id));
      const rows = this._packageRows(changed);
      return {
        kind: 'delta',
        version: this.version,
        delta: {
          version: this.version,
          runs: toColumns(changed),
          deleted: [...ids].filter(id => !this._runs.has(id)),
          packages: {
            manifest_sha256: rows.map(r => r[0]),
            name: rows.map(r => r[1]),
            version: rows.map(r => r[2])
          },
          manifests: {
            sha256: [...new Set(rows.map(r => r[0]))],
            error: [...new Set(rows.map(r => r[0]))].map(() => null)
          }
        }
      };
    }
    // The image is of the runs and the version of this moment, as the server reads both
    // in one transaction (runs may be added while sql.js loads).
    const version = this.version;
    const SQL = await loadSqlJs(SQLJS);
    const db = new SQL.Database();
    db.exec(INDEX_SCHEMA);
    const ids = new Map<string, number>();
    for (const [manifest, name, version] of this._packageRows(runs)) {
      if (!ids.has(manifest)) {
        db.run('INSERT INTO manifest (sha256) VALUES (?)', [manifest]);
        ids.set(manifest, ids.size + 1);
      }
      db.run('INSERT INTO package VALUES (?, ?, ?)', [
        ids.get(manifest)!,
        name,
        version
      ]);
    }
    db.run("INSERT INTO meta VALUES ('version', ?)", [version]);
    const bytes = db.export();
    db.close();
    return { kind: 'image', version, bytes };
  }

  /** The server's answer to a package filter (GET /deardiary/packages), from the fake's rows. */
  async packages(names: readonly string[]): Promise<IPackagesAnswer> {
    this._check();
    const wanted = new Set(names.map(n => n.toLowerCase()));
    const manifests: IPackagesAnswer['manifests'] = {};
    for (const [sha, name, version] of this._packageRows(this._sorted())) {
      const key = name.toLowerCase();
      if (wanted.has(key)) {
        ((manifests[sha] ??= {})[key] ??= []).push(
          version === '' ? null : version
        );
      }
    }
    return { version: this.version, manifests };
  }

  async keepStoreAside(): Promise<{ path: string; relpath: string | null }> {
    throw new ServerError('The store opens fine.', 412, 'etag_mismatch');
  }

  private _check(): void {
    if (this.down) {
      throw this.down;
    }
  }

  private _change(id: number): void {
    this._seq++;
    this._log.push({ seq: this._seq, id });
  }

  private _sorted(): IRunSummary[] {
    return [...this._runs.values()].map(r => r.summary).sort(compareRuns);
  }

  /** (manifest sha256, name, version) of the runs' manifests, parsed. */
  private _packageRows(runs: IRunSummary[]): [string, string, string][] {
    const rows: [string, string, string][] = [];
    const shas = new Set(runs.map(r => r.manifest_sha256));
    for (const manifest of shas) {
      const bytes = manifest ? this.blobs.get(manifest) : undefined;
      if (!manifest || !bytes) {
        continue;
      }
      try {
        for (const p of parseManifest(new TextDecoder().decode(bytes))
          .packages) {
          rows.push([manifest, p.name, p.version ?? '']);
        }
      } catch {
        // not parsable: no package rows
      }
    }
    return rows;
  }

  private _storeId = Math.random().toString(16).slice(2, 18).padEnd(16, '0');
  private _seq = 0;
  private _lastId = 0;
  private _log: { seq: number; id: number }[] = [];
  private _runs = new Map<
    number,
    { record: IRunRecord; summary: IRunSummary }
  >();
}

/** The index schema of docs/store.md. */
export const INDEX_SCHEMA = `
CREATE TABLE manifest (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, error TEXT);
CREATE TABLE package (manifest INTEGER NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL);
CREATE INDEX package_by_name ON package (name COLLATE NOCASE);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);`;

/** The blobs a record references (what the server checks before storing it). */
function referenced(record: IRunRecord): string[] {
  const shas = record.capture.files.map(f => f.sha256);
  if (record.notebook.stored) {
    shas.push(record.notebook.sha256);
  }
  if (record.git.state === 'ok' && record.git.git.patch_sha256) {
    shas.push(record.git.git.patch_sha256);
  }
  return shas;
}

function toSummary(
  id: number,
  record: IRunRecord,
  number: number,
  parentId: number | null
): IRunSummary {
  const { capture, git } = record;
  const file = (role: string) => capture.files.find(f => f.role === role);
  const repo = git.state === 'ok' && git.git.repo ? git.git : null;
  return {
    id,
    snapshot_id: record.snapshot_id,
    number,
    notebook_path: record.notebook.path,
    trigger: record.trigger,
    status: 'recorded',
    note: record.note,
    created_at: record.created_at,
    julia_version: capture.julia_version,
    git_sha: repo?.head_sha ?? null,
    git_dirty: repo?.dirty === undefined ? null : repo.dirty,
    is_global_env: capture.project?.is_global ?? false,
    has_manifest: !!file('manifest'),
    parent_id: parentId,
    manifest_sha256: file('manifest')?.sha256 ?? null,
    project_sha256: file('project')?.sha256 ?? null,
    manifest_name: file('manifest')?.name ?? null,
    project_path: capture.project ? pathToString(capture.project.path) : null,
    notebook_unsaved: record.notebook.unsaved_changes,
    has_patch: git.state === 'ok' && !!git.git.patch_sha256,
    patch_truncated: git.state === 'ok' && git.git.truncated === true
  };
}

/** Runs as the columns of an answer (one array per field). */
export function toColumns(runs: IRunSummary[]): RunColumns {
  const keys = Object.keys(runs[0] ?? {}) as (keyof IRunSummary)[];
  return Object.fromEntries(
    keys.map(k => [k, runs.map(r => r[k])])
  ) as unknown as RunColumns;
}

export interface IRunOptions {
  snapshot_id?: string;
  notebook?: string;
  manifest?: string;
  project?: string;
  notebookBytes?: Uint8Array | null;
  created_at?: string;
  parent?: string | null;
  patch?: string;
  /** The git patch stopped at the size cap. */
  truncated?: boolean;
  /** The notebook had unsaved changes. */
  unsaved?: boolean;
  /** No manifest captured (the project has none). */
  noManifest?: boolean;
  manifestName?: string;
  /** The active project's path (a PathValue: `{b64}` for bytes that are not UTF-8). */
  projectPath?: string | { b64: string };
  note?: string;
}

/** A run as the recorder hands it over, with correct sha256s. */
export function makeRun(options: IRunOptions = {}): IRunInput {
  const project = Buffer.from(options.project ?? 'name = "Demo"\n');
  const manifest = Buffer.from(
    options.manifest ?? 'julia_version = "1.10.4"\n[[deps.Example]]\n'
  );
  const nbBytes =
    options.notebookBytes === undefined
      ? new TextEncoder().encode('{"cells": []}')
      : options.notebookBytes;
  const nbDeclared = nbBytes ?? new TextEncoder().encode('{"cells": []}');
  const file = (role: 'project' | 'manifest', name: string, bytes: Buffer) => ({
    role,
    name,
    path: `/home/u/demo/${name}`,
    size: bytes.length,
    sha256: sha(bytes),
    base64: bytes.toString('base64')
  });
  const path = options.notebook ?? 'analysis.ipynb';
  const projectPath = options.projectPath ?? '/home/u/demo/Project.toml';
  const manifestName = options.manifestName ?? 'Manifest.toml';
  const files = [file('project', 'Project.toml', project)];
  if (!options.noManifest) {
    files.push(file('manifest', manifestName, manifest));
  }
  return {
    snapshot_id: options.snapshot_id ?? randomUUID(),
    trigger: 'button',
    note: options.note ?? '',
    created_at: options.created_at ?? new Date().toISOString(),
    ended_at: new Date().toISOString(),
    parent_snapshot_id: options.parent ?? null,
    kernel: {
      name: 'julia-1.10',
      display_name: 'Julia 1.10',
      language: 'julia'
    },
    capture: {
      julia_version: '1.10.4',
      project: {
        path: projectPath,
        exists: true,
        is_global: false
      },
      manifest: options.noManifest
        ? null
        : {
            path: `/home/u/demo/${manifestName}`,
            exists: true,
            found_by: 'julia'
          },
      workspace_root: null,
      files,
      sys: {
        kernel: 'Linux',
        arch: 'x86_64',
        machine: 'x86_64-linux-gnu',
        cpu_threads: 8,
        nthreads: 1,
        bindir: '/opt/julia-1.10.4/bin',
        depot_path: [
          '/home/u/.julia',
          '/opt/julia-1.10.4/local/share/julia',
          '/opt/julia-1.10.4/share/julia'
        ],
        load_path: ['@', '@v#.#', '@stdlib'],
        pwd: '/home/u/demo'
      }
    },
    git: {
      state: 'ok',
      git: {
        path: path,
        repo: true,
        head_sha: 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3',
        branch: 'main',
        detached: false,
        remote_url: 'https://github.com/u/demo.git',
        dirty: options.patch !== undefined,
        dirty_files: [],
        untracked_count: 0,
        patch: options.patch ?? '',
        patch_bytes: options.patch?.length ?? 0,
        truncated: options.truncated ?? false,
        binary_files: [],
        toplevel: '/home/u/demo',
        toplevel_outside_root: false
      }
    },
    notebook: {
      path,
      bytes: nbBytes,
      sha256: sha(nbDeclared),
      size: nbDeclared.length,
      unsaved_changes: options.unsaved ?? false
    }
  };
}

/** A RunStore over the in-memory endpoints, with an in-memory outbox. */
export function makeStore(
  api: FakeStoreAPI = new FakeStoreAPI(),
  options: Partial<IRunStoreOptions> = {}
): RunStore {
  return new RunStore({
    api,
    sqljs: SQLJS,
    outbox: new MemoryOutbox(),
    legacyPending: null,
    locks: null,
    ...options
  });
}
