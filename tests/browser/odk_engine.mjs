// ODK's own form engine (@getodk/xforms-engine, the engine of ODK Web
// Forms) in Chromium, used as ODK Collect uses a server: the form list,
// the XForm downloads, filling the resilience survey, the submission.
//
// The OpenRosa requests are made from Node, with the headers Collect
// sends (the hub answers no CORS pre-flight, and need not: Collect is no
// web page). The engine itself runs in the page: Node hands it the
// downloaded XForm text and takes the instance XML it produces back out,
// then POSTs that as a multipart body. The page comes from a small
// server on 127.0.0.1 that serves a blank page and the engine's own
// dist/index.js (one self-contained ES module, no bundler needed).
//
// Environment: FS_COLLECT (the device's Collect server URL), FS_FORMS
// (the form ids the list must hold, comma-separated), FS_SRC, FS_OUT (a
// directory: instance.id, answers.json and instance.xml are written there
// for the .sh to check the hub database), FS_TODAY (YYYY-MM-DD).
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { run, check } from './lib.mjs';

const BASE = process.env.FS_COLLECT;
const EXPECT = process.env.FS_FORMS.split(',').sort();
const OUT = process.env.FS_OUT;
const TODAY = process.env.FS_TODAY;
const SRC = process.env.FS_SRC;
const RB = JSON.parse(readFileSync(path.join(SRC, 'schema/forms/resilience_baseline.json'), 'utf8'));
const fieldOf = (name) => RB.fields.find((f) => f.name === name);

// What the enumerator answers in the end; the .sh has an agent record
// the same answers to compare how the hub stores the two.
const ANSWERS = {
  consent: 'yes',
  household_code: 'AB-0042',
  wave: 'w1',
  interview_date: TODAY,
  years_here: '6-10',
  belonging: 4,
  neighbours_help: 3,
  trust_local_gov: 2,
  discrimination: 'sometimes',
  discrimination_where: ['street', 'online'],
  tension_seen: 'rarely',
  hateful_online: 'never',
  aware_initiatives: 'yes',
  initiatives_known: 'Le comité de quartier & la fête des voisins',
  trust_builders: ['listening', 'other'],
  trust_builders_other: 'Des bancs <publics>',
  age_band: '35-49',
  gender: 'woman',
};

// An OpenRosa request as Collect makes it.
async function openrosa(url, init = {}) {
  const r = await fetch(url, {
    ...init,
    headers: { 'X-OpenRosa-Version': '1.0', ...(init.headers || {}) },
  });
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
}

