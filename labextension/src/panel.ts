/**
 * The pipeline panel: for the active notebook, the nodes it will become, their inputs,
 * outputs and parameters, the datasets, what is left out and why, conversion errors, the
 * graph, and the actions (Convert, Verify, Check sync, Run).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import {
  IComparison,
  IDrop,
  IJob,
  INode,
  IPlan,
  IPort,
  ISyncState,
  reportURL
} from './api';
import { selectCells } from './cells';
import { Child, append, h } from './dom';
import { drawGraph } from './graph';
import { lab2prodIcon } from './icons';
import { NotebookWatch, WatchRegistry } from './watch';

export const PANEL_ID = 'lab2prod-pipeline';

/** Words for the sync states, shared with the notebook toolbar item. */
export const STATE_LABELS: { [state: string]: string } = {
  'not-converted': 'not converted yet',
  'in-sync': 'in sync',
  stale: 'stale',
  edited: 'edited by hand'
};

export class PipelinePanel extends Widget {
  constructor(
    private readonly tracker: INotebookTracker,
    private readonly watches: WatchRegistry,
    private readonly openFile: (path: string) => void
  ) {
    super();
    this.id = PANEL_ID;
    this.addClass('lab2prod-panel');
    this.title.icon = lab2prodIcon;
    this.title.caption = 'lab2prod: the pipeline this notebook becomes';
    this.node.tabIndex = -1;
    this._pipelineInput = h('input', {
      className: 'lab2prod-pipeline-name jp-mod-styled',
      type: 'text',
      spellcheck: 'false',
      'aria-label': 'Pipeline name',
      title: 'The pipeline to convert into (a Python identifier)',
      onchange: () => this._watch?.setPipeline(this._pipelineInput.value)
    });
    this._force = h('input', { type: 'checkbox', className: 'lab2prod-force' });
    this._title = h('div', { className: 'lab2prod-title' });
    this._body = h('div', { className: 'lab2prod-body' });
    // Built once: a re-render must not take the focus from the pipeline name being typed.
    this.node.append(
      h(
        'div',
        { className: 'lab2prod-header' },
        this._title,
        h('label', { className: 'lab2prod-field' }, h('span', {}, 'Pipeline'), this._pipelineInput)
      ),
      this._body
    );
    tracker.currentChanged.connect(this._follow, this);
    this._follow();
    this._render(); // also with no notebook open: say what the panel is for
  }

  /** The watch of the notebook the panel shows. */
  get watch(): NotebookWatch | null {
    return this._watch;
  }

  private _follow(): void {
    const panel = this.tracker.currentWidget;
    const watch = panel ? this.watches.get(panel) : null;
    if (watch === this._watch) {
      return;
    }
    this._watch?.changed.disconnect(this._render, this);
    this._panel?.content.activeCellChanged.disconnect(this._render, this);
    this._watch = watch;
    this._panel = panel;
    watch?.changed.connect(this._render, this);
    panel?.content.activeCellChanged.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const watch = this._watch;
    const panel = this._panel;
    this._body.replaceChildren();
    this._title.replaceChildren();
    if (!watch || !panel) {
      append(this._body, 
        h('p', { className: 'lab2prod-empty' }, 'Open a notebook of a Kedro project to see the pipeline it will become.')
      );
      return;
    }
    const plan = watch.plan;
    if (document.activeElement !== this._pipelineInput) {
      this._pipelineInput.value = watch.pipelineName;
    }
    this._renderTitle(watch);
    append(this._body, 
      this._actions(watch),
      this._jobView(watch),
      watch.failure
        ? h('div', { className: 'lab2prod-failure', role: 'alert' }, watch.failure)
        : null
    );
    if (!plan) {
      append(this._body, h('p', { className: 'lab2prod-empty' }, 'Reading the notebook…'));
      return;
    }
    if (plan.error) {
      const error = plan.error;
      append(this._body, 
        h(
          'div',
          {
            className: 'lab2prod-error',
            role: 'alert',
            title: error.cell !== null ? 'Show the cell' : '',
            onclick: () => error.cell !== null && selectCells(panel, [error.cell])
          },
          h('strong', {}, 'Cannot convert: '),
          error.message
        )
      );
      return;
    }
    const active = this._activeNode(plan);
    append(this._body, 
      this._section(
        `Graph`,
        h(
          'div',
          { className: 'lab2prod-graph-box-wrapper' },
          drawGraph(plan, {
            active: active?.name ?? null,
            onNode: name => this._selectNode(name)
          })
        )
      ),
      this._section(
        `Nodes (${plan.nodes!.length})`,
        h('ol', { className: 'lab2prod-nodes' }, plan.nodes!.map(node => this._node(node, node === active)))
      ),
      this._section(
        `Datasets (${plan.datasets!.length})`,
        this._datasets(plan)
      ),
      this._leftOut(plan),
      this._section(
        `Files convert writes (${plan.files!.length})`,
        h('ul', { className: 'lab2prod-files' }, plan.files!.map(f => h('li', {}, h('code', {}, f))))
      )
    );
  }

