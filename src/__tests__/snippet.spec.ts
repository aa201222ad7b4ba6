/**
 * The "Copy Julia snippet" code: what a hostile store cannot get into it, and the real
 * test Julia running it on hostile-but-allowed names and contents.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { trans } from './helpers/trans';
import { isPlainFileName } from '../restore/names';
import { workspaceRun } from './helpers/workspace';
import {
  juliaSnippet,
  snippetPlan,
  juliaStringLiteral,
  SnippetError,
  snippetProblems
} from '../restore/snippet';
import { IRunDetail } from '../store/types';
import { RunDetails } from '../widgets/details';
import { FakeStoreAPI, makeRun, makeStore } from './helpers/sqljs';
import { runJulia, tree } from './helpers/julia';

const FIXTURE = path.join(__dirname, 'fixtures', 'stdlib-project');

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const entry = (name: string, bytes: Buffer) => ({
  name,
  sha256: sha(bytes),
  base64: bytes.toString('base64')
});

/** The bytes (hex) Julia keeps for a JavaScript string: UTF-8, lone surrogates too. */
function wtf8(text: string): string {
  const bytes: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    const tail = (shift: number) => 0x80 | ((c >> shift) & 0x3f);
    if (c < 0x80) {
      bytes.push(c);
    } else if (c < 0x800) {
      bytes.push(0xc0 | (c >> 6), tail(0));
    } else if (c < 0x10000) {
      bytes.push(0xe0 | (c >> 12), tail(6), tail(0));
    } else {
      bytes.push(0xf0 | (c >> 18), tail(12), tail(6), tail(0));
    }
  }
  return Buffer.from(bytes).toString('hex');
}

const GOOD_SHA = 'a'.repeat(64);

describe('what the snippet refuses', () => {
  it('accepts plain file names only', () => {
    for (const name of [
      'Project.toml',
      'Manifest-v1.11.toml',
      '$x "q".jl',
      'ü 😀'
    ]) {
      expect(isPlainFileName(name)).toBe(true);
    }
    for (const name of [
      '',
      '.',
      '..',
      '../../.julia/config/startup.jl',
      'a/b',
      '/etc/passwd',
      'a\\b',
      'C:startup.jl',
      'a\0b',
      'line\nbreak',
      'tab\t',
      '\x7f',
      '\x85',
      'txt.\u202eljs',
      '\u2066x\u2069',
      '\u200f',
      '\ud800',
      'x\udc00',
      42,
      null
    ]) {
      expect(isPlainFileName(name)).toBe(false);
    }
  });

  it('lists bad names, repeated names and sha256 values that are not 64 lowercase hex', () => {
    expect(
      snippetProblems([
        { name: 'Project.toml', sha256: GOOD_SHA },
        { name: '../../.julia/config/startup.jl', sha256: GOOD_SHA },
        { name: 'Project.toml', sha256: GOOD_SHA },
        { name: 'Manifest.toml', sha256: 'A'.repeat(64) },
        { name: 'a', sha256: `${'a'.repeat(63)}"` },
        { name: 'b', sha256: `${GOOD_SHA}\n$(run(\`x\`))` },
        { name: 'c', sha256: 'a'.repeat(63) }
      ])
    ).toEqual([
      { code: 'bad-name', name: '../../.julia/config/startup.jl' },
      { code: 'duplicate-name', name: 'Project.toml' },
      { code: 'bad-sha256', name: 'Manifest.toml' },
      { code: 'bad-sha256', name: 'a' },
      { code: 'bad-sha256', name: 'b' },
      { code: 'bad-sha256', name: 'c' }
    ]);
  });

  it('builds no snippet for a refused name, sha256 or folder', () => {
    const file = { name: 'Project.toml', sha256: GOOD_SHA, base64: '' };
    const refused = (folder: string, f: typeof file) => {
      try {
        juliaSnippet(folder, [f]);
      } catch (error) {
        expect(error).toBeInstanceOf(SnippetError);
        return (error as SnippetError).problems.map(p => p.code);
      }
      throw new Error('a snippet was built');
    };
    expect(refused('iteration_1', { ...file, name: '$(run(`x`))/a' })).toEqual([
      'bad-name'
    ]);
    expect(refused('iteration_1', { ...file, sha256: '$(run(`x`))' })).toEqual([
      'bad-sha256'
    ]);
    expect(refused('../x', file)).toEqual(['bad-folder']);
  });

  it('escapes every value into ASCII Julia source', () => {
    const code = juliaSnippet('iteration_1', [
      { name: '$(run(`x`)) "q" ü😀', sha256: GOOD_SHA, base64: '$"\\' }
    ]);
    expect(code).toMatch(/^[\x20-\x7e\n]*$/);
    expect(code).toContain(
      '(["\\$(run(`x`)) \\"q\\" \\u00fc\\U0001f600"], "' + GOOD_SHA + '",'
    );
    expect(code).toContain('"\\$\\"\\\\"),');
    expect(code).not.toMatch(/[^\\]\$/);
  });

  it('escapes any string to a literal Julia reads back exactly (lone surrogates too)', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 48271) % 0x7fffffff;
      return seed % n;
    };
    const strings = [
      '',
      '$(run(`touch MARKER`))',
      '$x \\$y "\\"" \\',
      '\r\n\t\0\x7f\x80\x9f\u00a0',
      '\u202e\u2066\ufeff\uffff',
      '\ud800',
      'a\udfffb',
      '\udbff\udfff\ud83d\ude00',
      '\u00e91\u00e9f\x01f',
      Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('')
    ];
    for (let i = 0; i < 200; i++) {
      strings.push(
        String.fromCharCode(
          ...Array.from({ length: random(12) }, () =>
            random(4) ? random(0x10000) : random(0x80)
          )
        )
      );
    }
    const code = `for s in [${strings.map(juliaStringLiteral).join(',\n')}]
    println(bytes2hex(Vector{UInt8}(codeunits(s))))
end
`;
    const run = runJulia(code);
    expect(run.stderr).toBe('');
    expect(run.stdout.split('\n').slice(0, -1)).toEqual(strings.map(wtf8));
    expect(tree(run.work)).toEqual([]);
  });
});

