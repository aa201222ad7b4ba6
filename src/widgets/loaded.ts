/**
 * Parts of the run details about what the kernel ran with beyond its project: packages
 * loaded from other environments of the stacked LOAD_PATH, and the kernelspec.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { IKernelspecRecord } from '../kernel/kernelspec';
import { outsideEnvironments } from '../manifest/loaded';
import { IRunDetail } from '../store/types';

/**
 * "Loaded from outside the active project": per environment, its packages (name,
 * version) and whether its files were recorded. null when there is nothing to say
 * (none, or a run captured before loaded packages were recorded).
 */
export function outsideSection(
  trans: TranslationBundle,
  run: IRunDetail
): HTMLElement | null {
  const capture = run.capture;
  const envs = outsideEnvironments(capture);
  if (!envs.length && !capture.loaded_error) {
    return null;
  }
  const node = document.createElement('section');
  node.className = 'jp-DearDiary-section jp-DearDiary-outside';
  node.append(el('h4', '', trans.__('Loaded from outside the active project')));
  if (capture.loaded_error) {
    node.append(el('p', 'jp-DearDiary-warning', capture.loaded_error));
  }
  for (const env of envs) {
    const where = env.environment.is_global
      ? trans.__('Global environment %1', env.path)
      : trans.__('Environment %1', env.path);
    const table = document.createElement('table');
    table.className = 'jp-DearDiary-loaded';
    table.setAttribute('aria-label', where);
    const head = table.createTHead().insertRow();
    for (const h of [
      trans.__('Package'),
      trans.__('Version'),
      trans.__('Environment')
    ]) {
      const th = document.createElement('th');
      th.textContent = h;
      head.append(th);
    }
    const body = table.createTBody();
    for (const p of env.packages) {
      const row = body.insertRow();
      row.insertCell().textContent = env.kernel_packages.includes(p.name)
        ? trans.__('%1 (the kernel\u2019s)', p.name)
        : p.name;
      row.insertCell().textContent = p.version ?? trans.__('unknown');
      row.insertCell().textContent = env.environment.is_global
        ? trans.__('global (%1)', env.path)
        : env.path;
      if (p.uuid) {
        row.title = p.uuid;
      }
    }
    const note = env.files.length
      ? trans.__(
          'Its %1 were recorded with the run; a restore can carry them along.',
          env.files.map(f => f.name).join(', ')
        )
      : env.environment.error
        ? trans.__(
            'Its files were not recorded: %1',
            env.environment.error.message
          )
        : trans.__('Its files were not recorded.');
    node.append(table, el('p', 'jp-DearDiary-outsideNote', note));
  }
  return node;
}

/** Rows for the kernel's command line and environment (none for older runs). */
export function kernelspecRows(
  trans: TranslationBundle,
  spec: IKernelspecRecord | null | undefined
): Array<[string, string]> {
  if (!spec) {
    return [];
  }
  const env = Object.entries(spec.env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  return [
    [trans.__('Kernel command'), spec.argv.join(' ')],
    [trans.__('Kernel env'), env || trans.__('none')]
  ];
}

function el(tag: string, className: string, text: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}
