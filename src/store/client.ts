/**
 * The run store as the browser sees it: the server is its only writer (docs/store.md).
 * A run is sent as a record plus the blobs the server lacks; the run list comes from
 * GET /deardiary/runs and is kept current with the index's deltas; package filters
 * answer from the index (an SQLite image opened with sql.js, loaded when first needed).
 * Runs that cannot reach the server wait in the outbox.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import {
  DearDiaryAPI,
  fromColumns,
  IIndexDelta,
  IndexAnswer,
  IRunList
} from '../server/api';
import { ServerError } from '../server/request';
import type { IRunStore } from '../tokens';
import {
  RunNotFoundError,
  STORE_OPEN_REASONS,
  StoreOpenError,
  StoreOpenReason,
  StoreSaveError
} from './errors';
import {
  defaultOutboxStorage,
  IOutboxEntry,
  IOutboxStorage,
  Outbox
} from './outbox';
import { IPreparedRun, prepare } from './prepare';
import { compareRuns, PackageVersions, RunIndex } from './runindex';
import type { ISqlJsLoader } from './sqljs';
import type { IAddResult, IRunDetail, IRunInput, IRunSummary } from './types';
import { fromBase64 } from '../bytes';

/** The endpoints the store uses (DearDiaryAPI's). */
export type IStoreAPI = Pick<
  DearDiaryAPI,
  | 'listRuns'
  | 'getRun'
  | 'addRun'
  | 'updateNote'
  | 'deleteRun'
  | 'missingBlobs'
  | 'putBlob'
  | 'getBlob'
  | 'index'
  | 'packages'
  | 'keepStoreAside'
>;

/** Where today's pending runs were kept before the outbox (read once, then removed). */
export interface ILegacyPending {
  storage: Pick<Storage, 'getItem' | 'removeItem'>;
  key: string;
}

export const LEGACY_PENDING_KEY = 'jupyterlab-deardiary.pending';

export interface IRunStoreOptions {
  api: IStoreAPI;
  /** Default: IndexedDB when the page has it, else memory. */
  outbox?: IOutboxStorage;
  /** Default `navigator.locks` when there is one. */
  locks?: Pick<LockManager, 'request'> | null;
  /** How to load sql.js (tests); default: the browser build, lazily. */
  sqljs?: ISqlJsLoader;
  /**
   * Ask whether to move an unusable store aside and start a new one; without it a
   * StoreOpenError is thrown as is.
   */
  confirmStartFresh?: (error: StoreOpenError) => Promise<boolean>;
  /** Default: sessionStorage's `jupyterlab-deardiary.pending`; null: none. */
  legacyPending?: ILegacyPending | null;
  /** Outbox retries: first delay and cap (default 1 s, 30 s). */
  retryFirstMs?: number;
  retryMaxMs?: number;
  /** Bytes of blobs kept in memory (default 32 MiB). */
  blobCacheBytes?: number;
  /** For the messages of its errors; default English. */
  trans?: TranslationBundle;
}

/** How many times a run is posted again after uploading what the server missed. */
const MISSING_ROUNDS = 3;
/** Blob uploads at once. */
const UPLOADS = 4;

export class RunStore implements IRunStore {
  constructor(options: IRunStoreOptions) {
    this._api = options.api;
    this._sqljs = options.sqljs;
    this._trans = options.trans ?? ENGLISH;
    this._confirm = options.confirmStartFresh ?? null;
    this._legacy =
      options.legacyPending !== undefined
        ? options.legacyPending
        : defaultLegacy();
    this._blobs = new BlobCache(options.blobCacheBytes ?? 32 * 1024 * 1024);
    this._outbox = new Outbox({
      storage: options.outbox ?? defaultOutboxStorage(),
      locks: options.locks,
      firstDelayMs: options.retryFirstMs,
      maxDelayMs: options.retryMaxMs,
      send: entry => this._sendWaiting(entry),
      classify: error =>
        unreachable(error) ? 'retry' : storeOpenError(error) ? 'stop' : 'drop'
    });
    this._outbox.countChanged.connect(
      (_, n) => this._pendingChanged.emit(n),
      this
    );
  }

  /** Emitted after every change of ours and when a refresh finds a new version. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Runs waiting in the outbox. */
  get pendingCount(): number {
    return this._outbox.count;
  }

