import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';
import { NotebookPanel } from '@jupyterlab/notebook';
import { KernelBridge } from './kernel/bridge';
import { DearDiaryAPI, IVersionInfo } from './server/api';
import { IAddResult, IRunDetail, IRunInput, IRunSummary } from './store/types';

export * from './server/api';
export * from './kernel/protocol';
export { BridgeError, KernelBridge } from './kernel/bridge';
export * from './store/types';

/** How the server extension was found at start. */
export type ServerStatus =
  | { state: 'checking' }
  | { state: 'ok'; info: IVersionInfo }
  | { state: 'mismatch'; info: IVersionInfo; message: string }
  | { state: 'missing'; message: string };

/** The server half: typed endpoints plus what the start-up check found. */
export interface IDearDiaryServer {
  readonly api: DearDiaryAPI;
  readonly status: ServerStatus;
  readonly statusChanged: ISignal<IDearDiaryServer, ServerStatus>;
  /** Ask the server again (for example after the user installed it). */
  check(): Promise<ServerStatus>;
}

export const IDearDiaryServer = new Token<IDearDiaryServer>(
  'jupyterlab-deardiary:IDearDiaryServer',
  'The jupyterlab_deardiary server extension: its typed REST client and status.'
);

/** The kernel bridge of each notebook panel. */
export interface IKernelBridges {
  /** The bridge of a notebook panel (one per panel, created on first use). */
  get(panel: NotebookPanel): KernelBridge;
}

export const IKernelBridges = new Token<IKernelBridges>(
  'jupyterlab-deardiary:IKernelBridges',
  'Asks the Julia kernel of a notebook what it is made of, over the deardiary comm.'
);

/**
 * The run store: the server keeps it (its only writer); the browser sends runs, reads
 * the run list and an index of it (sql.js), and keeps runs that could not reach the
 * server in an outbox (IndexedDB) until it answers.
 */
export interface IRunStore {
  /**
   * Store a run (verified first: RunInputError, nothing stored). StoreSaveError: the
   * server could not be reached, the run waits in the outbox.
   */
  addRun(input: IRunInput): Promise<IAddResult>;
  /** All runs, newest first. */
  listRuns(): Promise<IRunSummary[]>;
  /**
   * The newest `limit` runs and how many there are in all, for a first paint before
   * listRuns has them all; null when listRuns answers at once.
   */
  recentRuns(
    limit: number
  ): Promise<{ runs: IRunSummary[]; total: number } | null>;
  getRun(id: number): Promise<IRunDetail>;
  /** Replace a run's note; resolves with the run as stored. */
  updateNote(id: number, note: string): Promise<IRunSummary>;
  /** Delete a run and the stored bytes no other run references. */
  deleteRun(id: number): Promise<void>;
  /** A stored blob (a captured file) as UTF-8 text, BOM kept; null when unknown. */
  getText(sha256: string): Promise<string | null>;
  /** The exact bytes of a stored blob (a captured file, the notebook). */
  getBlob(sha256: string): Promise<Uint8Array | null>;
  /**
   * Per manifest sha256, the versions of the named packages in it (names lower-cased;
   * null: no version recorded), from the index. Manifests with none are absent.
   */
  packageVersions(
    names: readonly string[]
  ): Promise<
    ReadonlyMap<string, ReadonlyMap<string, readonly (string | null)[]>>
  >;
  /** Ask the server whether the runs changed; resolves with whether they did. */
  refresh(): Promise<boolean>;
  /** Runs waiting in this browser to be sent to the server. */
  readonly pendingCount: number;
  readonly pendingChanged: ISignal<any, number>;
  /** Emitted after the stored runs changed (a change here, or found by a refresh). */
  readonly changed: ISignal<any, void>;
}

export const IRunStore = new Token<IRunStore>(
  'jupyterlab-deardiary:IRunStore',
  'The runs recorded in this Jupyter root (kept by the server, indexed with sql.js).'
);

/** Command ids, one per user action. */
export namespace CommandIDs {
  export const serverStatus = 'deardiary:server-status';
  export const showEnvironment = 'deardiary:show-environment';
  export const snapshot = 'deardiary:snapshot';
  export const showRun = 'deardiary:show-run';
  export const openHistory = 'deardiary:open-history';
  export const compareRuns = 'deardiary:compare-runs';
  export const restore = 'deardiary:restore';
  export const restoreCode = 'deardiary:restore-code';
  export const instantiate = 'deardiary:instantiate';
}
