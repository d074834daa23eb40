// The Exceptions tab of a job: the root exception (what failed the job last) and the
// history, each with the task (operator chain and subtask), where it ran and when.
// The tab re-renders only when the answer changes, so expanded stack traces stay open.

import {api} from '../api.js';
import {listOf} from '../json.js';
import {h, replaceChildren, table} from '../dom.js';
import {formatTimestamp} from '../format.js';

function firstLine(text) {
  const line = String(text).split('\n', 1)[0];
  return line.length > 160 ? line.slice(0, 159) + '…' : line;
}

function exceptionCell(text) {
  if (typeof text !== 'string' || text === '') return '—';
  if (!text.includes('\n') && text.length <= 160) return h('code', {}, text);
  return h('details', {}, h('summary', {}, firstLine(text)), h('pre', {}, text));
}

export class ExceptionsTab {
  constructor() {
    this.element = h('div', {'data-testid': 'exceptions'}, h('p', {class: 'muted'}, 'Loading…'));
    this.lastAnswer = null;
  }

  load(jobId) {
    return api.exceptions(jobId);
  }

  render(job, answer) {
    const serialized = JSON.stringify(answer);
    if (serialized === this.lastAnswer) return;
    this.lastAnswer = serialized;
    const root = answer['root-exception'];
    const history = [...listOf(answer['all-exceptions'])]
        .sort((a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0));
    replaceChildren(this.element,
        h('h2', {}, 'Root exception'),
        typeof root === 'string' && root !== ''
            ? [h('p', {class: 'muted'}, formatTimestamp(answer.timestamp)),
               h('pre', {class: 'exception', 'data-testid': 'root-exception'}, root)]
            : h('p', {class: 'muted', 'data-testid': 'root-exception'},
                'The job has not failed.'),
        h('h2', {}, 'History'),
        table([{title: 'Time'}, {title: 'Task'}, {title: 'Location'}, {title: 'Exception'}],
              history.map((entry) => ({
                attributes: {'data-testid': 'exception-row'},
                cells: [formatTimestamp(entry.timestamp), entry.task ?? '—',
                        entry.location ?? '—', exceptionCell(entry.exception)],
              })),
              {'data-testid': 'exception-history'}, 'No exception so far.'));
  }
}
