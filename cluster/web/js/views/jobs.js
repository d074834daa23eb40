// The jobs list (#/jobs), and the jobs table the cluster overview shows too.
// Views are created by main.js per route; refresh() is called once a second.

import {api} from '../api.js';
import {listOf} from '../json.js';
import {h, replaceChildren, stateBadge, table} from '../dom.js';
import {formatDuration, formatTimestamp} from '../format.js';
import {jobLink} from './links.js';

const kActiveStates = new Set(['CREATED', 'INITIALIZING', 'RUNNING', 'RESTARTING', 'FAILING',
                               'CANCELLING', 'RECONCILING', 'SUSPENDED']);

export function isActive(job) {
  return kActiveStates.has(String(job.state ?? '').toUpperCase());
}

// Newest first; rows carry data-job-id for tests and scripts.
export function jobsTable(jobs, emptyText) {
  const sorted = [...jobs].sort((a, b) => (b['start-time'] ?? 0) - (a['start-time'] ?? 0));
  return table(
      [{title: 'Name'}, {title: 'State'}, {title: 'Started'}, {title: 'Duration', numeric: true},
       {title: 'Ended'}, {title: 'ID'}],
      sorted.map((job) => ({
        attributes: {'data-testid': 'job-row', 'data-job-id': job.id ?? job.jid},
        cells: [jobLink(job.id ?? job.jid, job.name), stateBadge(job.state),
                formatTimestamp(job['start-time']), formatDuration(job.duration),
                formatTimestamp(job['end-time']), h('code', {}, String(job.id ?? job.jid))],
      })),
      {'data-testid': 'jobs-table'}, emptyText);
}

export class JobsView {
  constructor() {
    this.element = h('section', {class: 'view', 'data-testid': 'jobs-view'},
                     h('h1', {}, 'Jobs'), h('p', {class: 'muted'}, 'Loading…'));
  }

  async refresh() {
    const jobs = listOf((await api.jobs()).jobs);
    const active = jobs.filter(isActive);
    const done = jobs.filter((job) => !isActive(job));
    replaceChildren(this.element,
                    h('h1', {}, 'Jobs'),
                    h('h2', {}, `Running (${active.length})`),
                    jobsTable(active, 'No job is running.'),
                    h('h2', {}, `Completed (${done.length})`),
                    jobsTable(done, 'No job has finished yet.'));
  }
}
