import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { JSONObject } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import {
  COMM_TARGET,
  decodeMessage,
  ICapture,
  IOperations,
  KernelMessage as DiaryMessage,
  Operation,
  PROTOCOL_VERSION,
  ProtocolError,
  READ_RESULT,
  validateCapture
} from './protocol';

/** Why a bridge request failed. */
export type BridgeErrorCode =
  | 'no_kernel'
  | 'not_julia'
  | 'inject_failed'
  | 'timeout'
  | 'restarted'
  | 'disposed'
  | 'cancelled'
  | 'malformed'
  | 'kernel';

/** A failed bridge request; `kernelCode` is the kernel side's error code, if any. */
export class BridgeError extends Error {
  constructor(
    readonly code: BridgeErrorCode,
    message: string,
    readonly kernelCode?: string
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}

/** An unsolicited snapshot sent by `@snapshot "note"` in the kernel. */
export interface ISnapshotMessage {
  snapshot_id: string;
  note: string;
  capture: ICapture;
}

/** Options of one request. */
export interface IRequestOptions {
  /** Stops waiting (the kernel may still answer; the answer is then ignored). */
  signal?: AbortSignal;
  /** Milliseconds of waiting while the kernel is NOT busy with someone else's work. */
  timeout?: number;
  /**
   * Carry the request over a restart of the kernel: send it again to the restarted
   * kernel (re-inject, new comm) instead of failing. For a user's click, never for
   * automatic work that belongs to one kernel process.
   */
  carryOver?: boolean;
}

/** What waiting requests wait for: a running cell, or a restarting kernel. */
export type BridgeWait = 'cell' | 'restart';

/**
 * Talks to the injected Julia code of ONE notebook's kernel over the `deardiary` comm.
 *
 * Inject -> execute reply -> open comm (onMsg set first) -> `ready` -> requests with ids.
 * Replies are matched by id, never by parent header: IJulia parents every comm message
 * to the last execute request. Time spent behind a running cell does not count towards
 * timeouts; `waitingChanged` tells the UI when requests wait for the kernel.
 */
export class KernelBridge implements IDisposable {
  constructor(options: KernelBridge.IOptions) {
    this._context = options.sessionContext;
    this._code = options.code ?? null;
    this._timeout = options.timeout ?? 20000;
    this._context.kernelChanged.connect(this._onKernelChanged, this);
    this._context.statusChanged.connect(this._onStatus, this);
    this._watch(this._context.session?.kernel ?? null);
  }

  /**
   * Emitted (with isWaiting) when requests start or stop waiting for the kernel, or
   * start waiting for something else (see waitingFor).
   */
  get waitingChanged(): ISignal<this, boolean> {
    return this._waitingChanged;
  }

  /** True while requests wait behind a running cell or for a restart. */
  get isWaiting(): boolean {
    return this._waiting !== null;
  }

  /** What requests wait for, or null when none waits. */
  get waitingFor(): BridgeWait | null {
    return this._waiting;
  }

  /** Snapshots sent from code (`@snapshot "note"`), validated. */
  get snapshotReceived(): ISignal<this, ISnapshotMessage> {
    return this._snapshotReceived;
  }

