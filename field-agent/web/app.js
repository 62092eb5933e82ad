// fieldsync form app. Plain JavaScript, no build step, no network beyond
// the agent on this device. Every answer is checked and saved by the agent
// (the same code as `fieldsync-agent fill`): this page only shows what
// the agent answers and sends what was typed.
'use strict';

const UI = {
  en: {
    forms: 'Forms', drafts: 'Drafts', sent: 'Sent', quarantine: 'Quarantined',
    sync: 'Sync', language: 'Language', start: 'Start', cont: 'Continue',
    next: 'Next', back: 'Back', save: 'Save as draft', finalize: 'Finalize',
    area: 'Area (neighbourhood code)', question: 'Question {n} of {t}',
    review: 'Check the answers, then finalize', noForms:
      'No forms on this device yet: sync to fetch them from the hub.',
    noDrafts: 'No drafts.', noSent: 'Nothing recorded yet.',
    noQuarantine: 'Nothing was refused by the hub.',
    savedDraft: 'Saved as draft. Continue it from Drafts.',
    finalized: 'Finalized. It will be sent on the next sync.',
    answers: '{n} answer(s)', waiting: 'waiting to be sent',
    sealedStored: 'Some answers are sealed: they stay on this device as typed until you finalize, then only the data steward can read them.',
    sealedMemory: 'Some answers are sealed: until you finalize they are kept in memory only, never saved; then only the data steward can read them.',
    sealedAgain: 'Sealed answers cannot be read on this device: they are asked again.',
    correct: 'Correct it', amendment: 'Correction',
    registry: 'Registry', add: 'Add', edit: 'Edit', notSent: 'not sent yet',
    noEntities: 'None in your areas yet.', savedEntity: 'Saved on this device; it will be sent on the next sync.',
    syncing: 'Syncing…', lastSync: 'Last sync', never: 'never synced',
    hubReason: 'The hub refused it', review_state: 'Review',
    received: 'received', has_issues: 'has issues', approved: 'approved',
    rejected: 'rejected', refused: 'refused', problems:
      'Before it can be finalized:', required: 'required', myLocation:
      'Use this device\'s location', nextAuto: 'next automatic sync',
    currentFile: 'Stored', sending: 'Storing the file…',
  },
  fr: {
    forms: 'Formulaires', drafts: 'Brouillons', sent: 'Envoyés',
    quarantine: 'En quarantaine', sync: 'Synchroniser', language: 'Langue',
    start: 'Commencer', cont: 'Continuer', next: 'Suivant', back: 'Retour',
    save: 'Enregistrer le brouillon', finalize: 'Terminer',
    area: 'Zone (code du quartier)', question: 'Question {n} sur {t}',
    review: 'Vérifiez les réponses, puis terminez', noForms:
      'Aucun formulaire sur cet appareil : synchronisez pour les obtenir.',
    noDrafts: 'Aucun brouillon.', noSent: 'Rien d\'enregistré.',
    noQuarantine: 'Rien n\'a été refusé par le serveur.',
    savedDraft: 'Brouillon enregistré. Reprenez-le depuis Brouillons.',
    finalized: 'Terminé. Il sera envoyé à la prochaine synchronisation.',
    answers: '{n} réponse(s)', waiting: 'en attente d\'envoi',
    sealedStored: 'Certaines réponses sont scellées : elles restent sur cet appareil telles que saisies jusqu\'à la finalisation, puis seul le responsable des données peut les lire.',
    sealedMemory: 'Certaines réponses sont scellées : jusqu\'à la finalisation elles restent en mémoire seulement, jamais enregistrées ; puis seul le responsable des données peut les lire.',
    sealedAgain: 'Les réponses scellées ne sont pas lisibles sur cet appareil : elles sont demandées à nouveau.',
    correct: 'Corriger', amendment: 'Correction',
    registry: 'Registre', add: 'Ajouter', edit: 'Modifier',
    notSent: 'pas encore envoyé', noEntities: 'Aucun dans vos secteurs.',
    savedEntity: 'Enregistré sur l\'appareil ; envoi à la prochaine synchronisation.',
    syncing: 'Synchronisation…', lastSync: 'Dernière synchronisation',
    never: 'jamais synchronisé', hubReason: 'Refusé par le serveur',
    review_state: 'Relecture', received: 'reçu', has_issues:
      'à corriger', approved: 'approuvé', rejected: 'rejeté', refused:
      'refusé', problems: 'Avant de terminer :', required: 'obligatoire',
    myLocation: 'Utiliser la position de l\'appareil', nextAuto:
      'prochaine synchronisation automatique',
    currentFile: 'Enregistré', sending: 'Enregistrement du fichier…',
  },
};