  get pendingChanged(): ISignal<this, number> {
    return this._pendingChanged;
  }

  /** The store version the run list holds (null: not listed yet, or no store). */
  get version(): string | null {
    return this._version;
  }

  /**
   * At page load: move runs left in sessionStorage by an older version into the
   * outbox, then send what waits. Resolves with how many runs were sent.
   */
  async start(): Promise<number> {
    await this._outbox.load();
    await this._migrateLegacy();
    return this._outbox.count > 0 ? this._outbox.flush() : 0;
  }

  /** Send the waiting runs now (the server answers again). */
  flush(): Promise<number> {
    return this._outbox.flush();
  }

  /**
   * Store a run: verify its bytes (RunInputError: nothing stored), upload the blobs
   * the server lacks, post the record. Unreachable server or 5xx: the run is kept in
   * the outbox and StoreSaveError says so. Other refusals (400, 413) throw as they are:
   * the run is not kept.
   */
  async addRun(input: IRunInput): Promise<IAddResult> {
    const prepared = await prepare(input);
    try {
      return await this._use(async () => {
        let answer;
        try {
          answer = await this._send(prepared);
        } catch (error) {
          // An unusable store: the user is asked first (_use), the run kept after.
          throw storeOpenError(error) ?? (await this._keep(prepared, error));
        }
        await this._outbox.remove(input.snapshot_id);
        this._outbox.nudge();
        await this._changedTo(answer.version, { run: answer.run });
        return { run: answer.run, created: answer.created };
      });
    } catch (error) {
      throw error instanceof StoreOpenError
        ? await this._keep(prepared, error)
        : error;
    }
  }

  /**
   * All runs, newest first (RUN_ORDER). The first call reads GET /deardiary/runs;
   * later ones answer from memory, kept current by the index's deltas.
   */
  async listRuns(): Promise<IRunSummary[]> {
    if (!this._runs) {
      await this._use(() => this._serialize(() => this._loadList()));
    }
    return [...this._runs!];
  }

  /**
   * The newest runs and how many there are, for a first paint before the whole list
   * arrives (GET /deardiary/runs?limit=); null once the whole list is here.
   */
  async recentRuns(
    limit: number
  ): Promise<{ runs: IRunSummary[]; total: number } | null> {
    if (this._runs) {
      return null;
    }
    try {
      const list = (await this._api.listRuns({ limit }))!;
      return { runs: list.runs, total: list.total };
    } catch (error) {
      throw this._error(error);
    }
  }

  /** Load the index now (the first package filter starts it otherwise). */
  async loadIndex(): Promise<void> {
    await this._use(() => this._ensureIndex());
  }

  /**
   * Read the run list ahead (JupyterLab idle): the sidebar's first paint is then at once.
   * The index waits for the first package filter (packageVersions).
   */
  prefetch(): void {
    void this._serialize(() => this._loadList()).catch(() => undefined);
  }

  /** Ask the server for changes (another tab, kernel, browser); resolves with whether there were. */
  refresh(): Promise<boolean> {
    // Never asks about an unusable store (it runs on focus): the next operation does.
    return (async () => {
      const changed = await this._serialize(() => this._sync());
      if (changed) {
        this._changed.emit();
      }
      this._outbox.nudge();
      return changed;
    })();
  }

  getRun(id: number): Promise<IRunDetail> {
    return this._use(async () => {
      try {
        return await this._api.getRun(id);
      } catch (error) {
        throw this._notFound(error, id) ?? this._error(error);
      }
    });
  }

  /** Replace a run's note; resolves with the run as stored. */
  updateNote(id: number, note: string): Promise<IRunSummary> {
    return this._use(async () => {
      let answer;
      try {
        answer = await this._api.updateNote(id, note);
      } catch (error) {
        throw this._notFound(error, id) ?? this._error(error);
      }
      await this._changedTo(answer.version, { run: answer.run });
      return answer.run;
    });
  }

