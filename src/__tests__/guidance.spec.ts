import { Notification } from '@jupyterlab/apputils';
import { KernelSpec } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';
import { trans } from './helpers/trans';
import {
  GUIDANCE_STATE,
  guidanceBox,
  hasJuliaKernel,
  INSTALL_IJULIA,
  JuliaGuide,
  labelWhy,
  whyDisabled
} from '../widgets/guidance';

jest.mock('@jupyterlab/apputils', () => ({
  Notification: { warning: jest.fn(), emit: jest.fn() },
  showDialog: jest.fn(),
  Dialog: { okButton: jest.fn(), cancelButton: jest.fn() }
}));

const spec = (name: string, language: string): KernelSpec.ISpecModel => ({
  name,
  display_name: name,
  language,
  argv: [],
  resources: {}
});
const specs = (...list: KernelSpec.ISpecModel[]): KernelSpec.ISpecModels => ({
  default: list[0]?.name ?? '',
  kernelspecs: Object.fromEntries(list.map(s => [s.name, s]))
});

/** A kernelspec manager at the seam: its specs are set by the test. */
class Specs {
  specs: KernelSpec.ISpecModels | null = null;
  specsChanged = new Signal<this, KernelSpec.ISpecModels>(this);
  ready = Promise.resolve();
  next: KernelSpec.ISpecModels | null = null;
  set(value: KernelSpec.ISpecModels): void {
    this.specs = value;
    this.specsChanged.emit(value);
  }
  async refreshSpecs(): Promise<void> {
    if (this.next) {
      this.set(this.next);
    }
  }
}

const memory = () => {
  const map = new Map<string, string>();
  return {
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, v)
  };
};

describe('first-run guidance', () => {
  beforeEach(() => jest.clearAllMocks());

  it('finds a Julia kernelspec by its language, whatever its name', () => {
    expect(hasJuliaKernel(null)).toBeNull();
    expect(hasJuliaKernel(specs(spec('python3', 'python')))).toBe(false);
    expect(
      hasJuliaKernel(specs(spec('python3', 'python'), spec('my-env', 'Julia')))
    ).toBe(true);
  });

  it('says why a command is disabled, first the missing Julia', () => {
    const why = (julia: boolean | null, notebook: boolean, enabled = false) =>
      whyDisabled(trans, { julia, notebook, enabled });
    expect(why(false, true)).toBe('no Julia kernel installed');
    expect(why(true, false)).toBe('open a Julia notebook first');
    expect(why(null, true)).toBe('this notebook’s kernel is not Julia');
    expect(why(false, false, true)).toBeNull();
    expect(labelWhy('Snapshot', 'open a Julia notebook first')).toBe(
      'Snapshot (open a Julia notebook first)'
    );
    expect(labelWhy('Snapshot', null)).toBe('Snapshot');
  });

  it('notifies once, with the Julia command in the visible part', async () => {
    const manager = new Specs();
    manager.set(specs(spec('python3', 'python')));
    const storage = memory();
    const guide = new JuliaGuide({
      kernelspecs: manager as unknown as KernelSpec.IManager,
      trans,
      storage
    });
    expect(guide.installed).toBe(false);
    expect(await guide.notifyOnce()).toBe(true);
    expect(Notification.warning).toHaveBeenCalledTimes(1);
    const [message, options] = (Notification.warning as jest.Mock).mock
      .calls[0];
    expect(message).toBe(
      `No Julia kernel is installed. In Julia, run: ${INSTALL_IJULIA}`
    );
    expect(options.autoClose).toBe(false);
    expect(options.actions[0].label).toBe('How to install');
    expect(storage.getItem(GUIDANCE_STATE)).not.toBeNull();
    // a second page load of the same browser: not again
    const again = new JuliaGuide({
      kernelspecs: manager as unknown as KernelSpec.IManager,
      trans,
      storage
    });
    expect(await again.notifyOnce()).toBe(false);
    expect(Notification.warning).toHaveBeenCalledTimes(1);
  });

  it('says nothing when a Julia kernel exists; the sidebar box follows the kernelspecs', async () => {
    const manager = new Specs();
    manager.set(specs(spec('python3', 'python')));
    const guide = new JuliaGuide({
      kernelspecs: manager as unknown as KernelSpec.IManager,
      trans,
      storage: memory()
    });
    const box = guidanceBox(guide);
    expect(box.hidden).toBe(false);
    expect(box.textContent).toContain(INSTALL_IJULIA);
    expect(box.textContent).toContain('IJulia.installkernel("Julia")');
    manager.next = specs(
      spec('python3', 'python'),
      spec('julia-1.10', 'julia')
    );
    expect(await guide.check()).toBe(true);
    expect(box.hidden).toBe(true);
    expect(await guide.notifyOnce()).toBe(false);
    expect(Notification.warning).not.toHaveBeenCalled();
  });
});