  private _renderTitle(watch: NotebookWatch): void {
    const state = watch.state;
    append(this._title, 
      h('span', { className: 'lab2prod-notebook' }, watch.plan?.notebook ?? watch.path),
      state ? stateChip(state) : null,
      watch.pending ? h('span', { className: 'lab2prod-pending', title: 'Updating' }, '…') : null
    );
  }

  private _actions(watch: NotebookWatch): HTMLElement {
    const running = watch.job?.state === 'running';
    const convertible = !!watch.plan && !watch.plan.error;
    const button = (label: string, title: string, enabled: boolean, run: () => void) =>
      h(
        'button',
        {
          className: 'jp-Button jp-mod-styled lab2prod-action',
          'data-action': label.toLowerCase().replace(/[^a-z]+/g, '-'),
          title,
          disabled: !enabled,
          onclick: run
        },
        label
      );
    return h(
      'div',
      { className: 'lab2prod-actions' },
      button('Convert', 'kedro notebook convert: write the pipeline', !running && convertible, () =>
        this._run(watch, 'convert')
      ),
      button('Verify', 'kedro notebook convert --verify: run notebook and pipeline, compare every dataset', !running && convertible, () =>
        this._run(watch, 'verify')
      ),
      button('Check sync', 'kedro notebook check: stale or hand-edited files', !running, () =>
        void this._checkSync(watch)
      ),
      button('Run…', 'kedro notebook run: run the notebook with parameters (papermill)', !running, () =>
        void this._runNotebook(watch)
      ),
      running
        ? h(
            'button',
            {
              className: 'jp-Button jp-mod-styled jp-mod-warn lab2prod-cancel',
              onclick: () => void watch.cancel()
            },
            'Cancel'
          )
        : null,
      h(
        'label',
        { className: 'lab2prod-force-label', title: 'Replace generated files edited by hand (--force)' },
        this._force,
        'replace edited files'
      )
    );
  }

  private _run(watch: NotebookWatch, action: 'convert' | 'verify'): void {
    this._checked = null;
    watch.start(action, { force: this._force.checked }).catch(error => this._fail(watch, error));
  }

  private async _checkSync(watch: NotebookWatch): Promise<void> {
    await watch.refreshState();
    this._checked = watch.state;
    this._render();
  }