  /**
   * Delete a run and the bytes no other run references. Resolves also when another
   * tab deleted it first (it was listed here).
   */
  deleteRun(id: number): Promise<void> {
    return this._use(async () => {
      let version: string | null = null;
      try {
        version = (await this._api.deleteRun(id)).version;
      } catch (error) {
        const missing = this._notFound(error, id);
        if (!missing || !this._runs?.some(r => r.id === id)) {
          throw missing ?? this._error(error);
        }
      }
      this._blobs.clear();
      // Always through a delta: the runs that followed it lost their parent too.
      await this._changedTo(version);
    });
  }

  /** A blob's exact bytes (kept in memory, a small LRU), or null when unknown. */
  getBlob(sha256: string): Promise<Uint8Array | null> {
    return this._use(async () => {
      const cached = this._blobs.get(sha256);
      if (cached) {
        return cached;
      }
      let bytes: Uint8Array | null;
      try {
        bytes = await this._api.getBlob(sha256);
      } catch (error) {
        throw this._error(error);
      }
      if (bytes) {
        this._blobs.set(sha256, bytes);
      }
      return bytes;
    });
  }

  /** A blob as UTF-8 text (a byte order mark kept as U+FEFF), or null when unknown. */
  async getText(sha256: string): Promise<string | null> {
    const bytes = await this.getBlob(sha256);
    return bytes === null
      ? null
      : new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  }

  /**
   * Per manifest (sha256), the versions of the named packages in it, from the index
   * (no manifest is downloaded). Manifests without any of them are absent.
   */
  packageVersions(
    names: readonly string[]
  ): Promise<ReadonlyMap<string, PackageVersions>> {
    return this._use(async () => {
      if (this._index) {
        return this._index.packageVersions(names);
      }
      // The index is loaded on the first package filter, not before (sql.js and the
      // index cost a tab tens of MB); until it is there the server answers from its copy.
      this._ensureIndex().catch(() => undefined);
      try {
        const { manifests } = await this._api.packages(names);
        return new Map(
          Object.entries(manifests).map(([sha, byName]) => [
            sha,
            new Map(Object.entries(byName))
          ])
        );
      } catch (error) {
        if (error instanceof ServerError && error.code === 'no_store') {
          return new Map();
        }
        throw this._error(error);
      }
    });
  }

  /**
   * Move the unusable store aside (the file `error` named) so that the next write
   * makes a new one. Resolves with where the file went.
   */
  async startFresh(error: StoreOpenError): Promise<string> {
    if (!error.storeEtag) {
      throw error;
    }
    let kept;
    try {
      kept = await this._api.keepStoreAside(error.storeEtag);
    } catch (e) {
      throw this._error(e);
    }
    await this._serialize(async () => this._reset());
    this._changed.emit();
    return kept.relpath ?? kept.path;
  }

  dispose(): void {
    this._outbox.dispose();
    this._index?.close();
    this._index = null;
  }

  /* Sending */

  /** Upload what the server lacks, post the record (again after a 409 missing_blobs). */
  private async _send(run: IPreparedRun) {
    const shas = run.blobs.map(b => b.sha256);
    if (shas.length > 0) {
      await this._upload(run, await this._api.missingBlobs(shas));
    }
    for (let round = 0; ; round++) {
      try {
        return await this._api.addRun(run.record);
      } catch (error) {
        if (
          round < MISSING_ROUNDS &&
          error instanceof ServerError &&
          error.status === 409 &&
          error.code === 'missing_blobs'
        ) {
          await this._upload(run, (error.body.missing as string[]) ?? []);
          continue;
        }
        throw error;
      }
    }
  }

  private async _upload(run: IPreparedRun, missing: string[]): Promise<void> {
    const bytes = new Map(run.blobs.map(b => [b.sha256, b.bytes]));
    const queue = [...new Set(missing)];
    const worker = async () => {
      for (let sha = queue.shift(); sha !== undefined; sha = queue.shift()) {
        const data = bytes.get(sha);
        if (!data) {
          throw new Error(
            this._trans.__(
              'The server asks for a blob this run does not have (%1).',
              sha
            )
          );
        }
        await this._api.putBlob(sha, data);
      }
    };
    await Promise.all(Array.from({ length: UPLOADS }, worker));
  }

  /** A waiting run, sent by the outbox. */
  private async _sendWaiting(entry: IOutboxEntry): Promise<void> {
    const answer = await this._send(entry);
    await this._changedTo(answer.version, { run: answer.run });
  }

