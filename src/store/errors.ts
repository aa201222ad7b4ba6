/** Why the server cannot open the store file. */
export type StoreOpenReason =
  /** Not an SQLite database at all. */
  | 'not_sqlite'
  /** An SQLite database that fails its integrity check (truncated, damaged). */
  | 'corrupt'
  /** A DearDiary store written by a newer version of this extension. */
  | 'newer_schema'
  /** A valid SQLite database that is not a DearDiary store. */
  | 'foreign';

export const STORE_OPEN_REASONS: readonly string[] = [
  'not_sqlite',
  'corrupt',
  'newer_schema',
  'foreign'
];

/**
 * The server cannot open the store file (its 409). It is never overwritten: tell the
 * user (with the store's path) and offer to move it aside (`storeEtag` names the file
 * for POST /deardiary/store/aside).
 */
export class StoreOpenError extends Error {
  constructor(
    readonly reason: StoreOpenReason,
    message: string,
    /** sha256 of the unusable file (the server's `store_etag`). */
    readonly storeEtag: string | null = null,
    /** The file, relative to the server root. */
    readonly path: string | null = null
  ) {
    super(message);
    this.name = 'StoreOpenError';
  }
}

/**
 * A run could not reach the server (network, server error). It is kept in this
 * browser (the outbox) and sent as soon as the server answers.
 */
export class StoreSaveError extends Error {
  constructor(
    message: string,
    /** How many runs wait to be sent. */
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

/** There is no run with this id (or no longer: another tab deleted it). */
export class RunNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunNotFoundError';
  }
}