  private async _runNotebook(watch: NotebookWatch): Promise<void> {
    const declared = watch.plan?.declared_parameters ?? [];
    const form = new ParametersForm(declared);
    const result = await showDialog({
      title: `Run ${watch.path}`,
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })]
    });
    if (!result.button.accept) {
      return;
    }
    this._checked = null;
    watch.start('run', { parameters: form.values() }).catch(error => this._fail(watch, error));
  }

  private _fail(watch: NotebookWatch, error: unknown): void {
    watch.failure = error instanceof Error ? error.message : String(error);
    this._render();
  }

  private _jobView(watch: NotebookWatch): Child {
    if (this._checked) {
      return syncReport(this._checked);
    }
    const job = watch.job;
    if (!job) {
      return null;
    }
    const progress = [...watch.jobEvents].reverse().find(e => e.event === 'progress');
    const stage = [...watch.jobEvents].reverse().find(e => e.event === 'stage');
    const log = watch.jobEvents.filter(e => e.event === 'log').map(e => e.text ?? '');
    return h(
      'div',
      { className: `lab2prod-job lab2prod-job-${job.state}`, 'data-state': job.state },
      h(
        'div',
        { className: 'lab2prod-job-title' },
        `${job.action}: ${job.state}`,
        job.state === 'running' && stage ? ` — ${stage.text}` : ''
      ),
      job.state === 'running' && progress
        ? h(
            'div',
            { className: 'lab2prod-progress' },
            h('progress', { max: progress.total ?? 1, value: progress.done ?? 0 }),
            h('span', {}, progress.text ?? '')
          )
        : null,
      job.error && job.state !== 'succeeded'
        ? h('pre', { className: 'lab2prod-job-error' }, job.error)
        : null,
      this._result(job),
      log.length
        ? h(
            'details',
            { className: 'lab2prod-log' },
            h('summary', {}, `Log (${log.length} lines)`),
            h('pre', {}, log.slice(-400).join('\n'))
          )
        : null
    );
  }

  private _result(job: IJob): Child {
    const result = job.result;
    if (!result) {
      return null;
    }
    const parts: Child[] = [];
    if (result.comparisons) {
      parts.push(comparisons(result.comparisons));
    }
    if (job.action !== 'run' && result.files) {
      parts.push(
        h('div', { className: 'lab2prod-subtitle' }, `Pipeline '${result.pipeline}': ${result.files.length} files`),
        h(
          'ul',
          { className: 'lab2prod-files lab2prod-written' },
          result.files.map(file =>
            h('li', {}, h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); this._open(file); } }, file))
          )
        )
      );
    }
    if (job.action === 'run') {
      const records = Object.entries(result.records ?? {});
      const files = Object.entries(result.record_files ?? {});
      parts.push(
        h('div', { className: 'lab2prod-subtitle' }, `${result.status} in ${result.duration ?? '?'} s`),
        result.error ? h('pre', { className: 'lab2prod-job-error' }, result.error) : null,
        records.length || files.length
          ? h(
              'table',
              { className: 'lab2prod-records' },
              h('tbody', {}, [
                ...records.map(([name, value]) => h('tr', {}, h('th', {}, name), h('td', {}, h('code', {}, value)))),
                ...files.map(([name, file]) => h('tr', {}, h('th', {}, name), h('td', {}, h('code', {}, file))))
              ])
            )
          : h('p', {}, 'The notebook recorded nothing (record() in a cell hands values back).'),
        result.html
          ? h('a', { className: 'lab2prod-report', href: reportURL(job.id), target: '_blank', rel: 'noopener' }, 'Open the HTML report')
          : null,
        result.executed
          ? h('a', { href: '#', className: 'lab2prod-executed', onclick: (e: Event) => { e.preventDefault(); this._open(result.executed!); } }, ' · executed notebook')
          : null
      );
    }
    return h('div', { className: 'lab2prod-result' }, parts);
  }

  private _open(projectRelative: string): void {
    const dir = this._watch?.plan?.project_dir ?? this._watch?.state?.project_dir;
    if (dir === null || dir === undefined) {
      return; // the project is above the server's root: JupyterLab cannot open it
    }
    this.openFile(dir ? `${dir}/${projectRelative}` : projectRelative);
  }

  private _section(title: string, ...content: Child[]): HTMLElement {
    return h('details', { className: 'lab2prod-section', open: true }, h('summary', {}, title), ...content);
  }

  private _activeNode(plan: IPlan): INode | null {
    const index = this._panel?.content.activeCellIndex ?? -1;
    return plan.nodes?.find(node => node.cells.includes(index)) ?? null;
  }

  private _selectNode(name: string): void {
    const node = this._watch?.plan?.nodes?.find(n => n.name === name);
    if (node && this._panel) {
      selectCells(this._panel, node.cells);
    }
  }

  private _node(node: INode, active: boolean): HTMLElement {
    const ports = (title: string, items: IPort[]) =>
      items.length
        ? h(
            'div',
            { className: 'lab2prod-ports' },
            h('span', { className: 'lab2prod-ports-title' }, title),
            h('ul', {}, items.map(port =>
              h(
                'li',
                { title: port.type ? `${port.variable}: ${port.type}` : port.variable },
                h('code', {}, port.dataset),
                port.variable !== port.dataset && !port.dataset.endsWith(`.${port.variable}`)
                  ? h('span', { className: 'lab2prod-variable' }, ` (${port.variable})`)
                  : null
              )
            ))
          )
        : null;
    return h(
      'li',
      {
        className: `lab2prod-node${active ? ' lab2prod-active' : ''}`,
        'data-node': node.name,
        onclick: () => this._selectNode(node.name)
      },
      h(
        'div',
        { className: 'lab2prod-node-title' },
        h('code', {}, node.name),
        h('span', { className: 'lab2prod-cells' }, cellWords(node.code_cells))
      ),
      node.heading ? h('div', { className: 'lab2prod-heading' }, node.heading) : null,
      ports('inputs', node.inputs),
      ports('parameters', node.parameters),
      ports('outputs', node.outputs),
      node.copies.length
        ? h('div', { className: 'lab2prod-note' }, `copies ${node.copies.join(', ')} before changing it (inputs stay untouched)`)
        : null,
      node.drops.length ? this._drops(node.drops) : null
    );
  }

  private _drops(drops: IDrop[]): HTMLElement {
    return h(
      'details',
      { className: 'lab2prod-drops' },
      h('summary', {}, `${drops.length} line${drops.length === 1 ? '' : 's'} left out`),
      h('ul', {}, drops.map(drop =>
        h(
          'li',
          {
            onclick: (e: Event) => {
              e.stopPropagation();
              if (drop.cell !== null && this._panel) {
                selectCells(this._panel, [drop.cell]);
              }
            }
          },
          h('span', { className: 'lab2prod-where' }, `cell ${drop.code_cell}, line ${drop.line}: `),
          h('code', {}, drop.text),
          h('span', { className: 'lab2prod-reason' }, ` (${drop.reason})`)
        )
      ))
    );
  }

  private _datasets(plan: IPlan): HTMLElement {
    return h(
      'ul',
      { className: 'lab2prod-datasets' },
      plan.datasets!.map(d => {
        const where = d.catalog
          ? [d.catalog.type, d.catalog.filepath].filter(Boolean).join(' ')
          : d.role === 'parameter'
            ? `parameters_${plan.pipeline}.yml`
            : 'in memory (not saved)';
        return h(
          'li',
          { className: `lab2prod-role-${d.role}`, 'data-dataset': d.name },
          h('code', {}, d.name),
          h('span', { className: 'lab2prod-role' }, d.role),
          d.new_entry ? h('span', { className: 'lab2prod-role lab2prod-new' }, 'new catalog entry') : null,
          h('div', { className: 'lab2prod-where' }, where)
        );
      })
    );
  }

  private _leftOut(plan: IPlan): Child {
    const panel = this._panel!;
    const items: HTMLElement[] = [
      ...(plan.left_out ?? []).map(item =>
        h('li', { onclick: () => selectCells(panel, item.cells) }, item.text, h('span', { className: 'lab2prod-reason' }, `: ${item.reason}`))
      ),
      ...(plan.skipped ?? []).map(item =>
        h('li', { className: 'lab2prod-skipped', onclick: () => selectCells(panel, [item.cell]) }, `code cell ${item.code_cell}`, h('span', { className: 'lab2prod-reason' }, `: ${item.reason}`))
      )
    ];
    const setup = plan.setup_drops ?? [];
    if (items.length === 0 && setup.length === 0) {
      return null;
    }
    return this._section(
      'Left out',
      h('ul', { className: 'lab2prod-left-out' }, items),
      setup.length ? this._drops(setup) : null
    );
  }

  private readonly _body: HTMLDivElement;
  private readonly _title: HTMLDivElement;
  private readonly _pipelineInput: HTMLInputElement;
  private readonly _force: HTMLInputElement;
  private _watch: NotebookWatch | null = null;
  private _panel: NotebookPanel | null = null;
  private _checked: ISyncState | null = null;
}

