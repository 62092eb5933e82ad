// The mapping dataset: coverage against quotas, indicator tables, the
// map and exports. These read the hub's dataset API; a hub without it
// answers 404 and the view says so.
import { api, h } from './api.js';

export async function coverageView(box) {
  await api('/api/v1/admin/coverage');
  box.append(h('p', {}, 'Coverage is not drawn yet.'));
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
