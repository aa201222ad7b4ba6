import { Notification } from '@jupyterlab/apputils';
import { createHash } from 'crypto';
import { BridgeError, KernelBridge } from '../kernel/bridge';
import { withKernelProgress } from '../kernel/plugin';
import { FakeKernel, FakeSessionContext, frame } from './helpers/fakeKernel';
import { LINUX } from './helpers/fixtures';

// JupyterLab's own packages are ES modules that this jest setup does not load: stand in
// for the values kernel/plugin.ts takes from them.
jest.mock('@jupyterlab/apputils', () => ({
  Notification: { emit: jest.fn(), update: jest.fn(), dismiss: jest.fn() }
}));
jest.mock('@jupyterlab/notebook', () => ({}));
jest.mock('@jupyterlab/translation', () => ({}));

const BYTES = Buffer.from('name = "X"\r\n\u0000\xff', 'latin1');

function captureResult(bytes: Buffer = BYTES, sha?: string) {
  return {
    julia_version: '1.5.3',
    project: { path: '/p/Project.toml', exists: true, is_global: false },
    manifest: { path: '/p/Manifest.toml', exists: true, found_by: 'julia' },
    workspace_root: null,
    files: [
      {
        role: 'manifest',
        name: 'Manifest.toml',
        path: { b64: Buffer.from([0x2f, 0xff]).toString('base64') },
        size: bytes.length,
        sha256: sha ?? createHash('sha256').update(bytes).digest('hex'),
        base64: bytes.toString('base64')
      }
    ],
    sys: {
      ...LINUX,
      depot_path: ['/d'],
      load_path: ['/p/Project.toml'],
      pwd: '/p'
    }
  };
}

function setup(
  options: ConstructorParameters<typeof FakeKernel>[0] = {},
  timeout = 200
) {
  const kernel = new FakeKernel(options);
  const context = new FakeSessionContext(kernel);
  const bridge = new KernelBridge({
    sessionContext: context as any,
    code: 'INJECTED',
    timeout
  });
  return { kernel, context, bridge };
}

/**
 * The restarted kernel answers: JupyterLab sends what it held back during the restart,
 * the kernel says idle, and JupyterLab reports a "change" to the same kernel.
 */
function finishRestart(kernel: FakeKernel, context: FakeSessionContext) {
  const held = kernel.busyQueue ?? [];
  kernel.busyQueue = null;
  context.statusChanged.emit('idle');
  context.kernelChanged.emit({
    name: 'kernel',
    oldValue: kernel,
    newValue: kernel
  });
  held.forEach(f => f());
}

/** A restart begins: what was sent is lost, what is sent now is held back. */
function beginRestart(kernel: FakeKernel, context: FakeSessionContext) {
  context.restart();
  kernel.busyQueue = [];
}

const tick = (ms = 10) => new Promise(r => setTimeout(r, ms));

async function rejection(promise: Promise<unknown>): Promise<BridgeError> {
  try {
    await promise;
  } catch (error) {
    return error as BridgeError;
  }
  throw new Error('expected a rejection');
}