  /** Kernel-side messages that broke the protocol (for diagnostics). */
  get protocolError(): ISignal<this, ProtocolError> {
    return this._protocolError;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Whether the current kernel is a Julia kernel (by its language_info). */
  async isJulia(): Promise<boolean> {
    const kernel = this._context.session?.kernel;
    if (!kernel) {
      return false;
    }
    const info = await kernel.info;
    return (info.language_info?.name ?? '').toLowerCase() === 'julia';
  }

  async ping(options: IRequestOptions = {}): Promise<void> {
    await this._request('ping', {}, options);
  }

  /**
   * Claim `key` in this kernel process: true for the first claimant only (a restart
   * starts over). Lets tabs and page reloads agree on who records what.
   */
  claim(key: string, options: IRequestOptions = {}): Promise<boolean> {
    return this._request('claim', { key }, options);
  }

  /** Julia version, active project, its manifest (exact bytes, verified) and system facts. */
  capture(
    options: IRequestOptions & { maxBytes?: number } = {}
  ): Promise<ICapture> {
    const args = options.maxBytes ? { max_bytes: options.maxBytes } : {};
    return this._request('capture', args, options);
  }

  /** The same paths and hashes as capture, without bytes. */
  fingerprint(options: IRequestOptions = {}): Promise<ICapture> {
    return this._request('fingerprint', {}, options);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    // The kernel still knows this comm: closing it is polite and safe (after a restart
    // _reset already dropped it, and a comm_close would raise in the new kernel).
    this._reset('disposed', 'The notebook was closed.', true);
    this._watch(null);
    Signal.clearData(this);
  }

  /**
   * Send one request, reconnecting once if no answer comes, and once more after each
   * restart of the kernel if the request is carried over.
   */
  private async _request<K extends Operation>(
    op: K,
    args: IOperations[K]['args'],
    options: IRequestOptions
  ): Promise<IOperations[K]['result']> {
    let retried = false;
    for (;;) {
      const restarts = this._restarts;
      try {
        const raw = await this._attempt(op, args, options);
        try {
          return await READ_RESULT[op](raw);
        } catch (error) {
          throw error instanceof ProtocolError
            ? new BridgeError('malformed', error.message)
            : error;
        }
      } catch (error) {
        const code = error instanceof BridgeError ? error.code : null;
        if (
          code === 'restarted' &&
          options.carryOver &&
          restarts !== this._restarts
        ) {
          // The kernel restarted meanwhile: JupyterLab queues what we send until the
          // new kernel answers, so this re-injects and opens a new comm there.
          continue;
        }
        if (code !== 'timeout' || retried || this._link() !== 'connected') {
          throw error;
        }
        // A lost reply is retryable: a reply can be dropped when another client of the
        // kernel sent the last execute request (JupyterLab drops messages whose session
        // differs). Re-injecting from here makes ours the last request; a new comm also
        // covers a comm that died unnoticed.
        retried = true;
        this._dropConnection();
      }
    }
  }

  private async _attempt(
    op: Operation,
    args: JSONObject,
    options: IRequestOptions
  ): Promise<Record<string, unknown>> {
    // The connection may be another request's, waiting behind a cell: stop waiting
    // for it when this request's signal says so.
    const { comm } = await Private.abortable(
      this._connect(options),
      options.signal
    );
    const id = `${op}-${++this._counter}-${Date.now().toString(36)}`;
    const reply = this._wait<DiaryMessage>(
      `the "${op}" request`,
      options,
      waiter => {
        this._replies.set(id, waiter);
        this._send(waiter, () => comm.send({ id, op, args }), true);
      }
    );
    const msg = await reply.finally(() => this._replies.delete(id));
    if (msg.type !== 'reply') {
      throw new BridgeError('malformed', `Expected a reply, got ${msg.type}`);
    }
    if (!msg.ok) {
      throw new BridgeError('kernel', msg.error.message, msg.error.code);
    }
    return msg.result;
  }

  /** The live connection, set up on first use and after each restart. */
  private _connect(options: IRequestOptions): Promise<IConnection> {
    if (this._disposed) {
      return Promise.reject(
        new BridgeError('disposed', 'The notebook was closed.')
      );
    }
    if (!this._connection) {
      const connection = this._open(options);
      this._connection = connection;
      connection.catch(() => {
        if (this._connection === connection) {
          this._connection = null;
        }
      });
    }
    return this._connection;
  }

  private async _open(options: IRequestOptions): Promise<IConnection> {
    const kernel = this._context.session?.kernel;
    if (!kernel) {
      throw new BridgeError('no_kernel', 'The notebook has no running kernel.');
    }
    if (!(await this.isJulia())) {
      throw new BridgeError(
        'not_julia',
        'DearDiary records Julia kernels only: this notebook runs another language.'
      );
    }
    await this._inject(kernel, options);
    // Open only after the execute reply: a comm opened before register_comm exists is
    // accepted silently by IJulia and stays dead.
    const comm = kernel.createComm(COMM_TARGET);
    // Synchronous on purpose: an await here would keep JupyterLab's message chain busy
    // and make it drop the next message if its session differs.
    comm.onMsg = msg => this._onCommMsg(msg);
    const ready = this._wait<DiaryMessage>(
      'the kernel to register DearDiary',
      options,
      w => {
        this._ready = w;
        this._send(w, () => comm.open({}), true);
      }
    );
    try {
      const msg = await ready;
      if (msg.type !== 'ready' || msg.protocol !== PROTOCOL_VERSION) {
        throw new BridgeError(
          'malformed',
          `The kernel's DearDiary code speaks protocol ${
            msg.type === 'ready' ? msg.protocol : '?'
          }, this JupyterLab extension ${PROTOCOL_VERSION}: restart the kernel.`
        );
      }
    } catch (error) {
      comm.dispose();
      throw error;
    } finally {
      this._ready = null;
    }
    return { kernel, comm };
  }

  private async _inject(
    kernel: Kernel.IKernelConnection,
    options: IRequestOptions
  ) {
    // Fetched on first use only: 27 KB that JupyterLab need not load at start.
    const code =
      this._code ??
      (this._code = (await import('./julia/deardiary.jl')).default);
    const reply = await this._wait<KernelMessage.IExecuteReplyMsg>(
      'the DearDiary code sent to it',
      options,
      waiter =>
        this._send(waiter, () => {
          const future = kernel.requestExecute(
            {
              code,
              silent: true,
              store_history: false,
              allow_stdin: false,
              stop_on_error: false
            },
            true
          );
          // JupyterLab disposes the futures of a kernel that restarts.
          future.done.then(
            r => waiter.resolve(r as KernelMessage.IExecuteReplyMsg),
            e =>
              waiter.reject(
                new BridgeError(
                  'restarted',
                  `The kernel is restarting or disconnected; try again (${e}).`
                )
              )
          );
          return future;
        })
    );
    const content = reply.content;
    if (content.status !== 'ok') {
      const detail =
        content.status === 'error'
          ? `${content.ename}: ${content.evalue}`
          : content.status;
      throw new BridgeError(
        'inject_failed',
        `The kernel could not load DearDiary's Julia code (${detail}).`
      );
    }
  }

  /**
   * Send a message for a waiter and remember it as ours (the kernel's busy/idle for it
   * is not "waiting"). JupyterLab throws when the kernel is restarting or gone.
   */
  private _send(
    waiter: IWaiter<any>,
    send: () => { msg: { header: { msg_id: string } } },
    answeredOnIopub = false
  ): void {
    try {
      const id = send().msg.header.msg_id;
      this._ownMessages.add(id);
      if (answeredOnIopub) {
        this._awaitingIopub.set(id, waiter);
      }
    } catch (error) {
      waiter.reject(
        new BridgeError(
          'restarted',
          `The kernel is restarting or disconnected; try again (${(error as Error).message}).`
        )
      );
    }
  }

  private _onCommMsg(msg: KernelMessage.ICommMsgMsg): void {
    let decoded: DiaryMessage;
    try {
      decoded = decodeMessage(msg.content.data);
    } catch (error) {
      const e = error as ProtocolError;
      this._protocolError.emit(e);
      // A ready or reply we cannot read: fail what waits instead of letting it time out.
      this._ready?.reject(new BridgeError('malformed', e.message));
      return;
    }
    if (decoded.type === 'ready') {
      this._ready?.resolve(decoded);
    } else if (decoded.type === 'reply') {
      const waiter =
        decoded.id === null ? undefined : this._replies.get(decoded.id);
      if (waiter) {
        waiter.resolve(decoded);
      } else if (decoded.id === null && !decoded.ok) {
        // A request the kernel could not even read: fail every waiting request.
        for (const w of this._replies.values()) {
          w.resolve(decoded);
        }
      }
    } else {
      void this._onSnapshot(decoded);
    }
  }

  private async _onSnapshot(msg: Extract<DiaryMessage, { type: 'snapshot' }>) {
    try {
      const capture = await validateCapture(msg.capture, true);
      if (!this._disposed) {
        this._snapshotReceived.emit({
          snapshot_id: msg.snapshot_id,
          note: msg.note,
          capture
        });
      }
    } catch (error) {
      this._protocolError.emit(error as ProtocolError);
    }
  }

  /**
   * A promise that rejects after `timeout` ms during which the kernel was not busy with
   * someone else's request; it can be cancelled and is rejected by restarts.
   */
  private _wait<T>(
    what: string,
    options: IRequestOptions,
    register: (waiter: IWaiter<any>) => void
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const signal = options.signal;
      const waiter: IWaiter<T> = {
        what,
        timeout: options.timeout ?? this._timeout,
        timer: null,
        resolve: value => finish(() => resolve(value)),
        reject: error => finish(() => reject(error))
      };
      const onAbort = () =>
        waiter.reject(
          new BridgeError('cancelled', `Stopped waiting for ${what}.`)
        );
      const finish = (settle: () => void) => {
        if (!this._waiters.delete(waiter)) {
          return;
        }
        if (waiter.timer !== null) {
          clearTimeout(waiter.timer);
        }
        signal?.removeEventListener('abort', onAbort);
        this._updateWaiting();
        settle();
      };
      if (signal?.aborted) {
        reject(new BridgeError('cancelled', `Stopped waiting for ${what}.`));
        return;
      }
      signal?.addEventListener('abort', onAbort);
      this._waiters.add(waiter);
      if (!this._foreignBusy && !this._restarting) {
        this._arm(waiter);
      }
      this._updateWaiting();
      register(waiter);
    });
  }

