/**
 * The outbox against a real jupyter_server: runs that could not reach the server are
 * kept in IndexedDB (fake-indexeddb here: Node has none; the Galata test uses the
 * browser's) and sent once when it answers again, also by a reloaded tab. The server
 * sits behind a gate (a TCP-level HTTP proxy in this process) that drops connections
 * or answers 502 as a reverse proxy would while the server is down.
 */
import * as http from 'http';
import * as net from 'net';
import { IDBFactory } from 'fake-indexeddb';
import initSqlJs from 'sql.js';
import { ServerConnection } from '@jupyterlab/services';
import { DearDiaryAPI } from '../server/api';
import { ServerError } from '../server/request';
import { LEGACY_PENDING_KEY, RunStore } from '../store/client';
import { StoreSaveError } from '../store/errors';
import { IndexedDBOutbox } from '../store/outbox';
import { prepare } from '../store/prepare';
import type { IRunInput } from '../store/types';
import { makeRun } from './helpers/sqljs';
import { useServer } from './helpers/server';

/** Forwards to the server, drops connections (`down`) or answers 502 (`bad-gateway`). */
class Gate {
  mode: 'up' | 'down' | 'bad-gateway' = 'up';

  constructor(private readonly _target: URL) {
    this._server = http.createServer((req, res) => {
      if (this.mode === 'down') {
        req.socket.destroy();
        return;
      }
      if (this.mode === 'bad-gateway') {
        res.writeHead(502, { 'Content-Type': 'text/html' });
        res.end('<html><body>502 Bad Gateway</body></html>');
        return;
      }
      const upstream = http.request(
        {
          host: this._target.hostname,
          port: this._target.port,
          method: req.method,
          path: req.url,
          headers: req.headers
        },
        answer => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        }
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
  }

  async open(): Promise<string> {
    await new Promise<void>(resolve =>
      this._server.listen(0, '127.0.0.1', resolve)
    );
    const { port } = this._server.address() as net.AddressInfo;
    return `http://127.0.0.1:${port}/`;
  }

  close(): Promise<void> {
    this._server.closeAllConnections();
    return new Promise(resolve => this._server.close(() => resolve()));
  }

  private _server: http.Server;
}

async function until(
  condition: () => boolean | Promise<boolean>,
  ms = 15000
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error('timed out');
    }
    await new Promise(r => setTimeout(r, 20));
  }
}

