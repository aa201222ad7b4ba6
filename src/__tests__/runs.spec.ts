/**
 * The server lists runs with a copy of RunStore's query (GET /deardiary/runs reads
 * jupyterlab_deardiary/list_runs.sql): the two texts must stay the same query.
 * runs.server.ts compares the rows both give.
 */
import * as fs from 'fs';
import * as path from 'path';
import { SUMMARY } from '../store/store';

/** The statement without comments, its words separated by single spaces. */
function statement(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

describe('the query of the run list', () => {
  it('is the same in the browser and on the server', () => {
    const server = fs.readFileSync(
      path.join(__dirname, '..', '..', 'jupyterlab_deardiary', 'list_runs.sql'),
      'utf-8'
    );
    expect(statement(server)).toBe(statement(SUMMARY));
    expect(statement(SUMMARY)).toMatch(/^SELECT i\.id, .* FROM iteration i /);
  });
});