  /** The kernel's connection to the server ('connected', 'connecting', 'disconnected'). */
  private _link(): Kernel.ConnectionStatus {
    return this._context.session?.kernel?.connectionStatus ?? 'disconnected';
  }

  private _arm(waiter: IWaiter<any>): void {
    if (waiter.timer !== null) {
      clearTimeout(waiter.timer);
    }
    waiter.timer = setTimeout(() => {
      const seconds = Math.round(waiter.timeout / 1000);
      const link = this._link();
      waiter.reject(
        new BridgeError(
          'timeout',
          link !== 'connected'
            ? `No answer to ${waiter.what} within ${seconds} s: the connection to the ` +
                `Jupyter server is ${link}. Check that the server is running, then try again.`
            : `The kernel did not answer ${waiter.what} within ${seconds} s while it ` +
                'was idle. Likely causes: the kernel is not IJulia, it was restarted from ' +
                'elsewhere, or its output stream is stuck (reconnect or restart the kernel).'
        )
      );
    }, waiter.timeout);
  }

  /** Kernel status messages tell whether the kernel works for someone else. */
  private _onIopub(
    _: Kernel.IKernelConnection,
    msg: KernelMessage.IIOPubMessage
  ): void {
    if (msg.header.msg_type !== 'status') {
      return;
    }
    const state = (msg as KernelMessage.IStatusMsg).content.execution_state;
    const header = msg.parent_header as KernelMessage.IHeader | undefined;
    const parent = header?.msg_id;
    const ours = parent !== undefined && this._ownMessages.has(parent);
    // Only someone else's execute request (a cell) keeps the kernel busy for long;
    // other requests (kernel info, history, completion) are short and not waited for.
    const cell =
      !ours &&
      (header?.msg_type === undefined || header.msg_type === 'execute_request');
    if (ours && state === 'idle') {
      this._ownMessages.delete(parent);
      // The kernel answers a comm message before it says idle, and JupyterLab handles
      // messages in order: a waiter still pending now lost its answer (dropped as
      // another client's session). Retry at once instead of waiting for the timeout.
      const waiter = this._awaitingIopub.get(parent);
      this._awaitingIopub.delete(parent);
      waiter?.reject(
        new BridgeError(
          'timeout',
          'The kernel answered, but the answer was lost on the way.'
        )
      );
    }
    if (state === 'busy' && cell) {
      this._foreignBusy = true;
      for (const w of this._waiters) {
        if (w.timer !== null) {
          clearTimeout(w.timer);
          w.timer = null;
        }
      }
    } else if (state === 'idle' && this._foreignBusy && cell) {
      this._foreignBusy = false;
      this._armAll();
    }
    this._updateWaiting();
  }

