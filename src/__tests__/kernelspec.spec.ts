/**
 * The kernelspec of a run: redaction, recording (recorder → store → details), and the
 * restore's preference for an installed kernelspec that starts its kernel alike.
 */
import { recorderDeps } from './helpers/fixtures';
import { trans } from './helpers/trans';
import {
  kernelspecAffinity,
  kernelspecFeatures,
  recordKernelspec,
  REDACTED,
  redactArgv,
  redactEnv
} from '../kernel/kernelspec';
import { IRecorderDeps, Recorder } from '../recorder/recorder';
import { bestKernelspec, matchKernelspecs } from '../restore/kernelspec';
import { RunDetails } from '../widgets/details';
import { FakeStoreAPI, makeRun, makeStore } from './helpers/sqljs';

const JULIA = '/opt/julia-1.10.4/bin/julia';
const KERNEL_JL = '/home/u/.julia/packages/IJulia/abc/src/kernel.jl';

/** A kernelspec as IJulia's installkernel writes it. */
function ijulia(
  name: string,
  display_name: string,
  flags: string[] = [],
  env: Record<string, string> = {}
) {
  return {
    name,
    display_name,
    language: 'julia',
    argv: [
      JULIA,
      '-i',
      '--color=yes',
      ...flags,
      KERNEL_JL,
      '{connection_file}'
    ],
    env,
    resources: {},
    interrupt_mode: 'signal' as const
  };
}

describe('kernelspec redaction', () => {
  it('redacts env values whose names look secret, in any case', () => {
    expect(
      redactEnv({
        GITHUB_TOKEN: 'ghp_x',
        aws_secret_access_key: 'k',
        Db_Password: 'p',
        API_KEY: 'a',
        MonkeyBusiness: 'contains key: redacted too',
        JULIA_NUM_THREADS: '4',
        JULIA_DEPOT_PATH: '/d',
        COUNT: 3 as unknown as string
      })
    ).toEqual({
      GITHUB_TOKEN: REDACTED,
      aws_secret_access_key: REDACTED,
      Db_Password: REDACTED,
      API_KEY: REDACTED,
      MonkeyBusiness: REDACTED,
      JULIA_NUM_THREADS: '4',
      JULIA_DEPOT_PATH: '/d',
      COUNT: '3'
    });
    expect(REDACTED).toBe('<redacted>');
  });

  it('redacts argv values of secret-looking options, keeps the rest', () => {
    expect(
      redactArgv([
        JULIA,
        '--project=@.',
        '--api-key=abc',
        '--token',
        'xyz',
        '-t',
        '4',
        KERNEL_JL
      ])
    ).toEqual([
      JULIA,
      '--project=@.',
      `--api-key=${REDACTED}`,
      '--token',
      REDACTED,
      '-t',
      '4',
      KERNEL_JL
    ]);
  });

  it('records name, display name, language, argv and redacted env', () => {
    const spec = ijulia('julia-1.10', 'Julia 1.10', ['-t', '4'], {
      JULIA_NUM_THREADS: '4',
      HF_TOKEN: 'hf_secret'
    });
    expect(recordKernelspec(spec)).toEqual({
      name: 'julia-1.10',
      display_name: 'Julia 1.10',
      language: 'julia',
      argv: spec.argv,
      env: { JULIA_NUM_THREADS: '4', HF_TOKEN: REDACTED }
    });
    expect(JSON.stringify(recordKernelspec(spec))).not.toContain('hf_secret');
    expect(recordKernelspec(undefined)).toBeNull();
    expect(
      recordKernelspec({ name: 'x', display_name: 'X', language: 'julia' })
    ).toEqual({
      name: 'x',
      display_name: 'X',
      language: 'julia',
      argv: [],
      env: {}
    });
  });
});