let lang = localStorage.getItem('fieldsync.lang') || '';
let notice = '';

function t(key, vars) {
  const base = (lang || 'en').split('-')[0];
  let s = (UI[base] && UI[base][key]) || UI.en[key] || key;
  for (const k in vars || {}) s = s.replace('{' + k + '}', vars[k]);
  return s;
}

// Builds an element: el('p', {class: 'x'}, 'text', child...).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

// Every state-changing request carries X-Fieldsync: the agent refuses
// those without it (a cross-site form cannot set a header). file: a File
// sent as the body as it is (an upload), instead of JSON.
async function api(method, path, body, file) {
  const q = lang ? (path.includes('?') ? '&' : '?') + 'lang=' + encodeURIComponent(lang) : '';
  const opts = { method, headers: { 'X-Fieldsync': '1' }, credentials: 'same-origin' };
  if (file) {
    opts.headers['Content-Type'] = 'application/octet-stream';
    opts.body = file;
  } else if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch('/api' + path + q, opts);
  } catch (e) {
    return { status: 0, data: { error: 'offline', message: 'the agent is not answering: is `fieldsync-agent serve` running?' } };
  }
  let data = {};
  try { data = await resp.json(); } catch (e) { /* empty body */ }
  return { status: resp.status, data };
}

const main = () => document.getElementById('main');

// Screens load asynchronously; a screen whose data arrives after the user
// (or a finished sync) moved on must not be drawn over the newer one.
let epoch = 0;
async function load(path) {
  const e = epoch;
  const r = await api('GET', path);
  return e === epoch ? r : null;
}

function setDir(l, dir) {
  document.documentElement.lang = l || 'en';
  document.documentElement.dir = dir || 'ltr';
}

function screen(title, ...kids) {
  const m = main();
  m.replaceChildren(el('h1', {}, title), el('p', { class: 'notice', role: 'status' }, notice), ...kids);
  notice = '';
  m.focus();
}

function fmtTime(ms) {
  if (!ms) return '';
  return new Date(ms).toLocaleString();
}

// ---- screens -------------------------------------------------------------

async function showForms() {
  const r = await load('/forms');
  if (!r) return;
  if (r.status !== 200) return showError(r);
  const forms = r.data.forms;
  const langs = [...new Set(forms.flatMap((f) => f.languages || []))];
  setDir(lang || langs[0], r.data.dir);
  const sel = el('select', { id: 'lang', onchange: (e) => { lang = e.target.value; localStorage.setItem('fieldsync.lang', lang); route(); } },
    langs.map((l) => el('option', { value: l, selected: l === lang }, l)));
  const list = el('ul', { class: 'list' }, forms.map((f) => el('li', {},
    el('strong', {}, f.title), ' ', el('span', { class: 'meta' }, 'v' + f.version), el('div', { class: 'actions' },
      el('button', { class: 'primary', type: 'button', 'data-form': f.id, onclick: () => startForm(f.id) }, t('start'))))));
  screen(t('forms'), el('div', { class: 'lang' }, el('label', { for: 'lang' }, t('language')), sel),
    forms.length ? list : el('p', {}, t('noForms')));
}

