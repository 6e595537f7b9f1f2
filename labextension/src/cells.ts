/** Selecting a notebook's cells, and changing their tags. */
import { NotebookPanel } from '@jupyterlab/notebook';

/** Make `cells` (positions among all cells) the selection, the first active, and show it. */
export function selectCells(panel: NotebookPanel, cells: number[]): void {
  const notebook = panel.content;
  const valid = cells.filter(i => i >= 0 && i < notebook.widgets.length);
  if (valid.length === 0) {
    return;
  }
  const first = Math.min(...valid);
  const last = Math.max(...valid);
  notebook.mode = 'command';
  notebook.activeCellIndex = first;
  notebook.deselectAll();
  if (last > first) {
    notebook.extendContiguousSelectionTo(last);
  }
  void notebook.scrollToItem(first, 'start');
  notebook.node.focus();
}

export function tagsOf(panel: NotebookPanel, index: number): string[] {
  const tags = panel.content.widgets[index]?.model.getMetadata('tags');
  return Array.isArray(tags) ? [...(tags as string[])] : [];
}

export function setTags(panel: NotebookPanel, index: number, tags: string[]): void {
  const model = panel.content.widgets[index]?.model;
  if (!model) {
    return;
  }
  if (tags.length === 0) {
    model.deleteMetadata('tags');
  } else {
    model.setMetadata('tags', tags);
  }
}

/** Positions of the selected cells, or of the active cell when none is selected. */
export function selectedCells(panel: NotebookPanel): number[] {
  const notebook = panel.content;
  const selected = notebook.widgets
    .map((cell, index) => (notebook.isSelectedOrActive(cell) ? index : -1))
    .filter(index => index >= 0);
  return selected.length > 0 ? selected : [notebook.activeCellIndex];
}
