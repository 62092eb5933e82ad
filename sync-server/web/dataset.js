// The mapping dataset: coverage against quotas, indicator tables, the
// map and exports. These read the hub's dataset API (PROTOCOL.md); a hub
// without a part of it answers 404 and the view says so.
import { api, h, select, download } from './api.js';
import { drawMap } from './map.js';

// The wave chooser shared by the dataset views; '' is every wave.
async function waveFilter(ctx, allLabel) {
  const { waves } = await api('/api/v1/admin/waves');
  const wave = ctx.params.get('wave') || '';
  const opts = waves.map((w) => [w.wave, `${w.title || w.wave} (${w.start} to ${w.end})`]);
  const el = select('f-wave', 'Wave', allLabel ? [['', allLabel], ...opts] : opts,
    wave || (allLabel ? '' : opts.length ? opts[0][0] : ''), (v) => {
      const q = new URLSearchParams(ctx.params);
      if (v) q.set('wave', v); else q.delete('wave');
      ctx.go(q);
    });
  return { waves, wave: wave || (allLabel || !waves.length ? '' : waves[0].wave), el };
}

const th = (t, cls) => h('th', { scope: 'col', class: cls }, t);

// The level chooser shared by coverage, indicators and the map: the
// hub's levels as its areas carry them, top first (the hub lists areas
// top level first). '' (when allLabel is given) shows every level.
async function levelFilter(ctx, allLabel) {
  const { areas } = await api('/api/v1/admin/areas');
  const levelOf = new Map(areas.map((a) => [a.code, a.level]));
  const levels = [...new Set(areas.map((a) => a.level).filter(Boolean))];
  const want = ctx.params.get('level') || '';
  const level = levels.includes(want) ? want : allLabel ? '' : levels[levels.length - 1] || '';
  const opts = levels.map((l) => [l, l.charAt(0).toUpperCase() + l.slice(1)]);
  const el = select('f-level', allLabel ? 'Level' : 'Areas drawn', allLabel ? [['', allLabel], ...opts] : opts,
    level, (v) => {
      const q = new URLSearchParams(ctx.params);
      if (v) q.set('level', v); else q.delete('level');
      ctx.go(q);
    });
  // An area the registry does not know is shown under every level.
  const keep = (code) => !level || code === '*' || !levelOf.has(code) || levelOf.get(code) === level;
  return { el, level, levels, keep };
}

export async function coverageView(box, ctx) {
  const wf = await waveFilter(ctx, 'All waves');
  const lf = await levelFilter(ctx, 'All levels');
  box.append(h('div', { class: 'filters' }, wf.el, lf.el));
  const q = wf.wave ? '?wave=' + encodeURIComponent(wf.wave) : '';
  // A quota on an area counts what was recorded in it and below it.
  const coverage = (await api('/api/v1/admin/coverage' + q)).coverage.filter((c) => lf.keep(c.area));
  if (!ctx.current()) return;
  if (!coverage.length) {
    box.append(h('p', {}, 'No quotas are set for this selection (fieldsync-hub quota set).'));
    return;
  }
  const met = coverage.filter((c) => c.collected >= c.target).length;
  box.append(h('p', {}, `${met} of ${coverage.length} quota(s) met.`),
    h('div', { class: 'table-wrap' }, h('table', { id: 'coverage' },
      h('caption', {}, 'Collected against quota'),
      h('thead', {}, h('tr', {}, th('Wave'), th('Area'), th('Form'), th('Stratum'), th('Device'),
        th('Collected', 'num'), th('Target', 'num'), th('Progress'), th('Remaining', 'num'))),
      h('tbody', {}, coverage.map((c) => h('tr', { class: c.collected >= c.target ? '' : 'short' },
        h('td', {}, c.wave), h('td', {}, c.area), h('td', {}, c.form),
        h('td', {}, c.stratum || 'all'), h('td', {}, c.device ? c.device.slice(0, 8) + '…' : 'all'),
        h('td', { class: 'num' }, c.collected), h('td', { class: 'num' }, c.target),
        h('td', {}, h('meter', { min: 0, max: Math.max(c.target, 1), value: Math.min(c.collected, Math.max(c.target, 1)),
          'aria-label': `${c.percent === null ? '-' : c.percent + '%'} of quota` }),
          ` ${c.percent === null ? '-' : c.percent + '%'}`),
        h('td', { class: 'num' }, c.remaining)))))));
}

// ---- indicators -----------------------------------------------------------

let formsCache = null;
async function forms() {
  if (!formsCache) formsCache = (await api('/api/v1/admin/forms')).forms;
  return formsCache;
}

const label = (l) => (l && typeof l === 'object' ? l.en || Object.values(l)[0] : l) || '';
const open = (f) => !f.personal && !f.sensitive;
const code = (c) => (typeof c === 'object' ? c.value : c);

