// Loads the hub's /healthz in Chromium and checks what the browser got.
import { run, check } from './lib.mjs';

await run('browser_setup', async ({ page, consoleErrors }) => {
  const resp = await page.goto(process.env.FS_URL);
  check(resp.status() === 200, 'GET /healthz answers 200 in the browser');
  const body = JSON.parse(await page.locator('body').innerText());
  check(body.status === 'ok', `healthz says ok (got ${JSON.stringify(body)})`);
  check(consoleErrors.length === 0, `no console errors ${consoleErrors.join('; ')}`);
});
