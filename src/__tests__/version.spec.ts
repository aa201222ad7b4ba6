import * as fs from 'fs';
import * as path from 'path';
import { VERSION } from '../version';

describe('version', () => {
  it('matches package.json so the server check compares the right thing', () => {
    const pkg = JSON.parse(
      fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')
    );
    expect(VERSION).toBe(pkg.version);
  });
});