  /**
   * A run that could not be stored: kept in the outbox when the server is out of
   * reach, answers 5xx or cannot open the store (and the user left it so); returns
   * the error to throw.
   */
  private async _keep(run: IPreparedRun, error: unknown): Promise<Error> {
    const open = storeOpenError(error);
    if (!unreachable(error) && !open) {
      return this._error(error);
    }
    const id = run.record.snapshot_id;
    try {
      await this._outbox.add({
        ...run,
        snapshot_id: id,
        queued_at: new Date().toISOString()
      });
    } catch (storing) {
      return new StoreSaveError(
        this._trans.__(
          'The run could not be stored (%1) nor kept in this browser (%2).',
          (error as Error).message,
          (storing as Error).message
        ),
        this.pendingCount,
        { cause: error }
      );
    }
    const n = this.pendingCount;
    const trans = this._trans;
    const durable = this._outbox.durable;
    if (open) {
      return new StoreSaveError(
        durable
          ? trans._n(
              '%2 The run is kept in this browser and will be sent once the store can be opened or is moved aside (%1 run waiting).',
              '%2 The run is kept in this browser and will be sent once the store can be opened or is moved aside (%1 runs waiting).',
              n,
              open.message
            )
          : trans._n(
              '%2 The run is kept in this tab and will be sent once the store can be opened or is moved aside (%1 run waiting).',
              '%2 The run is kept in this tab and will be sent once the store can be opened or is moved aside (%1 runs waiting).',
              n,
              open.message
            ),
        n,
        { cause: open }
      );
    }
    this._outbox.nudge(); // schedules the retries
    const reason = (error as Error).message;
    return new StoreSaveError(
      durable
        ? trans._n(
            'The server could not store the run (%2). It is kept in this browser and will be sent when the server answers (%1 run waiting).',
            'The server could not store the run (%2). It is kept in this browser and will be sent when the server answers (%1 runs waiting).',
            n,
            reason
          )
        : trans._n(
            'The server could not store the run (%2). It is kept in this tab and will be sent when the server answers (%1 run waiting).',
            'The server could not store the run (%2). It is kept in this tab and will be sent when the server answers (%1 runs waiting).',
            n,
            reason
          ),
      n,
      { cause: error }
    );
  }

  /* The run list and the index */

  private async _loadList(): Promise<void> {
    if (this._runs) {
      return;
    }
    let list: IRunList;
    try {
      list = (await this._api.listRuns())!;
    } catch (error) {
      throw this._error(error);
    }
    this._runs = list.runs;
    this._version = list.version;
    if (this._index && this._index.version !== list.version) {
      this._index.close();
      this._index = null;
    }
    this._outbox.nudge();
  }

  /**
   * Bring the run list (and the index, when loaded) to the server's version; resolves
   * with whether anything changed. Nothing to do before the list was read.
   */
  private async _sync(): Promise<boolean> {
    if (!this._runs) {
      return false;
    }
    try {
      if (this._version === null) {
        // No store when the list was read: the list again, not the whole index.
        await this._readList();
        return this._version !== null;
      }
      return await this._adopt(await this._api.index(this._version));
    } catch (error) {
      throw this._error(error);
    }
  }

  private async _adopt(answer: IndexAnswer): Promise<boolean> {
    if (answer.kind === 'current') {
      return false;
    }
    if (answer.kind === 'none') {
      // No store (yet, or any more): no runs.
      const had = (this._runs?.length ?? 0) > 0;
      this._index?.close();
      this._index = null;
      this._runs = [];
      this._version = null;
      return had;
    }
    if (answer.kind === 'delta') {
      if (this._runs) {
        this._runs = applyDelta(this._runs, answer.delta);
      }
      if (this._index?.version === this._version) {
        this._index.apply(answer.delta);
      } else {
        this._index?.close();
        this._index = null;
      }
      this._version = answer.version;
      return true;
    }
    // The list's version is another store's, or older than the server's change log:
    // the list again, and the index kept if it is at the same version.
    this._index?.close();
    this._index = null;
    const before = this._runs;
    await this._readList();
    if (answer.version === this._version) {
      this._index = await RunIndex.open(
        answer.bytes,
        answer.version,
        this._sqljs
      );
    }
    return this._runs !== before;
  }

