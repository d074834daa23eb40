// The cluster overview (#/overview, the start page): task managers, slots, job counts by
// state, the Brook version, and the running jobs.

import {api} from '../api.js';
import {listOf} from '../json.js';
import {h, replaceChildren, statCards} from '../dom.js';
import {isActive, jobsTable} from './jobs.js';
import {routes} from './links.js';

const count = (value) => (Number.isFinite(value) ? String(value) : '—');

export class OverviewView {
  constructor() {
    this.element = h('section', {class: 'view', 'data-testid': 'overview-view'},
                     h('h1', {}, 'Cluster overview'), h('p', {class: 'muted'}, 'Loading…'));
  }

  async refresh() {
    const [overview, jobsAnswer] = await Promise.all([api.overview(), api.jobs()]);
    const slotsTotal = overview['slots-total'];
    const slotsFree = overview['slots-available'];
    const version = overview['brook-version'] ?? overview['flink-version'] ?? '—';
    const active = listOf(jobsAnswer.jobs).filter(isActive);
    replaceChildren(this.element,
        h('h1', {}, 'Cluster overview', h('span', {class: 'version'}, `Brook ${version}`)),
        statCards([
          {label: 'Task managers', value: h('a', {href: routes.taskManagers()},
                                            count(overview.taskmanagers)),
           testid: 'overview-taskmanagers'},
          {label: 'Slots free / total', value: `${count(slotsFree)} / ${count(slotsTotal)}`,
           testid: 'overview-slots'},
          {label: 'Running jobs', value: count(overview['jobs-running']), tone: 'running',
           testid: 'overview-jobs-running'},
          {label: 'Finished', value: count(overview['jobs-finished']), tone: 'finished'},
          {label: 'Canceled', value: count(overview['jobs-cancelled']), tone: 'canceled'},
          {label: 'Failed', value: count(overview['jobs-failed']), tone: 'failed'},
        ]),
        h('h2', {}, 'Running jobs'),
        jobsTable(active, 'No job is running.'),
        h('p', {}, h('a', {href: routes.jobs()}, 'All jobs →')));
  }
}