describe('KernelBridge', () => {
  it('injects silently, waits for the reply, then opens the comm and waits for ready', async () => {
    const { kernel, bridge } = setup();
    await bridge.ping();
    expect(kernel.log).toEqual([
      'execute',
      'createComm:deardiary',
      'open:comm-1',
      'send:ping'
    ]);
    expect(kernel.executes[0]).toEqual({
      code: 'INJECTED',
      silent: true,
      store_history: false,
      allow_stdin: false,
      stop_on_error: false
    });
    await bridge.ping();
    expect(kernel.executes).toHaveLength(1);
  });

  it('matches replies by id, whatever their parent header says', async () => {
    const { kernel, bridge } = setup();
    const held: Array<() => void> = [];
    kernel.ops.capture = (_args, id) => {
      // answer later and in reverse order
      held.push(() =>
        kernel.comms[0].deliver(
          frame({ type: 'reply', id, ok: true, result: captureResult() })
        )
      );
      return undefined;
    };
    kernel.ops.fingerprint = (_args, id) => {
      const r = captureResult();
      delete (r.files[0] as any).base64;
      held.push(() =>
        kernel.comms[0].deliver(
          frame({ type: 'reply', id, ok: true, result: r })
        )
      );
      return undefined;
    };
    const a = bridge.capture();
    const b = bridge.fingerprint();
    while (held.length < 2) {
      await new Promise(r => setTimeout(r, 5));
    }
    held.reverse().forEach(f => f());
    const [capture, fingerprint] = await Promise.all([a, b]);
    expect(capture.files[0].base64).toBe(BYTES.toString('base64'));
    expect(fingerprint.files[0].base64).toBeUndefined();
    expect(capture.files[0].path).toEqual({ b64: 'L/8=' });
  });

  it('refuses non-Julia kernels without sending them anything', async () => {
    const { kernel, bridge } = setup({ language: 'python' });
    expect(await bridge.isJulia()).toBe(false);
    const error = await rejection(bridge.ping());
    expect(error.code).toBe('not_julia');
    expect(kernel.log).toEqual([]);
  });

  it('reports an injection that failed', async () => {
    const { bridge } = setup({ injectStatus: 'error' });
    const error = await rejection(bridge.ping());
    expect(error.code).toBe('inject_failed');
    expect(error.message).toContain('LoadError: boom');
  });

  it('times out with the likely cause after one reconnecting retry', async () => {
    const { kernel, bridge } = setup({}, 50);
    kernel.ops.ping = () => undefined; // never answers
    const error = await rejection(bridge.ping());
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/did not answer the "ping" request/);
    // the retry re-injected and opened a new comm without closing the old one
    expect(kernel.executes).toHaveLength(2);
    expect(kernel.comms).toHaveLength(2);
    expect(kernel.comms[0].closed).toBe(false);
    expect(kernel.comms[0].isDisposed).toBe(true);
  });

  it('blames the lost server, not the kernel, and does not retry then', async () => {
    const { kernel, bridge } = setup({}, 50);
    kernel.ops.ping = () => {
      kernel.connectionStatus = 'disconnected'; // the server went away meanwhile
      return undefined;
    };
    const error = await rejection(bridge.ping());
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(
      /^No answer to the "ping" request within 0 s: the connection to the Jupyter server is disconnected\. Check that the server is running/
    );
    expect(kernel.executes).toHaveLength(1); // no reconnecting retry
  });

  it('recovers when the first reply is lost', async () => {
    const { kernel, bridge } = setup({}, 50);
    let calls = 0;
    kernel.ops.ping = () =>
      ++calls === 1 ? undefined : { pong: true, protocol: 1 };
    await bridge.ping();
    expect(calls).toBe(2);
  });

  it('waits behind a running cell without timing out, and says so', async () => {
    const { kernel, bridge } = setup({}, 50);
    await bridge.ping();
    const waiting: boolean[] = [];
    bridge.waitingChanged.connect((_, w) => waiting.push(w));
    kernel.startCell();
    const ping = bridge.ping();
    await new Promise(r => setTimeout(r, 200)); // four timeouts long
    expect(bridge.isWaiting).toBe(true);
    kernel.endCell();
    await ping;
    expect(waiting).toEqual([true, false]);
    expect(kernel.executes).toHaveLength(1);
  });

  it("does not take another client's short request (history, kernel info) for a running cell", async () => {
    const { kernel, bridge } = setup({}, 50);
    await bridge.ping();
    const status = (state: string) =>
      kernel.iopubMessage.emit({
        header: { msg_type: 'status' },
        parent_header: { msg_id: 'h1', msg_type: 'history_request' },
        content: { execution_state: state }
      });
    kernel.busyQueue = [];
    status('busy');
    const ping = bridge.ping();
    await tick();
    expect(bridge.isWaiting).toBe(false);
    const held = kernel.busyQueue;
    kernel.busyQueue = null;
    status('idle');
    held.forEach(f => f());
    await ping;
  });

  it('can be cancelled while waiting', async () => {
    const { kernel, bridge } = setup();
    await bridge.ping();
    kernel.startCell();
    const controller = new AbortController();
    const ping = bridge.ping({ signal: controller.signal });
    controller.abort();
    expect((await rejection(ping)).code).toBe('cancelled');
    expect(bridge.isWaiting).toBe(false);
  });

  it('rejects at once on restart, drops the comm without closing it, re-injects next time', async () => {
    const { kernel, context, bridge } = setup();
    await bridge.ping();
    kernel.startCell();
    const ping = bridge.ping();
    await new Promise(r => setTimeout(r, 10));
    context.restart();
    kernel.busyQueue = null;
    expect((await rejection(ping)).code).toBe('restarted');
    await new Promise(r => setTimeout(r, 0));
    expect(kernel.comms[0].closed).toBe(false);
    expect(kernel.comms[0].isDisposed).toBe(true);
    await bridge.ping();
    expect(kernel.executes).toHaveLength(2);
    expect(kernel.comms).toHaveLength(2);
  });

  it('carries a request made during a restart over to the restarted kernel', async () => {
    const { kernel, context, bridge } = setup({}, 50);
    kernel.ops.capture = () => captureResult();
    await bridge.ping();
    const waits: Array<string | null> = [];
    bridge.waitingChanged.connect(() => waits.push(bridge.waitingFor));
    beginRestart(kernel, context);
    const capture = bridge.capture({ carryOver: true });
    await tick(200); // four timeouts long: a restart is not a silent kernel
    expect(bridge.waitingFor).toBe('restart');
    finishRestart(kernel, context);
    expect((await capture).files).toHaveLength(1);
    expect(waits).toEqual(['restart', null]);
    // re-injected, and a new comm opened in the restarted kernel
    expect(kernel.executes).toHaveLength(2);
    expect(kernel.comms).toHaveLength(2);
    expect(kernel.comms[0].closed).toBe(false);
  });

  it('carries over a request that waited behind a cell when the restart began', async () => {
    const { kernel, context, bridge } = setup({}, 50);
    kernel.ops.capture = () => captureResult();
    await bridge.ping();
    kernel.startCell();
    const capture = bridge.capture({ carryOver: true });
    await tick();
    expect(bridge.isWaiting).toBe(true);
    beginRestart(kernel, context);
    await tick();
    expect(bridge.waitingFor).toBe('restart');
    finishRestart(kernel, context);
    expect((await capture).files).toHaveLength(1);
    expect(kernel.comms[1].sent.map(m => m.op)).toEqual(['capture']);
  });

  it('a request that joins a connection queued behind a cell waits, and can stop waiting', async () => {
    const { kernel, bridge } = setup({}, 50);
    const first = bridge.ping(); // automatic capture opens the comm...
    kernel.startCell(); // ...but a cell started first: the injection waits behind it
    await tick();
    expect(bridge.isWaiting).toBe(true);
    const controller = new AbortController();
    const click = bridge.ping({ signal: controller.signal });
    await tick();
    controller.abort();
    expect((await rejection(click)).code).toBe('cancelled');
    kernel.endCell();
    await first;
    await bridge.ping();
    expect(kernel.executes).toHaveLength(1);
  });

  it('starts over with a new kernel', async () => {
    const { context, bridge } = setup();
    await bridge.ping();
    const other = new FakeKernel();
    context.changeKernel(other);
    await bridge.ping();
    expect(other.executes).toHaveLength(1);
  });

  it('rejects malformed replies with a clear error', async () => {
    const { kernel, bridge } = setup();
    kernel.ops.capture = () => captureResult(BYTES, 'a'.repeat(64));
    await expect(bridge.capture()).rejects.toThrow(/hash to .* declared a{64}/);
    kernel.ops.capture = () => {
      const r: any = captureResult();
      delete r.sys.pwd;
      return r;
    };
    await expect(bridge.capture()).rejects.toThrow(/sys.pwd is not a path/);
    kernel.ops.capture = () => ({
      ...captureResult(),
      files: [{ ...captureResult().files[0], size: 3 }]
    });
    await expect(bridge.capture()).rejects.toThrow(
      /bytes arrived, the kernel declared 3/
    );
  });

  it('fails the wait for ready on an unreadable frame', async () => {
    const { kernel, bridge } = setup();
    kernel.readyMessage = () => ({ protocol: 1, json: '{not json' }) as any;
    const error = await rejection(bridge.ping());
    expect(error.code).toBe('malformed');
    expect(error.message).toMatch(/invalid JSON/);
  });

  it('passes kernel-side errors on with their code', async () => {
    const { kernel, bridge } = setup();
    kernel.ops.capture = () => ({
      __error: { code: 'file_too_large', message: 'Manifest.toml is 60 MB' }
    });
    const error = await rejection(bridge.capture());
    expect(error.code).toBe('kernel');
    expect(error.kernelCode).toBe('file_too_large');
    expect(error.message).toBe('Manifest.toml is 60 MB');
  });

  it('emits validated snapshots sent from code', async () => {
    const { kernel, bridge } = setup();
    await bridge.ping();
    const received = new Promise<any>(resolve =>
      bridge.snapshotReceived.connect((_, s) => resolve(s))
    );
    kernel.comms[0].deliver(
      frame({
        type: 'snapshot',
        snapshot_id: 's1',
        note: 'after training',
        capture: captureResult()
      })
    );
    const snapshot = await received;
    expect(snapshot.snapshot_id).toBe('s1');
    expect(snapshot.note).toBe('after training');
    expect(snapshot.capture.files).toHaveLength(1);
  });

  it('closes its comm and rejects what waits when disposed', async () => {
    const { kernel, bridge } = setup();
    await bridge.ping();
    kernel.startCell();
    const ping = bridge.ping();
    bridge.dispose();
    expect((await rejection(ping)).code).toBe('disposed');
    await new Promise(r => setTimeout(r, 0));
    expect(kernel.comms[0].closed).toBe(true);
    expect((await rejection(bridge.ping())).code).toBe('disposed');
  });
});

