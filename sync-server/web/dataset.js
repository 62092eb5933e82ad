// The mapping dataset: coverage against quotas, indicator tables, the
// map and exports. These read the hub's dataset API (PROTOCOL.md); a hub
// without a part of it answers 404 and the view says so.
import { api, h, select } from './api.js';

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

export async function coverageView(box, ctx) {
  const wf = await waveFilter(ctx, 'All waves');
  box.append(h('div', { class: 'filters' }, wf.el));
  const q = wf.wave ? '?wave=' + encodeURIComponent(wf.wave) : '';
  const { coverage } = await api('/api/v1/admin/coverage' + q);
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

export async function indicatorsView(box) {
  await api('/api/v1/admin/indicators');
  box.append(h('p', {}, 'Indicators are not drawn yet.'));
}

export async function mapView(box) {
  await api('/api/v1/admin/areas');
  box.append(h('p', {}, 'The map is not drawn yet.'));
}

export async function exportsView(box) {
  await api('/api/v1/admin/exports');
  box.append(h('p', {}, 'Exports are not listed yet.'));
}
