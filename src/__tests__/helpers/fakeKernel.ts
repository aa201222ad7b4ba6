/**
 * A mocked kernel and session context for the bridge's state-machine tests. It imitates
 * what IJulia does at the seam (see ARCHITECTURE.md): a comm opened before the injected
 * code ran stays dead, replies are parented to the last execute request, comm traffic
 * waits behind a busy kernel. The real behaviour is covered by the *.server.ts tests
 * against a real jupyter_server and the test Julia kernel.
 */
import { Signal } from '@lumino/signaling';

export type Op = (args: any, id: string) => Record<string, unknown> | undefined;

export interface IFakeOptions {
  language?: string;
  injectStatus?: 'ok' | 'error';
  ops?: Record<string, Op>;
}

export function frame(msg: unknown): { protocol: number; json: string } {
  return { protocol: 1, json: JSON.stringify(msg) };
}

export class FakeComm {
  constructor(
    readonly kernel: FakeKernel,
    readonly targetName: string,
    readonly commId: string
  ) {}
  onMsg: ((msg: any) => void) | null = null;
  isDisposed = false;
  closed = false;
  sent: any[] = [];

  open(data: unknown) {
    const future = this.kernel.future();
    this.kernel.log.push(`open:${this.commId}`);
    this.alive = this.kernel.injected;
    if (this.alive) {
      this.kernel.later(() => this.deliver(this.kernel.readyMessage()));
    }
    return future;
  }

  send(data: any) {
    const future = this.kernel.future();
    this.sent.push(data);
    this.kernel.log.push(`send:${data.op}`);
    if (this.alive) {
      this.kernel.handle(this, data);
    }
    return future;
  }

  close() {
    this.closed = true;
    this.kernel.log.push(`close:${this.commId}`);
    this.dispose();
  }

  dispose() {
    this.isDisposed = true;
  }

  /** Deliver kernel -> frontend comm data, parented to the last execute request. */
  deliver(data: unknown) {
    if (this.isDisposed || !this.onMsg) {
      return;
    }
    this.onMsg({
      header: { msg_type: 'comm_msg', session: 'kernel' },
      parent_header: { msg_id: this.kernel.lastExecuteId },
      content: { comm_id: this.commId, data }
    });
  }

  alive = false;
}

export class FakeKernel {
  constructor(readonly options: IFakeOptions = {}) {
    Object.assign(this.ops, options.ops ?? {});
  }

  log: string[] = [];
  injected = false;
  executes: any[] = [];
  comms: FakeComm[] = [];
  lastExecuteId = '';
  status = 'idle';
  /** The websocket to the server (a test sets 'disconnected' to stand for a lost server). */
  connectionStatus = 'connected';
  isDisposed = false;
  iopubMessage = new Signal<this, any>(this);
  /** While set, comm requests are queued (a cell runs). */
  busyQueue: Array<() => void> | null = null;
  /** Replace how requests are answered; return undefined to send nothing. */
  ops: Record<string, Op> = {
    ping: () => ({ pong: true, protocol: 1 })
  };
  /** Transform a reply before it is sent (for malformed replies). */
  mangle: ((msg: any) => unknown) | null = null;

  get info() {
    return Promise.resolve({
      language_info: { name: this.options.language ?? 'julia' }
    });
  }

  requestExecute(content: any) {
    const future = this.future();
    this.executes.push(content);
    this.lastExecuteId = future.msg.header.msg_id;
    this.log.push('execute');
    let resolve!: (v: any) => void;
    (future as any).done = new Promise(r => (resolve = r));
    const run = () => {
      const status = this.options.injectStatus ?? 'ok';
      if (status === 'ok') {
        this.injected = true;
      }
      resolve({
        content:
          status === 'ok'
            ? { status: 'ok' }
            : { status: 'error', ename: 'LoadError', evalue: 'boom' }
      });
    };
    this.enqueue(() => this.later(run));
    return future;
  }

  createComm(target: string) {
    const comm = new FakeComm(this, target, `comm-${this.comms.length + 1}`);
    this.comms.push(comm);
    this.log.push(`createComm:${target}`);
    return comm;
  }

  handle(comm: FakeComm, data: any) {
    this.enqueue(() =>
      this.later(() => {
        const op = this.ops[data.op];
        const result = op
          ? op(data.args, data.id)
          : {
              __error: { code: 'unknown_op', message: `unknown op ${data.op}` }
            };
        if (result === undefined) {
          return;
        }
        const msg =
          '__error' in result
            ? { type: 'reply', id: data.id, ok: false, error: result.__error }
            : { type: 'reply', id: data.id, ok: true, result };
        comm.deliver(this.mangle ? this.mangle(msg) : frame(msg));
      })
    );
  }

  readyMessage() {
    return frame({ type: 'ready', protocol: 1, julia_version: '1.5.3' });
  }

  /** Start a user's cell: the kernel is busy with someone else's request. */
  startCell() {
    this.busyQueue = [];
    this.emitStatus('busy', 'user-cell');
  }

  endCell() {
    const queue = this.busyQueue ?? [];
    this.busyQueue = null;
    this.emitStatus('idle', 'user-cell');
    queue.forEach(f => f());
  }

  emitStatus(state: string, parent: string) {
    this.iopubMessage.emit({
      header: { msg_type: 'status' },
      parent_header: { msg_id: parent },
      content: { execution_state: state }
    });
  }

  future() {
    return { msg: { header: { msg_id: `msg-${++this._ids}` } } };
  }

  later(f: () => void) {
    setTimeout(f, 0);
  }

  enqueue(f: () => void) {
    if (this.busyQueue) {
      this.busyQueue.push(f);
    } else {
      f();
    }
  }

  private _ids = 0;
}

export class FakeSessionContext {
  constructor(kernel: FakeKernel | null) {
    this.session = { kernel };
  }
  session: { kernel: FakeKernel | null };
  kernelChanged = new Signal<this, any>(this);
  statusChanged = new Signal<this, string>(this);

  /** A restart: same kernel object, every comm gone, nothing injected. */
  restart() {
    const kernel = this.session.kernel!;
    this.statusChanged.emit('restarting');
    kernel.injected = false;
    kernel.comms.forEach(c => (c.alive = false));
  }

  changeKernel(kernel: FakeKernel) {
    const old = this.session.kernel;
    this.session.kernel = kernel;
    this.kernelChanged.emit({
      name: 'kernel',
      oldValue: old,
      newValue: kernel
    });
  }
}
