/**
 * Runs that could not reach the server wait here (IndexedDB: database
 * `jupyterlab-deardiary`, object store `outbox`, keyed by snapshot id, bytes as
 * Uint8Array) until the server answered 201/200 for them. They are sent at page load
 * and as soon as the server answers again (retries back off up to 30 s), one tab at a
 * time through `navigator.locks`.
 */
import { ISignal, Signal } from '@lumino/signaling';
import type { IPreparedRun } from './prepare';

/** A run waiting to be sent. */
export interface IOutboxEntry extends IPreparedRun {
  snapshot_id: string;
  /** ISO 8601, when it was kept. */
  queued_at: string;
}

/** Where waiting runs are kept. */
export interface IOutboxStorage {
  /** Survives closing the tab (IndexedDB); false: this tab's memory only. */
  readonly durable: boolean;
  keys(): Promise<string[]>;
  get(id: string): Promise<IOutboxEntry | undefined>;
  put(entry: IOutboxEntry): Promise<void>;
  delete(id: string): Promise<void>;
}

export const OUTBOX_DB = 'jupyterlab-deardiary';
export const OUTBOX_STORE = 'outbox';
/** The Web Lock held by the tab that sends the outbox. */
export const OUTBOX_LOCK = 'jupyterlab-deardiary-outbox';

/** The outbox in IndexedDB (`factory`: the page's `indexedDB`, or a test's). */
export class IndexedDBOutbox implements IOutboxStorage {
  constructor(private readonly _factory: IDBFactory) {}

  readonly durable = true;

  async keys(): Promise<string[]> {
    const keys = await this._request('readonly', s => s.getAllKeys());
    return (keys as IDBValidKey[]).map(String);
  }

  async get(id: string): Promise<IOutboxEntry | undefined> {
    return (await this._request('readonly', s => s.get(id))) as
      IOutboxEntry | undefined;
  }

  async put(entry: IOutboxEntry): Promise<void> {
    await this._request('readwrite', s => s.put(entry));
  }

  async delete(id: string): Promise<void> {
    await this._request('readwrite', s => s.delete(id));
  }

  /** One request in its own transaction; resolves when the transaction completed. */
  private async _request(
    mode: IDBTransactionMode,
    make: (store: IDBObjectStore) => IDBRequest
  ): Promise<unknown> {
    const db = await this._open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(OUTBOX_STORE, mode);
      const request = make(tx.objectStore(OUTBOX_STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error ?? request.error);
      tx.onabort = () => reject(tx.error ?? new Error('aborted'));
    });
  }

  private _open(): Promise<IDBDatabase> {
    if (!this._db) {
      this._db = new Promise<IDBDatabase>((resolve, reject) => {
        const request = this._factory.open(OUTBOX_DB, 1);
        request.onupgradeneeded = () => {
          request.result.createObjectStore(OUTBOX_STORE, {
            keyPath: 'snapshot_id'
          });
        };
        request.onsuccess = () => {
          const db = request.result;
          db.onversionchange = () => {
            db.close();
            this._db = null;
          };
          resolve(db);
        };
        request.onerror = () => reject(request.error);
        request.onblocked = () =>
          reject(new Error('The outbox database is blocked by another tab.'));
      });
      this._db.catch(() => (this._db = null));
    }
    return this._db;
  }

  private _db: Promise<IDBDatabase> | null = null;
}

/** The outbox in this tab's memory (no IndexedDB, e.g. a private window that blocks it). */
export class MemoryOutbox implements IOutboxStorage {
  readonly durable = false;

  async keys(): Promise<string[]> {
    return [...this._entries.keys()];
  }

  async get(id: string): Promise<IOutboxEntry | undefined> {
    return this._entries.get(id);
  }

  async put(entry: IOutboxEntry): Promise<void> {
    this._entries.set(entry.snapshot_id, entry);
  }

  async delete(id: string): Promise<void> {
    this._entries.delete(id);
  }

  private _entries = new Map<string, IOutboxEntry>();
}

/** IndexedDB when the page has it, else memory. */
export function defaultOutboxStorage(): IOutboxStorage {
  try {
    if (typeof indexedDB !== 'undefined' && indexedDB) {
      return new IndexedDBOutbox(indexedDB);
    }
  } catch {
    // blocked: fall through
  }
  return new MemoryOutbox();
}

