// The agent's form app in Chromium on a 7-inch tablet viewport, in phases
// that webapp.sh runs between its own steps (killing the agent, reviewing
// at the hub, stopping the hub). The session cookie is kept between
// phases in FS_STATE. Checks read the agent's database (FS_AGENT_DB) to
// see what was really saved, not only what the page shows.
import { run, check } from './lib.mjs';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';

const APP = process.env.FS_APP;
const DB = process.env.FS_AGENT_DB;
const STATE = process.env.FS_STATE;
const PHASE = process.env.FS_PHASE;

// Chromium logs every 4xx answer as a console error; the refusals this
// test provokes on purpose (422: refused answer) are not errors of the app.
const unexpected = (errs) => errs.filter((e) => !/status of 422/.test(e));

function sql(q) {
  return execFileSync('sqlite3', ['-batch', DB, q]).toString().trim();
}
const draftAnswer = (f) => sql(`SELECT coalesce(json_extract(answers, '$.${f}'), '') FROM drafts ORDER BY created_ms DESC LIMIT 1`);

async function question(page, text) {
  await page.locator('#qlabel', { hasText: text }).waitFor();
}

// Picks or types an answer, taps Next and waits for the next question
// (nextText) or the review screen (nextText null).
async function answer(page, how, value, nextText) {
  if (how === 'radio') await page.getByRole('radio', { name: value, exact: true }).check();
  if (how === 'radio-start') await page.getByRole('radio', { name: new RegExp('^' + value) }).check();
  if (how === 'check') for (const v of value) await page.getByRole('checkbox', { name: v, exact: true }).check();
  if (how === 'fill') await page.locator('#answer').fill(value);
  await page.click('#next');
  if (nextText) await question(page, nextText);
  else await page.locator('#finalize').waitFor();
}

async function syncAndWait(page) {
  // The status says "not running" before the click has started the sync
  // too: wait for the end of a sync later than the one shown now.
  const before = await page.locator('#sync-status').getAttribute('data-last-end');
  await page.click('#sync');
  await page.waitForFunction((b) => {
    const p = document.querySelector('#sync-status');
    return p.dataset.running === 'no' && p.getAttribute('data-last-end') !== b &&
      !document.querySelector('#sync').disabled;
  }, before, { timeout: 60000 });
  return page.locator('#sync-status').innerText();
}