// The page's origin: a blank page and the engine module.
const engineFile = fileURLToPath(import.meta.resolve('@getodk/xforms-engine'));
const server = http.createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html><head><meta charset="utf-8"><title>engine</title></head><body></body></html>');
  } else if (req.url === '/engine.js') {
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
    res.end(readFileSync(engineFile));
  } else {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const ORIGIN = `http://127.0.0.1:${server.address().port}`;

await run('odk_engine', async ({ page, consoleErrors }) => {
  // ---- form list and downloads, from Node ----------------------------
  const list = await openrosa(`${BASE}/formList`);
  check(list.status === 200, `formList answers 200 (got ${list.status})`);
  check(list.headers.get('x-openrosa-version') === '1.0', 'formList has X-OpenRosa-Version: 1.0');

  await page.goto(`${ORIGIN}/`);
  // The engine module, imported in the page (its top-level await sets up
  // the XPath parser, a WebAssembly module).
  await page.evaluate(async () => {
    window.ODK = await import('/engine.js');
  });
  check(await page.evaluate(() => typeof window.ODK.loadForm === 'function'),
    'the engine module loads in Chromium and has loadForm');

  // The list read by the browser's XML parser.
  const forms = await page.evaluate((xml) => {
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    if (doc.getElementsByTagName('parsererror').length) return null;
    return [...doc.getElementsByTagNameNS('*', 'xform')].map((x) => {
      const t = (n) => x.getElementsByTagNameNS('*', n)[0]?.textContent ?? null;
      return { id: t('formID'), version: t('version'), hash: t('hash'), url: t('downloadUrl') };
    });
  }, list.body.toString('utf8'));
  check(forms !== null, 'the form list is well-formed XML');
  check(JSON.stringify(forms.map((f) => f.id).sort()) === JSON.stringify(EXPECT),
    `the form list names the published forms (got ${forms.map((f) => f.id).join(',')})`);

  const xforms = {};
  for (const f of forms) {
    const r = await openrosa(f.url);
    check(r.status === 200, `${f.id}: download answers 200 (got ${r.status})`);
    const md5 = 'md5:' + createHash('md5').update(r.body).digest('hex');
    check(md5 === f.hash, `${f.id}: the listed hash is the MD5 of the bytes served (${f.hash} vs ${md5})`);
    xforms[f.id] = r.body.toString('utf8');
  }

  // ---- every XForm into the engine -------------------------------------
  const loaded = await page.evaluate(async (all) => {
    const out = {};
    window.instances = {};
    window.loaded = {};
    for (const [id, xml] of Object.entries(all)) {
      const res = await window.ODK.loadForm(xml);
      window.loaded[id] = res;
      if (res.status === 'failure') {
        out[id] = { status: res.status, error: [res.error.message, ...(res.error.errors || []).map(String)].join(' / ') };
        continue;
      }
      try {
        const inst = res.createInstance();
        window.instances[id] = inst;
        // Every node's reference, depth first.
        const refs = [];
        const relevant = {};
        const walk = (n) => {
          for (const c of n.currentState.children || []) {
            refs.push(c.currentState.reference);
            relevant[c.currentState.reference.split('/').pop()] = c.currentState.relevant;
            walk(c);
          }
        };
        walk(inst.root);
        out[id] = {
          status: res.status,
          warnings: res.warnings,
          languages: inst.root.languages.map((l) => l.language),
          refs,
          relevant,
        };
      } catch (e) {
        out[id] = { status: 'createInstance threw', error: String(e && e.stack ? e.stack : e) };
      }
    }
    return out;
  }, xforms);
  for (const id of EXPECT) {
    const l = loaded[id];
    check(l && l.status === 'success',
      `${id}: the engine loads the hub's XForm (${l ? l.status : 'missing'}${l && l.error ? ': ' + l.error : ''}${l && l.warnings ? ' warnings ' + JSON.stringify(l.warnings) : ''})`);
    if (!l || !l.refs) continue;
    let def = null;
    for (const dir of ['schema/forms', 'tests/browser/fixtures']) {
      try {
        def = JSON.parse(readFileSync(path.join(SRC, dir, `${id}.json`), 'utf8'));
      } catch (_) { /* in the other directory */ }
    }
    if (def) {
      // Every field of the definition is a node of the engine's instance
      // (sections are groups, so the name is the last step).
      const names = new Set(l.refs.map((r) => r.split('/').pop()));
      const missing = def.fields.map((f) => f.name).filter((n) => !names.has(n));
      check(missing.length === 0, `${id}: every field is a node in the engine (${def.fields.length} fields${missing.length ? ', missing ' + missing.join(',') : ''})`);
      check(names.has('instanceID'), `${id}: the instance has meta/instanceID`);
      // A note before the consent question (an instruction to read first)
      // is shown on a new instance: consent cannot have been given yet.
      const ci = def.fields.findIndex((f) => f.consent);
      const early = def.fields.slice(0, Math.max(ci, 0))
        .filter((f) => f.type === 'note' && !f.relevant).map((f) => f.name);
      const hidden = early.filter((n) => l.relevant[n] !== true);
      check(hidden.length === 0,
        `${id}: notes before the consent question are shown (${early.length} such${hidden.length ? ', hidden: ' + hidden.join(',') : ''})`);
    }
    check(JSON.stringify(l.languages) === JSON.stringify(['English (en)', 'French (fr)']),
      `${id}: languages English and French (got ${JSON.stringify(l.languages)})`);
  }

  // ---- the resilience survey, filled with the engine -------------------
  // Helpers in the page: find a node by name, answer it.
  await page.evaluate(() => {
    window.node = (form, name) => {
      const find = (n) => {
        for (const c of n.currentState.children || []) {
          if (c.currentState.reference.split('/').pop() === name) return c;
          const f = find(c);
          if (f) return f;
        }
        return null;
      };
      return find(window.instances[form].root);
    };
    window.answer = (form, name, v) => {
      const n = window.node(form, name);
      if (n.nodeType === 'select') {
        if (Array.isArray(v)) n.selectValues(v.map(String));
        else n.selectValue(v === null ? null : String(v));
      } else {
        n.setValue(v === null ? '' : String(v));
      }
      return n;
    };
    window.state = (form, name) => {
      const n = window.node(form, name);
      const viol = n.validationState.violation;
      return {
        relevant: n.currentState.relevant,
        required: n.currentState.required,
        label: n.currentState.label ? n.currentState.label.asString : null,
        options: n.nodeType === 'select' ? n.currentState.valueOptions.map((o) => o.label.asString) : null,
        value: n.currentState.instanceValue,
        constraintValid: n.validationState.constraint.valid,
        violation: viol ? { condition: viol.condition, message: viol.message ? viol.message.asString : null } : null,
      };
    };
    window.language = (form, code) => {
      const root = window.instances[form].root;
      const lang = root.languages.find((l) => l.language.endsWith(`(${code})`));
      root.setLanguage(lang);
      return root.currentState.activeLanguage.language;
    };
  });
  const F = 'resilience_baseline';
  const st = (name) => page.evaluate(([f, n]) => window.state(f, n), [F, name]);
  const ans = (name, v) => page.evaluate(([f, n, val]) => { window.answer(f, n, val); return window.state(f, n); }, [F, name, v]);
  const lang = (code) => page.evaluate(([f, c]) => window.language(f, c), [F, code]);

  // Languages: the form opens in its default (English), then French, then
  // back; labels and choice labels are the definition's, word for word.
  let s = await st('consent');
  check(s.label === fieldOf('consent').label.en, 'consent: the label opens in English');
  check(await lang('fr') === 'French (fr)', 'the engine switches to French');
  s = await st('consent');
  check(s.label === fieldOf('consent').label.fr, `consent: the label in French (got ${s.label})`);
  check(JSON.stringify(s.options) === JSON.stringify(['Oui', 'Non']), `consent: choices in French (got ${JSON.stringify(s.options)})`);
  s = await st('belonging');
  check(s.options[4] === fieldOf('belonging').scale_labels[4].fr, `belonging: likert labels in French (got ${s.options[4]})`);
  check(await lang('en') === 'English (en)', 'and back to English');
  s = await st('household_code');
  check(s.label === 'Household code', `household_code: the label is English again (got ${s.label})`);

  // Skip logic: everything after consent waits for a yes.
  check((await st('years_here')).relevant === false, 'years_here: not relevant before consent');
  check((await st('belonging')).relevant === false, 'belonging: not relevant before consent');
  s = await ans('consent', 'yes');
  check((await st('years_here')).relevant === true, 'years_here: relevant once consent is yes');
  check((await st('belonging')).required === true, 'belonging: relevant and required after consent');
  await ans('discrimination', 'never');
  check((await st('discrimination_where')).relevant === false, 'discrimination_where: not relevant after "never"');
  await ans('discrimination', 'sometimes');
  check((await st('discrimination_where')).relevant === true, 'discrimination_where: relevant after "sometimes"');
  check((await st('initiatives_known')).relevant === false, 'initiatives_known: not relevant before aware_initiatives');
  await ans('aware_initiatives', 'yes');
  check((await st('initiatives_known')).relevant === true, 'initiatives_known: relevant after yes');
  check((await st('trust_builders_other')).relevant === false, 'trust_builders_other: not relevant without "other"');

  // Constraints: a refused answer, then a corrected one.
  s = await ans('household_code', 'ab-12');
  check(s.violation && s.violation.condition === 'constraint' && !s.constraintValid,
    `household_code "ab-12": a constraint violation (got ${JSON.stringify(s.violation)})`);
  s = await ans('household_code', 'AB-0042');
  check(s.violation === null && s.constraintValid, `household_code "AB-0042": valid (got ${JSON.stringify(s.violation)})`);
  s = await ans('interview_date', '2023-12-31');
  check(s.violation && s.violation.condition === 'constraint', `interview_date before 2024: a constraint violation (got ${JSON.stringify(s.violation)})`);
  s = await ans('interview_date', TODAY);
  check(s.violation === null, `interview_date today: valid (got ${JSON.stringify(s.violation)})`);
  s = await ans('trust_builders', ['listening', 'fair_services', 'youth', 'other']);
  check(s.violation && s.violation.condition === 'constraint', `trust_builders: four choices break "up to three" (got ${JSON.stringify(s.violation)})`);
  check((await st('trust_builders_other')).relevant === true, 'trust_builders_other: relevant once "other" is chosen');
  s = await ans('trust_builders', ['listening', 'other']);
  check(s.violation === null, `trust_builders: two choices are valid (got ${JSON.stringify(s.violation)})`);
  s = await ans('_area', 'CITY N01!');
  check(s.violation && s.violation.condition === 'constraint', `_area "CITY N01!": a constraint violation (got ${JSON.stringify(s.violation)})`);
  s = await ans('_area', 'CITY-N01');
  check(s.violation === null, '_area CITY-N01: valid');

  // Required answers still missing: the payload says so.
  let pending = await page.evaluate(async (f) => {
    const p = await window.instances[f].root.prepareInstancePayload();
    return { status: p.status, violations: (p.violations || []).map((v) => v.reference) };
  }, F);
  check(pending.status === 'pending' && pending.violations.includes('/data/belonging') &&
    pending.violations.includes('/data/wave'),
    `with required answers missing the payload is pending (got ${JSON.stringify(pending)})`);

  // The whole survey.
  for (const [k, v] of Object.entries(ANSWERS)) {
    s = await ans(k, v);
    check(s.relevant && s.violation === null, `${k}: answered, relevant and valid (${JSON.stringify(s.violation)})`);
  }
  const payload = await page.evaluate(async (f) => {
    const root = window.instances[f].root;
    const p = await root.prepareInstancePayload();
    const file = p.data[0].get('xml_submission_file');
    return {
      status: p.status,
      violations: p.violations,
      name: file.name,
      type: file.type,
      parts: [...p.data[0].keys()],
      xml: await file.text(),
    };
  }, F);
  check(payload.status === 'ready' && payload.violations === null,
    `the payload is ready, no violation (got ${payload.status} ${JSON.stringify(payload.violations)})`);
  check(payload.name === 'xml_submission_file' && payload.type === 'text/xml' &&
    JSON.stringify(payload.parts) === '["xml_submission_file"]',
    `the payload is one part, xml_submission_file, text/xml (got ${payload.name} ${payload.type} ${payload.parts})`);
  const iid = (payload.xml.match(/<instanceID>uuid:([0-9a-f-]{36})<\/instanceID>/) || [])[1];
  check(Boolean(iid), 'the instance has meta/instanceID uuid:...');
  const doc = await page.evaluate((xml) => {
    const d = new DOMParser().parseFromString(xml, 'text/xml');
    const t = (n) => d.getElementsByTagName(n)[0]?.textContent ?? null;
    return {
      root: d.documentElement.localName,
      id: d.documentElement.getAttribute('id'),
      version: d.documentElement.getAttribute('version'),
      belonging: t('belonging'),
      where: t('discrimination_where'),
      known: t('initiatives_known'),
      other: t('trust_builders_other'),
      area: t('_area'),
    };
  }, payload.xml);
  check(doc.root === 'data' && doc.id === F && doc.version === '1', `the instance is <data id="${F}" version="1"> (got ${JSON.stringify(doc)})`);
  check(doc.belonging === '4' && doc.where === 'street online' && doc.area === 'CITY-N01' &&
    doc.other === ANSWERS.trust_builders_other && doc.known === ANSWERS.initiatives_known,
    `the instance holds the answers (got ${JSON.stringify(doc)})`);

  // ---- the submission, as Collect posts it -------------------------------
  const form = new FormData();
  form.append('xml_submission_file', new Blob([payload.xml], { type: 'text/xml' }), 'submission.xml');
  const head = await openrosa(`${BASE}/submission`, { method: 'HEAD' });
  check(head.status === 204, `HEAD submission answers 204 (got ${head.status})`);
  const post = await openrosa(`${BASE}/submission`, { method: 'POST', body: form });
  const reply = post.body.toString('utf8');
  check(post.status === 201, `submission answers 201 (got ${post.status}: ${reply})`);
  check(post.headers.get('x-openrosa-version') === '1.0', 'the 201 has X-OpenRosa-Version: 1.0');
  check(/<OpenRosaResponse[\s>]/.test(reply), 'the 201 is an OpenRosaResponse');

  // ---- consent refused: only metadata goes out -----------------------
  // A second instance: answers given, then consent changed to no. The
  // engine leaves the questions that are no longer relevant out of the
  // instance, and the hub accepts it (it refuses non-metadata answers
  // with refused consent).
  const R = 'refused';
  await page.evaluate((f) => { window.instances.refused = window.loaded[f].createInstance(); }, F);
  const rans = (name, v) => page.evaluate(([f, n, val]) => { window.answer(f, n, val); return window.state(f, n); }, [R, name, v]);
  for (const [k, v] of [['_area', 'CITY-N01'], ['consent', 'yes'], ['household_code', 'CD-0007'],
    ['wave', 'w1'], ['interview_date', TODAY], ['belonging', 5], ['trust_local_gov', 1],
    ['comment', 'should not leave the device']]) {
    await rans(k, v);
  }
  s = await rans('consent', 'no');
  const after = await page.evaluate(([f]) => ['belonging', 'comment', 'household_code'].map((n) => window.state(f, n).relevant), [R]);
  check(JSON.stringify(after) === '[false,false,true]',
    `consent no: questions not relevant, metadata still is (got ${JSON.stringify(after)})`);
  const refused = await page.evaluate(async (f) => {
    const p = await window.instances[f].root.prepareInstancePayload();
    return { status: p.status, xml: await p.data[0].get('xml_submission_file').text() };
  }, R);
  check(refused.status === 'ready', `the refused instance is ready (got ${refused.status})`);
  check(!/should not leave|<belonging>5/.test(refused.xml) && /<household_code>CD-0007</.test(refused.xml),
    `the refused instance holds the metadata, not the answers (got ${refused.xml})`);
  const rform = new FormData();
  rform.append('xml_submission_file', new Blob([refused.xml], { type: 'text/xml' }), 'submission.xml');
  const rpost = await openrosa(`${BASE}/submission`, { method: 'POST', body: rform });
  check(rpost.status === 201, `the refused instance: 201 (got ${rpost.status}: ${rpost.body})`);
  const rid = (refused.xml.match(/<instanceID>uuid:([0-9a-f-]{36})<\/instanceID>/) || [])[1];
  writeFileSync(path.join(OUT, 'refused.id'), rid + '\n');

  writeFileSync(path.join(OUT, 'instance.id'), iid + '\n');
  writeFileSync(path.join(OUT, 'instance.xml'), payload.xml);
  writeFileSync(path.join(OUT, 'answers.json'), JSON.stringify(ANSWERS));

  // ---- a constraint message, translated ----------------------------------
  const M = 'engine_messages';
  const mst = (v) => page.evaluate(([f, val]) => { window.answer(f, 'household_code', val); return window.state(f, 'household_code'); }, [M, v]);
  s = await mst('ab-12');
  check(s.violation && s.violation.message === 'Two capitals, a dash and four digits, or none',
    `${M}: the constraint message in English (got ${JSON.stringify(s.violation)})`);
  await page.evaluate(([f]) => window.language(f, 'fr'), [M]);
  s = await page.evaluate(([f]) => window.state(f, 'household_code'), [M]);
  check(s.violation && s.violation.message === 'Deux majuscules, un tiret et quatre chiffres, ou none',
    `${M}: the constraint message in French (got ${JSON.stringify(s.violation)})`);
  s = await mst('none');
  check(s.violation === null, `${M}: "none" meets the constraint`);

  check(consoleErrors.length === 0, `no console errors ${consoleErrors.join('; ')}`);
});
server.close();
