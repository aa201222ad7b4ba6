/**
 * Benchmark: capture round trip through a real jupyter_server and the test Julia kernel
 * with a generated 400-package Manifest (~200 KB).
 *
 * Prints: injection + first capture in a fresh kernel; median and p95 of 30 warm
 * captures, split into kernel (capture measured inside Julia), decode/verify (in Node)
 * and transport (the rest); the cost of one small round trip (ping) and the number of
 * round trips per snapshot. Once per IJulia generation the test kernel imitates
 * (src/__tests__/helpers/generations.ts; DEARDIARY_IJULIA_GENS narrows the list).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { KernelManager, Session, SessionManager } from '@jupyterlab/services';
import { KernelBridge } from '../src/kernel/bridge';
import { validateCapture } from '../src/kernel/protocol';
import { GENERATIONS } from '../src/__tests__/helpers/generations';
import { REPO, startServer } from '../src/__tests__/helpers/server';
import { manifest } from './manifest';
import { percentile, report } from './stats';

const RUNS = 30;

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await f();
  return [value, performance.now() - start];
}

async function kernelMs(session: Session.ISessionConnection): Promise<number> {
  // Time the capture inside Julia (what the comm handler does, without the transport).
  const future = session.kernel!.requestExecute({
    code:
      'let m = Main.__deardiary__, f = () -> m.tojson(Dict("type" => "reply", "id" => "b", "ok" => true, ' +
      '"result" => m.run_op("capture", Dict{String,Any}()))); f(); round(Int, 1e6 * @elapsed f()) end',
    silent: false,
    store_history: false
  });
  let text = '';
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'execute_result') {
      text = (msg.content as any).data['text/plain'];
    }
  };
  await future.done;
  const micros = Number(text);
  if (!Number.isFinite(micros)) {
    throw new Error(`could not time the capture in the kernel: ${text}`);
  }
  return micros / 1000;
}

test.each(GENERATIONS)(
  'capture round trip, IJulia %s',
  async (generation, kernel) => {
    const server = await startServer({
      env: { JUPYTER_PATH: path.join(REPO, 'ui-tests', 'test-kernel') }
    });
    const kernels = new KernelManager({ serverSettings: server.settings });
    const sessions = new SessionManager({
      serverSettings: server.settings,
      kernelManager: kernels
    });
    try {
      const project = path.join(server.root, 'bench');
      fs.mkdirSync(project);
      fs.writeFileSync(
        path.join(project, 'Project.toml'),
        '[deps]\nPackage0 = "00000000-0000-0000-0000-000000000000"\n'
      );
      const text = manifest(400);
      fs.writeFileSync(path.join(project, 'Manifest.toml'), text);
      await sessions.ready;
      const session = await sessions.startNew({
        path: 'bench/bench.ipynb',
        type: 'notebook',
        name: 'bench.ipynb',
        kernel: { name: kernel }
      });
      await session.kernel!.info;
      const context: any = {
        session,
        kernelChanged: session.kernelChanged,
        statusChanged: session.statusChanged
      };
      const bridge = new KernelBridge({
        sessionContext: context,
        timeout: 120000
      });

      const [, cold] = await timed(() => bridge.capture());
      const totals: number[] = [];
      let last: any;
      for (let i = 0; i < RUNS; i++) {
        const [c, ms] = await timed(() => bridge.capture());
        totals.push(ms);
        last = c;
      }
      // decode/verify alone, on the same payload
      const raw = JSON.parse(JSON.stringify(last));
      const verify: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        verify.push((await timed(() => validateCapture(raw, true)))[1]);
      }
      const inKernel: number[] = [];
      // as many as the warm captures: with a few only, 'the rest' could go below 0
      for (let i = 0; i < RUNS; i++) {
        inKernel.push(await kernelMs(session));
      }
      const pings: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        pings.push((await timed(() => bridge.ping()))[1]);
      }
      const median = (xs: number[]) => percentile(xs, 50);
      const manifestFile = last.files.find((f: any) => f.role === 'manifest');
      const sha = createHash('sha256').update(text).digest('hex');
      if (manifestFile.sha256 !== sha) {
        throw new Error('the benchmark captured the wrong bytes');
      }
      report(
        `capture round trip (real jupyter_server + test Julia kernel, IJulia ${generation} generation)`,
        [
          ['manifest', `400 packages, ${text.length} bytes`],
          [
            'fresh kernel: injection + comm + first capture',
            `${cold.toFixed(0)} ms (3 round trips)`
          ],
          [
            'warm capture, median',
            `${median(totals).toFixed(1)} ms (1 round trip)`
          ],
          ['warm capture, p95', `${percentile(totals, 95).toFixed(1)} ms`],
          [
            '  in the kernel (capture + JSON), median',
            `${median(inKernel).toFixed(1)} ms`
          ],
          [
            '  decode + sha256 verify in Node, median',
            `${median(verify).toFixed(1)} ms`
          ],
          [
            '  transport (the rest), median',
            `${(median(totals) - median(inKernel) - median(verify)).toFixed(1)} ms`
          ],
          ['small round trip (ping), median', `${median(pings).toFixed(1)} ms`],
          [
            'small round trip (ping), p95',
            `${percentile(pings, 95).toFixed(1)} ms`
          ]
        ]
      );
      bridge.dispose();
      await session.shutdown();
    } finally {
      sessions.dispose();
      kernels.dispose();
      await server.stop();
    }
  }
);
