/**
 * Per-notebook recording: the toolbar button, automatic capture at kernel start and
 * after environment changes, and snapshots sent from code with `@snapshot`.
 *
 * Automatic capture never blocks or delays the user's cells: the environment is
 * captured when the kernel becomes ready (so a run records the environment as it was
 * when it started), stored at the first execution; later, after executions, one
 * debounced fingerprint at a time detects a changed project or manifest.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { ISnapshotMessage, KernelBridge } from '../kernel/bridge';
import { ICapture } from '../kernel/protocol';
import { environmentKey, environmentOf } from '../manifest/drift';
import { IAddResult, RunTrigger } from '../store/types';
import { IGathered, IRecordRequest, Recorder } from './recorder';
import { IRunMetadata, runMetadata } from './run-metadata';
import { sha256 } from '../bytes';

/** off / kernel start / kernel start and environment changes. */
export type AutoCaptureMode =
  'off' | 'kernel-start' | 'kernel-start-and-changes';

/** What the controller needs from its notebook panel (a seam tested with fakes). */
export interface INotebookHandle {
  readonly sessionContext: ISessionContext;
  /** The notebook's path relative to the server root. */
  path(): string;
  /** The user has unsaved edits (not metadata: see unsaved.ts). */
  unsaved(): boolean;
  /**
   * The notebook model's JSON now, as a save would send it: the run keeps it. Absent:
   * the saved file is recorded.
   */
  content?(): unknown;
  /**
   * Write the run the outputs come from into the model (`metadata.deardiary`), after
   * the run was recorded: never part of what it recorded, and not a user edit.
   */
  markRun?(metadata: IRunMetadata): void;
}

/** A recorded run, or a recording that failed. */
export type RecordEvent =
  | { ok: true; trigger: RunTrigger; result: IAddResult }
  | { ok: false; trigger: RunTrigger; error: Error };

export class NotebookRecorder implements IDisposable {
  constructor(options: NotebookRecorder.IOptions) {
    this._notebook = options.notebook;
    this._bridge = options.bridge;
    this._recorder = options.recorder;
    this._mode = options.mode;
    this._debounce = options.debounce ?? 800;
    const context = this._notebook.sessionContext;
    context.statusChanged.connect(this._onStatus, this);
    context.kernelChanged.connect(this._onKernelChanged, this);
    this._bridge.snapshotReceived.connect(this._onCodeSnapshot, this);
    // The kernel found at page load may be new (or restarted while we were away).
    this._fresh = true;
    if (context.session?.kernel?.status === 'idle') {
      this._beginStart();
    } else {
      void this._checkLanguage();
    }
  }

  /** Whether the notebook's kernel is a Julia kernel (false until known). */
  get isJulia(): boolean {
    return this._isJulia;
  }

  /** Emitted when isJulia changes. */
  get languageChanged(): ISignal<this, boolean> {
    return this._languageChanged;
  }

  /** Every automatic or code-side recording, successful or not. */
  get recorded(): ISignal<this, RecordEvent> {
    return this._recorded;
  }

