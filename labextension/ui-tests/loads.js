/**
 * The prebuilt extension loads in JupyterLab: the lab2prod side bar tab is there, its panel
 * opens, and the page logs no error. LAB_URL, LAB_TOKEN; SCREENSHOT (optional) is a PNG path.
 */
const { run } = require('./browser');

const LAB_URL = process.env.LAB_URL.replace(/\/$/, '');
const TOKEN = process.env.LAB_TOKEN;

run(async (page, errors) => {
  await page.goto(`${LAB_URL}/lab?reset&token=${TOKEN}`);
  // The launcher shows once the layout is restored: a click before then may be undone.
  await page.locator('.jp-Launcher').first().waitFor({ timeout: 120000 });
  const tab = page.locator('.jp-SideBar [data-id="lab2prod-pipeline"]');
  await tab.click();
  const empty = page.locator('#lab2prod-pipeline .lab2prod-empty');
  try {
    await empty.waitFor({ timeout: 30000 });
  } finally {
    if (process.env.SCREENSHOT) {
      await page.screenshot({ path: process.env.SCREENSHOT });
    }
  }
  const version = await page.evaluate(() => {
    const data = document.getElementById('jupyter-config-data');
    return data ? JSON.parse(data.textContent).appVersion : 'unknown';
  });
  if (errors.length) {
    throw new Error(`the page logged errors:\n${errors.join('\n')}`);
  }
  console.log(`lab2prod loaded in JupyterLab ${version}`);
});
