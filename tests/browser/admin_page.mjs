// Drives the admin page: see admin_page.sh for the hub it runs against.
import { run, check } from './lib.mjs';

const URL_ = process.env.FS_URL;
const TARGET = process.env.FS_TARGET;

// Text whose colour is too close to its background (WCAG AA: 4.5:1, 3:1
// for large text), as "text on background ratio"; empty when all is
// readable. The background is the first opaque one up the tree.
async function lowContrast(page) {
  return page.evaluate(() => {
    const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bg = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || c[3] > 0.9) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const bad = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el || el.closest('svg, [hidden], .sr, .skip') || !el.offsetParent) continue;
      const st = getComputedStyle(el);
      if (st.visibility === 'hidden' || el.closest('button:disabled')) continue;
      const a = lum(rgb(st.color)), b = lum(bg(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.5 && Number(st.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`"${n.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
    return bad;
  });
}

// Every visible form control has a label (a <label for>, or aria-label).
async function unlabelled(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.offsetParent !== null)
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map((el) => el.id || el.name || el.outerHTML.slice(0, 60)));
}

await run('admin_page', async ({ page, consoleErrors }) => {
  const resp = await page.goto(URL_ + '/');
  check(resp.status() === 200, 'GET / answers 200');
  await page.locator('body[data-ready=yes]').waitFor();
  check(await page.locator('#nav').isHidden(), 'views are hidden before sign-in');

  // A token the hub never issued: refused, with words, and nothing shown.
  await page.locator('#token').fill('f'.repeat(64));
  await page.locator('#token').press('Enter'); // the keyboard submits
  await page.locator('#signin-msg', { hasText: 'refused' }).waitFor();
  check(/refused/.test(await page.locator('#signin-msg').innerText()),
        'a wrong token gets a clear refusal');
  check(await page.locator('#nav').isHidden(), 'the wrong token opens nothing');
  check(await page.evaluate(() => sessionStorage.length) === 0, 'the wrong token is not kept');
  // Chromium logs the refused request itself; that is the only error allowed.
  check(consoleErrors.length === 1 && /401/.test(consoleErrors[0]),
        `the refusal was a 401 (${consoleErrors.join('; ')})`);
  consoleErrors.length = 0;

  // The reviewer signs in with the keyboard alone.
  await page.locator('#token').fill(process.env.FS_REVIEWER);
  await page.keyboard.press('Tab'); // help text is not focusable: next is the button
  check(await page.evaluate(() => document.activeElement.type) === 'submit',
        'Tab moves from the token to the sign-in button');
  await page.keyboard.press('Enter');
  await page.locator('#who', { hasText: 'rita' }).waitFor();
  check(/reviewer/.test(await page.locator('#who').innerText()), 'signed in as the reviewer');
  check(await page.locator('#nav a[data-view=devices]').isHidden(),
        'a reviewer is not offered the devices view');

  // Submissions: only the reviewer's area, with every control labelled.
  await page.locator('table#submissions').waitFor();
  const rows = page.locator('table#submissions tbody tr[data-id]');
  check(await rows.count() === 3, `the reviewer sees the 3 N-01 submissions (saw ${await rows.count()})`);
  const areas = await page.locator('table#submissions tbody tr[data-id] td:nth-child(3)').allInnerTexts();
  check(areas.every((a) => a === 'N-01'), `only N-01 rows (${areas.join(',')})`);
  check((await unlabelled(page)).length === 0, `every control is labelled (${await unlabelled(page)})`);
  check((await lowContrast(page)).length === 0, `submissions: readable contrast (${await lowContrast(page)})`);

  // Filtering by review state is done by the hub.
  await page.locator('#f-state').selectOption('approved');
  await page.locator('text=No submissions match these filters.').waitFor();
  check(/state=approved/.test(page.url()), 'the filter is in the address (back button works)');
  await page.locator('#f-state').selectOption('received');
  await page.locator('table#submissions').waitFor();
  check(await rows.count() === 3, 'three still to review');

  // Has issues without a comment is refused in the page.
  await page.locator(`button[data-id="${TARGET}"]`).click();
  const panel = page.locator(`#d-${TARGET}`);
  await panel.locator('button[data-state=has_issues]').click();
  check(/Say what needs fixing/.test(await panel.locator('[role=status]').innerText()),
        '"has issues" asks for a comment');
  check(await panel.locator('dt', { hasText: 'gender' }).count() === 1, 'the answers are shown');
  check((await lowContrast(page)).length === 0, `review panel: readable contrast (${await lowContrast(page)})`);

  await panel.locator('textarea').fill('checked on the admin page');
  await panel.locator('button[data-state=approved]').click();
  await panel.locator('[role=status]', { hasText: 'Marked approved' }).waitFor();
  const badge = page.locator(`tr[data-id="${TARGET}"] .state`);
  check(await badge.innerText() === 'Approved', 'the row shows Approved');

  await page.locator('#f-state').selectOption('approved');
  await page.locator('table#submissions').waitFor();
  check(await rows.count() === 1, 'the hub now lists it as approved');

  // An admin sees every device and when it last synced.
  await page.locator('#signout').click();
  await page.locator('#signin-msg', { hasText: 'Signed out' }).waitFor();
  check(await page.evaluate(() => sessionStorage.length) === 0, 'sign-out forgets the token');
  await page.locator('#token').fill(process.env.FS_ADMIN);
  await page.locator('#signin-form button').click();
  await page.locator('#who', { hasText: 'ada' }).waitFor();
  await page.locator('#nav a[data-view=devices]').click();
  await page.locator('table#devices').waitFor();
  const devs = await page.locator('table#devices tbody tr').allInnerTexts();
  check(devs.length === 2, `two devices listed (${devs.length})`);
  check(devs.some((r) => r.startsWith('north')) && devs.some((r) => r.startsWith('south')),
        'both agents are listed by name');
  check(devs.every((r) => /just now|min ago/.test(r)), 'each shows a recent last sync');

  // Conflicts: choose the "closed" status, write a new name.
  await page.locator('#nav a[data-view=conflicts]').click();
  await page.locator('section[data-conflict]').first().waitFor();
  const cards = page.locator('section[data-conflict]');
  check(await cards.count() === 2, `two open conflicts shown (${await cards.count()})`);
  const status = cards.filter({ hasText: 'field “status”' });
  const name = cards.filter({ hasText: 'field “name”' });
  check(await status.locator('input[type=radio]:not([value=own])').count() === 2, 'status: both competing values offered');
  check(/dormant/.test(await status.innerText()) && /closed/.test(await status.innerText()),
        'status: both values shown');
  check(/north/.test(await status.innerText()) && /south/.test(await status.innerText()),
        'status: both devices named');
  await status.locator('label', { hasText: 'closed' }).locator('input').check();
  await status.locator('button', { hasText: 'Resolve' }).click();
  await status.locator('[role=status]', { hasText: 'Resolved: closed' }).waitFor();
  check(await status.getAttribute('data-resolved') === 'yes', 'status conflict resolved by choice');

  await name.locator('button', { hasText: 'Resolve' }).focus();
  await name.locator('input[type=text]').fill('');
  await name.locator('input[value=own]').check();
  await name.locator('button', { hasText: 'Resolve' }).click();
  check(/Write the value first/.test(await name.locator('[role=status]').innerText()),
        'an empty written value is refused in the page');
  await name.locator('input[type=text]').fill('Youth council Nord-Est');
  await name.locator('input[type=text]').press('Tab'); // keyboard to the button
  await page.keyboard.press('Enter');
  await name.locator('[role=status]', { hasText: 'Resolved: Youth council Nord-Est' }).waitFor();
  check(await name.getAttribute('data-resolved') === 'yes', 'name conflict resolved with a written value');
  await page.reload();
  await page.locator('body[data-ready=yes]').waitFor();
  await page.locator('text=No open conflicts.').waitFor();
  check(await page.locator('section[data-conflict]').count() === 0, 'after a reload no conflict is open');

  await page.locator('#nav a[data-view=devices]').click();
  await page.locator('table#devices').waitFor();

  await datasetChecks(page);
  await page.locator('#nav a[data-view=devices]').click();
  await page.locator('table#devices').waitFor();

  // A reload keeps the session (sessionStorage), still without a wrong view.
  await page.reload();
  await page.locator('body[data-ready=yes]').waitFor();
  await page.locator('table#devices').waitFor();
  check(/ada \(admin/.test(await page.locator('#who').innerText()), 'a reload stays signed in');

  check(consoleErrors.length === 0, `no console errors or CSP violations (${consoleErrors.join('; ')})`);
});

// The hub's own answer for the same question, to compare cell by cell.
async function apiGet(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { headers: { Authorization: `Bearer ${sessionStorage.getItem('fieldsync.token')}` } });
    return r.json();
  }, path);
}