describe('withKernelProgress', () => {
  const trans = { __: (text: string) => text } as any;
  const emit = jest.mocked(Notification.emit);
  const update = jest.mocked(Notification.update);
  const dismiss = jest.mocked(Notification.dismiss);
  beforeEach(() => {
    jest.clearAllMocks();
    emit.mockReturnValue('notice');
  });

  it('says so at once when the bridge was already waiting behind a cell, and can stop', async () => {
    const { kernel, bridge } = setup({}, 50);
    const first = bridge.ping();
    kernel.startCell(); // before the comm is open
    await tick();
    const click = withKernelProgress(bridge, trans, signal =>
      bridge.ping({ signal })
    );
    expect(emit).toHaveBeenCalledTimes(1);
    const [message, type, options] = emit.mock.calls[0];
    expect([message, type]).toEqual([
      'Waiting for the kernel to finish the running cell…',
      'in-progress'
    ]);
    const stop = options!.actions![0];
    expect(stop.label).toBe('Stop waiting');
    stop.callback({} as any);
    expect((await rejection(click)).code).toBe('cancelled');
    expect(dismiss).toHaveBeenCalledWith('notice');
    kernel.endCell();
    await first;
  });

  it('says the kernel restarts while a click waits for a restart', async () => {
    const { kernel, context, bridge } = setup({}, 50);
    kernel.ops.capture = () => captureResult();
    await bridge.ping();
    beginRestart(kernel, context);
    const click = withKernelProgress(bridge, trans, signal =>
      bridge.capture({ signal, carryOver: true })
    );
    await tick();
    finishRestart(kernel, context);
    await click;
    const messages = [
      ...emit.mock.calls.map(c => c[0]),
      ...update.mock.calls.map(c => c[0].message)
    ];
    expect(messages).toEqual(['Waiting for the kernel to restart…']);
    expect(dismiss).toHaveBeenCalledWith('notice');
  });
});