async function startForm(id) {
  const r = await api('POST', '/drafts', { form: id });
  if (r.status !== 201) return showError(r);
  location.hash = '#/fill/' + r.data.id;
}

function showError(r) {
  screen('Error', el('p', { class: 'error', role: 'alert' }, (r.data && r.data.message) || ('error ' + r.status)));
}

// The input for one question; read() gives the body for /answer.
function inputFor(q) {
  const name = 'q-' + q.name;
  const labelledBy = { 'aria-describedby': q.hint ? 'hint' : null };
  const choiceList = (type, items, isChecked) => el('fieldset', {},
    el('legend', { class: 'question-label', id: 'qlabel' }, q.label, q.required ? el('span', { class: 'required', title: t('required') }, ' *') : null),
    q.hint ? el('p', { class: 'hint', id: 'hint' }, q.hint) : null,
    items.map((it, i) => el('label', { class: 'choice' },
      el('input', { type, name, value: String(i), checked: isChecked(it.value) }), it.label)));
  if (q.type === 'select_one' || q.type === 'select_multiple') {
    const multi = q.type === 'select_multiple';
    const cur = q.answer;
    const node = choiceList(multi ? 'checkbox' : 'radio', q.choices,
      (v) => (multi ? Array.isArray(cur) && cur.includes(v) : cur === v));
    return { node, read: () => {
      const picked = [...node.querySelectorAll('input:checked')].map((i) => q.choices[+i.value].value);
      if (!picked.length) return {};
      return { value: multi ? picked : picked[0] };
    } };
  }
  if (q.type === 'likert') {
    const pts = [];
    for (let k = 1; k <= q.scale; k++) pts.push({ value: k, label: (q.scale_labels[k - 1] ? k + ' – ' + q.scale_labels[k - 1] : String(k)) });
    const node = choiceList('radio', pts, (v) => q.answer === v);
    return { node, read: () => {
      const i = node.querySelector('input:checked');
      return i ? { value: pts[+i.value].value } : {};
    } };
  }
  if (q.type === 'image' || q.type === 'audio' || q.type === 'file') {
    // The phone's camera (or recorder, or file picker); the agent stores
    // the file (limits, metadata stripped, scaled down) on Next.
    const input = el('input', { id: 'answer', name, type: 'file', accept: q.accept || null, capture: q.capture || null, ...labelledBy });
    const node = el('div', {}, el('label', { class: 'question-label', for: 'answer', id: 'qlabel' }, q.label,
      q.required ? el('span', { class: 'required', title: t('required') }, ' *') : null),
    q.hint ? el('p', { class: 'hint', id: 'hint' }, q.hint) : null,
    q.answer ? el('p', { class: 'meta', id: 'current-file' }, t('currentFile') + ': ' + q.answer.name + ' (' + q.answer.size + ' B)') : null, input);
    return { node, file: () => input.files[0] || null, read: () => (q.answer ? { value: q.answer } : {}) };
  }
  if (q.type === 'note') {
    return { node: el('p', { class: 'question-label', id: 'qlabel' }, q.label), read: () => ({}) };
  }
  const attrs = { id: 'answer', name, ...labelledBy };
  let input;
  if (q.type === 'date') input = el('input', { ...attrs, type: 'date' });
  else if (q.type === 'text' && !q.hint) input = el('textarea', { ...attrs, rows: 3 });
  else input = el('input', { ...attrs, type: 'text', inputmode: q.type === 'integer' || q.type === 'likert' ? 'numeric' : q.type === 'decimal' ? 'decimal' : null,
    placeholder: q.type === 'datetime' ? 'YYYY-MM-DDTHH:MM:SSZ' : q.type === 'geopoint' ? 'latitude longitude [accuracy]' : null });
  if (q.answer !== null && q.answer !== undefined) {
    if (q.type === 'geopoint') input.value = [q.answer.lat, q.answer.lon, q.answer.accuracy].filter((x) => x !== undefined).join(' ');
    else input.value = typeof q.answer === 'string' ? q.answer : String(q.answer);
  }
  const extra = q.type === 'geopoint' && navigator.geolocation ? el('button', { type: 'button', onclick: () => navigator.geolocation.getCurrentPosition(
    (p) => { input.value = p.coords.latitude + ' ' + p.coords.longitude + ' ' + Math.round(p.coords.accuracy); }) }, t('myLocation')) : null;
  const node = el('div', {}, el('label', { class: 'question-label', for: 'answer', id: 'qlabel' }, q.label,
    q.required ? el('span', { class: 'required', title: t('required') }, ' *') : null),
  q.hint ? el('p', { class: 'hint', id: 'hint' }, q.hint) : null, input, extra);
  return { node, read: () => ({ text: input.value }) };
}

