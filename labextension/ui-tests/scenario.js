/**
 * The user's path through lab2prod's panel, in a real JupyterLab, one screenshot per step:
 * open the notebook and see its nodes; tag a cell `skip` and see its node go; Convert and see
 * the files; Verify and see every dataset equal; edit a cell and see the pipeline go stale.
 *
 * Environment: LAB_URL (JupyterLab's base URL), LAB_TOKEN, NOTEBOOK (path under the server's
 * root), ARTIFACTS (folder for the screenshots), and the expectations EXPECT_NODES (comma
 * separated) and SKIP_NODE (the node whose cells get the `skip` tag).
 * Every wait is on something the page shows; there is no sleep.
 */
const fs = require('fs');
const path = require('path');
const { run } = require('./browser');

const env = name => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
};
const LAB_URL = env('LAB_URL').replace(/\/$/, '');
const TOKEN = env('LAB_TOKEN');
const NOTEBOOK = env('NOTEBOOK');
const ARTIFACTS = env('ARTIFACTS');
const EXPECT_NODES = env('EXPECT_NODES').split(',');
const SKIP_NODE = env('SKIP_NODE');
const LONG = 180000; // verify runs a kernel and the pipeline: minutes on a busy machine

fs.mkdirSync(ARTIFACTS, { recursive: true });

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  console.log(`step ${name}: ok`);
}

async function nodeNames(page) {
  return page.locator('.lab2prod-node').evaluateAll(nodes => nodes.map(n => n.dataset.node));
}

async function expectNodes(page, names) {
  // Wait until the panel lists exactly these nodes, in this order.
  await page.waitForFunction(
    expected =>
      JSON.stringify([...document.querySelectorAll('.lab2prod-node')].map(n => n.dataset.node)) ===
      JSON.stringify(expected),
    names,
    { timeout: 60000 }
  );
}

async function toggleSkip(page, select) {
  // Select cells from the panel, then tag them from the cell's context menu.
  await page.locator(select).first().click();
  await page.locator('.jp-Notebook .jp-Cell.jp-mod-active .jp-InputPrompt').click({ button: 'right' });
  await page.locator('.lm-Menu .lm-Menu-item[data-command="lab2prod:toggle-skip"]').click();
}

async function widenRightArea(page, width) {
  // Drag the handle between the notebook and the right side bar until the panel is `width` wide.
  const panel = page.locator('#lab2prod-pipeline');
  await panel.waitFor();
  const box = await panel.boundingBox();
  const handles = page.locator('#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)');
  const handle = await handles.last().boundingBox();
  const x = handle.x + handle.width / 2;
  const y = handle.y + handle.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x - (width - box.width), y, { steps: 5 });
  await page.mouse.up();
}

async function toolbarState(page, state) {
  // Attached, not visible: a narrow toolbar moves its last items into its overflow menu.
  await page
    .locator(`.lab2prod-toolbar-state[data-state="${state}"]`)
    .waitFor({ state: 'attached', timeout: 60000 });
}

async function action(page, name) {
  await page.locator(`.lab2prod-action[data-action="${name}"]:not([disabled])`).click();
}

async function finished(page, state = 'succeeded') {
  const job = page.locator('.lab2prod-job[data-state]:not([data-state="running"])');
  await job.waitFor({ timeout: LONG });
  const actual = await job.getAttribute('data-state');
  if (actual !== state) {
    throw new Error(`the job ended ${actual}: ${await job.innerText()}`);
  }
}

run(async (page, errors) => {
  await page.goto(`${LAB_URL}/lab/tree/${NOTEBOOK}?reset&token=${TOKEN}`);
  await page.locator('.jp-NotebookPanel .jp-Cell').first().waitFor({ timeout: 120000 });
  await page.locator('.jp-SideBar [data-id="lab2prod-pipeline"]').click();
  await widenRightArea(page, 480);

  // 1. The panel lists the nodes the notebook will become.
  await expectNodes(page, EXPECT_NODES);
  await toolbarState(page, 'not-converted');
  await page.locator('.lab2prod-graph .lab2prod-graph-node').first().waitFor();
  await shot(page, '01-panel-lists-the-nodes');

  // 2. A `skip` tag takes the node out at once; taking the tag off brings it back.
  await toggleSkip(page, `.lab2prod-node[data-node="${SKIP_NODE}"]`);
  await expectNodes(page, EXPECT_NODES.filter(n => n !== SKIP_NODE));
  await page.locator('.lab2prod-skipped').first().waitFor();
  await shot(page, '02-skip-tag-removes-the-node');
  await toggleSkip(page, '.lab2prod-skipped');
  await expectNodes(page, EXPECT_NODES);

  // 3. Convert writes the pipeline's files; the toolbar says in sync.
  await action(page, 'convert');
  await finished(page);
  await page.locator('.lab2prod-written li').first().waitFor();
  await toolbarState(page, 'in-sync');
  await shot(page, '03-convert-writes-the-files');

  // 4. Verify runs notebook and pipeline and finds every dataset equal.
  await action(page, 'verify');
  await page.locator('.lab2prod-job[data-state="running"]').waitFor();
  await finished(page);
  const statuses = await page
    .locator('.lab2prod-comparisons tr')
    .evaluateAll(rows => rows.map(r => r.dataset.status));
  if (statuses.length === 0 || statuses.some(s => s !== 'equal')) {
    throw new Error(`verify: expected every dataset equal, got ${statuses}`);
  }
  await shot(page, '04-verify-every-dataset-equal');

  // 5. Editing a cell makes the pipeline stale, before the notebook is even saved.
  const editor = page
    .locator(`.jp-Notebook .jp-CodeCell .cm-content`)
    .filter({ hasText: 'high_spender_quantile' })
    .last();
  await editor.click();
  await page.keyboard.press('End');
  await page.keyboard.type('  # tweak');
  await toolbarState(page, 'stale');
  await page.locator('.lab2prod-state[data-state="stale"]').first().waitFor();
  await shot(page, '05-edit-makes-it-stale');

  console.log(`nodes: ${(await nodeNames(page)).join(', ')}`);
  console.log(`verify: ${statuses.length} datasets equal`);
  if (errors.length) {
    throw new Error(`the page logged errors:\n${errors.join('\n')}`);
  }
});