// The indicators a form offers (INDICATORS.md): count, the mean of each
// likert or numeric field, the share of each choice of each choice field.
function indicatorsOf(def) {
  const out = [['count', 'Number of submissions']];
  for (const f of (def.fields || []).filter(open)) {
    const name = label(f.label) || f.name;
    if (['likert', 'integer', 'decimal'].includes(f.type)) out.push([`mean:${f.name}`, `Mean: ${name}`]);
    if (['select_one', 'select_multiple'].includes(f.type))
      for (const c of f.choices || []) out.push([`share:${f.name}=${code(c)}`, `Share “${label(c.label) || code(c)}”: ${name}`]);
  }
  return out;
}

// Wave, form, indicator (and breakdown) choosers, kept in the address.
async function indicatorControls(ctx, withBy) {
  const wf = await waveFilter(ctx, null);
  const fs = await forms();
  const p = ctx.params;
  const set = (name) => (v) => {
    const q = new URLSearchParams(p);
    if (v) q.set(name, v); else q.delete(name);
    if (name === 'form') { q.delete('indicator'); q.delete('by'); }
    ctx.go(q);
  };
  const form = fs.find((f) => f.id === p.get('form')) || fs[0];
  if (!form) return { el: h('p', { class: 'notice' }, 'No form is published on this hub yet.') };
  const inds = indicatorsOf(form.definition);
  const ind = inds.find(([v]) => v === p.get('indicator')) ? p.get('indicator') : inds[0][0];
  const bys = (form.definition.fields || []).filter((f) => open(f) && f.type === 'select_one')
    .map((f) => [f.name, label(f.label) || f.name]);
  const by = bys.find(([v]) => v === p.get('by')) ? p.get('by') : '';
  const el = h('div', { class: 'filters' }, wf.el,
    select('f-form', 'Form', fs.map((f) => [f.id, `${label(f.definition.title) || f.id} (${f.id})`]), form.id, set('form')),
    select('f-ind', 'Indicator', inds, ind, set('indicator')),
    withBy ? select('f-by', 'Broken down by', [['', 'Nothing (areas only)'], ...bys], by, set('by')) : null);
  if (!wf.wave) return { el, missing: 'No wave is defined yet (fieldsync-hub wave add).' };
  const q = new URLSearchParams({ form: form.id, indicator: ind, wave: wf.wave });
  if (withBy && by) q.set('by', by);
  return { el, q, ind, indLabel: inds.find(([v]) => v === ind)[1], form };
}

function fmtValue(ind, v) {
  if (v === null || v === undefined) return '';
  if (ind.startsWith('share:')) return `${(v * 100).toFixed(1)}%`;
  if (ind.startsWith('mean:')) return v.toFixed(2);
  return String(v);
}

const REASONS = { small_cell: 'fewer answers than the minimum', complementary: 'hidden so a small cell cannot be worked out from the totals' };

function cellOf(ind, c) {
  if (!c) return h('td', { class: 'num', 'data-status': 'missing' }, '–');
  if (c.status === 'suppressed')
    return h('td', { class: 'num suppressed', 'data-status': 'suppressed', title: REASONS[c.reason] || c.reason },
      'suppressed', h('span', { class: 'sr' }, ` (${REASONS[c.reason] || c.reason})`));
  return h('td', { class: 'num' + (c.unreliable ? ' unreliable' : ''), 'data-status': c.unreliable ? 'unreliable' : 'ok',
    title: `base n = ${c.n}${c.unreliable ? ', under 25: unreliable' : ''}` },
    fmtValue(ind, c.value), c.unreliable ? h('span', { class: 'flag', 'aria-label': 'unreliable base' }, ' †') : null,
    h('br'), h('small', {}, `n = ${c.n}`));
}

export async function indicatorsView(box, ctx) {
  const ctl = await indicatorControls(ctx, true);
  const lf = await levelFilter(ctx, 'All levels');
  ctl.el.append(lf.el);
  box.append(ctl.el);
  if (!ctl.q) { if (ctl.missing) box.append(h('p', { class: 'notice' }, ctl.missing)); return; }
  const data = await api('/api/v1/admin/indicators?' + ctl.q);
  if (!ctx.current()) return;
  // Each area's row counts everything below it; a level shows its areas.
  const cells = (data.cells || []).filter((c) => lf.keep(c.area));
  const areas = [...new Set(cells.map((c) => c.area))];
  const cats = [...new Set(cells.map((c) => c.category))];
  const at = new Map(cells.map((c) => [`${c.area}\u0000${c.category}`, c]));
  const byField = (ctl.form.definition.fields || []).find((f) => f.name === ctl.q.get('by'));
  const names = new Map((byField && byField.choices || []).map((c) => [code(c), label(c.label) || code(c)]));
  const catName = (c) => (c === '*' ? 'All' : c === '' ? 'No answer' : names.get(c) || c);
  const csv = new URLSearchParams(ctl.q);
  csv.set('format', 'csv');
  box.append(
    h('div', { class: 'table-wrap' }, h('table', { id: 'indicators' },
      h('caption', {}, `${ctl.indLabel}, wave ${ctl.q.get('wave')}`),
      h('thead', {}, h('tr', {}, th('Area'), cats.map((c) => th(catName(c), 'num')))),
      h('tbody', {}, areas.map((a) => h('tr', {}, h('th', { scope: 'row' }, a === '*' ? 'All areas' : a),
        cats.map((c) => cellOf(ctl.ind, at.get(`${a}\u0000${c}`)))))))),
    h('p', { class: 'help' }, '“suppressed”: too few answers to show without risk of singling people out ',
      '(or a cell from which such a one could be worked out); never a zero. ',
      h('span', { class: 'flag' }, '†'), ' base under 25 answers: read with care.'),
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: async () => {
      await download('/api/v1/admin/indicators?' + csv, 'indicators.csv');
    } }, 'Download this table as CSV')));
}

