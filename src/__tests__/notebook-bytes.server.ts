/**
 * The editor's notebook serialized as a save writes it: a real jupyter_server saves the
 * same JSON through the contents API (what JupyterLab's save sends: model.toJSON()),
 * and its file's bytes must equal serializeNotebook's, byte for byte.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ContentsManager } from '@jupyterlab/services';
import { notebookText, serializeNotebook } from '../recorder/notebook-bytes';
import { useServer } from './helpers/server';

/** A notebook with what a writer can get wrong (key order, line splitting, numbers, escapes). */
function trickyNotebook(): any {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: {
        name: 'julia-1.10',
        display_name: 'Julia 1.10',
        language: 'julia'
      },
      language_info: { name: 'julia', version: '1.10.4' },
      orig_nbformat: 4,
      zeta: {
        b: 1,
        a: [0.1, 1e-7, 1e21, 123456789012345680000, -2.5e-5, 1.5e300, 0]
      },
      é: 'ünïcödé 😀',
      Z: 'capital first',
      '\u00e9a': 1,
      '\ud83d\ude00': 'astral key',
      '\uffff': 'bmp',
      deardiary: { format: 1, run_id: 3, snapshot_id: 'abc-1' }
    },
    cells: [
      {
        id: 'c1',
        cell_type: 'code',
        execution_count: 3,
        metadata: { trusted: true, collapsed: false },
        source: 'x = 1\r\ny = "a\\tb"\rz = 3\u2028w\x0bv\x1cu\n\nlast',
        outputs: [
          { output_type: 'stream', name: 'stdout', text: 'one\ntwo\n' },
          {
            output_type: 'execute_result',
            execution_count: 3,
            metadata: {},
            data: {
              'text/plain': '2×2 Matrix\n 1  2\n 3  4',
              'text/html': '<b>x</b>\n',
              'application/json': { k: 'v\nw', n: 2.0 },
              'image/png': 'iVBORw0KGgo=\n',
              'image/svg+xml': '<svg>\n</svg>'
            }
          },
          {
            output_type: 'error',
            ename: 'Err',
            evalue: 'ctrl \u0001 char "quoted" \\ back',
            traceback: ['line\nwith newline']
          }
        ]
      },
      {
        id: 'c2',
        cell_type: 'markdown',
        metadata: {},
        source: '',
        attachments: { 'a.png': { 'image/png': 'AAAA', 'text/plain': 'a\nb' } }
      },
      { id: 'c3', cell_type: 'raw', metadata: {}, source: 'no newline at end' }
    ]
  };
}

describe('serializeNotebook against a real save', () => {
  const suite = useServer();

  it('writes the bytes jupyter_server writes for the same model JSON', async () => {
    const contents = new ContentsManager({
      serverSettings: suite.server.settings
    });
    for (const [name, nb] of [
      ['tricky.ipynb', trickyNotebook()],
      [
        'plain.ipynb',
        { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }
      ]
    ] as const) {
      await contents.save(name, {
        type: 'notebook',
        format: 'json',
        content: nb
      });
      const onDisk = fs.readFileSync(path.join(suite.server.root, name));
      expect(notebookText(nb)).toBe(onDisk.toString('utf8'));
      expect(Buffer.from(serializeNotebook(nb)).equals(onDisk)).toBe(true);
    }
    // Plain JSON.stringify(model, null, 1) is not what a save writes (sorted keys, split
    // lines, Python's floats): the serializer is needed.
    const tricky = fs.readFileSync(
      path.join(suite.server.root, 'tricky.ipynb'),
      'utf8'
    );
    expect(JSON.stringify(trickyNotebook(), null, 1) + '\n').not.toBe(tricky);
  });
});
