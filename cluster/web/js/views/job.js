// A job's page (#/jobs/{id}[/exceptions|/checkpoints|/vertices/{vid}]): the job's header
// and tabs, and the tab's content. Moving between tabs or vertices of the same job keeps
// this view (main.js asks reuse()), so the DAG is not redrawn and the page does not flash.
// refresh() loads /jobs/{id} plus what the open tab needs, and drops answers that arrive
// after the user moved on.

import {api} from '../api.js';
import {h, replaceChildren, stateBadge} from '../dom.js';
import {formatDuration, formatTimestamp} from '../format.js';
import {CheckpointsTab} from './job_checkpoints_tab.js';
import {ExceptionsTab} from './job_exceptions_tab.js';
import {OverviewTab} from './job_overview_tab.js';
import {routes} from './links.js';

const kTabs = [
  {name: 'overview', title: 'Overview'},
  {name: 'exceptions', title: 'Exceptions'},
  {name: 'checkpoints', title: 'Checkpoints'},
];

export class JobView {
  constructor(route) {
    this.jobId = route.jobId;
    this.header = h('header', {class: 'job-header'}, h('h1', {}, `Job ${route.jobId}`),
                    h('p', {class: 'muted'}, 'Loading…'));
    this.tabBar = h('nav', {class: 'tabs', role: 'tablist'});
    this.content = h('div', {class: 'tab-content'});
    this.tabs = {
      overview: new OverviewTab(this.jobId),
      exceptions: new ExceptionsTab(),
      checkpoints: new CheckpointsTab(),
    };
    this.element = h('section', {class: 'view', 'data-testid': 'job-view',
                                 'data-job-id': this.jobId},
                     h('p', {class: 'crumbs'}, h('a', {href: routes.jobs()}, 'Jobs'), ' / ',
                       h('code', {}, this.jobId)),
                     this.header, this.tabBar, this.content);
    this.show(route);
  }

  // True if this view can show the route (same job); then it switches tab or vertex.
  reuse(route) {
    if (route.name !== 'job' || route.jobId !== this.jobId) return false;
    this.show(route);
    return true;
  }

  show(route) {
    this.tab = route.tab;
    this.vertexId = route.vertexId ?? null;
    this.tabBar.replaceChildren(...kTabs.map(({name, title}) =>
        h('a', {href: routes.job(this.jobId, name), role: 'tab',
                class: name === this.tab ? 'tab active' : 'tab',
                'aria-selected': name === this.tab ? 'true' : 'false',
                'data-testid': `tab-${name}`}, title)));
    const tab = this.tabs[this.tab];
    if (this.content.firstChild !== tab.element) this.content.replaceChildren(tab.element);
    tab.select?.(this.vertexId);
  }

  async refresh() {
    const tabName = this.tab;
    const vertexId = this.vertexId;
    const tab = this.tabs[tabName];
    const tabAnswer = tab.load(this.jobId, vertexId);
    tabAnswer.catch(() => {});  // awaited below; this only keeps an early failure quiet
    let job;
    try {
      job = await api.job(this.jobId);
    } catch (error) {
      if (error.status !== 404) throw error;
      this.showMissing();
      return;
    }
    const tabData = await tabAnswer;
    if (tabName !== this.tab || vertexId !== this.vertexId) return;  // the user moved on
    this.tabBar.hidden = false;
    this.content.hidden = false;
    this.renderHeader(job);
    tab.render(job, tabData);
  }

  // An unknown job id is an answer, not a connection problem: say so in place of the page.
  showMissing() {
    this.tabBar.hidden = true;
    this.content.hidden = true;
    replaceChildren(this.header, h('h1', {}, 'Job not found'),
        h('p', {'data-testid': 'job-missing'},
          'The job manager knows no job with ID ', h('code', {}, this.jobId), '. ',
          h('a', {href: routes.jobs()}, 'See all jobs.')));
  }

  renderHeader(job) {
    replaceChildren(this.header,
        h('h1', {}, typeof job.name === 'string' && job.name ? job.name : `Job ${this.jobId}`,
          ' ', stateBadge(job.state)),
        h('p', {class: 'job-facts'},
          h('span', {}, 'ID ', h('code', {}, String(job.jid ?? this.jobId))),
          h('span', {}, 'Started ', formatTimestamp(job['start-time'])),
          h('span', {}, 'Duration ', formatDuration(job.duration)),
          Number.isFinite(job.restarts) ? h('span', {'data-testid': 'job-restarts'},
                                            'Restarts ', String(job.restarts)) : null,
          job['end-time'] > 0 ? h('span', {}, 'Ended ', formatTimestamp(job['end-time']))
                              : null));
  }
}