describe('kernelspec recording', () => {
  const capture = makeRun().capture;
  const request = {
    notebookPath: 'nb.ipynb',
    unsaved: false,
    kernel: {
      name: 'julia-1.10',
      display_name: 'Julia 1.10',
      language: 'julia'
    },
    capture,
    capturedAt: new Date('2026-01-02T03:04:05Z'),
    trigger: 'button' as const
  };

  function recorder(kernelspec?: IRecorderDeps['kernelspec']) {
    const { deps, runs } = recorderDeps({
      git: async () => ({ path: 'nb.ipynb', repo: false }),
      kernelspec
    });
    return { recorder: new Recorder(deps), runs };
  }

  it('records the notebook kernel\u2019s kernelspec, redacted, with the run', async () => {
    const installed = ijulia('julia-1.10', 'Julia 1.10', ['--project=@.'], {
      JULIA_CPU_TARGET: 'native',
      SECRET_SAUCE: 'x'
    });
    const asked: string[] = [];
    const { recorder: r, runs } = recorder(name => {
      asked.push(name);
      return recordKernelspec(name === installed.name ? installed : null);
    });
    await r.record(request);
    expect(asked).toEqual(['julia-1.10']);
    expect(runs[0].kernel.spec).toEqual({
      name: 'julia-1.10',
      display_name: 'Julia 1.10',
      language: 'julia',
      argv: installed.argv,
      env: { JULIA_CPU_TARGET: 'native', SECRET_SAUCE: REDACTED }
    });
  });

  it('records null when the kernelspec is unknown or the lookup fails', async () => {
    const { recorder: none, runs } = recorder();
    await none.record(request);
    expect(runs[0].kernel.spec).toBeNull();
    const { recorder: failing, runs: runs2 } = recorder(() => {
      throw new Error('kernelspecs not loaded');
    });
    await failing.record(request);
    expect(runs2[0].kernel.spec).toBeNull();
    expect(runs2).toHaveLength(1);
  });

  it('keeps it in the store and shows it in the details; older runs have none', async () => {
    const store = makeStore(new FakeStoreAPI());
    const input = makeRun();
    input.kernel.spec = recordKernelspec(
      ijulia('julia-1.10', 'Julia 1.10', ['-t', 'auto'], {
        JULIA_NUM_THREADS: 'auto',
        MY_TOKEN: 't0ps3cret'
      })
    );
    const { run: summary } = await store.addRun(input);
    const run = await store.getRun(summary.id);
    expect(run.kernel.spec).toEqual(input.kernel.spec);
    const { run: old } = await store.addRun(makeRun());
    expect((await store.getRun(old.id)).kernel.spec).toBeUndefined();

    const view = new RunDetails(trans, {
      copySnippet: jest.fn(),
      saveNote: jest.fn(),
      deleteRun: jest.fn(),
      viewFile: jest.fn(),
      restore: jest.fn()
    });
    view.render(run, []);
    const facts = [...view.node.querySelectorAll('dt')].map(dt => [
      dt.textContent,
      dt.nextElementSibling?.textContent
    ]);
    expect(facts).toContainEqual([
      'Kernel command',
      `${JULIA} -i --color=yes -t auto ${KERNEL_JL} {connection_file}`
    ]);
    expect(facts).toContainEqual([
      'Kernel env',
      `JULIA_NUM_THREADS=auto\nMY_TOKEN=${REDACTED}`
    ]);
    expect(view.node.textContent).not.toContain('t0ps3cret');
  });
});

describe('kernelspec matching prefers the recorded kernelspec\u2019s way of starting', () => {
  const plain = ijulia('julia-1.10', 'Julia 1.10');
  const threads = ijulia('julia-4-threads-1.10', 'Julia 4 threads 1.10', [
    '-t',
    '4'
  ]);
  const project = ijulia('julia-project-1.10', 'Julia project 1.10', [
    '--project=@.'
  ]);
  const envThreads = ijulia('julia-env-1.10', 'Julia env 1.10', [], {
    JULIA_NUM_THREADS: '4'
  });
  const old = ijulia('julia-4-threads-1.9', 'Julia 4 threads 1.9', ['-t', '4']);
  const installed = [plain, threads, project, envThreads, old];
  const order = (recorded: ReturnType<typeof recordKernelspec>) =>
    matchKernelspecs(installed, '1.10.4', recorded).map(m => m.spec.name);

  it('reads the features of a Julia command line and its JULIA_* env', () => {
    const f = kernelspecFeatures(
      ijulia('x', 'x', ['--threads=8', '-O3', '--project'], {
        JULIA_PROJECT: '/ignored/when/--project',
        JULIA_PKG_SERVER: 'https://pkg.example',
        PATH: '/usr/bin'
      })
    );
    expect(Object.fromEntries(f)).toEqual({
      project: '@.',
      threads: '8',
      'opt:interactive': '',
      'opt:color': 'yes',
      'opt:optimize': '3',
      'env:JULIA_PKG_SERVER': 'https://pkg.example'
    });
    expect(kernelspecFeatures(envThreads).get('threads')).toBe('4');
  });

  it('puts the same threads, project or env first, after the Julia version rule', () => {
    expect(order(recordKernelspec(threads))[0]).toBe('julia-4-threads-1.10');
    // -t 4 and JULIA_NUM_THREADS=4 start the same kernel
    expect(order(recordKernelspec(envThreads)).slice(0, 2).sort()).toEqual([
      'julia-4-threads-1.10',
      'julia-env-1.10'
    ]);
    expect(order(recordKernelspec(project))[0]).toBe('julia-project-1.10');
    expect(order(recordKernelspec(plain))[0]).toBe('julia-1.10');
    // the version rule first: an identical 1.9 kernelspec comes after every 1.10 one
    expect(order(recordKernelspec(old)).pop()).toBe('julia-4-threads-1.9');
    expect(
      bestKernelspec(
        matchKernelspecs(installed, '1.10.4', recordKernelspec(threads))
      )?.spec.name
    ).toBe('julia-4-threads-1.10');
  });

  it('falls back to the recorded name, and keeps the old order without a record', () => {
    const renamed = { ...plain, name: 'julia-custom-1.10' };
    expect(
      matchKernelspecs([plain, renamed], '1.10.4', recordKernelspec(renamed))[0]
        .spec.name
    ).toBe('julia-custom-1.10');
    expect(order(null)).toEqual([
      'julia-1.10',
      'julia-4-threads-1.10',
      'julia-env-1.10',
      'julia-project-1.10',
      'julia-4-threads-1.9'
    ]);
    expect(matchKernelspecs(installed, '1.10.4')[0].affinity).toBe(0);
  });

  it('counts a redacted value as matching its variable', () => {
    const a = recordKernelspec(
      ijulia('a', 'a', [], { JULIA_PKG_SERVER_TOKEN: 'secret' })
    )!;
    const b = ijulia('b', 'b', [], { JULIA_PKG_SERVER_TOKEN: 'other' });
    const c = ijulia('c', 'c');
    expect(kernelspecAffinity(a, b)).toBeGreaterThan(kernelspecAffinity(a, c));
  });
});
