// Attachment files on the admin page: see admin_files.sh.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { run, check } from './lib.mjs';

const WITH = process.env.FS_WITH;
const PENDING = process.env.FS_PENDING;

await run('admin_files', async ({ page, consoleErrors }) => {
  await page.goto(process.env.FS_URL + '/');
  await page.locator('body[data-ready=yes]').waitFor();
  await page.locator('#token').fill(process.env.FS_REVIEWER);
  await page.locator('#signin-form button').click();
  await page.locator('#who', { hasText: 'rita' }).waitFor();
  await page.locator('table#submissions').waitFor();

  const waiting = await page.locator(`tr[data-id="${PENDING}"] td:nth-child(5)`).innerText();
  check(/1 file\(s\) waiting for the device/.test(waiting), `the row says a file is on its way (${waiting})`);

  // The photo, shown in the review panel from the hub.
  await page.locator(`button[data-id="${WITH}"]`).click();
  const panel = page.locator(`#d-${WITH}`);
  const img = panel.locator('img[data-file=photo]');
  await img.waitFor();
  await page.waitForFunction((sel) => {
    const el = document.querySelector(sel);
    return el && el.getAttribute('src') && el.complete; // loaded, or refused
  }, `#d-${WITH} img[data-file=photo]`);
  const size = await img.evaluate((el) => [el.naturalWidth, el.naturalHeight]);
  check(size[0] === 64 && size[1] === 48, `the photo is decoded and shown (${size})`);
  check(/^blob:/.test(await img.getAttribute('src')), 'shown from the bytes the page fetched with its token');
  check(/photo: pic\.png/.test(await img.getAttribute('alt')), 'the image has a text alternative');

  // The PDF: a download, byte for byte.
  const [dl] = await Promise.all([page.waitForEvent('download'),
    panel.locator('button[data-file=doc]').click()]);
  const got = createHash('sha256').update(await readFile(await dl.path())).digest('hex');
  check(got === process.env.FS_PDF_SHA, 'the PDF saved from the page is byte-identical');
  check(dl.suggestedFilename() === `${WITH}-doc.pdf`, `named by submission and field (${dl.suggestedFilename()})`);
  check(await panel.locator('img[data-file=doc]').count() === 0, 'a PDF is never shown inline');

  // The file not sent yet.
  await page.locator(`button[data-id="${PENDING}"]`).click();
  const late = page.locator(`#d-${PENDING} [data-file=photo]`);
  check(/late\.png .*: waiting for the device/.test(await late.innerText()), 'a pending file says so');
  check(await page.locator(`#d-${PENDING} img`).count() === 0, 'and shows no image');

  check(consoleErrors.length === 0, `no errors nor CSP violations in the console (${consoleErrors.join('; ')})`);
});
