/** The notebook toolbar item: is this notebook's pipeline in sync, stale, or not converted? */
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { STATE_LABELS } from './panel';
import { WatchRegistry } from './watch';

export class SyncStatus extends Widget {
  constructor(
    panel: NotebookPanel,
    watches: WatchRegistry,
    onClick: () => void
  ) {
    super({ node: document.createElement('button') });
    this.addClass('lab2prod-toolbar-state');
    this.addClass('jp-ToolbarButtonComponent');
    this.node.setAttribute('type', 'button');
    this.node.addEventListener('click', onClick);
    const watch = watches.get(panel);
    const update = () => {
      const state = watch.state?.state;
      const failure = watch.failure;
      this.node.dataset.state = state ?? (failure ? 'unknown' : 'loading');
      this.node.textContent = `Pipeline: ${state ? STATE_LABELS[state] : failure ? 'unknown' : '…'}`;
      this.node.title = failure
        ? failure
        : state && watch.state!.pipelines.length
          ? `Pipeline ${watch.state!.pipelines.join(', ')} converted from this notebook: ${STATE_LABELS[state]}. Click for the lab2prod panel.`
          : 'lab2prod: click for the pipeline this notebook will become.';
    };
    watch.changed.connect(update, this);
    update();
  }
}

/** Adds a `SyncStatus` to every notebook's toolbar. */
export class SyncStatusExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(
    private readonly watches: WatchRegistry,
    private readonly onClick: () => void
  ) {}

  createNew(panel: NotebookPanel): IDisposable {
    const item = new SyncStatus(panel, this.watches, this.onClick);
    panel.toolbar.insertItem(10, 'lab2prod-state', item);
    return item;
  }
}
