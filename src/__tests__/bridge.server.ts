/**
 * The kernel bridge end to end: @jupyterlab/services in Node over `ws`, a real
 * jupyter_server, and the TEST-ONLY Julia kernel (ui-tests/test-kernel) that runs the
 * shipped deardiary.jl in a real Julia 1.5.3 with IJulia's comm glue stood in — once per
 * IJulia generation the stand-in imitates (1.24, 1.27-1.30, 1.31-1.34).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Session } from '@jupyterlab/services';
import { KernelBridge } from '../kernel/bridge';
import { pathToString } from '../kernel/protocol';
import { GENERATIONS } from './helpers/generations';
import { REPO, useServer } from './helpers/server';
import { fromBase64 } from '../bytes';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const MANIFEST = Buffer.concat([
  Buffer.from(
    '\ufeff# This file is machine-generated\r\n\r\n[[Dates]]\r\ndeps = ["Printf"]\r\n'
  ),
  Buffer.from([0, 0xff, 0x0d]),
  Buffer.from('uuid = "ade2ca70-3891-5945-98fb-dc099432e06a"\n')
]);

/** The slice of ISessionContext the bridge uses, over a real session connection. */
function contextOf(session: Session.ISessionConnection): any {
  return {
    session,
    kernelChanged: session.kernelChanged,
    statusChanged: session.statusChanged
  };
}

async function execute(session: Session.ISessionConnection, code: string) {
  const future = session.kernel!.requestExecute({ code });
  let text = '';
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'stream') {
      text += (msg.content as any).text;
    } else if (msg.header.msg_type === 'execute_result') {
      text += (msg.content as any).data['text/plain'];
    } else if (msg.header.msg_type === 'error') {
      text += (msg.content as any).evalue;
    }
  };
  const reply = await future.done;
  return { text, reply: reply.content as any };
}

