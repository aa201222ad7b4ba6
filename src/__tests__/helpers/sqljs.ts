/**
 * Test helpers of the run store: real sql.js (the browser build jest's jsdom preset
 * resolves, its wasm read from disk), a fake store endpoint with ETag/If-Match, runs.
 */
import { createHash, randomUUID } from 'crypto';
import type { Database } from 'sql.js';
import * as fs from 'fs';
import * as path from 'path';
import type { IStoreSnapshot, IStoreWritten } from '../../server/api';
import { ServerError } from '../../server/request';
import type { ISqlJsLoader } from '../../store/sqljs';
import { IRunStoreOptions, IStoreAPI, RunStore } from '../../store/store';
import type { IRunInput } from '../../store/types';

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
 * The store endpoint: bytes and a sha256 ETag; writes need the current ETag (or null to
 * create). `failWrite` may throw before the precondition is checked.
 */
export class FakeStoreAPI implements IStoreAPI {
  bytes: Uint8Array | null = null;
  reads = 0;
  writes: Array<{ etag: string | null; ok: boolean }> = [];
  failWrite: ((n: number) => void) | null = null;

  constructor(bytes: Uint8Array | null = null) {
    this.bytes = bytes ? new Uint8Array(bytes) : null;
  }

  get etag(): string | null {
    return this.bytes ? sha(this.bytes) : null;
  }

  async readStore(): Promise<IStoreSnapshot | null> {
    this.reads++;
    await Promise.resolve();
    return this.bytes
      ? { bytes: new Uint8Array(this.bytes), etag: this.etag! }
      : null;
  }

  async writeStore(
    bytes: Uint8Array,
    etag: string | null
  ): Promise<IStoreWritten> {
    await Promise.resolve();
    try {
      this.failWrite?.(this.writes.length);
      if (etag !== this.etag) {
        throw new ServerError(
          'The store changed since it was read (or already exists): reload it and retry.',
          412,
          'etag_mismatch',
          { current_etag: this.etag }
        );
      }
    } catch (error) {
      this.writes.push({ etag, ok: false });
      throw error;
    }
    this.writes.push({ etag, ok: true });
    this.bytes = new Uint8Array(bytes);
    return { etag: this.etag!, size: bytes.length };
  }

  get okWrites(): number {
    return this.writes.filter(w => w.ok).length;
  }
}

/** A 412 as the server answers it. */
export function conflict(): ServerError {
  return new ServerError('The store changed', 412, 'etag_mismatch');
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

/** A RunStore over a fake API with test defaults: no backoff, no sessionStorage. */
export function makeStore(
  api: FakeStoreAPI,
  options: Partial<IRunStoreOptions> = {}
): RunStore {
  return new RunStore({
    api,
    sqljs: SQLJS,
    backoffMs: 0,
    pendingStorage: null,
    keepAside: async () => 'kept',
    ...options
  });
}

/** The first value of the first row of a query (a count). */
export function count(
  db: Database,
  sql: string,
  params: string[] = []
): number {
  const stmt = db.prepare(sql, params);
  stmt.step();
  const n = Number(stmt.get()[0]);
  stmt.free();
  return n;
}