function problemList(problems) {
  return problems.map((p) => (p.label ? p.label + ': ' : '') + p.message).join('\n');
}

async function showFill(id) {
  const r = await load('/drafts/' + id);
  if (!r) return;
  if (r.status !== 200) return showError(r);
  renderDraft(r.data);
}

function renderDraft(v) {
  setDir(v.lang, v.dir);
  const err = el('p', { class: 'error', role: 'alert', id: 'error' });
  const base = '/drafts/' + v.id;
  const after = (r) => {
    if (r.status === 200) return renderDraft(r.data);
    if (r.status === 422 && r.data.draft) {
      renderDraft(r.data.draft);
      document.getElementById('error').textContent = problemList(r.data.problems || []);
      return;
    }
    err.textContent = r.data.problems && r.data.problems.length ? r.data.problems.map((p) => p.message).join('\n') : r.data.message;
  };
  const saveBtn = el('button', { type: 'button', id: 'save', onclick: () => { notice = t('savedDraft'); location.hash = '#/drafts'; } }, t('save'));
  const backBtn = v.can_back ? el('button', { type: 'button', id: 'back', onclick: async () => after(await api('POST', base + '/back', {})) }, t('back')) : null;
  let body;
  let nextBtn;
  if (v.state === 'area') {
    const areas = v.areas && v.areas !== '*' ? v.areas.split(',') : [];
    const input = areas.length
      ? el('select', { id: 'answer' }, areas.map((a) => el('option', { value: a, selected: a === v.area }, a)))
      : el('input', { id: 'answer', type: 'text', value: v.area });
    body = el('div', {}, el('label', { class: 'question-label', for: 'answer' }, t('area')), input);
    nextBtn = el('button', { class: 'primary next', type: 'button', id: 'next', onclick: async () => after(await api('POST', base + '/area', { area: input.value })) }, t('next'));
  } else if (v.state === 'question') {
    const q = v.question;
    const inp = inputFor(q);
    body = el('form', { id: 'qform', onsubmit: (e) => { e.preventDefault(); nextBtn.click(); } },
      el('p', { class: 'progress' }, t('question', { n: v.position + 1, t: v.total })), inp.node);
    nextBtn = el('button', { class: 'primary next', type: 'button', id: 'next', onclick: async () => {
      nextBtn.disabled = true;
      const file = inp.file ? inp.file() : null;
      if (file) err.textContent = t('sending');
      const r = file
        ? await api('POST', base + '/file?field=' + encodeURIComponent(q.name) + '&name=' + encodeURIComponent(file.name), undefined, file)
        : await api('POST', base + '/answer', { field: q.name, ...inp.read() });
      nextBtn.disabled = false;
      after(r);
    } }, t('next'));
  } else {
    body = el('div', {},
      el('p', {}, t('review')),
      v.problems.length ? el('div', { class: 'error', role: 'alert' }, t('problems'), el('ul', {}, v.problems.map((p) => el('li', {}, p.label + ': ' + p.message)))) : null,
      el('dl', { class: 'summary' }, v.summary.map((s) => [el('dt', {}, s.label), el('dd', {}, s.value)])));
    nextBtn = el('button', { class: 'primary next', type: 'button', id: 'finalize', onclick: async () => {
      const r = await api('POST', base + '/finalize', {});
      if (r.status === 200) { notice = t('finalized'); location.hash = '#/sent'; return; }
      after(r);
    } }, t('finalize'));
  }
  const langSel = v.languages.length > 1 ? el('div', { class: 'lang' }, el('label', { for: 'lang' }, t('language')),
    el('select', { id: 'lang', onchange: (e) => { lang = e.target.value; localStorage.setItem('fieldsync.lang', lang); route(); } },
      v.languages.map((l) => el('option', { value: l, selected: l === v.lang }, l)))) : null;
  if (v.sealed) {
    body = el('div', {}, el('p', { class: 'meta', id: 'sealed-note' }, t(v.sealed === 'memory' ? 'sealedMemory' : 'sealedStored')),
      v.sealed_asked_again ? el('p', { class: 'meta' }, t('sealedAgain')) : null, body);
  }
  screen((v.amendment ? t('amendment') + ': ' : '') + v.title + (v.area ? ' — ' + v.area : ''), body, err, el('div', { class: 'actions' }, backBtn, saveBtn, nextBtn), langSel);
  const first = main().querySelector('input, textarea, select');
  if (first) first.focus();
}