describe.each(GENERATIONS)(
  'KernelBridge with a real server and the test Julia kernel imitating IJulia %s',
  (_generation, KERNEL) => {
    let bridge: KernelBridge;
    // Declared first so that the bridge is disposed before the session is shut down.
    afterAll(() => bridge?.dispose());
    const suite = useServer({
      env: { JUPYTER_PATH: path.join(REPO, 'ui-tests', 'test-kernel') },
      prepare: root => {
        const project = path.join(root, 'proj');
        fs.mkdirSync(project);
        fs.writeFileSync(
          path.join(project, 'Project.toml'),
          '[deps]\r\nDates = "ade2ca70-3891-5945-98fb-dc099432e06a"\n'
        );
        fs.writeFileSync(path.join(project, 'Manifest.toml'), MANIFEST);
      },
      session: { path: 'proj/run.ipynb', kernel: KERNEL }
    });
    beforeAll(() => {
      bridge = new KernelBridge({
        sessionContext: contextOf(suite.session),
        timeout: 60000
      });
    });

    it('captures the exact bytes of the active project and manifest', async () => {
      expect(await bridge.isJulia()).toBe(true);
      const capture = await bridge.capture();
      expect(capture.julia_version).toBe('1.5.3');
      expect(pathToString(capture.project!.path)).toBe(
        path.join(suite.server.root, 'proj', 'Project.toml')
      );
      expect(capture.project!.is_global).toBe(false);
      expect(capture.manifest!.found_by).toBe('julia');
      const manifest = capture.files.find(f => f.role === 'manifest')!;
      expect(manifest.name).toBe('Manifest.toml');
      expect(Buffer.from(fromBase64(manifest.base64!)).equals(MANIFEST)).toBe(
        true
      );
      expect(manifest.sha256).toBe(sha(MANIFEST));
      expect(pathToString(capture.sys.pwd)).toBe(
        path.join(suite.server.root, 'proj')
      );
    });

    it('leaves ans and the execution count alone', async () => {
      const before = await execute(suite.session, 'x = 6 * 7');
      await bridge.fingerprint();
      await bridge.ping();
      const after = await execute(suite.session, 'ans');
      expect(after.text).toBe('42');
      expect(after.reply.execution_count).toBe(
        before.reply.execution_count + 1
      );
    });

    it('waits behind a running cell, says so, and answers after it', async () => {
      const waiting: boolean[] = [];
      const onWaiting = (_: KernelBridge, w: boolean) => waiting.push(w);
      bridge.waitingChanged.connect(onWaiting);
      const cell = execute(suite.session, 'sleep(2); 1');
      await new Promise(r => setTimeout(r, 300));
      const started = Date.now();
      const fingerprint = await bridge.fingerprint({ timeout: 500 });
      bridge.waitingChanged.disconnect(onWaiting);
      await cell;
      expect(fingerprint.files.length).toBe(2);
      expect(Date.now() - started).toBeGreaterThan(1000); // it really waited, past its timeout
      expect(waiting).toEqual([true, false]);
    });

    it('rejects at once when the kernel restarts, then re-injects', async () => {
      const cell = execute(suite.session, 'sleep(10)').catch(() => undefined);
      await new Promise(r => setTimeout(r, 300));
      const pending = bridge.fingerprint();
      const restarted = suite.session.kernel!.restart();
      await expect(pending).rejects.toMatchObject({ code: 'restarted' });
      await restarted;
      await cell;
      const capture = await bridge.capture();
      expect(capture.files.length).toBe(2);
      const after = await execute(suite.session, '1 + 1');
      expect(after.reply.status).toBe('ok');
      expect(after.text).toBe('2');
    });

    it('gets its reply when another client of the kernel sent the last execute request', async () => {
      // A console on the same kernel: its own connection (client session id).
      const other = suite.kernels.connectTo({
        model: suite.session.kernel!.model
      });
      try {
        await other.info;
        const console = other.requestExecute({
          code: 'println("from the console"); sleep(0.5)'
        });
        const fingerprint = bridge.fingerprint();
        await console.done;
        expect((await fingerprint).julia_version).toBe('1.5.3');
        // and the other way round: the console ran last, the bridge still gets answers
        const again = await bridge.capture();
        expect(again.files.length).toBe(2);
      } finally {
        other.dispose();
      }
    });

    it('receives snapshots sent from code with @snapshot', async () => {
      const received = new Promise<any>(resolve =>
        bridge.snapshotReceived.connect((_, s) => resolve(s))
      );
      await bridge.ping();
      const result = await execute(suite.session, '@snapshot "after training"');
      const snapshot = await received;
      expect(snapshot.note).toBe('after training');
      expect(snapshot.snapshot_id).toMatch(/^[0-9a-f]{32}-\d+$/);
      expect(snapshot.capture.files.map((f: any) => f.name)).toEqual([
        'Project.toml',
        'Manifest.toml'
      ]);
      expect(result.text).toContain(snapshot.snapshot_id.slice(0, 8));
    });

    it('rejects a reply whose bytes do not match their sha256, over the real transport', async () => {
      const liar = `
      Main.IJulia.CommManager.register_comm(c::Main.IJulia.CommManager.Comm{:deardiary}, m) = begin
        say(d) = Main.IJulia.CommManager.send_comm(c, Dict("protocol" => 1, "json" => d))
        c.on_msg = function (msg)
          id = msg.content["data"]["id"]
          say("{\\"type\\":\\"reply\\",\\"id\\":\\"" * id * "\\",\\"ok\\":true,\\"result\\":{\\"julia_version\\":\\"1.5.3\\",\\"project\\":null,\\"manifest\\":null,\\"workspace_root\\":null,\\"files\\":[{\\"role\\":\\"manifest\\",\\"name\\":\\"Manifest.toml\\",\\"path\\":\\"/x\\",\\"size\\":3,\\"sha256\\":\\"${'0'.repeat(64)}\\",\\"base64\\":\\"YWJj\\"}],\\"sys\\":{\\"kernel\\":\\"Linux\\",\\"arch\\":\\"x\\",\\"machine\\":\\"x\\",\\"cpu_threads\\":1,\\"nthreads\\":1,\\"bindir\\":\\"/\\",\\"depot_path\\":[],\\"load_path\\":[],\\"pwd\\":\\"/\\"}}}")
        end
        say("{\\"type\\":\\"ready\\",\\"protocol\\":1,\\"julia_version\\":\\"1.5.3\\"}")
      end
      Main.IJulia.ans`;
      const other = await suite.sessions.startNew({
        path: 'proj/liar.ipynb',
        type: 'notebook',
        name: 'liar.ipynb',
        kernel: { name: KERNEL }
      });
      const lied = new KernelBridge({
        sessionContext: contextOf(other),
        code: liar,
        timeout: 60000
      });
      try {
        await expect(lied.capture()).rejects.toThrow(
          /hash to ba7816bf.* declared 0{64}/
        );
      } finally {
        lied.dispose();
        await other.shutdown();
      }
    });
  }
);