describe('the details view', () => {
  async function clickCopy(edit: (run: IRunDetail) => void) {
    const store = makeStore(new FakeStoreAPI());
    const { run: summary } = await store.addRun(makeRun());
    const run = await store.getRun(summary.id);
    edit(run);
    const copySnippet = jest.fn(async () => undefined);
    const view = new RunDetails(trans, {
      copySnippet,
      saveNote: jest.fn(),
      deleteRun: jest.fn(),
      viewFile: jest.fn(),
      restore: jest.fn()
    });
    view.render(run, []);
    const copy = [...view.node.querySelectorAll('button')].find(
      b => b.textContent === 'Copy Julia snippet'
    )!;
    copy.click();
    await Promise.resolve();
    return {
      copySnippet,
      alert: view.node.querySelector('[role="alert"]')?.textContent ?? null
    };
  }

  it('copies the snippet of an ordinary run', async () => {
    const { copySnippet, alert } = await clickCopy(() => undefined);
    expect(copySnippet).toHaveBeenCalledTimes(1);
    expect(alert).toBeNull();
  });

  it('copies nothing and says why for a hostile name or sha256', async () => {
    const { copySnippet, alert } = await clickCopy(run => {
      run.files[0].name = '../../.julia/config/startup.jl';
      run.files[1].sha256 = '$(run(`touch MARKER`))';
    });
    expect(copySnippet).not.toHaveBeenCalled();
    expect(alert).toContain('No snippet was copied');
    expect(alert).toContain(
      '"../../.julia/config/startup.jl" is not a plain file name'
    );
    expect(alert).toContain('The sha256 of "Manifest.toml" is not 64');
  });
});