  /** The whole list from the server (GET /deardiary/runs). */
  private async _readList(): Promise<void> {
    const list = (await this._api.listRuns())!;
    this._runs = list.runs;
    this._version = list.version;
  }

  /**
   * The index, loaded when first needed; null while there is no store. The image is
   * downloaded and opened outside the queue of list operations (a click meanwhile
   * must not wait for it), then brought to the list's version inside it.
   */
  private async _ensureIndex(): Promise<RunIndex | null> {
    if (!this._index) {
      this._indexing ??= this._loadIndex().finally(
        () => (this._indexing = null)
      );
      await this._indexing;
    }
    return this._index;
  }

  private async _loadIndex(): Promise<void> {
    let answer: IndexAnswer;
    try {
      answer = await this._api.index();
    } catch (error) {
      throw this._error(error);
    }
    if (answer.kind !== 'image') {
      return; // no store yet
    }
    const index = await RunIndex.open(
      answer.bytes,
      answer.version,
      this._sqljs
    );
    const changed = await this._serialize(async () => {
      if (this._index) {
        index.close();
        return false;
      }
      const before = this._runs;
      try {
        if (await this._catchUp(index)) {
          this._index = index;
        } else {
          index.close();
        }
        return this._runs !== before;
      } catch (error) {
        index.close();
        throw this._error(error);
      }
    });
    if (changed) {
      this._changed.emit();
    }
  }

  /**
   * Bring a newly opened index and the list to one version: the index to the newest,
   * then the list to the index's (a delta, or the whole list when the list is of no
   * store or another one). Resolves with whether they agree; when not (changes
   * meanwhile), the index is dropped and fetched again when needed.
   */
  private async _catchUp(index: RunIndex): Promise<boolean> {
    if (!this._runs || this._version === index.version) {
      return true; // no list yet: it is compared with the index when it arrives
    }
    const forIndex = await this._api.index(index.version);
    if (forIndex.kind === 'delta') {
      index.apply(forIndex.delta);
    } else if (forIndex.kind !== 'current') {
      return false;
    }
    if (this._version === index.version) {
      return true;
    }
    if (this._version !== null && sameStore(this._version, index.version)) {
      const forList = await this._api.index(this._version);
      if (forList.kind === 'delta' && forList.version === index.version) {
        this._runs = applyDelta(this._runs, forList.delta);
        this._version = forList.version;
        return true;
      }
      if (forList.kind !== 'image') {
        return false; // changes meanwhile
      }
    }
    // No store, or another one, when the list was read: the list again.
    await this._readList();
    return this._version === index.version;
  }

  /**
   * After a change of ours: the list follows (when read), listeners are told. When
   * the server's version is the next after the list's (no other change between), the
   * change is applied here without asking for a delta.
   */
  private async _changedTo(
    version: string | null,
    change: { run?: IRunSummary } = {}
  ): Promise<void> {
    if (version === null || version !== this._version) {
      try {
        await this._serialize(async () => {
          if (!this._applyOwn(version, change)) {
            await this._sync();
          }
        });
      } catch {
        // The change is stored; the list catches up with the next refresh.
        await this._serialize(async () => this._reset());
      }
    }
    this._changed.emit();
  }

  /** Apply a change of ours to the list and the index; false: ask for a delta. */
  private _applyOwn(
    version: string | null,
    { run }: { run?: IRunSummary }
  ): boolean {
    if (!run || !this._runs || !version || !isNext(this._version, version)) {
      return false;
    }
    const delta: IIndexDelta = {
      version,
      runs: toColumns([run]),
      deleted: [],
      packages: { manifest_sha256: [], name: [], version: [] },
      manifests: { sha256: [], error: [] }
    };
    if (this._index) {
      const sha = run.manifest_sha256;
      if (this._index.version !== this._version) {
        return false;
      }
      if (sha && !this._index.hasManifest(sha)) {
        return false; // its packages come with the delta
      }
      this._index.apply(delta);
    }
    this._runs = applyDelta(this._runs, delta);
    this._version = version;
    return true;
  }

  /** Forget the list and the index (another store): the next listRuns reads them. */
  private _reset(): void {
    this._runs = null;
    this._version = null;
    this._index?.close();
    this._index = null;
    this._blobs.clear();
  }

