/**
 * Issue 19, the honest JupyterLab range: JupyterLab's own check of it. Module federation
 * logs "Unsatisfied version <has> from <where> of shared singleton module <name>
 * (required <range>)" when an extension requires a shared package above what this
 * JupyterLab has. Other extensions log it too (nbdime's, built for older JupyterLabs,
 * requires @jupyter/ydoc ^3): only the (name, range) pairs that OUR built extension
 * requires count.
 */
import { Page } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

const STATIC = path.join(
  __dirname,
  '..',
  '..',
  'jupyterlab_deardiary',
  'labextension',
  'static'
);

/** "<name> <range>" of every shared package our built remoteEntry consumes. */
function ourRequirements(): Set<string> {
  const entry = fs
    .readdirSync(STATIC)
    .find(f => /^remoteEntry\.[0-9a-f]+\.js$/.test(f));
  if (!entry) {
    throw new Error(`no remoteEntry in ${STATIC}: build the extension first`);
  }
  const text = fs.readFileSync(path.join(STATIC, entry), 'utf8');
  const pairs = [
    ...text.matchAll(
      /shareKey: "([^"]+)", import: [^,]*, requiredVersion: "([^"]+)"/g
    )
  ].map(m => `${m[1]} ${m[2]}`);
  if (!pairs.some(p => p.startsWith('@jupyterlab/application '))) {
    throw new Error(`cannot read the shared packages of ${entry}`);
  }
  return new Set(pairs);
}

/**
 * From now on, collect the unsatisfied-version warnings about what our extension
 * requires (listen before the page loads: the check runs while JupyterLab starts).
 */
export function unsatisfiedOfOurs(page: Page): string[] {
  const ours = ourRequirements();
  const found: string[] = [];
  page.on('console', m => {
    const hit = /shared singleton module (\S+) \(required ([^)]+)\)/.exec(
      m.text()
    );
    if (
      /Unsatisfied version/.test(m.text()) &&
      hit &&
      ours.has(`${hit[1]} ${hit[2]}`)
    ) {
      found.push(m.text());
    }
  });
  return found;
}