async function datasetChecks(page) {
  // Coverage against the quota.
  await page.locator('#nav a[data-view=coverage]').click();
  await page.locator('table#coverage').waitFor();
  const covAll = await page.locator('table#coverage tbody tr').allInnerTexts();
  check(covAll.length === 2, `coverage: both quotas at every level (${covAll})`);
  // The level picker: the neighbourhood's quota, then the district's,
  // which counts its neighbourhoods (7 + 2).
  await page.locator('#f-level').selectOption('neighbourhood');
  await page.locator('table#coverage tbody tr', { hasText: 'CITY-N01' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('table#coverage tbody tr').length === 1);
  const cov = await page.locator('table#coverage tbody tr').allInnerTexts();
  check(cov.length === 1 && /CITY-N01/.test(cov[0]) && /\b7\s+10\b/.test(cov[0]) && /70%/.test(cov[0]),
        `coverage: CITY-N01 7 of 10, 70% (${cov})`);
  await page.locator('#f-level').selectOption('district');
  await page.locator('table#coverage tbody tr', { hasText: 'CITY-D1' }).waitFor();
  const covD = await page.locator('table#coverage tbody tr').allInnerTexts();
  check(covD.length === 1 && /\b9\s+20\b/.test(covD[0]) && /45%/.test(covD[0]),
        `coverage by district: CITY-D1 9 of 20, 45% (${covD})`);

  // Indicator table, count by area: CITY-N02 (n=2) is a small cell,
  // CITY-N01 (n=7) is hidden so N02 cannot be worked out from the total.
  await page.goto(URL_ + '/#indicators?form=mapping_survey&indicator=count&wave=baseline');
  await page.locator('table#indicators').waitFor();
  const want = await apiGet(page, '/api/v1/admin/indicators?form=mapping_survey&indicator=count&wave=baseline');
  const suppressed = want.cells.filter((c) => c.status === 'suppressed');
  check(suppressed.length >= 2, `the hub suppresses cells here (${suppressed.length})`);
  for (const c of want.cells) {
    const row = page.locator('table#indicators tbody tr', { has: page.locator('th', { hasText: c.area === '*' ? 'All areas' : c.area }) });
    const td = row.locator('td').first();
    const text = (await td.innerText()).trim();
    if (c.status === 'suppressed') {
      check(await td.getAttribute('data-status') === 'suppressed' && /^suppressed/.test(text) && !/\d/.test(text),
            `${c.area}: shown as suppressed (${c.reason}), no number (“${text}”)`);
    } else {
      check(text.startsWith(String(c.value)) && text.includes(`n = ${c.n}`),
            `${c.area}: ${c.value}, n = ${c.n} (“${text.replace(/\n/g, ' ')}”)`);
      check((await td.getAttribute('data-status') === 'unreliable') === c.unreliable,
            `${c.area}: unreliable flag ${c.unreliable}`);
    }
  }

  // The level picker: districts only, each row the hub's roll-up of
  // its neighbourhoods, shown or suppressed as the hub decided.
  await page.locator('#f-level').selectOption('district');
  await page.waitForFunction(() => [...document.querySelectorAll('table#indicators tbody th')]
    .map((t) => t.textContent).join(',') === 'CITY-D1,CITY-D2,All areas');
  for (const c of want.cells.filter((x) => /^CITY-D/.test(x.area))) {
    const td = page.locator('table#indicators tbody tr', { has: page.locator('th', { hasText: c.area }) }).locator('td').first();
    const text = (await td.innerText()).trim();
    check(c.status === 'suppressed' ? /^suppressed/.test(text) : text.includes(`n = ${c.n}`),
          `district level: ${c.area} as the hub has it (“${text.replace(/\n/g, ' ')}”)`);
  }
  check(want.cells.some((c) => c.area === 'CITY-D1' && c.status === 'ok' && c.n === 9),
        'the hub rolls CITY-D1 up from its neighbourhoods (7 + 2)');
  await page.locator('#f-level').selectOption('');
  await page.locator('table#indicators th', { hasText: 'CITY-N03' }).waitFor();

  // Broken down by gender: every suppressed cell of the hub's table says so.
  await page.locator('#f-by').selectOption('gender');
  await page.locator('table#indicators th', { hasText: 'Woman' }).waitFor();
  const byg = await apiGet(page, '/api/v1/admin/indicators?form=mapping_survey&indicator=count&wave=baseline&by=gender');
  const nsup = byg.cells.filter((c) => c.status === 'suppressed').length;
  const shown = await page.locator('table#indicators td[data-status=suppressed]').allInnerTexts();
  check(shown.length === nsup && shown.every((t) => /^suppressed/.test(t) && !/\d/.test(t)),
        `by gender: ${nsup} suppressed cells, each shown as suppressed (${shown.length})`);
  check(await page.locator('table#indicators td[data-status=suppressed]', { hasText: /^0/ }).count() === 0,
        'no suppressed cell reads 0');
  check((await lowContrast(page)).length === 0, `indicators: readable contrast (${await lowContrast(page)})`);
  check((await unlabelled(page)).length === 0, `indicators: every control is labelled (${await unlabelled(page)})`);

  // The map: one path per neighbourhood, coloured or hatched by the cells.
  await page.goto(URL_ + '/#map?form=mapping_survey&indicator=count&wave=baseline');
  await page.locator('svg.map').waitFor();
  const paths = page.locator('svg.map path.area');
  check(await paths.count() === 4, `the map draws the 4 neighbourhoods as paths (${await paths.count()})`);
  const state = {};
  for (const code of ['CITY-N01', 'CITY-N02', 'CITY-N03', 'CITY-N04'])
    state[code] = await page.locator(`svg.map path[data-code="${code}"]`).getAttribute('data-state');
  check(state['CITY-N01'] === 'suppressed' && state['CITY-N02'] === 'suppressed',
        `suppressed areas are hatched, not coloured (${JSON.stringify(state)})`);
  check(state['CITY-N03'] === 'value' && state['CITY-N04'] === 'nodata', 'N03 coloured, N04 without data');
  check(await page.locator('svg.map path[data-code="CITY-N02"]').getAttribute('fill') === 'url(#hatch)',
        'the hatch pattern fills a suppressed area');
  // Keyboard: the areas take focus and say their value.
  await page.locator('#f-level').focus();
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  check(/^(Riverside|Old Town|Station|Hillside): /.test(focused || ''), `Tab reaches an area of the map (${focused})`);
  check((await lowContrast(page)).length === 0, `map: readable contrast (${await lowContrast(page)})`);
  const d = await page.locator('svg.map path[data-code="CITY-N03"]').getAttribute('d');
  check((d.match(/M/g) || []).length === 2, 'a multipolygon is one path with two rings');
  await page.locator('#f-level').selectOption('district');
  await page.locator('svg.map path[data-code="CITY-D1"]').waitFor();
  check(await paths.count() === 2, 'districts: two paths');
  await page.locator('#f-level').selectOption('city');
  await page.locator('svg.map path[data-code="CITY"]').waitFor();
  check(await page.locator('svg.map path[data-code="CITY"]').getAttribute('data-state') === 'value',
        'the city rolls up its districts: coloured, not without data');

  // Exports: a CSV per form saved through the page.
  await page.locator('#nav a[data-view=exports]').click();
  const [dl] = await Promise.all([page.waitForEvent('download'),
    page.locator('button[data-file="mapping_survey.csv"]').click()]);
  const rows = (await (await import('node:fs/promises')).readFile(await dl.path(), 'utf8')).trim().split('\n');
  check(rows.length === 18, `the CSV export has a header and 17 rows (${rows.length})`);
}
