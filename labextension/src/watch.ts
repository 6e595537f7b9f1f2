/**
 * What lab2prod knows about one open notebook: its plan, its sync state, its last job.
 *
 * The plan and the state follow the notebook as it is edited: a change to a cell's type,
 * source or tags (not its outputs) asks the server again after a short pause, with the
 * notebook's content as the editor holds it, saved or not.
 */
import { NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  APIError,
  INotebookContent,
  IJob,
  IJobEvent,
  IPlan,
  ISyncState,
  JobAction,
  cancelJob,
  fetchPlan,
  fetchState,
  jobEvents,
  startJob
} from './api';

/** Milliseconds of quiet after an edit before the plan is asked for again. */
export const DEBOUNCE_MS = 400;

export const TAGS = {
  skip: 'skip',
  parameters: 'parameters',
  nodePrefix: 'node:'
};

/** The notebook's cells as conversion reads them: type, source and tags. */
export function notebookContent(panel: NotebookPanel): INotebookContent {
  const model = panel.model!;
  const cells: INotebookContent['cells'] = [];
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    const tags = cell.getMetadata('tags');
    cells.push({
      cell_type: cell.type,
      source: cell.sharedModel.getSource(),
      metadata: Array.isArray(tags) ? { tags: tags as string[] } : {}
    });
  }
  return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells };
}

export class NotebookWatch implements IDisposable {
  constructor(readonly panel: NotebookPanel) {
    panel.context.ready.then(() => {
      if (this._disposed) {
        return;
      }
      panel.model!.contentChanged.connect(this._onContentChanged, this);
      panel.context.fileChanged.connect(this._onSaved, this);
      this.refresh(true);
    });
  }

  /** Emitted whenever the plan, the state or the job changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The notebook's path under the server's root. */
  get path(): string {
    return this.panel.context.path;
  }

  plan: IPlan | null = null;
  state: ISyncState | null = null;
  /** Why the last request for the plan or the state failed, if it did. */
  failure: string | null = null;
  /** The pipeline name the user typed; `null` for the server's default. */
  pipeline: string | null = null;
  job: IJob | null = null;
  jobEvents: IJobEvent[] = [];
  /** True while the plan is being asked for. */
  pending = false;

  /** The pipeline the actions convert into. */
  get pipelineName(): string {
    return this.pipeline ?? this.plan?.pipeline ?? '';
  }

  setPipeline(name: string): void {
    this.pipeline = name.trim() === '' ? null : name.trim();
    this.refresh(true);
  }

  /** Ask for the plan and the state again after a pause (at once with `now`). */
  refresh(now = false): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => void this._fetch(), now ? 0 : DEBOUNCE_MS);
  }

  /** Only the sync state, e.g. after a save. */
  async refreshState(): Promise<void> {
    const sequence = ++this._stateSequence;
    try {
      const state = await fetchState(this.path, notebookContent(this.panel));
      if (sequence === this._stateSequence && !this._disposed) {
        this.state = state;
        this._changed.emit();
      }
    } catch (error) {
      this._fail(error);
    }
  }

  /** Start an action on the saved notebook and follow its events until it ends. */
  async start(
    action: JobAction,
    options: { force?: boolean; parameters?: { [name: string]: string } } = {}
  ): Promise<IJob> {
    if (this.job?.state === 'running') {
      throw new APIError(`lab2prod: ${this.job.action} is still running.`);
    }
    // The command line reads the file: what it converts must be what the user sees.
    if (this.panel.context.model.dirty) {
      await this.panel.context.save();
    }
    const job = await startJob({
      action,
      path: this.path,
      pipeline: action === 'run' ? undefined : this.pipelineName,
      force: options.force,
      parameters: options.parameters
    });
    this.job = job;
    this.jobEvents = [...job.events];
    this._changed.emit();
    let next = job.next;
    while (!this._disposed && this.job?.id === job.id) {
      const view = await jobEvents(job.id, next);
      this.jobEvents.push(...view.events);
      next = view.next;
      this.job = view;
      this._changed.emit();
      if (view.state !== 'running') {
        break;
      }
    }
    this.refresh(true);
    return this.job!;
  }

  async cancel(): Promise<void> {
    if (this.job?.state === 'running') {
      await cancelJob(this.job.id);
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    window.clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private _onContentChanged(): void {
    // Outputs and execution counts change the model too; they do not change the plan.
    if (JSON.stringify(notebookContent(this.panel).cells) !== this._key) {
      this.refresh();
    }
  }

  private _onSaved(): void {
    void this.refreshState();
  }

  private async _fetch(): Promise<void> {
    if (this._disposed || !this.panel.model) {
      return;
    }
    const content = notebookContent(this.panel);
    this._key = JSON.stringify(content.cells);
    const sequence = ++this._sequence;
    this.pending = true;
    this._changed.emit();
    try {
      const [plan, state] = await Promise.all([
        fetchPlan(this.path, this.pipeline, content),
        fetchState(this.path, content)
      ]);
      // An answer to an older request must not replace a newer one.
      if (sequence !== this._sequence || this._disposed) {
        return;
      }
      this.plan = plan;
      this.state = state;
      this.failure = null;
    } catch (error) {
      if (sequence === this._sequence) {
        this._fail(error);
      }
    } finally {
      if (sequence === this._sequence) {
        this.pending = false;
        this._changed.emit();
      }
    }
  }

  private _fail(error: unknown): void {
    this.failure = error instanceof Error ? error.message : String(error);
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _disposed = false;
  private _timer = 0;
  private _key = '';
  private _sequence = 0;
  private _stateSequence = 0;
}

/** One watch per open notebook, made when first asked for, gone with the notebook. */
export class WatchRegistry {
  get(panel: NotebookPanel): NotebookWatch {
    let watch = this._watches.get(panel);
    if (!watch) {
      watch = new NotebookWatch(panel);
      this._watches.set(panel, watch);
      panel.disposed.connect(() => {
        watch!.dispose();
        this._watches.delete(panel);
      });
    }
    return watch;
  }

  private _watches = new Map<NotebookPanel, NotebookWatch>();
}
