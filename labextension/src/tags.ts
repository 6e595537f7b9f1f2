/**
 * Cell tags made easy: mark cells `node:<name>`, `skip` or `parameters` from the command
 * palette, the cell's context menu, or the cell toolbar. The panel follows at once: a tag is
 * part of what the plan reads.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { InputDialog } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Menu } from '@lumino/widgets';

import { selectedCells, setTags, tagsOf } from './cells';
import { tagIcon } from './icons';
import { TAGS } from './watch';

export const COMMANDS = {
  skip: 'lab2prod:toggle-skip',
  parameters: 'lab2prod:toggle-parameters',
  node: 'lab2prod:tag-node',
  menu: 'lab2prod:cell-tags'
};

/** Add `tag` to every cell given, or take it off them all when each has it already. */
export function toggleTag(panel: NotebookPanel, cells: number[], tag: string): void {
  const all = cells.every(index => tagsOf(panel, index).includes(tag));
  for (const index of cells) {
    const tags = tagsOf(panel, index).filter(t => t !== tag);
    setTags(panel, index, all ? tags : [...tags, tag]);
  }
}

/** Tag the cell `node:<name>` (replacing another `node:` tag); an empty name removes it. */
export function tagNode(panel: NotebookPanel, index: number, name: string): void {
  const tags = tagsOf(panel, index).filter(t => !t.startsWith(TAGS.nodePrefix));
  setTags(panel, index, name ? [...tags, `${TAGS.nodePrefix}${name}`] : tags);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function addTagCommands(app: JupyterFrontEnd, tracker: INotebookTracker): Menu {
  const current = () => tracker.currentWidget;
  const enabled = () => !!current() && current()!.content.activeCellIndex >= 0;
  const has = (tag: string) => {
    const panel = current();
    return !!panel && selectedCells(panel).every(i => tagsOf(panel, i).includes(tag));
  };

  app.commands.addCommand(COMMANDS.skip, {
    label: 'Skip cell in the pipeline (tag "skip")',
    caption: 'The cell stays in the notebook but becomes no part of any node',
    isEnabled: enabled,
    isToggled: () => has(TAGS.skip),
    execute: () => {
      const panel = current();
      if (panel) {
        toggleTag(panel, selectedCells(panel), TAGS.skip);
      }
    }
  });
  app.commands.addCommand(COMMANDS.parameters, {
    label: 'Parameters cell (tag "parameters")',
    caption: "The cell's assignments become the pipeline's parameters (papermill's tag)",
    isEnabled: enabled,
    isToggled: () => has(TAGS.parameters),
    execute: () => {
      const panel = current();
      if (panel) {
        toggleTag(panel, [panel.content.activeCellIndex], TAGS.parameters);
      }
    }
  });
  app.commands.addCommand(COMMANDS.node, {
    label: 'Start a node here (tag "node:<name>")…',
    caption: 'The cell and those after it, up to the next heading or node tag, become one node',
    isEnabled: enabled,
    execute: async () => {
      const panel = current();
      if (!panel) {
        return;
      }
      const index = panel.content.activeCellIndex;
      const existing = tagsOf(panel, index).find(t => t.startsWith(TAGS.nodePrefix));
      const answer = await InputDialog.getText({
        title: 'Node name',
        label: 'A Python identifier; empty removes the tag',
        text: existing ? existing.slice(TAGS.nodePrefix.length) : '',
        placeholder: 'clean_orders'
      });
      if (!answer.button.accept || answer.value === null) {
        return;
      }
      const name = answer.value.trim();
      if (name && !IDENTIFIER.test(name)) {
        await InputDialog.getText({
          title: `"${name}" is not a Python identifier`,
          label: 'Use letters, digits and underscores, not starting with a digit.',
          text: name.replace(/[^A-Za-z0-9_]+/g, '_')
        });
        return;
      }
      tagNode(panel, index, name);
    }
  });

  const menu = new Menu({ commands: app.commands });
  menu.title.label = 'lab2prod tags';
  menu.addClass('lab2prod-tag-menu');
  menu.addItem({ command: COMMANDS.node });
  menu.addItem({ command: COMMANDS.skip });
  menu.addItem({ command: COMMANDS.parameters });

  // Where the pointer last went down: the cell toolbar's button opens the menu there.
  let x = 0;
  let y = 0;
  document.addEventListener(
    'pointerdown',
    event => {
      x = event.clientX;
      y = event.clientY;
    },
    true
  );
  app.commands.addCommand(COMMANDS.menu, {
    label: args => (args.toolbar ? '' : 'lab2prod tags…'),
    caption: 'lab2prod: mark this cell as a node, skipped, or the parameters',
    icon: args => (args.toolbar ? tagIcon : undefined),
    isEnabled: enabled,
    execute: () => {
      menu.open(x, y);
    }
  });
  return menu;
}
