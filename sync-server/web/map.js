// Draws area geometries (GeoJSON from the hub) as an SVG map, projected
// here: no tile server, no library. Longitude is scaled by the cosine of
// the middle latitude (an equirectangular projection), which keeps a
// city's shapes right; polygons and multipolygons become one <path> per
// area, points a circle.
import { h, s } from './api.js';

const W = 640;
// A sequential blue scale (light to dark) readable by colour-blind users.
const COLOURS = ['#deebf7', '#9ecae1', '#6baed6', '#3182bd', '#08519c'];
const NODATA = '#ffffff';

function eachPoint(geom, fn) {
  const walk = (c) => (typeof c[0] === 'number' ? fn(c) : c.forEach(walk));
  if (geom && geom.coordinates) walk(geom.coordinates);
}

function rings(geom) {
  if (!geom) return [];
  if (geom.type === 'Polygon') return geom.coordinates;
  if (geom.type === 'MultiPolygon') return geom.coordinates.flat();
  return [];
}

// Class breaks: equal-count (quantile) classes of the values shown.
function breaks(values) {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return [];
  const out = [];
  for (let i = 1; i < COLOURS.length; i++) out.push(v[Math.floor((i * v.length) / COLOURS.length)]);
  return out;
}

function colourOf(x, br) {
  let i = 0;
  while (i < br.length && x >= br[i]) i++;
  return COLOURS[Math.min(i, COLOURS.length - 1)];
}

const plain = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2));

// drawMap(fc, value, label, fmt) -> element holding the SVG and its
// legend. value(feature) returns {value: number} | {suppressed: true} |
// null (no data); fmt(number) writes a value for people.
export function drawMap(fc, value, label, fmt = plain) {
  const feats = (fc.features || []).filter((f) => f.geometry);
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const f of feats) eachPoint(f.geometry, ([x, y]) => {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  });
  if (!feats.length || !isFinite(minX)) return h('p', { class: 'notice' }, 'No area has a geometry to draw.');
  const k = Math.cos((((minY + maxY) / 2) * Math.PI) / 180);
  const spanX = Math.max((maxX - minX) * k, 1e-9);
  const spanY = Math.max(maxY - minY, 1e-9);
  const pad = 10;
  const scale = (W - 2 * pad) / Math.max(spanX, spanY);
  const H = Math.round(spanY * scale + 2 * pad);
  const px = (x) => (pad + (x - minX) * k * scale).toFixed(1);
  const py = (y) => (pad + (maxY - y) * scale).toFixed(1);

  const vals = feats.map((f) => value(f));
  const br = breaks(vals.filter((v) => v && typeof v.value === 'number').map((v) => v.value));
  const svg = s('svg', { class: 'map', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Map of ${feats.length} areas coloured by ${label}` },
    s('defs', {}, s('pattern', { id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse',
      patternTransform: 'rotate(45)' },
      s('rect', { width: 6, height: 6, fill: '#e5e7eb' }),
      s('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#6b7280', 'stroke-width': 2 }))));
  feats.forEach((f, i) => {
    const p = f.properties || {};
    const v = vals[i];
    const fill = !v ? NODATA : v.suppressed ? 'url(#hatch)' : colourOf(v.value, br);
    const shown = !v ? 'no data' : v.suppressed ? 'suppressed (too few answers)' : fmt(v.value);
    const title = s('title', {}, `${p.name || p.code} (${p.code}): ${shown}`);
    const common = { class: 'area', fill, 'data-code': p.code, 'data-state': !v ? 'nodata' : v.suppressed ? 'suppressed' : 'value',
      tabindex: 0, role: 'img', 'aria-label': `${p.name || p.code}: ${shown}` };
    const g = f.geometry;
    if (g.type === 'Point') {
      svg.append(s('circle', { ...common, cx: px(g.coordinates[0]), cy: py(g.coordinates[1]), r: 6 }, title));
      return;
    }
    const d = rings(g).map((r) => 'M' + r.map(([x, y]) => `${px(x)},${py(y)}`).join('L') + 'Z').join('');
    if (d) svg.append(s('path', { ...common, d, 'fill-rule': 'evenodd' }, title));
  });

  const swatch = (fill) => s('svg', { viewBox: '0 0 12 10', 'aria-hidden': 'true' },
    s('rect', { width: 12, height: 10, fill }));
  const items = [];
  const lows = [Math.min(...vals.filter((v) => v && !v.suppressed).map((v) => v.value)), ...br];
  if (br.length) {
    COLOURS.forEach((c, i) => {
      if (i > 0 && br[i - 1] === br[i]) return;
      const lo = lows[i];
      const hi = br[i];
      items.push(h('li', {}, swatch(c), hi === undefined ? `${fmt(lo)} and more` : `${fmt(lo)} to under ${fmt(hi)}`));
    });
  }
  // The hatch pattern lives in the map's defs; the legend repeats it.
  const hatch = s('svg', { viewBox: '0 0 12 10', 'aria-hidden': 'true' },
    s('defs', {}, s('pattern', { id: 'hatch-l', width: 4, height: 4, patternUnits: 'userSpaceOnUse',
      patternTransform: 'rotate(45)' }, s('rect', { width: 4, height: 4, fill: '#e5e7eb' }),
      s('line', { x1: 0, y1: 0, x2: 0, y2: 4, stroke: '#6b7280', 'stroke-width': 1.5 }))),
    s('rect', { width: 12, height: 10, fill: 'url(#hatch-l)' }));
  items.push(h('li', {}, hatch, 'suppressed (too few answers)'));
  items.push(h('li', {}, swatch(NODATA), 'no data'));
  return h('div', { class: 'map-wrap' }, svg,
    h('div', {}, h('h3', {}, label), h('ul', { class: 'legend' }, items)));
}