  /** Start the timeouts of all waiters, unless the kernel still works for others. */
  private _armAll(): void {
    if (!this._foreignBusy && !this._restarting) {
      for (const w of this._waiters) {
        this._arm(w);
      }
    }
  }

  private _updateWaiting(): void {
    const waiting: BridgeWait | null =
      this._waiters.size === 0
        ? null
        : this._restarting
          ? 'restart'
          : this._foreignBusy
            ? 'cell'
            : null;
    if (waiting !== this._waiting) {
      this._waiting = waiting;
      this._waitingChanged.emit(waiting !== null);
    }
  }

  private _onStatus(_: ISessionContext, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting') {
      // JupyterLab reports one restart several times (the session context, the kernel,
      // the server's 'restarting' status): each time, what was sent before is lost.
      this._restarting = true;
      this._restarts++;
      this._reset('restarted', 'The kernel was restarted; try again.');
    } else if (status === 'dead' || status === 'terminating') {
      this._restarting = false;
      this._reset('restarted', 'The kernel was shut down; try again.');
    } else if (status === 'idle' && this._restarting) {
      // The restarted kernel answered: what waits is sent to it now.
      this._restarting = false;
      this._foreignBusy = false;
      this._armAll();
      this._updateWaiting();
    }
  }

  private _onKernelChanged(
    _: ISessionContext,
    change: { newValue: Kernel.IKernelConnection | null }
  ): void {
    if (change.newValue !== null && change.newValue === this._watched) {
      // JupyterLab ends a restart with a "change" to the same kernel: the restart
      // was handled when it began, and what was sent since goes to the new process.
      return;
    }
    this._restarting = false;
    this._reset('restarted', 'The notebook changed kernel; try again.');
    this._watch(change.newValue);
  }

  private _watch(kernel: Kernel.IKernelConnection | null): void {
    this._watched?.iopubMessage.disconnect(this._onIopub, this);
    this._watched = kernel;
    kernel?.iopubMessage.connect(this._onIopub, this);
  }

  /**
   * Reject everything that waits and forget the comm: WITHOUT sending comm_close unless
   * `close` says the kernel is the same one that opened it.
   */
  private _reset(code: BridgeErrorCode, message: string, close = false): void {
    this._dropConnection(close);
    this._foreignBusy = false;
    for (const waiter of [...this._waiters]) {
      waiter.reject(new BridgeError(code, message));
    }
  }

  private _dropConnection(close = false): void {
    const connection = this._connection;
    this._connection = null;
    this._ownMessages.clear();
    this._awaitingIopub.clear();
    void connection?.then(
      ({ kernel, comm }) => {
        if (comm.isDisposed) {
          return;
        }
        if (close && !kernel.isDisposed && kernel.status !== 'dead') {
          comm.close();
        } else {
          // dispose() unregisters the comm locally and sends nothing to the kernel.
          comm.dispose();
        }
      },
      () => undefined
    );
  }

  private _context: ISessionContext;
  /** The code to inject; the shipped deardiary.jl is fetched on first use. */
  private _code: string | null;
  private _timeout: number;
  private _counter = 0;
  private _connection: Promise<IConnection> | null = null;
  private _watched: Kernel.IKernelConnection | null = null;
  private _waiters = new Set<IWaiter<any>>();
  private _replies = new Map<string, IWaiter<DiaryMessage>>();
  private _ready: IWaiter<DiaryMessage> | null = null;
  private _ownMessages = new Set<string>();
  /** Comm messages whose answer arrives on IOPub, by msg_id. */
  private _awaitingIopub = new Map<string, IWaiter<any>>();
  private _foreignBusy = false;
  /** From a restart until the restarted kernel says idle. */
  private _restarting = false;
  /** Counts restarts, so that a request knows whether one happened meanwhile. */
  private _restarts = 0;
  private _waiting: BridgeWait | null = null;
  private _disposed = false;
  private _waitingChanged = new Signal<this, boolean>(this);
  private _snapshotReceived = new Signal<this, ISnapshotMessage>(this);
  private _protocolError = new Signal<this, ProtocolError>(this);
}

export namespace KernelBridge {
  export interface IOptions {
    sessionContext: ISessionContext;
    /** The Julia code to inject (default: the shipped deardiary.jl). */
    code?: string;
    /** Default request timeout in ms of kernel time not spent on others' work. */
    timeout?: number;
  }
}

interface IConnection {
  kernel: Kernel.IKernelConnection;
  comm: Kernel.IComm;
}

interface IWaiter<T> {
  what: string;
  timeout: number;
  timer: ReturnType<typeof setTimeout> | null;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

namespace Private {
  /** `promise`, or a 'cancelled' rejection as soon as `signal` aborts. */
  export function abortable<T>(
    promise: Promise<T>,
    signal?: AbortSignal
  ): Promise<T> {
    if (!signal) {
      return promise;
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () =>
        reject(new BridgeError('cancelled', 'Stopped waiting for the kernel.'));
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort);
      promise.then(
        value => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        error => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        }
      );
    });
  }
}