// ---- map ------------------------------------------------------------------
// The hub's GeoJSON export of the areas carries each area's cell of the
// chosen indicator (n, value, status): one request draws the map.

export async function mapView(box, ctx) {
  const ctl = await indicatorControls(ctx, false);
  const lf = await levelFilter(ctx, null);
  const level = lf.level;
  ctl.el.append(lf.el);
  box.append(ctl.el);
  if (!ctl.q) { if (ctl.missing) box.append(h('p', { class: 'notice' }, ctl.missing)); return; }
  const fc = await api('/api/v1/admin/export/geojson/areas?' + ctl.q);
  if (!ctx.current()) return;
  const shown = { type: 'FeatureCollection',
    features: (fc.features || []).filter((f) => (f.properties || {}).level === level) };
  if (!shown.features.length) {
    box.append(h('p', { class: 'notice' }, (fc.features || []).length
      ? `No area of level “${level}”; choose another level.`
      : 'No areas are imported yet (fieldsync-hub areas import FILE.geojson).'));
    return;
  }
  const msg = h('p', { role: 'status', class: 'help' });
  box.append(drawMap(shown, (f) => {
    const p = f.properties;
    if (p.status === 'suppressed') return { suppressed: true };
    if (p.status !== 'ok' || typeof p.value !== 'number') return null;
    return { value: p.value };
  }, `${ctl.indLabel}, wave ${ctl.q.get('wave')}`, (x) => fmtValue(ctl.ind, x)),
  h('div', { class: 'actions' }, exportLink('Download these areas with their values (GeoJSON)',
    () => '/api/v1/admin/export/geojson/areas?' + ctl.q, 'areas.geojson', msg)), msg);
}

// ---- exports ----------------------------------------------------------------
// Downloads go through fetch (a plain link cannot carry the token) and
// are saved as files.

function exportLink(text, pathOf, file, msg) {
  return h('button', { type: 'button', class: 'secondary', 'data-file': file, onclick: async () => {
    msg.className = 'help';
    msg.textContent = `Preparing ${file}…`;
    try {
      const bytes = await download(pathOf(), file);
      msg.textContent = `${file}: ${bytes} bytes saved.`;
    } catch (e) {
      msg.className = 'error';
      msg.textContent = `${file} failed: ${e.message}`;
    }
  } }, text);
}

export async function exportsView(box) {
  const fs = await forms();
  const msg = h('p', { role: 'status', class: 'help' });
  const lang = h('input', { type: 'text', id: 'x-lang', size: 4, maxlength: 8,
    'aria-describedby': 'x-lang-help' });
  const q = (f) => {
    const p = new URLSearchParams({ form: f.id });
    if (lang.value.trim()) p.set('labels', lang.value.trim());
    return p;
  };
  box.append(
    h('p', {}, 'Exports leave out fields a form marks personal or sensitive. ',
      'Files are made by the hub from what it holds now.'),
    h('div', { class: 'filters' }, h('div', {},
      h('label', { for: 'x-lang' }, 'Choice labels in (language code, optional)'), lang,
      h('p', { class: 'help', id: 'x-lang-help' }, 'Empty: codes only. Example: en'))),
    h('div', { class: 'table-wrap' }, h('table', { id: 'exports' },
      h('caption', {}, 'Submissions per form'),
      h('thead', {}, h('tr', {}, th('Form'), th('Version'), th('Download'))),
      h('tbody', {}, fs.map((f) => h('tr', {},
        h('td', {}, `${label(f.definition.title) || f.id} (${f.id})`), h('td', {}, `v${f.version}`),
        h('td', {}, h('div', { class: 'actions' },
          exportLink('CSV', () => '/api/v1/admin/export/csv?' + q(f), `${f.id}.csv`, msg),
          exportLink('JSON', () => '/api/v1/admin/export/json?' + q(f), `${f.id}.json`, msg)))))))),
    h('h3', {}, 'Maps (GeoJSON, for QGIS and web maps)'),
    h('div', { class: 'actions' },
      exportLink('Areas', () => '/api/v1/admin/export/geojson/areas', 'areas.geojson', msg),
      exportLink('Mechanisms as points', () => '/api/v1/admin/export/geojson/mechanisms', 'mechanisms.geojson', msg)),
    msg);
}