describe('the outbox against a real server', () => {
  const suite = useServer();
  let gate: Gate;
  let settings: ServerConnection.ISettings;
  let direct: DearDiaryAPI;
  const opened: RunStore[] = [];

  beforeAll(async () => {
    gate = new Gate(new URL(suite.server.baseUrl));
    const baseUrl = await gate.open();
    settings = ServerConnection.makeSettings({
      ...suite.server.settings,
      baseUrl,
      wsUrl: baseUrl.replace('http', 'ws')
    });
    direct = new DearDiaryAPI(suite.server.settings);
  });
  afterAll(async () => {
    opened.forEach(s => s.dispose());
    await gate.close();
  });
  afterEach(() => {
    gate.mode = 'up';
  });

  /** A tab of a browser whose IndexedDB is `idb`. */
  function tab(idb: IDBFactory, legacy?: Map<string, string>): RunStore {
    const store = new RunStore({
      api: new DearDiaryAPI(settings),
      sqljs: { init: initSqlJs },
      outbox: new IndexedDBOutbox(idb),
      locks: null,
      retryFirstMs: 50,
      retryMaxMs: 400,
      legacyPending: legacy
        ? {
            key: LEGACY_PENDING_KEY,
            storage: {
              getItem: key => legacy.get(key) ?? null,
              removeItem: key => void legacy.delete(key)
            }
          }
        : null
    });
    opened.push(store);
    return store;
  }

  /** How many times the server holds each of these snapshots. */
  async function stored(inputs: IRunInput[]): Promise<number[]> {
    const runs = (await direct.listRuns())!.runs;
    return inputs.map(
      input => runs.filter(r => r.snapshot_id === input.snapshot_id).length
    );
  }

  it('keeps runs the server cannot take and sends them once, after a reload too', async () => {
    const idb = new IDBFactory();
    const first = tab(idb);
    await first.start();
    const counts: number[] = [];
    first.pendingChanged.connect((_, n) => counts.push(n));
    gate.mode = 'down';
    const lost = makeRun({ notebook: 'outbox/down.ipynb' });
    const error = await first.addRun(lost).then(
      () => null,
      e => e
    );
    expect(error).toBeInstanceOf(StoreSaveError);
    expect(error.message).toMatch(
      /kept in this browser and will be sent when the server answers \(1 run waiting\)/
    );
    expect(error.pendingCount).toBe(1);
    gate.mode = 'bad-gateway';
    const gateway = makeRun({ notebook: 'outbox/502.ipynb' });
    await expect(first.addRun(gateway)).rejects.toBeInstanceOf(StoreSaveError);
    expect(first.pendingCount).toBe(2);
    expect(counts).toEqual([1, 2]);

    // In IndexedDB, keyed by snapshot id, the bytes as Uint8Array.
    const outbox = new IndexedDBOutbox(idb);
    expect((await outbox.keys()).sort()).toEqual(
      [lost.snapshot_id, gateway.snapshot_id].sort()
    );
    const entry = (await outbox.get(lost.snapshot_id))!;
    expect(entry.blobs.every(b => b.bytes instanceof Uint8Array)).toBe(true);
    expect(entry.record.capture.files[0]).not.toHaveProperty('base64');
    expect(await stored([lost, gateway])).toEqual([0, 0]);

    // The tab is closed; a new one (a reload) finds them while the server is down.
    first.dispose();
    gate.mode = 'down';
    const reloaded = tab(idb);
    expect(await reloaded.start()).toBe(0);
    expect(reloaded.pendingCount).toBe(2);
    // The server answers again: sent without any further action, each once.
    gate.mode = 'up';
    await until(() => reloaded.pendingCount === 0);
    expect(await stored([lost, gateway])).toEqual([1, 1]);
    expect(await outbox.keys()).toEqual([]);
    const listed = await reloaded.listRuns();
    expect(listed.filter(r => r.snapshot_id === lost.snapshot_id)).toHaveLength(
      1
    );
  });

  it('sends an outbox two tabs share once', async () => {
    const idb = new IDBFactory();
    const a = tab(idb);
    await a.start();
    gate.mode = 'down';
    const inputs = [0, 1, 2].map(i =>
      makeRun({ notebook: `outbox/shared${i}.ipynb` })
    );
    for (const input of inputs) {
      await expect(a.addRun(input)).rejects.toBeInstanceOf(StoreSaveError);
    }
    gate.mode = 'up';
    const b = tab(idb);
    await Promise.all([a.flush(), b.start()]);
    await a.flush();
    await b.flush();
    expect(await stored(inputs)).toEqual([1, 1, 1]);
    expect(a.pendingCount).toBe(0);
    expect(b.pendingCount).toBe(0);
  });

  it('moves the runs an older version kept in sessionStorage into the outbox, once', async () => {
    const idb = new IDBFactory();
    const input = makeRun({ notebook: 'outbox/legacy.ipynb' });
    const { bytes } = input.notebook;
    const legacy = new Map([
      [
        LEGACY_PENDING_KEY,
        JSON.stringify([
          {
            ...input,
            notebook: {
              ...input.notebook,
              bytes: Buffer.from(bytes!).toString('base64')
            }
          }
        ])
      ]
    ]);
    gate.mode = 'down';
    const old = tab(idb, legacy);
    expect(await old.start()).toBe(0);
    expect(legacy.size).toBe(0);
    expect(await new IndexedDBOutbox(idb).keys()).toEqual([input.snapshot_id]);
    gate.mode = 'up';
    expect(await tab(idb).start()).toBe(1);
    expect(await stored([input])).toEqual([1]);
    const run = (await direct.listRuns())!.runs.find(
      r => r.snapshot_id === input.snapshot_id
    )!;
    const nb = await direct.getBlob(
      (await direct.getRun(run.id)).notebook.sha256
    );
    expect(Array.from(nb!)).toEqual(Array.from(bytes!));
  });
});

describe('a run the server refuses', () => {
  const suite = useServer({ args: ['--DearDiary.run_max_bytes=4096'] });

  it('is not kept: the error says why', async () => {
    const idb = new IDBFactory();
    const store = new RunStore({
      api: new DearDiaryAPI(suite.server.settings),
      sqljs: { init: initSqlJs },
      outbox: new IndexedDBOutbox(idb),
      locks: null,
      legacyPending: null
    });
    const big = makeRun({
      notebook: 'big.ipynb',
      notebookBytes: new Uint8Array(20000).fill(65)
    });
    const error = await store.addRun(big).then(
      () => null,
      e => e
    );
    expect(error).toBeInstanceOf(ServerError);
    expect(error.status).toBe(413);
    expect(error.code).toBe('run_too_large');
    expect(store.pendingCount).toBe(0);
    expect(await new IndexedDBOutbox(idb).keys()).toEqual([]);
    // A run within the limit is stored.
    const small = await store.addRun(makeRun({ notebook: 'small.ipynb' }));
    expect(small.created).toBe(true);
    store.dispose();
  });
});

describe('IndexedDBOutbox', () => {
  it('keeps entries by snapshot id with their bytes, across connections', async () => {
    const idb = new IDBFactory();
    const input = makeRun();
    const e = {
      ...(await prepare(input)),
      snapshot_id: input.snapshot_id,
      queued_at: '2025-01-01T00:00:00Z'
    };
    await new IndexedDBOutbox(idb).put(e);
    const other = new IndexedDBOutbox(idb); // another tab
    expect(await other.keys()).toEqual([e.snapshot_id]);
    const read = (await other.get(e.snapshot_id))!;
    expect(read.record).toEqual(e.record);
    expect(read.blobs.map(b => b.sha256)).toEqual(e.blobs.map(b => b.sha256));
    read.blobs.forEach((b, i) => {
      expect(b.bytes).toBeInstanceOf(Uint8Array);
      expect(Array.from(b.bytes)).toEqual(Array.from(e.blobs[i].bytes));
    });
    await other.delete(e.snapshot_id);
    expect(await new IndexedDBOutbox(idb).keys()).toEqual([]);
  });
});
