/**
 * lab2prod in JupyterLab: the pipeline a notebook will become, live, with convert, verify,
 * check and run one click away. Everything shown comes from lab2prod's server extension, which
 * calls the same library functions as the `kedro notebook` commands.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';

import { PANEL_ID, PipelinePanel } from './panel';
import { SyncStatusExtension } from './status';
import { COMMANDS, addTagCommands } from './tags';
import { WatchRegistry } from './watch';

const OPEN_PANEL = 'lab2prod:open-panel';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'lab2prod:plugin',
  description: 'The pipeline a notebook will become, with convert, verify and sync one click away.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const watches = new WatchRegistry();
    const openFile = (path: string) =>
      void app.commands.execute('docmanager:open', { path });
    const panel = new PipelinePanel(tracker, watches, openFile);
    app.shell.add(panel, 'right', { rank: 650 });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(OPEN_PANEL, {
      label: 'Show the pipeline panel',
      caption: 'lab2prod: the pipeline the active notebook will become',
      execute: () => app.shell.activateById(PANEL_ID)
    });
    app.docRegistry.addWidgetExtension(
      'Notebook',
      new SyncStatusExtension(watches, () => app.shell.activateById(PANEL_ID))
    );

    addTagCommands(app, tracker);
    for (const command of [OPEN_PANEL, COMMANDS.node, COMMANDS.skip, COMMANDS.parameters]) {
      palette?.addItem({ command, category: 'lab2prod' });
    }
    const selector = '.jp-Notebook .jp-Cell';
    app.contextMenu.addItem({ type: 'separator', selector, rank: 60 });
    app.contextMenu.addItem({ command: COMMANDS.node, selector, rank: 61 });
    app.contextMenu.addItem({ command: COMMANDS.skip, selector, rank: 62 });
    app.contextMenu.addItem({ command: COMMANDS.parameters, selector, rank: 63 });
  }
};

export default plugin;