  /* Errors */

  private _notFound(error: unknown, id: number): RunNotFoundError | null {
    return error instanceof ServerError &&
      error.status === 404 &&
      error.code === 'no_run'
      ? new RunNotFoundError(this._trans.__('There is no run with id %1.', id))
      : null;
  }

  /** A ServerError as the error to show (a StoreOpenError for an unusable store). */
  private _error(error: unknown): Error {
    return storeOpenError(error) ?? (error as Error);
  }

  /** Run `op`; an unusable store is explained, and moved aside only if the user says so. */
  private async _use<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (
        !(error instanceof StoreOpenError) ||
        !this._confirm ||
        !(await this._askStartFresh(error))
      ) {
        throw error;
      }
      const result = await op();
      this._outbox.nudge(); // runs kept while the store could not be opened
      return result;
    }
  }

  /** One question at a time, even when several operations hit the unusable store. */
  private _askStartFresh(error: StoreOpenError): Promise<boolean> {
    if (!this._asking) {
      this._asking = (async () => {
        if (!(await this._confirm!(error))) {
          return false;
        }
        await this.startFresh(error);
        return true;
      })().finally(() => (this._asking = null));
    }
    return this._asking;
  }

  /** Runs left in sessionStorage by the previous version of the store: to the outbox. */
  private async _migrateLegacy(): Promise<void> {
    const legacy = this._legacy;
    let text: string | null = null;
    try {
      text = legacy?.storage.getItem(legacy.key) ?? null;
    } catch {
      return;
    }
    if (!legacy || !text) {
      return;
    }
    let stored: StoredInput[] = [];
    try {
      stored = JSON.parse(text) as StoredInput[];
    } catch {
      stored = [];
    }
    for (const input of stored) {
      try {
        const run = await prepare(decodeStored(input));
        await this._outbox.add({
          ...run,
          snapshot_id: input.snapshot_id,
          queued_at: input.ended_at
        });
      } catch {
        // damaged in storage: it cannot be verified, so it is not stored
      }
    }
    legacy.storage.removeItem(legacy.key);
  }

  /** List operations run one at a time (deltas apply in order). */
  private _serialize<T>(fn: () => Promise<T>): Promise<T> {
    const result = this._queue.then(fn);
    this._queue = result.then(
      () => undefined,
      () => undefined
    );
    return result;
  }

  private _api: IStoreAPI;
  private _sqljs: ISqlJsLoader | undefined;
  private _trans: TranslationBundle;
  private _confirm: ((error: StoreOpenError) => Promise<boolean>) | null;
  private _legacy: ILegacyPending | null;
  private _outbox: Outbox;
  private _blobs: BlobCache;
  private _runs: IRunSummary[] | null = null;
  private _version: string | null = null;
  private _index: RunIndex | null = null;
  private _indexing: Promise<void> | null = null;
  private _asking: Promise<boolean> | null = null;
  private _queue: Promise<void> = Promise.resolve();
  private _changed = new Signal<this, void>(this);
  private _pendingChanged = new Signal<this, number>(this);
}

/** The run list after a delta: deleted and edited runs out, the new rows merged in order. */
export function applyDelta(
  runs: readonly IRunSummary[],
  delta: IIndexDelta
): IRunSummary[] {
  const changed = fromColumns(delta.runs).sort(compareRuns);
  if (
    delta.deleted.length === 0 &&
    changed.length > 0 &&
    (runs.length === 0 || compareRuns(changed[changed.length - 1], runs[0]) < 0)
  ) {
    // New runs, newer than every run listed (a run just recorded: the usual change).
    // A run already listed cannot sort before the first one, so none is replaced.
    return changed.concat(runs);
  }
  const gone = new Set([...delta.deleted, ...changed.map(r => r.id)]);
  const kept = gone.size ? runs.filter(r => !gone.has(r.id)) : [...runs];
  if (changed.length === 0) {
    return kept;
  }
  const merged: IRunSummary[] = new Array(kept.length + changed.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < kept.length && j < changed.length) {
    merged[k++] =
      compareRuns(kept[i], changed[j]) <= 0 ? kept[i++] : changed[j++];
  }
  while (i < kept.length) {
    merged[k++] = kept[i++];
  }
  while (j < changed.length) {
    merged[k++] = changed[j++];
  }
  return merged;
}

