import { createHash } from 'crypto';
import { BridgeError, KernelBridge } from '../kernel/bridge';
import { FakeKernel, FakeSessionContext, frame } from './helpers/fakeKernel';

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
      kernel: 'Linux',
      arch: 'x86_64',
      machine: 'x86_64-linux-gnu',
      cpu_threads: 2,
      nthreads: 1,
      bindir: '/usr/bin',
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