async function amend(id) {
  const r = await api('POST', '/submissions/' + id + '/amend', {});
  if (r.status !== 200 && r.status !== 201) return showError(r);
  location.hash = '#/fill/' + r.data.id;
}

async function showList(kind) {
  const r = await load('/' + (kind === 'sent' ? 'submissions' : kind));
  if (!r) return;
  if (r.status !== 200) return showError(r);
  setDir(lang, document.documentElement.dir);
  const items = r.data.items;
  const empty = { drafts: 'noDrafts', sent: 'noSent', quarantine: 'noQuarantine' }[kind];
  const li = (it) => {
    if (kind === 'drafts') {
      return el('li', { 'data-id': it.id }, el('strong', {}, it.title), ' ', el('span', { class: 'meta' }, it.area, ' · ', t('answers', { n: it.answers }), ' · ', fmtTime(it.updated_ms)),
        el('div', { class: 'actions' }, el('a', { class: 'button', href: '#/fill/' + it.id }, t('cont'))));
    }
    const state = it.state === 'refused' ? 'refused' : it.review_state || (it.waiting ? '' : 'sent');
    return el('li', { 'data-id': it.id }, el('strong', {}, it.title), ' ',
      el('span', { class: 'meta' }, it.area, ' · ', fmtTime(it.created_ms), it.waiting ? ' · ' + t('waiting') : ''), ' ',
      state ? el('span', { class: 'badge ' + state }, t(state)) : null,
      kind === 'quarantine' ? el('p', { class: 'comment' }, t('hubReason') + ': ' + (it.hub_message || it.hub_error)) : null,
      it.review_comment ? el('p', { class: 'comment review-comment' }, '“' + it.review_comment + '”') : null,
      kind === 'sent' && (it.review_state === 'has_issues' || it.review_state === 'rejected')
        ? el('div', { class: 'actions' }, el('button', { type: 'button', class: 'primary', 'data-amend': it.id, onclick: () => amend(it.id) }, t('correct'))) : null,
      el('p', { class: 'meta' }, it.id));
  };
  screen(t(kind), items.length ? el('ul', { class: 'list' }, items.map(li)) : el('p', {}, t(empty)));
}

// ---- registry: stakeholders and mechanisms of this device's areas --------

// A stored value as the text the agent reads back (FIELD=VALUE rules).
function valueText(v) {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'object') return [v.lat, v.lon, v.accuracy].filter((x) => x !== undefined).join(',');
  return String(v);
}

