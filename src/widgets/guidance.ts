/**
 * First-run guidance: when the server has no Julia kernelspec, the sidebar says so and a
 * notification (once per browser: remembered in its localStorage) gives the
 * Julia commands that install IJulia and its kernel; commands that need a Julia notebook
 * say why they are disabled. Loaded at start-up: no views here but the small guidance box.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { KernelSpec } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

/** What to type at the julia> prompt to install IJulia (it installs its kernelspec). */
export const INSTALL_IJULIA = 'using Pkg; Pkg.add("IJulia")';
/** When JupyterLab still lists no Julia kernel: install the kernelspec again. */
export const INSTALL_KERNEL = 'using IJulia; IJulia.installkernel("Julia")';
/** The localStorage key that remembers the notification was shown. */
export const GUIDANCE_STATE = 'jupyterlab-deardiary:guidance';

/** Whether `specs` hold a Julia kernelspec (null: not known yet). */
export function hasJuliaKernel(
  specs: KernelSpec.ISpecModels | null | undefined
): boolean | null {
  if (!specs) {
    return null;
  }
  return Object.values(specs.kernelspecs).some(
    spec => spec?.language?.toLowerCase() === 'julia'
  );
}

/**
 * Why a command that works on a Julia notebook is disabled, in a few words (for its label
 * in the palette and menus), or null when it is not.
 */
export function whyDisabled(
  trans: TranslationBundle,
  state: { julia: boolean | null; notebook: boolean; enabled: boolean }
): string | null {
  if (state.enabled) {
    return null;
  }
  if (state.julia === false) {
    return trans.__('no Julia kernel installed');
  }
  return state.notebook
    ? trans.__('this notebook’s kernel is not Julia')
    : trans.__('open a Julia notebook first');
}

/** `label`, followed by why it is disabled when it is. */
export function labelWhy(label: string, why: string | null): string {
  return why ? `${label} (${why})` : label;
}

export interface IJuliaGuideOptions {
  kernelspecs: KernelSpec.IManager;
  trans: TranslationBundle;
  /** Where "shown once" is remembered (default: the browser's localStorage). */
  storage?: Pick<Storage, 'getItem' | 'setItem'>;
}

/** Follows the server's kernelspecs: is a Julia kernel installed? */
export class JuliaGuide {
  constructor(private readonly _o: IJuliaGuideOptions) {
    _o.kernelspecs.specsChanged.connect(() => this._update(), this);
    this._update();
  }

  /** A Julia kernelspec exists (null: the kernelspecs are not known yet). */
  get installed(): boolean | null {
    return this._installed;
  }

  get changed(): ISignal<this, boolean | null> {
    return this._changed;
  }

  get trans(): TranslationBundle {
    return this._o.trans;
  }

  /** Ask the server for its kernelspecs again (after installing IJulia). */
  async check(): Promise<boolean | null> {
    await this._o.kernelspecs.refreshSpecs();
    this._update();
    return this._installed;
  }

  /**
   * Once the kernelspecs are known and none is Julia: a notification with the commands,
   * unless it was shown before in this browser.
   */
  async notifyOnce(): Promise<boolean> {
    await this._o.kernelspecs.ready;
    this._update();
    if (this._installed !== false) {
      return false;
    }
    const storage = this._o.storage ?? window.localStorage;
    try {
      if (storage.getItem(GUIDANCE_STATE)) {
        return false;
      }
      storage.setItem(GUIDANCE_STATE, new Date().toISOString());
    } catch {
      // storage refused (private mode): shown, not remembered
    }
    const trans = this._o.trans;
    Notification.warning(
      trans.__(
        'No Julia kernel is installed. In Julia, run: %1',
        INSTALL_IJULIA
      ),
      {
        autoClose: false,
        actions: [
          {
            label: trans.__('How to install'),
            callback: () => void this.showHowTo()
          }
        ]
      }
    );
    return true;
  }

  /** The dialog with the steps, and a button that checks again. */
  async showHowTo(): Promise<void> {
    const trans = this._o.trans;
    const body = new Widget();
    body.addClass('jp-DearDiary-guidanceDialog');
    body.node.append(...steps(trans));
    const answer = await showDialog({
      title: trans.__('Install a Julia kernel (IJulia)'),
      body,
      buttons: [
        Dialog.cancelButton({ label: trans.__('Close') }),
        Dialog.okButton({ label: trans.__('Check again') })
      ]
    });
    if (answer.button.accept) {
      const found = await this.check();
      Notification.emit(
        found
          ? trans.__('A Julia kernel is installed: open a Julia notebook.')
          : trans.__(
              'Still no Julia kernel: see the steps in the DearDiary sidebar.'
            ),
        found ? 'success' : 'warning',
        { autoClose: 5000 }
      );
    }
  }

  private _update(): void {
    const installed = hasJuliaKernel(this._o.kernelspecs.specs);
    if (installed !== this._installed) {
      this._installed = installed;
      this._changed.emit(installed);
    }
  }

  private _installed: boolean | null = null;
  private _changed = new Signal<this, boolean | null>(this);
}

/** The steps as nodes: what is missing, the Julia commands, how JupyterLab finds it. */
function steps(trans: TranslationBundle): HTMLElement[] {
  const p = (text: string) => {
    const node = document.createElement('p');
    node.textContent = text;
    return node;
  };
  const code = (text: string) => {
    const node = document.createElement('pre');
    node.textContent = text;
    node.tabIndex = 0;
    node.setAttribute('aria-label', trans.__('Julia command: %1', text));
    return node;
  };
  return [
    p(
      trans.__(
        'DearDiary records Julia notebooks, and this server has no Julia kernel. Start Julia (julialang.org/install) in a terminal, as the user that runs JupyterLab, and type at the julia> prompt:'
      )
    ),
    code(INSTALL_IJULIA),
    p(
      trans.__(
        'This installs IJulia and its kernel (julia-<version>) where Jupyter looks for kernels. Reload this page: the launcher then offers Julia. If it still does not, install the kernel again and check it is listed by `jupyter kernelspec list`:'
      )
    ),
    code(INSTALL_KERNEL)
  ];
}

/**
 * The sidebar's box: what is missing and the commands, with a button for the whole
 * dialog. Shown while the guide says no Julia kernel is installed.
 */
export function guidanceBox(guide: JuliaGuide): HTMLElement {
  const trans = guide.trans;
  const box = document.createElement('section');
  box.className = 'jp-DearDiary-guidance';
  box.setAttribute('role', 'note');
  box.setAttribute('aria-label', trans.__('No Julia kernel installed'));
  const title = document.createElement('p');
  const strong = document.createElement('strong');
  strong.textContent = trans.__('No Julia kernel is installed.');
  title.append(strong);
  const more = document.createElement('button');
  more.type = 'button';
  more.className = 'jp-Button jp-mod-styled jp-mod-small';
  more.textContent = trans.__('How to install…');
  more.addEventListener('click', () => void guide.showHowTo());
  box.append(title, ...steps(trans), more);
  const show = () => {
    box.hidden = guide.installed !== false;
  };
  guide.changed.connect(show);
  show();
  return box;
}