describe('the snippet under the test Julia', () => {
  const project = fs.readFileSync(path.join(FIXTURE, 'Project.toml'));
  const manifest = fs.readFileSync(path.join(FIXTURE, 'Manifest.toml'));
  /** Names a store may hold and contents the snippet must carry as they are. */
  const hostile = [
    entry('$(touch(repr(42)))', Buffer.from('x')),
    entry('$x "quoted" `cmd`.txt', Buffer.from('$x')),
    entry(
      'ünï©ødé 😀.jl',
      Buffer.from('$(run(`touch MARKER`))\n"\\ \\" $x \\$y\r\n\t"""')
    ),
    entry('bytes.bin', Buffer.from([0xff, 0xfe, 0x00, 0xc0, 0x80, 0x24, 0x22]))
  ];
  const files = [
    entry('Project.toml', project),
    entry('Manifest.toml', manifest),
    ...hostile
  ];

  it('writes the exact files, verified, and instantiates the project', () => {
    const code =
      juliaSnippet('iteration_7', files) +
      'println("ACTIVE=", Base.active_project())\n';
    const run = runJulia(code);
    expect(run.error).toBeUndefined();
    expect(run.stderr).not.toMatch(/ERROR/);
    expect(run.status).toBe(0);
    const target = path.join(run.work, 'iteration_7');
    expect(run.stdout).toContain(
      `ACTIVE=${path.join(fs.realpathSync(target), 'Project.toml')}`
    );
    // Nothing else in the working folder or next to it, no marker anywhere.
    expect(tree(run.work)).toEqual(
      ['iteration_7', ...files.map(f => `iteration_7/${f.name}`)].sort()
    );
    const outside = fs.readdirSync(run.root).filter(n => n !== 'depot');
    expect(outside.sort()).toEqual(['code.jl', 'work']);
    for (const f of files) {
      expect(
        fs.readFileSync(path.join(target, f.name)).toString('base64')
      ).toBe(f.base64);
    }
  });

  it('writes nothing when one sha256 does not match', () => {
    const wrong = { ...files[2], sha256: sha(Buffer.from('other')) };
    const run = runJulia(juliaSnippet('iteration_7', [files[0], wrong]));
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('sha256 mismatch');
    expect(tree(run.work)).toEqual([]);
  });
});

describe('the snippet of a Julia 1.12 workspace member', () => {
  it('plans the workspace layout and activates the member', async () => {
    const store = makeStore(new FakeStoreAPI());
    const { run: added } = await store.addRun(workspaceRun());
    const run = await store.getRun(added.id);
    const plan = snippetPlan(run);
    expect(plan.project).toBe('core');
    expect(plan.files.map(f => `${f.folder}/${f.name}`).sort()).toEqual([
      '/Manifest.toml',
      '/Project.toml',
      'core/Project.toml',
      'core/test/Project.toml'
    ]);
    expect(snippetProblems(plan.files)).toEqual([]);
    // Recorded before the workspace's files were: flat, as before.
    const old = await store.addRun(workspaceRun({ unrecorded: true }));
    const flat = snippetPlan(await store.getRun(old.run.id));
    expect(flat.project).toBe('');
    expect(flat.files.map(f => f.name).sort()).toEqual([
      'Manifest.toml',
      'Project.toml'
    ]);
  });

  it('refuses a folder that is not made of plain names', () => {
    const file = { name: 'Project.toml', sha256: GOOD_SHA, base64: '' };
    for (const folder of ['..', 'core/../..', '/abs', 'a\\b', 'a//b']) {
      expect(snippetProblems([{ ...file, folder }])).toEqual([
        { code: 'bad-name', name: `${folder}/Project.toml` }
      ]);
      expect(() => juliaSnippet('iteration_1', [file], folder)).toThrow(
        SnippetError
      );
    }
  });

  it('writes the layout under the test Julia and activates the member folder', () => {
    const project = fs.readFileSync(path.join(FIXTURE, 'Project.toml'));
    const manifest = fs.readFileSync(path.join(FIXTURE, 'Manifest.toml'));
    const files = [
      { ...entry('Project.toml', project), folder: '' },
      { ...entry('Manifest.toml', manifest), folder: '' },
      { ...entry('Project.toml', project), folder: 'core' },
      {
        ...entry('Project.toml', Buffer.from('name = "T"\n')),
        folder: 'core/test'
      }
    ];
    // Julia 1.5 knows no workspaces: the member cannot be instantiated here (1.12's
    // job); the layout and the activated folder are what the snippet decides.
    const code = juliaSnippet('iteration_3', files, 'core').replace(
      /^Pkg\.instantiate\(\).*$/m,
      ''
    );
    const run = runJulia(code + 'println("ACTIVE=", Base.active_project())\n');
    expect(run.stderr).not.toMatch(/ERROR/);
    expect(run.status).toBe(0);
    const target = path.join(run.work, 'iteration_3');
    expect(run.stdout).toContain(
      `ACTIVE=${path.join(fs.realpathSync(target), 'core', 'Project.toml')}`
    );
    expect(tree(run.work)).toEqual([
      'iteration_3',
      'iteration_3/Manifest.toml',
      'iteration_3/Project.toml',
      'iteration_3/core',
      'iteration_3/core/Project.toml',
      'iteration_3/core/test',
      'iteration_3/core/test/Project.toml'
    ]);
    for (const f of files) {
      const written = path.join(target, f.folder, f.name);
      expect(fs.readFileSync(written).toString('base64')).toBe(f.base64);
    }
  });
});