function choiceLabel(field, v) {
  const c = field.choices.find((x) => x.value === v);
  return c ? c.label : v;
}

async function showRegistry(type) {
  const r = await load('/registry?type=' + encodeURIComponent(type));
  if (!r) return;
  if (r.status !== 200) return showError(r);
  const ty = r.data.type;
  const tabs = el('div', { class: 'actions' }, r.data.types.map((x) => el('a', { class: 'button', href: '#/registry/' + x.id,
    'aria-current': x.id === type ? 'page' : null }, x.title)));
  const byName = Object.fromEntries(ty.fields.map((f) => [f.name, f]));
  const items = r.data.items.map((e) => {
    const f = e.fields;
    const title = f[ty.title_field] ? valueText(f[ty.title_field].value) : e.id;
    const pending = Object.values(f).some((x) => x.pending);
    const kinds = ty.fields.filter((x) => x.type === 'select_one' && f[x.name]).map((x) => choiceLabel(byName[x.name], f[x.name].value));
    return el('li', { 'data-id': e.id }, el('strong', {}, title), ' ', el('span', { class: 'meta' }, e.area, kinds.length ? ' · ' + kinds.join(' · ') : ''),
      pending ? el('span', { class: 'badge' }, ' ' + t('notSent')) : null,
      el('div', { class: 'actions' }, el('a', { class: 'button', href: '#/entity/' + e.id }, t('edit'))));
  });
  screen(t('registry') + ': ' + ty.title, tabs,
    el('div', { class: 'actions' }, el('a', { class: 'button', id: 'add', href: '#/entity/new/' + type }, t('add') + ' — ' + ty.title)),
    items.length ? el('ul', { class: 'list' }, items) : el('p', {}, t('noEntities')));
}

// Add (id null) or edit an entity; only changed fields are sent.
async function showEntity(type, id) {
  const r = await load(id ? '/registry/' + id : '/registry?type=' + encodeURIComponent(type));
  if (!r) return;
  if (r.status !== 200) return showError(r);
  const ty = r.data.type;
  const held = id ? r.data.entity.fields : {};
  const areas = r.data.areas && r.data.areas !== '*' ? r.data.areas.split(',') : [];
  const err = el('p', { class: 'error', role: 'alert', id: 'error' });
  const readers = [];
  const rows = ty.fields.map((f) => {
    const cur = held[f.name] ? held[f.name].value : null;
    const fid = 'f-' + f.name;
    const lab = el('label', { class: 'question-label', for: fid }, f.label, f.required ? el('span', { class: 'required' }, ' *') : null);
    let input;
    if (f.type === 'select_one' || (f.name === ty.scope_field && areas.length)) {
      const opts = f.type === 'select_one' ? f.choices : areas.map((a) => ({ value: a, label: a }));
      input = el('select', { id: fid, name: f.name }, el('option', { value: '' }, ''),
        opts.map((c) => el('option', { value: c.value, selected: c.value === cur }, c.label)));
    } else if (f.type === 'select_multiple') {
      const box = el('fieldset', { id: fid }, f.choices.map((c) => el('label', { class: 'choice' },
        el('input', { type: 'checkbox', value: c.value, checked: Array.isArray(cur) && cur.includes(c.value) }), c.label)));
      readers.push([f.name, cur, () => [...box.querySelectorAll('input:checked')].map((i) => i.value).join(',')]);
      return el('div', {}, el('p', { class: 'question-label' }, f.label), box);
    } else {
      input = el('input', { id: fid, name: f.name, type: f.type === 'date' ? 'date' : 'text', value: valueText(cur) });
    }
    readers.push([f.name, cur, () => input.value]);
    return el('div', {}, lab, f.hint ? el('p', { class: 'hint' }, f.hint) : null, input);
  });
  const save = el('button', { class: 'primary next', type: 'button', id: 'save-entity', onclick: async () => {
    const fields = {};
    for (const [name, cur, read] of readers) {
      const v = read();
      if (!id || v !== valueText(cur)) fields[name] = v;
    }
    if (!id) for (const k of Object.keys(fields)) if (fields[k] === '') delete fields[k];
    const res = await api('POST', id ? '/registry/' + id : '/registry', id ? { fields } : { type, fields });
    if (res.status === 200 || res.status === 201) {
      notice = t('savedEntity');
      location.hash = '#/registry/' + ty.id;
      return;
    }
    err.textContent = res.data.message;
  } }, t('save'));
  screen((id ? t('edit') : t('add')) + ' — ' + ty.title, el('form', { onsubmit: (e) => e.preventDefault() }, rows), err,
    el('div', { class: 'actions' }, el('a', { class: 'button', href: '#/registry/' + ty.id }, t('back')), save));
}