export interface IOutboxOptions {
  storage: IOutboxStorage;
  /** Send one run; resolves once the server stored it (or had it). */
  send(entry: IOutboxEntry): Promise<void>;
  /**
   * What a failure of `send` means: `retry` later (server out of reach, 5xx), `stop`
   * (keep the run, wait to be flushed again: the store cannot be opened), `drop` (the
   * server refused this run).
   */
  classify(error: unknown): 'retry' | 'stop' | 'drop';
  /** Default `navigator.locks` when there is one. */
  locks?: Pick<LockManager, 'request'> | null;
  /** First retry delay, doubled each time up to `maxDelayMs`. Defaults 1 s, 30 s. */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/** The waiting runs: their count, sending them, retrying with backoff. */
export class Outbox {
  constructor(options: IOutboxOptions) {
    this._storage = options.storage;
    this._send = options.send;
    this._classify = options.classify;
    this._locks =
      options.locks !== undefined
        ? options.locks
        : (globalThis.navigator?.locks ?? null);
    this._firstDelay = options.firstDelayMs ?? 1000;
    this._maxDelay = options.maxDelayMs ?? 30000;
  }

  /** Runs waiting (as this tab last saw the storage). */
  get count(): number {
    return this._keys.size;
  }

  get countChanged(): ISignal<this, number> {
    return this._countChanged;
  }

  get durable(): boolean {
    return this._storage.durable;
  }

  /** The last error that stopped a pass (null after a pass that sent everything). */
  get lastError(): unknown {
    return this._lastError;
  }

  /** Read which runs wait (at page load). */
  async load(): Promise<number> {
    this._setKeys(await this._storage.keys());
    return this.count;
  }

  async add(entry: IOutboxEntry): Promise<void> {
    await this._storage.put(entry);
    this._keys.add(entry.snapshot_id);
    this._emit();
  }

  async remove(id: string): Promise<void> {
    if (this._keys.has(id)) {
      await this._storage.delete(id);
      this._keys.delete(id);
      this._emit();
    }
  }

  /**
   * Send every waiting run, one at a time, in the order they were kept. A failure
   * worth retrying stops the pass and schedules the next (backoff); a run the server
   * refused is dropped (sending it again would fail again), the error kept in
   * `lastError`. Resolves with how many were sent. Passes do not overlap.
   */
  flush(): Promise<number> {
    if (!this._flushing) {
      this._flushing = this._pass().finally(() => (this._flushing = null));
    }
    return this._flushing;
  }

  /** Flush now unless a pass runs; reset the backoff (the server answered something). */
  nudge(): void {
    if (this.count > 0 && !this._flushing) {
      this._failures = 0;
      void this.flush().catch(() => undefined);
    }
  }

  /** Stop retrying. */
  dispose(): void {
    this._disposed = true;
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private async _pass(): Promise<number> {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    const run = async () => {
      this._setKeys(await this._storage.keys()); // another tab may have sent some
      const entries: IOutboxEntry[] = [];
      for (const id of this._keys) {
        const entry = await this._storage.get(id);
        if (entry) {
          entries.push(entry);
        }
      }
      entries.sort((a, b) => (a.queued_at < b.queued_at ? -1 : 1));
      this._lastError = null;
      let sent = 0;
      for (const entry of entries) {
        try {
          await this._send(entry);
          sent++;
        } catch (error) {
          this._lastError = error;
          const what = this._classify(error);
          if (what === 'retry') {
            this._schedule();
            return sent;
          }
          if (what === 'stop') {
            return sent;
          }
          // refused by the server: dropped, never sent again (lastError says why)
        }
        await this.remove(entry.snapshot_id);
      }
      this._failures = 0;
      return sent;
    };
    return this._locks ? this._locks.request(OUTBOX_LOCK, run) : run();
  }

  private _schedule(): void {
    if (this._disposed) {
      return;
    }
    const delay = Math.min(
      this._maxDelay,
      this._firstDelay * 2 ** this._failures
    );
    this._failures++;
    this._timer = setTimeout(() => {
      this._timer = null;
      void this.flush().catch(() => undefined);
    }, delay);
  }

  private _setKeys(keys: string[]): void {
    const before = this._keys.size;
    this._keys = new Set(keys);
    if (before !== this._keys.size) {
      this._emit();
    }
  }

  private _emit(): void {
    this._countChanged.emit(this._keys.size);
  }

  private _storage: IOutboxStorage;
  private _send: IOutboxOptions['send'];
  private _classify: IOutboxOptions['classify'];
  private _locks: Pick<LockManager, 'request'> | null;
  private _firstDelay: number;
  private _maxDelay: number;
  private _keys = new Set<string>();
  private _flushing: Promise<number> | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _failures = 0;
  private _lastError: unknown = null;
  private _disposed = false;
  private _countChanged = new Signal<this, number>(this);
}