  get bridge(): KernelBridge {
    return this._bridge;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * The toolbar button: capture now and store one run. A click during a restart is
   * carried over to the restarted kernel.
   */
  async snapshot(note = '', signal?: AbortSignal): Promise<IAddResult> {
    const capturedAt = new Date();
    const gathered = this._gather();
    const capture = await this._bridge.capture({ signal, carryOver: true });
    // Before the kernel's first execution, this run records the environment the
    // kernel started with: automatic capture must not store the same thing again.
    const start = this._start?.stored === false ? this._start : null;
    if (start) {
      start.stored = true;
      start.key = environmentKey(environmentOf(capture));
    }
    try {
      const result = await this._record({
        capture,
        capturedAt,
        trigger: 'button',
        note,
        gathered
      });
      if (start) {
        start.recorded = result.run.snapshot_id;
      }
      return result;
    } catch (error) {
      if (start) {
        start.stored = false; // the first execution stores it after all
      }
      throw error;
    }
  }

  /** Called by the plugin when the user's cell was scheduled for execution. */
  executionScheduled(): void {
    if (this._fresh && !this._start) {
      // The kernel got idle before we could see it: capture now (behind this cell).
      this._beginStart();
    }
    const start = this._start;
    if (start && !start.stored) {
      start.stored = true;
      void this._recordStart(start);
    }
  }

  /** Called by the plugin when a cell finished executing. */
  executed(): void {
    if (this._mode() !== 'kernel-start-and-changes' || !this._start?.key) {
      return;
    }
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void this._checkForChange();
    }, this._debounce);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
    Signal.clearData(this);
  }

  /**
   * A kernel we have not seen idle yet (new, restarted, or found running at page load)
   * is captured as soon as it is idle, if the kernel lets us claim its start.
   */
  private _onStatus(_: ISessionContext, status: Kernel.Status): void {
    if (
      status === 'starting' ||
      status === 'restarting' ||
      status === 'autorestarting'
    ) {
      this._fresh = true;
      this._start = null;
    } else if (status === 'idle' && this._fresh && !this._start) {
      this._beginStart();
    } else if (status === 'idle' && !this._isJulia) {
      // The kernel may have become known without a kernelChanged seen by us.
      void this._checkLanguage();
    }
  }

  private _onKernelChanged(
    _: ISessionContext,
    change: { oldValue: unknown; newValue: unknown }
  ): void {
    if (change.newValue !== null && change.newValue === change.oldValue) {
      // JupyterLab ends a restart with a "change" to the same kernel: the restart
      // was handled when it began, and the restarted kernel's start may be under way.
      return;
    }
    this._start = null;
    this._fresh = true;
    void this._checkLanguage();
  }

  /**
   * Capture the environment the kernel starts with. Only the first frontend to claim
   * `kernel-start` in this kernel process records it (a page reload or a second tab
   * does not); the others only take its fingerprint, to notice later changes.
   */
  private _beginStart(): void {
    this._fresh = false;
    if (this._mode() === 'off') {
      // Nothing is recorded, but the bridge is set up now (the guarded injection is
      // silent): the first click then costs what later ones do, and @snapshot works.
      void this._checkLanguage()
        .then(julia => (julia ? this._bridge.ping() : undefined))
        .catch(() => undefined);
      return;
    }
    const start: IStart = {
      capturedAt: new Date(),
      environment: Promise.resolve(null),
      stored: false,
      recorded: null,
      key: null
    };
    start.environment = this._startEnvironment(start);
    start.environment.catch(() => undefined);
    this._start = start;
  }

  private async _startEnvironment(
    start: IStart
  ): Promise<IStartEnvironment | null> {
    if (!(await this._checkLanguage())) {
      return null;
    }
    const claimed = await this._bridge.claim(
      `kernel-start:${this._notebook.path()}`
    );
    start.capturedAt = new Date();
    const capture = claimed
      ? await this._bridge.capture()
      : await this._bridge.fingerprint();
    return { capture, claimed };
  }

  private async _recordStart(start: IStart): Promise<void> {
    try {
      const environment = await start.environment;
      if (!environment) {
        return;
      }
      start.key = environmentKey(environmentOf(environment.capture));
      if (!environment.claimed || this._mode() === 'off') {
        return;
      }
      const result = await this._record({
        capture: environment.capture,
        capturedAt: start.capturedAt,
        trigger: 'kernel-start'
      });
      start.recorded = result.run.snapshot_id;
      this._emit({ ok: true, trigger: 'kernel-start', result });
    } catch (error) {
      this._emit({ ok: false, trigger: 'kernel-start', error: error as Error });
    }
  }

  /**
   * One fingerprint at a time; a change records a run linked to the start run. Tabs of
   * one notebook claim each new environment in the kernel, so only one records it.
   */
  private async _checkForChange(): Promise<void> {
    const start = this._start;
    if (!start?.key) {
      return;
    }
    if (this._checking) {
      this._again = true;
      return;
    }
    this._checking = true;
    try {
      const fingerprint = await this._bridge.fingerprint();
      const key = environmentKey(environmentOf(fingerprint));
      if (this._start === start && key !== start.key) {
        start.key = key;
        const claim = `environment:${this._notebook.path()}:${await sha256(
          new TextEncoder().encode(key)
        )}`;
        if (await this._bridge.claim(claim)) {
          const capturedAt = new Date();
          const gathered = this._gather();
          const capture = await this._bridge.capture();
          const result = await this._record({
            capture,
            capturedAt,
            trigger: 'environment-change',
            parentSnapshotId: start.recorded,
            gathered
          });
          this._emit({ ok: true, trigger: 'environment-change', result });
        }
      }
    } catch (error) {
      this._emit({
        ok: false,
        trigger: 'environment-change',
        error: error as Error
      });
    } finally {
      this._checking = false;
      if (this._again) {
        this._again = false;
        this.executed();
      }
    }
  }

  private async _onCodeSnapshot(
    _: KernelBridge,
    msg: ISnapshotMessage
  ): Promise<void> {
    try {
      const result = await this._record({
        capture: msg.capture,
        capturedAt: new Date(),
        trigger: 'code',
        note: msg.note,
        snapshotId: msg.snapshot_id,
        parentSnapshotId: this._start?.recorded ?? null
      });
      this._emit({ ok: true, trigger: 'code', result });
    } catch (error) {
      this._emit({ ok: false, trigger: 'code', error: error as Error });
    }
  }

  /**
   * Start reading the git state and the notebook while the kernel captures (the
   * editor's content is taken now).
   */
  private _gather(): Promise<IGathered> {
    const gathered = this._recorder.gather(
      this._notebook.path(),
      this._notebook.content?.()
    );
    gathered.catch(() => undefined); // awaited by the recording (or dropped with it)
    return gathered;
  }

  private async _record(
    request: Omit<IRecordRequest, 'notebookPath' | 'unsaved' | 'kernel'>
  ): Promise<IAddResult> {
    const context = this._notebook.sessionContext;
    const unsaved = this._notebook.unsaved();
    const result = await this._recorder.record({
      ...request,
      gathered: request.gathered ?? this._gather(),
      notebookPath: this._notebook.path(),
      unsaved,
      kernel: {
        name: context.session?.kernel?.name ?? '',
        display_name: context.kernelDisplayName,
        language: 'julia'
      }
    });
    if (!this._disposed) {
      try {
        this._notebook.markRun?.(runMetadata(result.run, request.capture));
      } catch {
        // the run is stored; a model that cannot take metadata only loses the link
      }
    }
    return result;
  }

  private async _checkLanguage(): Promise<boolean> {
    let julia = false;
    try {
      julia = await this._bridge.isJulia();
    } catch {
      julia = false;
    }
    if (julia !== this._isJulia && !this._disposed) {
      this._isJulia = julia;
      this._languageChanged.emit(julia);
    }
    return julia;
  }

  private _emit(event: RecordEvent): void {
    if (!this._disposed) {
      this._recorded.emit(event);
    }
  }

  private _notebook: INotebookHandle;
  private _bridge: KernelBridge;
  private _recorder: Recorder;
  private _mode: () => AutoCaptureMode;
  private _debounce: number;
  private _isJulia = false;
  private _fresh = false;
  private _start: IStart | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _checking = false;
  private _again = false;
  private _disposed = false;
  private _languageChanged = new Signal<this, boolean>(this);
  private _recorded = new Signal<this, RecordEvent>(this);
}

export namespace NotebookRecorder {
  export interface IOptions {
    notebook: INotebookHandle;
    bridge: KernelBridge;
    recorder: Recorder;
    /** The auto-capture setting, read each time. */
    mode: () => AutoCaptureMode;
    /** Milliseconds after the last execution before checking for a change. */
    debounce?: number;
  }
}

/** The capture of one kernel start, stored at the first execution. */
interface IStart {
  capturedAt: Date;
  /** null for a non-Julia kernel. */
  environment: Promise<IStartEnvironment | null>;
  stored: boolean;
  /** snapshot_id of the stored run. */
  recorded: string | null;
  /** environmentKey of the environment last seen. */
  key: string | null;
}

/** The environment a kernel started with; `claimed`: this frontend records it. */
interface IStartEnvironment {
  capture: ICapture;
  claimed: boolean;
}