// ---- sync ----------------------------------------------------------------

let polling = null;

function renderSync(s) {
  const p = document.getElementById('sync-status');
  const btn = document.getElementById('sync');
  btn.disabled = s.running;
  if (s.running) {
    p.textContent = t('syncing') + ' ' + (s.phase || '') + (s.total ? ' ' + s.done + '/' + s.total : '');
  } else if (s.last_end_ms) {
    p.textContent = t('lastSync') + ' ' + fmtTime(s.last_attempt_ms) + ': ' + s.last_message +
      (s.auto_sync_s && s.next_attempt_ms ? ' (' + t('nextAuto') + ' ' + fmtTime(s.next_attempt_ms) + ')' : '');
  } else {
    p.textContent = s.auto_sync_s && s.next_attempt_ms ? t('nextAuto') + ' ' + fmtTime(s.next_attempt_ms) : t('never');
  }
  p.dataset.ok = s.last_ok ? 'yes' : 'no';
  p.dataset.running = s.running ? 'yes' : 'no';
  // When the last sync ended: a script (or a test) that starts a sync
  // waits for this to change, not for "not running", which is also true
  // before the sync has started.
  p.dataset.lastEnd = String(s.last_end_ms || 0);
}

let syncWasRunning = false;

async function pollSync() {
  clearTimeout(polling);
  const r = await api('GET', '/sync');
  if (r.status !== 200) return;
  renderSync(r.data);
  // A finished sync changes the lists (review states, refusals): redraw
  // them, but never a form being filled.
  if (syncWasRunning && !r.data.running && !location.hash.startsWith('#/fill/')) route();
  syncWasRunning = r.data.running;
  polling = setTimeout(pollSync, r.data.running ? 400 : 5000);
}

async function startSync() {
  const r = await api('POST', '/sync', {});
  if (r.status === 202) {
    renderSync(r.data);
    syncWasRunning = true;
  }
  clearTimeout(polling);
  polling = setTimeout(pollSync, 300);
}

// ---- routing -------------------------------------------------------------

function route() {
  epoch++;
  const h = location.hash || '#/forms';
  for (const a of document.querySelectorAll('nav a')) {
    if (h.startsWith(a.getAttribute('href'))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  for (const n of document.querySelectorAll('[data-t]')) n.textContent = t(n.dataset.t);
  const m = h.match(/^#\/fill\/([0-9a-f-]{36})$/);
  if (m) return showFill(m[1]);
  if (h === '#/drafts') return showList('drafts');
  if (h === '#/sent') return showList('sent');
  if (h === '#/quarantine') return showList('quarantine');
  const reg = h.match(/^#\/registry(?:\/(stakeholder|mechanism))?$/);
  if (reg) return showRegistry(reg[1] || 'stakeholder');
  const ent = h.match(/^#\/entity\/(?:new\/(stakeholder|mechanism)|([0-9a-f-]{36}))$/);
  if (ent) return showEntity(ent[1], ent[2]);
  return showForms();
}

window.addEventListener('hashchange', route);
document.getElementById('sync').addEventListener('click', startSync);
route();
pollSync();
