// The admin page: sign-in, navigation between views, devices.
import { api, token, setToken, clearToken, whenUnauthorized, h, ago, when,
         problem } from './api.js';
import { submissionsView, conflictsView } from './review.js';
import { coverageView, indicatorsView, mapView, exportsView } from './dataset.js';

const views = {
  devices: { title: 'Devices', render: devicesView, admin: true },
  submissions: { title: 'Submissions', render: submissionsView },
  conflicts: { title: 'Conflicts', render: conflictsView, admin: true },
  coverage: { title: 'Coverage', render: coverageView },
  indicators: { title: 'Indicators', render: indicatorsView },
  map: { title: 'Map', render: mapView },
  exports: { title: 'Exports', render: exportsView },
};

const $ = (id) => document.getElementById(id);
let me = null;

function showSignIn(message) {
  me = null;
  $('signin').hidden = false;
  $('nav').hidden = true;
  $('who').hidden = true;
  $('signout').hidden = true;
  $('main').replaceChildren();
  $('signin-msg').textContent = message || '';
  $('token').focus();
}

async function signIn(tok) {
  try {
    me = await api('/api/v1/admin/whoami', { tok });
  } catch (e) {
    let msg;
    if (e.status === 401)
      msg = 'That token was refused: the hub did not issue it, or it was revoked. ' +
            'Check it, or ask a hub admin for a new one.';
    else if (e.status === 403)
      msg = 'That token belongs to a device; sign in with an admin or reviewer API token.';
    else msg = `Could not sign in: ${e.message}`;
    clearToken();
    showSignIn(msg);
    return false;
  }
  setToken(tok);
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('who').hidden = false;
  const areas = me.areas === '*' ? 'all areas' : `areas ${me.areas.join(', ')}`;
  $('who').textContent = `${me.name} (${me.role}, ${areas})`;
  $('signout').hidden = false;
  for (const a of document.querySelectorAll('#nav a')) {
    const v = views[a.dataset.view];
    a.parentElement.hidden = v.admin && me.role !== 'admin';
  }
  return true;
}

// "#submissions?state=received&form=x" -> ['submissions', URLSearchParams]
function route() {
  const raw = location.hash.replace(/^#/, '');
  const [name, query] = raw.split('?');
  return [views[name] ? name : 'submissions', new URLSearchParams(query || '')];
}

export function go(name, params) {
  const q = params && params.toString();
  const target = '#' + name + (q ? '?' + q : '');
  if (location.hash === target) render();
  else location.hash = target;
}

let renderSeq = 0;
async function render() {
  if (!me) return;
  const [name, params] = route();
  const view = views[name];
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${view.title} - fieldsync hub`;
  const main = $('main');
  const seq = ++renderSeq;
  const box = h('div', { 'aria-busy': 'true' });
  main.replaceChildren(h('h2', {}, view.title), box);
  if (view.admin && me.role !== 'admin') {
    box.append(h('p', { class: 'notice' }, `${view.title} is for hub admins only.`));
  } else {
    try {
      await view.render(box, { me, params, go: (p) => go(name, p), current: () => seq === renderSeq });
    } catch (e) {
      box.append(problem(e, view.title.toLowerCase()));
    }
  }
  box.setAttribute('aria-busy', 'false');
}

async function devicesView(box) {
  const data = await api('/api/v1/admin/devices');
  const now = Date.now();
  const rows = data.devices.map((d) => h('tr', {},
    h('td', {}, d.name),
    h('td', {}, d.role),
    h('td', {}, d.areas === '*' ? 'all' : d.areas.join(', ')),
    h('td', {}, h('time', { datetime: d.last_seen_ms ? new Date(d.last_seen_ms).toISOString() : undefined,
                            title: when(d.last_seen_ms) }, ago(d.last_seen_ms, now))),
    h('td', { class: 'num' }, d.acked_seq),
    h('td', {}, d.revoked ? 'revoked' : 'active')));
  box.append(
    h('p', {}, `${data.devices.length} enrolled device(s). "Last sync" is the hub's last contact with the device.`),
    h('div', { class: 'table-wrap' }, h('table', { id: 'devices' },
      h('caption', {}, 'Enrolled devices'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Role'),
        h('th', { scope: 'col' }, 'Areas'), h('th', { scope: 'col' }, 'Last sync'),
        h('th', { scope: 'col', class: 'num' }, 'Changes sent'), h('th', { scope: 'col' }, 'Status'))),
      h('tbody', {}, rows))));
}

whenUnauthorized(() => {
  clearToken();
  showSignIn('The hub no longer accepts this token (revoked?). Sign in again.');
});

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const tok = $('token').value.trim();
  if (!tok) {
    $('signin-msg').textContent = 'Enter a token first.';
    return;
  }
  $('signin-msg').textContent = 'Checking…';
  if (await signIn(tok)) {
    $('token').value = '';
    await render();
    $('main').focus();
  }
});
$('signout').addEventListener('click', () => {
  clearToken();
  showSignIn('Signed out.');
});
window.addEventListener('hashchange', render);

$('signin-fields').disabled = false;
if (token() && await signIn(token())) await render();
else showSignIn();
document.body.dataset.ready = 'yes';