/** Two versions (`<store_id>.<seq>`) of one store. */
function sameStore(a: string, b: string): boolean {
  return a.slice(0, a.lastIndexOf('.')) === b.slice(0, b.lastIndexOf('.'));
}

/** `next` is the version right after `current` (`<store_id>.<seq>`, seq + 1). */
function isNext(current: string | null, next: string): boolean {
  if (!current) {
    return false;
  }
  const dot = current.lastIndexOf('.');
  const nextDot = next.lastIndexOf('.');
  return (
    dot > 0 &&
    current.slice(0, dot) === next.slice(0, nextDot) &&
    Number(next.slice(nextDot + 1)) === Number(current.slice(dot + 1)) + 1
  );
}

/** Runs as the columns of an answer (one array per field). */
function toColumns(runs: IRunSummary[]): IIndexDelta['runs'] {
  const keys = Object.keys(runs[0] ?? {}) as (keyof IRunSummary)[];
  return Object.fromEntries(
    keys.map(k => [k, runs.map(r => r[k])])
  ) as unknown as IIndexDelta['runs'];
}

/** The server is out of reach or failed (5xx): worth trying again later. */
export function unreachable(error: unknown): boolean {
  return (
    error instanceof ServerError && (error.status === 0 || error.status >= 500)
  );
}

/** The server's 409 for a store it cannot open, as a StoreOpenError (else null). */
function storeOpenError(error: unknown): StoreOpenError | null {
  if (error instanceof StoreOpenError) {
    return error;
  }
  if (
    error instanceof ServerError &&
    error.status === 409 &&
    STORE_OPEN_REASONS.includes(error.code)
  ) {
    const { store_etag: etag, path } = error.body;
    return new StoreOpenError(
      error.code as StoreOpenReason,
      error.message,
      typeof etag === 'string' ? etag : null,
      typeof path === 'string' ? path : null
    );
  }
  return null;
}

/** English, with `%1`, `%2`… filled in: when no translator is given. */
const ENGLISH = {
  __: (text: string, ...args: unknown[]) => fill(text, args),
  _n: (one: string, many: string, n: number, ...args: unknown[]) =>
    fill(n === 1 ? one : many, [n, ...args])
} as unknown as TranslationBundle;

function fill(text: string, args: unknown[]): string {
  return text.replace(/%(\d+)/g, (_, i) => String(args[Number(i) - 1]));
}

/** A run as the previous store kept it in sessionStorage: the notebook as base64. */
type StoredInput = Omit<IRunInput, 'notebook'> & {
  notebook: Omit<IRunInput['notebook'], 'bytes'> & { bytes: string | null };
};

function decodeStored(stored: StoredInput): IRunInput {
  const { bytes } = stored.notebook;
  return {
    ...stored,
    notebook: {
      ...stored.notebook,
      bytes: typeof bytes === 'string' ? fromBase64(bytes) : null
    }
  };
}

function defaultLegacy(): ILegacyPending | null {
  try {
    return typeof sessionStorage === 'undefined'
      ? null
      : { storage: sessionStorage, key: LEGACY_PENDING_KEY };
  } catch {
    return null;
  }
}

/** Blob bytes by sha256, least recently used out first, up to a number of bytes. */
class BlobCache {
  constructor(private readonly _max: number) {}

  get(sha: string): Uint8Array | undefined {
    const bytes = this._map.get(sha);
    if (bytes) {
      this._map.delete(sha);
      this._map.set(sha, bytes);
    }
    return bytes;
  }

  set(sha: string, bytes: Uint8Array): void {
    if (bytes.length > this._max / 4) {
      return; // a big notebook would push everything else out
    }
    this._size += bytes.length - (this._map.get(sha)?.length ?? 0);
    this._map.delete(sha);
    this._map.set(sha, bytes);
    for (const [key, value] of this._map) {
      if (this._size <= this._max) {
        break;
      }
      this._map.delete(key);
      this._size -= value.length;
    }
  }

  clear(): void {
    this._map.clear();
    this._size = 0;
  }

  private _map = new Map<string, Uint8Array>();
  private _size = 0;
}
