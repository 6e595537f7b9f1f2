/**
 * Debian's Chromium driven by playwright-core: Playwright's own browser download is not used.
 * Shared by the browser tests (scenario.js, loads.js), which pytest runs with Node.js.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.LAB2PROD_CHROMIUM || '/usr/bin/chromium';

/** A fresh headless Chromium with a profile of its own, and a page that records its errors. */
async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lab2prod-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync'
    ]
  });
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on('pageerror', error => errors.push(`page error: ${error.message}`));
  page.on('console', message => {
    if (message.type() === 'error') {
      errors.push(`console error: ${message.text()}`);
    }
  });
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, errors, close };
}

/** Run `main(page, errors)`; exit 0 on success, 1 (with the error on stderr) otherwise. */
function run(main) {
  let browser = null;
  launch()
    .then(async opened => {
      browser = opened;
      await main(opened.page, opened.errors);
      await opened.close();
      process.exit(0);
    })
    .catch(async error => {
      console.error(error && error.stack ? error.stack : String(error));
      if (browser) {
        await browser.close().catch(() => undefined);
      }
      process.exit(1);
    });
}

module.exports = { launch, run };