function cellWords(cells: number[]): string {
  if (cells.length === 0) {
    return '';
  }
  return cells.length === 1 ? `cell ${cells[0]}` : `cells ${cells[0]}–${cells[cells.length - 1]}`;
}

export function stateChip(state: ISyncState): HTMLElement {
  return h(
    'span',
    {
      className: `lab2prod-state lab2prod-state-${state.state}`,
      'data-state': state.state,
      title: state.pipelines.length ? `pipeline ${state.pipelines.join(', ')}` : ''
    },
    STATE_LABELS[state.state] ?? state.state
  );
}

function syncReport(state: ISyncState): HTMLElement {
  return h(
    'div',
    { className: 'lab2prod-job lab2prod-sync', 'data-state': state.state },
    h('div', { className: 'lab2prod-job-title' }, 'Check sync: ', stateChip(state)),
    state.problems.length
      ? h('ul', { className: 'lab2prod-problems' }, state.problems.map(p =>
          h('li', {}, h('span', { className: `lab2prod-kind lab2prod-kind-${p.kind}` }, p.kind), ' ', h('code', {}, p.path), `: ${p.detail}`)
        ))
      : h('p', {}, state.state === 'not-converted'
          ? 'No pipeline was converted from this notebook yet: Convert writes one.'
          : `Every file of ${state.pipelines.join(', ')} matches the notebook.`)
  );
}

