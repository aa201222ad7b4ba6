/** Why a store file cannot be opened. */
export type StoreOpenReason =
  /** Not an SQLite database at all. */
  | 'not_sqlite'
  /** An SQLite database that fails its integrity check (truncated, damaged). */
  | 'corrupt'
  /** A DearDiary store written by a newer version of this extension. */
  | 'newer_schema'
  /** A valid SQLite database that is not a DearDiary store. */
  | 'foreign';

/**
 * The store file cannot be opened. It is never overwritten: tell the user (with the
 * store's path, a server setting) and offer `RunStore.startFresh()`.
 */
export class StoreOpenError extends Error {
  constructor(
    readonly reason: StoreOpenReason,
    message: string
  ) {
    super(message);
    this.name = 'StoreOpenError';
  }
}

/**
 * Runs could not be written to the server (network, server error, too many concurrent
 * writers). They stay pending in this tab: `RunStore.retryPending()` writes them later.
 */
export class StoreSaveError extends Error {
  constructor(
    message: string,
    /** How many runs wait to be written. */
    readonly pendingCount: number,
    options?: { cause?: unknown }
  ) {
    super(message, options);
    this.name = 'StoreSaveError';
  }
}

/** A run refused before anything was stored: its bytes do not match their sha256. */
export class RunInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunInputError';
  }
}
