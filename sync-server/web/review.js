// Review queues: incoming submissions (paged on the hub, filtered by
// review state, form and area) and entity conflicts.
import { api, h, say, when, select, download, fetchBlob } from './api.js';

const PAGE = 50;
const STATES = [['received', 'Received (to review)'], ['has_issues', 'Has issues'],
                ['approved', 'Approved'], ['rejected', 'Rejected']];

let statsCache = null;
async function stats() {
  if (!statsCache) statsCache = await api('/api/v1/admin/stats');
  return statsCache;
}

// Cursors of the pages before the current one, for "Previous"; reset when
// the filters change.
let trail = [];
let trailKey = '';

export async function submissionsView(box, ctx) {
  const p = ctx.params;
  const filt = { state: p.get('state') || '', form: p.get('form') || '', area: p.get('area') || '' };
  const after = Number(p.get('after') || 0);
  const key = JSON.stringify(filt);
  if (key !== trailKey || after === 0) { trail = []; trailKey = key; }

  const st = await stats();
  const forms = [...new Set(st.forms.map((f) => f.form))];
  const total = st.areas.reduce((n, a) => n + a.submissions, 0);
  const setFilter = (name) => (v) => {
    const q = new URLSearchParams(p);
    if (v) q.set(name, v); else q.delete(name);
    q.delete('after');
    ctx.go(q);
  };
  box.append(h('p', {}, `${total} submission(s) in your areas.`),
    h('div', { class: 'filters', role: 'search', 'aria-label': 'Filter submissions' },
      select('f-state', 'Review state', [['', 'Any state'], ...STATES], filt.state, setFilter('state')),
      select('f-form', 'Form', [['', 'Any form'], ...forms.map((f) => [f, f])], filt.form, setFilter('form')),
      select('f-area', 'Area', [['', 'Any area'], ...st.areas.map((a) => [a.area, `${a.area} (${a.submissions})`])],
             filt.area, setFilter('area'))));

  const q = new URLSearchParams({ after: String(after), limit: String(PAGE) });
  for (const [k, v] of Object.entries(filt)) if (v) q.set(k, v);
  const data = await api('/api/v1/admin/submissions?' + q);
  if (!ctx.current()) return;

  const pages = () => pager(ctx, trail, after, data.next, data.submissions.length,
    `Page ${trail.length + 1}: ${data.submissions.length} shown`);

  if (data.submissions.length === 0) {
    box.append(h('p', {}, after ? 'No more submissions match.' : 'No submissions match these filters.'), pages());
    return;
  }
  const body = h('tbody', {});
  for (const sub of data.submissions) addRow(body, sub);
  box.append(pages(), h('div', { class: 'table-wrap' }, h('table', { id: 'submissions' },
    h('caption', {}, 'Submissions, oldest first'),
    h('thead', {}, h('tr', {},
      ['Received', 'Form', 'Area', 'Collector', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
    body)), pages());
}

function badge(state) {
  const label = (STATES.find(([v]) => v === state) || [state, state])[1];
  return h('span', { class: `state state-${state}` }, label.replace(/ \(.*\)/, ''));
}

function addRow(body, sub) {
  const waiting = sub.attachments_pending || 0;
  const stateCell = h('td', {}, badge(sub.review_state),
    waiting ? h('span', { class: 'pending' }, ` ${waiting} file(s) waiting for the device`) : null);
  const detail = h('tr', { class: 'detail', hidden: true, id: `d-${sub.id}` });
  const open = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false',
    'aria-controls': `d-${sub.id}`, 'data-id': sub.id,
    onclick: () => {
      const show = detail.hidden;
      detail.hidden = !show;
      open.setAttribute('aria-expanded', String(show));
      if (show) {
        if (!detail.firstChild) detail.append(h('td', { colspan: 6 }, reviewPanel(sub, stateCell)));
        detail.querySelector('textarea').focus();
      }
    } }, 'Review');
  body.append(h('tr', { 'data-id': sub.id },
    h('td', {}, when(sub.received_ms)),
    h('td', {}, `${sub.form} v${sub.form_version}`),
    h('td', {}, sub.area),
    h('td', {}, sub.collector),
    stateCell,
    h('td', {}, open)), detail);
}

function show(v) {
  if (Array.isArray(v)) return v.join(', ');
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function reviewPanel(sub, stateCell) {
  const cid = `c-${sub.id}`;
  const comment = h('textarea', { id: cid, maxlength: 1000 }, sub.review_comment || '');
  const msg = h('p', { role: 'status', class: 'help' });
  const act = (state, label, cls) => h('button', { type: 'button', class: cls, 'data-state': state,
    onclick: async () => {
      const text = comment.value.trim();
      if (state === 'has_issues' && !text) {
        msg.className = 'error';
        msg.textContent = 'Say what needs fixing in the comment: the collector sees it on the device.';
        comment.focus();
        return;
      }
      try {
        await api('/api/v1/admin/review', { method: 'POST',
          body: { submission: sub.id, state, comment: text } });
        sub.review_state = state;
        sub.review_comment = text;
        stateCell.firstChild.replaceWith(badge(state));
        msg.className = 'help';
        msg.textContent = `Marked ${label.toLowerCase()}; the device sees it on its next sync.`;
        say(`Submission ${sub.id.slice(0, 8)}… ${label.toLowerCase()}`);
      } catch (e) {
        msg.className = 'error';
        msg.textContent = `Not saved: ${e.message}`;
      }
    } }, label);
  const answers = Object.entries(sub.answers || {});
  const files = sub.attachments || {};
  return h('div', {},
    h('p', { class: 'help' }, `Submission ${sub.id}, revision ${sub.rev}, device ${sub.device}`),
    answers.length ? h('dl', {}, answers.map(([k, v]) => [h('dt', {}, k),
      h('dd', {}, files[k] ? attachment(sub, k, files[k]) : show(v))]))
                   : h('p', {}, 'No answers to show (personal and sensitive fields are left out).'),
    h('label', { for: cid }, 'Comment for the collector'),
    comment,
    h('div', { class: 'actions' },
      act('approved', 'Approved', ''),
      act('has_issues', 'Has issues', 'warn'),
      act('rejected', 'Rejected', 'danger')),
    msg);
}

// ---- attachments ---------------------------------------------------------
// GET /api/v1/admin/submissions/ID/files/FIELD streams a file the hub holds
// whole. Images of these types are shown here (fetched with the token,
// then shown from a blob: URL); any other file is a download.

const INLINE = ['image/png', 'image/jpeg', 'image/webp'];

function bytes(n) {
  if (n >= 1048576) return `${(n / 1048576).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

function attachment(sub, field, a) {
  const path = `/api/v1/admin/submissions/${encodeURIComponent(sub.id)}/files/${encodeURIComponent(field)}`;
  const label = `${a.name || field} (${a.type || 'file'}, ${bytes(Number(a.size) || 0)})`;
  if (a.status !== 'stored')
    return h('span', { class: 'pending', 'data-file': field }, `${label}: waiting for the device`);
  const msg = h('span', { role: 'status', class: 'help' });
  const ext = (/\.([A-Za-z0-9]{1,8})$/.exec(a.name || '') || [])[1];
  const save = h('button', { type: 'button', class: 'secondary', 'data-file': field,
    onclick: async () => {
      try {
        await download(path, `${sub.id}-${field}${ext ? '.' + ext.toLowerCase() : ''}`);
        msg.textContent = '';
      } catch (e) {
        msg.className = 'error';
        msg.textContent = `Not downloaded: ${e.message}`;
      }
    } }, `Download ${label}`);
  if (!INLINE.includes(a.type)) return h('span', {}, save, ' ', msg);
  const img = h('img', { class: 'attachment', alt: `${field}: ${a.name || 'image'}`, 'data-file': field });
  fetchBlob(path + '?inline=1').then((blob) => {
    img.src = URL.createObjectURL(blob);
    img.addEventListener('load', () => URL.revokeObjectURL(img.src), { once: true });
  }).catch((e) => {
    msg.className = 'error';
    msg.textContent = `Image not shown: ${e.message}`;
  });
  return h('figure', { class: 'attachment' }, img, h('figcaption', {}, save, ' ', msg));
}

// ---- conflicts ----------------------------------------------------------
// GET /api/v1/admin/conflicts lists the open ones with every competing
// value; POST /api/v1/admin/conflicts/resolve takes {conflict, choose: n}
// or {conflict, value}.

let ctrail = [];

export async function conflictsView(box, ctx) {
  const after = Number(ctx.params.get('after') || 0);
  if (after === 0) ctrail = [];
  const data = await api(`/api/v1/admin/conflicts?limit=${PAGE}&after=${after}`);
  if (!ctx.current()) return;
  const { conflicts } = data;
  if (!conflicts.length) {
    box.append(h('p', {}, after ? 'No more open conflicts.' : 'No open conflicts.'));
    if (!after) return;
  } else {
    box.append(h('p', {}, `${conflicts.length} open conflict(s) on this page. Choose the value that is right, ` +
      'or write one; the provisional value is what devices hold until then.'));
  }
  for (const c of conflicts) box.append(conflictCard(c));
  box.append(pager(ctx, ctrail, after, data.next, conflicts.length, `Page ${ctrail.length + 1}`));
}

// Previous / Next over a cursor API: trail holds the cursors of the pages
// before this one.
function pager(ctx, trail, after, next, count, text) {
  const to = (cursor) => {
    const q = new URLSearchParams(ctx.params);
    if (cursor) q.set('after', String(cursor)); else q.delete('after');
    ctx.go(q);
  };
  return h('div', { class: 'pager' },
    h('button', { type: 'button', class: 'secondary', disabled: trail.length === 0,
      onclick: () => to(trail.pop()) }, '← Previous'),
    h('span', {}, text),
    h('button', { type: 'button', class: 'secondary', disabled: count < PAGE,
      onclick: () => { trail.push(String(after)); to(next); } }, 'Next →'));
}

function valueText(v) {
  return v === null || v === undefined || v === '' ? '(empty)' : show(v);
}

function heading(c) {
  if (c.kind === 'submission') return `Submission ${c.submission}: amended after a hub correction`;
  const what = typeof c.name === 'string' && c.name
    ? `${c.type || 'entity'} “${c.name}” (${c.entity.slice(0, 8)}…)` : `${c.type || 'entity'} ${c.entity}`;
  if (c.kind === 'delete') return `${what}: deleted on one device, edited on another`;
  return `${what}: field “${c.field}”`;
}

// A written value takes the type of the values it competes with.
function typed(text, values) {
  const nums = values.length && values.every((v) => typeof v.value === 'number');
  return nums && text !== '' && !Number.isNaN(Number(text)) ? Number(text) : text;
}

function conflictCard(c) {
  const name = `v-${c.id}`;
  const values = c.values || [];
  const msg = h('p', { role: 'status', class: 'help' });
  const options = values.map((v) => h('label', {},
    h('input', { type: 'radio', name, value: String(v.n), checked: v.provisional }),
    h('span', {}, h('strong', {}, valueText(v.value)),
      ` by ${v.device_name || 'the hub'}${v.collector ? ` (${v.collector})` : ''}, received ${when(v.received_ms)}`,
      v.provisional ? ' — provisional' : '')));
  let own = null;
  if (c.kind === 'field') {
    own = h('input', { type: 'text', id: `own-${c.id}`, 'aria-label': `Your value for ${c.field}` });
    const ownRadio = h('input', { type: 'radio', name, value: 'own', 'aria-label': 'Write a value' });
    own.addEventListener('input', () => { ownRadio.checked = true; });
    options.push(h('label', {}, ownRadio, h('span', {}, 'Write a value: '), own));
  }
  const card = h('section', { class: 'card', 'data-conflict': c.id, 'aria-label': `Conflict ${c.id}` },
    h('h3', {}, `#${c.id} ${heading(c)}`),
    h('p', { class: 'help' }, `Area ${c.area || '-'}, opened ${when(c.opened_ms)}`),
    h('fieldset', { class: 'values' }, h('legend', {}, 'Competing values'), options),
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: async () => {
      const pick = card.querySelector(`input[name="${name}"]:checked`);
      let body;
      if (!pick) {
        msg.className = 'error';
        msg.textContent = 'Choose a value first.';
        return;
      }
      if (pick.value === 'own') {
        if (!own.value.trim()) {
          msg.className = 'error';
          msg.textContent = 'Write the value first.';
          own.focus();
          return;
        }
        body = { conflict: c.id, value: typed(own.value.trim(), values) };
      } else {
        body = { conflict: c.id, choose: Number(pick.value) };
      }
      try {
        await api('/api/v1/admin/conflicts/resolve', { method: 'POST', body });
        const chosen = 'value' in body ? body.value : values.find((v) => v.n === body.choose).value;
        msg.className = 'help';
        msg.textContent = `Resolved: ${valueText(chosen)}. Devices holding it get this on their next sync.`;
        for (const b of card.querySelectorAll('button, input')) b.disabled = true;
        card.dataset.resolved = 'yes';
        say(`Conflict #${c.id} resolved`);
      } catch (e) {
        msg.className = 'error';
        msg.textContent = `Not resolved: ${e.message}`;
      }
    } }, 'Resolve')), msg);
  return card;
}
