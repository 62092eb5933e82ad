// Shared helpers for fieldsync browser tests: Playwright (playwright-core)
// driving Debian's Chromium headless. A test script is run by its .sh
// wrapper, which starts the real hub and agents and passes addresses and
// secrets in the environment.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const CHROMIUM = process.env.FS_CHROMIUM || '/usr/bin/chromium';

let failures = 0;
let checks = 0;

export function check(cond, what) {
  checks++;
  if (cond) {
    console.log(`ok   ${what}`);
  } else {
    failures++;
    console.log(`FAIL ${what}`);
  }
}

// Opens a browser and a page; viewport defaults to a 7-inch tablet held
// upright (600 x 960 CSS pixels).
export async function open(opts = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({
    viewport: opts.viewport || { width: 600, height: 960 },
    locale: opts.locale || 'en-GB',
    // A saved session (cookies) from an earlier run of the same test.
    storageState: opts.storageState,
  });
  context.setDefaultTimeout(opts.timeout || 15000);
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('console', (m) => {
    // A page without an icon makes Chromium log a 404 for /favicon.ico.
    if (m.type() === 'error' && !/favicon\.ico$/.test(m.location().url || ''))
      consoleErrors.push(m.text());
  });
  return { browser, context, page, consoleErrors };
}

// Runs body(env) with an opened browser (opts as for open); on an
// exception or failed checks, saves a screenshot next to the test's work
// directory and exits non-zero.
export async function run(name, body, opts = {}) {
  const shots = process.env.FS_SHOTS || process.cwd();
  let env;
  let code = 0;
  try {
    env = await open(opts);
    await body(env);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
  if (env) {
    if (failures) {
      try {
        mkdirSync(shots, { recursive: true });
        const file = path.join(shots, `${name}-failure.png`);
        await env.page.screenshot({ path: file, fullPage: true });
        console.log(`screenshot: ${file}`);
      } catch (_) { /* the page may be gone */ }
    }
    await env.browser.close();
  }
  if (failures) code = 1;
  console.log(`${name}: ${checks - failures >= 0 ? checks - failures : 0} of ${checks} checks passed`);
  process.exit(code);
}