function comparisons(items: IComparison[]): HTMLElement {
  const count = (status: string) => items.filter(c => c.status === status).length;
  return h(
    'div',
    { className: 'lab2prod-verify' },
    h('div', { className: 'lab2prod-subtitle' }, `${count('equal')} equal, ${count('differs')} differ, ${count('not comparable')} not comparable`),
    h('table', { className: 'lab2prod-comparisons' }, h('tbody', {}, items.map(c =>
      h(
        'tr',
        { 'data-status': c.status },
        h('td', {}, h('code', {}, c.dataset)),
        h('td', {}, c.node ?? '(catalog)'),
        h('td', {}, h('span', { className: `lab2prod-status lab2prod-status-${c.status.replace(' ', '-')}` }, c.status)),
        h('td', { className: 'lab2prod-detail' }, c.detail)
      )
    )))
  );
}

/** The Run dialog's body: one field per parameter the notebook declares. */
class ParametersForm extends Widget {
  constructor(declared: { name: string; default: string }[]) {
    super();
    this.addClass('lab2prod-run-form');
    if (declared.length === 0) {
      this.node.append(h('p', {}, 'The notebook has no cell tagged "parameters": it runs as it is.'));
    }
    for (const parameter of declared) {
      const input = h('input', {
        className: 'jp-mod-styled',
        type: 'text',
        name: parameter.name,
        placeholder: parameter.default,
        'aria-label': parameter.name
      });
      this._inputs.push(input);
      this.node.append(h('label', {}, h('span', {}, parameter.name), input));
    }
    this.node.append(h('p', { className: 'lab2prod-hint' }, 'Empty fields keep the notebook\'s default. Values are read as `kedro notebook run -p name=value` reads them: 3, 0.5, true, null, or text.'));
  }

  values(): { [name: string]: string } {
    const values: { [name: string]: string } = {};
    for (const input of this._inputs) {
      if (input.value.trim() !== '') {
        values[input.name] = input.value.trim();
      }
    }
    return values;
  }

  private _inputs: HTMLInputElement[] = [];
}
