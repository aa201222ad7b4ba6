import { Signal } from '@lumino/signaling';
import { trackUserEdits, userContent } from '../recorder/unsaved';

function fakeContext(cells: any[]) {
  let resolve!: () => void;
  const ready = new Promise<void>(r => (resolve = r));
  const fileChanged = new Signal<any, any>({});
  const model = {
    dirty: false,
    notebook: {
      metadata: {} as any,
      cells
    },
    toJSON() {
      return JSON.parse(JSON.stringify(this.notebook));
    }
  };
  return { ready, resolve, fileChanged, model };
}

const code = (source: string | string[], extra: any = {}) => ({
  cell_type: 'code',
  source,
  metadata: {},
  outputs: [],
  execution_count: null,
  ...extra
});

describe('trackUserEdits', () => {
  it('is false after open although the model is dirty and the kernel wrote metadata', async () => {
    const ctx = fakeContext([code('x = 1')]);
    const unsaved = trackUserEdits(ctx);
    ctx.resolve();
    await ctx.ready;
    ctx.model.dirty = true;
    ctx.model.notebook.metadata.language_info = { name: 'julia' };
    ctx.model.notebook.metadata.kernelspec = { name: 'julia-1.11' };
    ctx.model.notebook.cells[0] = code('x = 1', {
      id: 'abc',
      outputs: [{ output_type: 'stream', text: '1' }],
      execution_count: 3
    });
    expect(unsaved()).toBe(false);
  });

  it('is true when the user edits a cell, false again after saving', async () => {
    const ctx = fakeContext([code('x = 1')]);
    const unsaved = trackUserEdits(ctx);
    ctx.resolve();
    await ctx.ready;
    ctx.model.dirty = true;
    ctx.model.notebook.cells[0] = code('x = 2');
    expect(unsaved()).toBe(true);
    ctx.fileChanged.emit({}); // saved
    expect(unsaved()).toBe(false);
    ctx.model.notebook.cells.push({ cell_type: 'markdown', source: '# hi' });
    expect(unsaved()).toBe(true);
  });

  it('is false when the model is not dirty or not loaded yet', async () => {
    const ctx = fakeContext([code('x = 1')]);
    const unsaved = trackUserEdits(ctx);
    ctx.model.dirty = true;
    expect(unsaved()).toBe(false);
    ctx.resolve();
    await ctx.ready;
    ctx.model.notebook.cells[0] = code('y');
    ctx.model.dirty = false;
    expect(unsaved()).toBe(false);
  });

  it('ignores blank cells (run-and-advance appends one), not a cleared cell', async () => {
    const ctx = fakeContext([code('x = 1'), code('y = 2')]);
    const unsaved = trackUserEdits(ctx);
    ctx.resolve();
    await ctx.ready;
    ctx.model.dirty = true;
    ctx.model.notebook.cells.push(code(''), code(' \n'));
    expect(unsaved()).toBe(false);
    ctx.model.notebook.cells[1] = code('');
    expect(unsaved()).toBe(true);
  });

  it('treats list and string sources alike', () => {
    expect(userContent({ cells: [code(['a\n', 'b'])] })).toBe(
      userContent({ cells: [code('a\nb')] })
    );
  });
});
