/**
 * The history sidebar as the share and MLflow plugins use it: the runs it marks or
 * selects, and buttons on its toolbar.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { CommandToolbarButton, LabIcon } from '@jupyterlab/ui-components';
import { Message, MessageLoop } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';
import type { HistoryPanel } from '../widgets/panel';

/** The history sidebar's shell in the left area (src/widgets/plugin.ts). */
const HISTORY_ID = 'jp-DearDiary-history';

function findShell(app: JupyterFrontEnd): Panel | null {
  for (const widget of app.shell.widgets('left')) {
    if (widget.id === HISTORY_ID) {
      return widget as Panel;
    }
  }
  return null;
}

/** The runs marked in the sidebar, or else the one selected there. */
function selectedIds(app: JupyterFrontEnd): number[] {
  const list = (findShell(app)?.widgets[0] as HistoryPanel | undefined)?.list;
  if (!list) {
    return [];
  }
  if (list.marked.length) {
    return list.marked.map(run => run.id);
  }
  return list.selected ? [list.selected.id] : [];
}

/** A command's `ids` argument, or else the runs marked (or selected) in the sidebar. */
export function targetIds(
  app: JupyterFrontEnd,
  args: Record<string, unknown>
): number[] {
  return Array.isArray(args.ids) ? (args.ids as number[]) : selectedIds(app);
}

export interface ISidebarButton {
  /** The command the button runs. */
  id: string;
  icon: LabIcon;
  /** The toolbar item's name (default: the command id). */
  name?: string;
  /** The button's text (default: the command's label). */
  label?: string;
}

/**
 * The buttons join the sidebar's toolbar once its panel exists; `refresh`'s state is
 * recomputed whenever the marked or selected runs change.
 */
export function addSidebarButtons(
  app: JupyterFrontEnd,
  buttons: ISidebarButton[],
  refresh: string
): void {
  const shell = findShell(app);
  if (!shell) {
    return;
  }
  const decorate = (panel: HistoryPanel) => {
    for (const { id, icon, name, label } of buttons) {
      panel.toolbar.addItem(
        name ?? id,
        new CommandToolbarButton({ commands: app.commands, id, icon, label })
      );
    }
    const changed = () => app.commands.notifyCommandChanged(refresh);
    panel.list.selectionChanged.connect(changed);
    panel.list.markedChanged.connect(changed);
  };
  if (shell.widgets.length) {
    decorate(shell.widgets[0] as HistoryPanel);
    return;
  }
  const hook = (_: unknown, msg: Message) => {
    if (msg.type === 'child-added') {
      MessageLoop.removeMessageHook(shell, hook);
      decorate((msg as Widget.ChildMessage).child as HistoryPanel);
    }
    return true;
  };
  MessageLoop.installMessageHook(shell, hook);
}
