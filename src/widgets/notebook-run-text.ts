/**
 * The words of the notebook toolbar's run item (notebook-run.ts), apart from its widget
 * so that they are tested without JupyterLab's DOM.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { RunLink, shortSha } from '../recorder/run-metadata';

/** The item's text and hover text for a link (null: the notebook names no run). */
export function describeLink(
  trans: TranslationBundle,
  link: RunLink | null
): { text: string; title: string } | null {
  if (!link) {
    return null;
  }
  const m = link.metadata;
  const manifest = m.manifest
    ? trans.__('manifest %1', shortSha(m.manifest.sha256))
    : trans.__('no manifest');
  const hashes = [
    m.project ? `${m.project.name}: ${m.project.sha256}` : '',
    m.manifest ? `${m.manifest.name}: ${m.manifest.sha256}` : ''
  ].filter(Boolean);
  if (link.state === 'run') {
    const run = link.run;
    return {
      text: trans.__(
        'outputs from run #%1 · Julia %2 · %3',
        run.number,
        run.julia_version || m.julia_version,
        manifest
      ),
      title: [
        trans.__(
          'The outputs of this notebook come from run #%1 of %2 (%3). Click to show it.',
          run.number,
          run.notebook_path,
          new Date(run.created_at).toLocaleString()
        ),
        ...hashes
      ].join('\n')
    };
  }
  return {
    text: trans.__('outputs from a run not in this store · %1', manifest),
    title: [
      trans.__(
        'The outputs come from a run recorded elsewhere (Julia %1, %2); it is not in this store. Drift compares the kernel with its hashes:',
        m.julia_version,
        m.created_at ? new Date(m.created_at).toLocaleString() : '?'
      ),
      ...hashes
    ].join('\n')
  };
}