const phases = {
  // Sign in, switch language, fill up to the middle of the survey with a
  // refused answer, skip logic, back, save as draft, resume.
  async fill({ page, context, consoleErrors }) {
    const resp = await page.goto(process.env.FS_LOGIN);
    check(resp.url() === APP + '/' && resp.status() === 200, `the one-time address signs in and lands on the app (${resp.url()})`);
    const cookies = await context.cookies();
    const c = cookies.find((x) => x.name === 'fieldsync_device');
    check(c && c.httpOnly && c.sameSite === 'Strict', 'the device cookie is HttpOnly and SameSite=Strict');
    await page.getByText('Community resilience and trust baseline').waitFor();
    await page.selectOption('#lang', 'fr');
    await page.getByText('Enquête de référence sur la résilience et la confiance').waitFor();
    check(await page.locator('html').getAttribute('lang') === 'fr', 'the page language follows the choice');
    check(await page.getByRole('button', { name: 'Commencer' }).count() === 1, 'the app speaks French too');
    await page.selectOption('#lang', 'en');
    await page.getByText('Community resilience and trust baseline').waitFor();
    const startBox = await page.getByRole('button', { name: 'Start' }).boundingBox();
    check(startBox.height >= 44, `touch targets are large (${startBox.height}px high)`);

    await page.click('button[data-form="resilience_baseline"]');
    await page.locator('select#answer').waitFor();
    await page.selectOption('select#answer', 'CITY-N01');
    await page.click('#next');
    await question(page, 'This survey is voluntary');
    check(await page.locator('html').getAttribute('dir') === 'ltr', 'the page carries a dir attribute');
    await answer(page, 'radio', 'Yes', 'Household code');
    check((await page.locator('#hint').innerText()).includes('AB-0042'), 'the hint is shown');

    // Refused by the shared validator, then corrected.
    await page.locator('#answer').fill('ab-12');
    await page.click('#next');
    await page.locator('#error:not(:empty)').waitFor();
    const err = await page.locator('#error').innerText();
    check(/pattern|match/i.test(err), `the validator's reason is shown: "${err}"`);
    const still = await page.locator('#qlabel').innerText();
    check(still.startsWith('Household code'), `a refused answer stays on its question (${still})`);
    check(draftAnswer('household_code') === '', 'a refused answer is not saved');
    await answer(page, 'fill', 'AB-0042', 'Survey wave');
    check(draftAnswer('household_code') === 'AB-0042', 'the corrected answer is saved at once');

    // The language can change mid-form; labels follow.
    await page.selectOption('#lang', 'fr');
    await question(page, "Vague d'enquête");
    await page.selectOption('#lang', 'en');
    await question(page, 'Survey wave');
    check(true, 'switching language mid-form shows the question in French and back');

    // Browser text zoom at 200%: everything grows (rem units) and the
    // page still fits the tablet's width.
    const h1 = (await page.locator('#next').boundingBox()).height;
    await page.evaluate(() => { document.documentElement.style.fontSize = '200%'; });
    const h2 = (await page.locator('#next').boundingBox()).height;
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    check(h2 >= 1.8 * h1, `text zoom grows the controls (${h1}px -> ${h2}px)`);
    check(fits, 'at 200% text the page needs no sideways scrolling');
    await page.evaluate(() => { document.documentElement.style.fontSize = ''; });

    await answer(page, 'radio', 'First wave (baseline)', 'Date of the interview');
    await answer(page, 'fill', '2026-03-01', 'How long have you lived');
    await answer(page, 'radio', '1 to 5 years', 'I feel I belong');
    await answer(page, 'radio-start', '4 ', 'People here are willing');
    await answer(page, 'radio-start', '5 ', 'How much do you trust the city');
    // A required question cannot be skipped.
    await page.click('#next');
    await page.locator('#error:not(:empty)').waitFor();
    check(/needs an answer/.test(await page.locator('#error').innerText()), 'a required question says it needs an answer');
    await answer(page, 'radio-start', '2 ', 'How much do you trust local public services');

    // Save as draft; it is listed; resume it where it stopped.
    await page.click('#save');
    await page.locator('ul.list li').first().waitFor();
    check((await page.locator('.notice').innerText()).includes('Saved as draft'), 'saving says so');
    const drafts = await page.locator('ul.list li').count();
    check(drafts === 1, `one draft listed (${drafts})`);
    check((await page.locator('ul.list li').first().innerText()).includes('8 answer(s)'), 'the draft holds the 8 answers given');
    await page.getByRole('link', { name: 'Continue' }).click();
    await question(page, 'How much do you trust local public services');
    check(await page.getByRole('button', { name: 'Back' }).count() === 1, 'back is offered');

    await answer(page, 'radio-start', '3 ', 'have you been treated unfairly');
    // Skip logic: "Never" skips "Where did it happen?".
    await answer(page, 'radio', 'Never', 'how often have you seen tension');
    await page.click('#back');
    await question(page, 'have you been treated unfairly');
    check(await page.getByRole('radio', { name: 'Never', exact: true }).isChecked(), 'back shows the answer given');
    await page.getByRole('radio', { name: 'Often', exact: true }).check();
    await page.click('#next');
    await question(page, 'Where did it happen?');
    check(true, 'changing the answer brings the follow-up question (skip logic)');
    await page.click('#back');
    await question(page, 'have you been treated unfairly');
    await answer(page, 'radio', 'Never', 'how often have you seen tension');
    check(draftAnswer('discrimination') === 'never', 'the last answer is saved before anything else happens');
    await context.storageState({ path: STATE });
    check(unexpected(consoleErrors).length === 0, `no console errors ${unexpected(consoleErrors).join('; ')}`);
  },

  // After the agent was killed mid-form and restarted: the draft goes on
  // from the last saved answer; finish, finalize, sync to the hub.
  async finish({ page, consoleErrors }) {
    await page.goto(APP + '/#/drafts');
    await page.getByRole('link', { name: 'Continue' }).click();
    await question(page, 'how often have you seen tension');
    check(true, 'after kill -9 and restart the draft resumes after the last saved answer');
    await page.click('#back');
    await question(page, 'have you been treated unfairly');
    check(await page.getByRole('radio', { name: 'Never', exact: true }).isChecked(), 'the answers before the kill are there');
    await page.click('#next');
    await question(page, 'how often have you seen tension');
    await answer(page, 'radio', 'Rarely', 'come across online content');
    await answer(page, 'radio', 'Never', 'Do you know of local initiatives');
    await answer(page, 'radio', 'Yes', 'Which ones?');
    await answer(page, 'fill', 'Youth football on Saturdays', 'What would most build trust');
    await answer(page, 'check', ['Regular meetings where the city listens', 'Events that bring neighbours together'], 'Your age');
    await answer(page, 'radio', '25 to 34', 'Your gender');
    await answer(page, 'radio', 'Woman', 'how would you describe your community');
    await answer(page, 'fill', '', 'anything else you would like');
    await answer(page, 'fill', 'Thank you', null);
    const summary = await page.locator('dl.summary').innerText();
    check(summary.includes('AB-0042') && summary.includes('Youth football on Saturdays'), `the review lists the answers: ${summary.replace(/\n/g, ' | ')}`);
    await page.click('#finalize');
    await page.locator('.notice', { hasText: 'Finalized' }).waitFor();
    check((await page.locator('ul.list li').first().innerText()).includes('waiting to be sent'), 'the submission waits to be sent');
    const msg = await syncAndWait(page);
    check(/sync done: sent 1/.test(msg), `sync reports what it sent: "${msg}"`);
    await page.goto(APP + '/#/sent');
    await page.locator('.badge.sent').waitFor();
    check(!(await page.locator('ul.list li').first().innerText()).includes('waiting'), 'after the sync it is marked sent, no longer waiting');
    check(unexpected(consoleErrors).length === 0, `no console errors ${unexpected(consoleErrors).join('; ')}`);
  },

  // After an admin marked it "has issues" with a comment.
  async review({ page }) {
    await page.goto(APP + '/#/sent');
    const msg = await syncAndWait(page);
    check(/sync done/.test(msg), `sync done: "${msg}"`);
    await page.goto(APP + '/#/sent');
    await page.locator('.review-comment').first().waitFor();
    const c = await page.locator('.review-comment').first().innerText();
    check(c.includes(process.env.FS_COMMENT), `the reviewer's comment shows: ${c}`);
    check(await page.locator('.badge.has_issues').count() === 1, 'the submission shows "has issues"');

    // Correct it: every answer is kept (Next keeps it), the age changes.
    await page.click('[data-amend]');
    await question(page, 'This survey is voluntary');
    check((await page.locator('h1').innerText()).startsWith('Correction'), 'the correction is labelled as such');
    for (let i = 0; i < 40 && !(await page.locator('#finalize').count()); i++) {
      const label = await page.locator('#qlabel').innerText();
      if (label.startsWith('Your age')) await page.getByRole('radio', { name: '35 to 49', exact: true }).check();
      await page.click('#next');
      await page.waitForFunction((prev) => {
        const q = document.querySelector('#qlabel');
        return document.querySelector('#finalize') || (q && q.innerText !== prev);
      }, label);
    }
    await page.click('#finalize');
    await page.locator('.notice', { hasText: 'Finalized' }).waitFor();
    const sent = await syncAndWait(page);
    check(/sync done: sent 1/.test(sent), `the correction is sent: "${sent}"`);
  },

  // The registry: add a stakeholder (first refused: a required field is
  // missing), edit it, sync it to the hub.
  async registry({ page }) {
    await page.goto(APP + '/#/registry');
    await page.locator('#add').waitFor();
    check((await page.locator('main').innerText()).includes('None in your areas yet'), 'the registry starts empty');
    await page.click('#add');
    await page.locator('#f-name').fill('Youth centre Les Tilleuls');
    await page.selectOption('#f-area', 'CITY-N01');
    await page.click('#save-entity');
    await page.locator('#error:not(:empty)').waitFor();
    const err = await page.locator('#error').innerText();
    check(/kind/.test(err), `a missing required field is refused with the reason: "${err.split('\n')[0]}"`);
    check(sql('SELECT count(*) FROM entities') === '0', 'nothing stored after the refusal');
    await page.selectOption('#f-kind', 'youth_group');
    await page.click('#save-entity');
    await page.locator('ul.list li').first().waitFor();
    let li = await page.locator('ul.list li').first().innerText();
    check(li.includes('Youth centre Les Tilleuls') && li.includes('Youth group') && li.includes('not sent yet'), `listed, not sent yet: ${li.replace(/\n/g, ' ')}`);
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.locator('#f-name').waitFor();
    check(await page.locator('#f-name').inputValue() === 'Youth centre Les Tilleuls', 'the edit screen shows the stored values');
    await page.locator('#f-contact_phone').fill('+33 1 23 45 67 89');
    await page.click('#save-entity');
    await page.locator('ul.list li').first().waitFor();
    const msg = await syncAndWait(page);
    check(/sync done: sent 2/.test(msg), `the new entity and its edit are sent: "${msg}"`);
    await page.goto(APP + '/#/registry/mechanism');
    await page.locator('h1', { hasText: 'Community mechanism' }).waitFor();
    check((await page.locator('main').innerText()).includes('None in your areas yet'), 'mechanisms have their own list');
    await page.goto(APP + '/#/registry/stakeholder');
    await page.locator('h1', { hasText: 'Stakeholder' }).waitFor();
    await page.locator('ul.list li').first().waitFor();
    li = await page.locator('ul.list li').first().innerText();
    check(!li.includes('not sent yet'), 'after the sync it is no longer waiting');
  },

  // The hub is down: record and sync anyway; a page from another origin
  // tries to post to the app.
  async offline({ page, context }) {
    await page.goto(APP + '/');
    await page.click('button[data-form="resilience_baseline"]');
    await page.locator('select#answer').waitFor();
    await page.selectOption('select#answer', 'CITY-N02');
    await page.click('#next');
    await question(page, 'This survey is voluntary');
    await answer(page, 'radio', 'No', 'Household code');
    await answer(page, 'fill', 'CD-0007', 'Survey wave');
    await answer(page, 'radio', 'Second wave', 'Date of the interview');
    await answer(page, 'fill', '2026-03-02', null);
    await page.click('#finalize');
    await page.locator('.notice', { hasText: 'Finalized' }).waitFor();
    // A registry entry made offline too, in the same area.
    await page.goto(APP + '/#/entity/new/mechanism');
    await page.locator('#f-name').fill('Peace committee Nord');
    await page.selectOption('#f-type', { index: 1 });
    await page.selectOption('#f-status', { index: 1 });
    await page.selectOption('#f-area', 'CITY-N02');
    await page.click('#save-entity');
    await page.locator('ul.list li').first().waitFor();
    const msg = await syncAndWait(page);
    check(/hub unreachable, 2 record\(s\) kept on this device/.test(msg), `an honest result without the hub: "${msg}"`);

    // Cross-site: a page on another port of 127.0.0.1 (the same "site",
    // so the SameSite cookie is sent) posts a form, and tries fetch().
    const before = sql('SELECT count(*) FROM drafts');
    const evil = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(`<!doctype html><form id=f method=POST action="${APP}/api/drafts" enctype="text/plain">
        <input name='{"form":"resilience_baseline","x":"' value='"}'></form>
        <p id=fetch></p>
        <script>
          fetch('${APP}/api/drafts', {method: 'POST', credentials: 'include',
            headers: {'X-Fieldsync': '1', 'Content-Type': 'application/json'},
            body: '{"form":"resilience_baseline"}'})
            .then(r => document.getElementById('fetch').textContent = 'status ' + r.status)
            .catch(e => document.getElementById('fetch').textContent = 'blocked')
            .finally(() => setTimeout(() => document.getElementById('f').submit(), 100));
        </script>`);
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    const evilUrl = `http://127.0.0.1:${evil.address().port}/`;
    const evilPage = await context.newPage();
    await evilPage.goto(evilUrl);
    await evilPage.waitForURL(`${APP}/api/drafts`);
    const body = await evilPage.locator('body').innerText();
    check(/cross_site/.test(body), `a cross-site form post is refused: ${body.slice(0, 120)}`);
    evil.close();
    check(sql('SELECT count(*) FROM drafts') === before, 'the cross-site attempts created nothing');
  },
};

// The hub is back, but this device no longer works in CITY-N02: what it
// recorded there offline is refused and shown with the hub's reason.
phases.quarantine = async ({ page }) => {
  await page.goto(APP + '/#/quarantine');
  await page.getByText('Nothing was refused by the hub.').waitFor();
  const msg = await syncAndWait(page);
  check(/refused by the hub/.test(msg), `the sync says some were refused: "${msg}"`);
  await page.goto(APP + '/#/quarantine');
  await page.locator('ul.list li').nth(1).waitFor();
  const items = await page.locator('ul.list li').allInnerTexts();
  check(items.length === 2, `two items quarantined (${items.length})`);
  const sub = items.find((x) => x.includes('Community resilience'));
  const ent = items.find((x) => x.includes('Peace committee Nord'));
  check(sub && /The hub refused it: .*CITY-N02/.test(sub), `the submission with the hub's reason: ${sub && sub.replace(/\n/g, ' ')}`);
  check(ent && /The hub refused it: .+/.test(ent), `the registry entry with the hub's reason: ${ent && ent.replace(/\n/g, ' ')}`);
};

const opts = PHASE !== 'fill' && existsSync(STATE) ? { storageState: STATE } : {};
await run('webapp-' + PHASE, phases[PHASE], opts);
