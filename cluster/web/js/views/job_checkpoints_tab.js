// The Checkpoints tab of a job: counts, the latest completed checkpoint and the history
// (id, status, trigger time, duration, state size, alignment, acknowledged subtasks).

import {api} from '../api.js';
import {listOf, objectOf} from '../json.js';
import {facts, h, replaceChildren, stateBadge, statCards, table} from '../dom.js';
import {formatBytes, formatDuration, formatTimestamp} from '../format.js';

const count = (value) => (Number.isFinite(value) ? String(value) : '—');

export class CheckpointsTab {
  constructor() {
    this.element = h('div', {'data-testid': 'job-checkpoints'},
                     h('p', {class: 'muted'}, 'Loading…'));
  }

  load(jobId) {
    return api.checkpoints(jobId);
  }

  render(job, answer) {
    const counts = objectOf(answer.counts);
    const latest = objectOf(objectOf(answer.latest).completed);
    const history = [...listOf(answer.history)].sort((a, b) => (b.id ?? 0) - (a.id ?? 0));
    const rows = history.map((checkpoint) => ({
      attributes: {'data-testid': 'checkpoint-row', 'data-checkpoint-id': checkpoint.id},
      cells: [String(checkpoint.id ?? '—'), stateBadge(checkpoint.status),
              formatTimestamp(checkpoint.trigger_timestamp),
              formatDuration(checkpoint.end_to_end_duration), formatBytes(checkpoint.state_size),
              formatDuration(checkpoint.alignment_duration),
              `${count(checkpoint.num_acknowledged_subtasks)} / ${count(checkpoint.num_subtasks)}`],
    }));
    replaceChildren(this.element,
        statCards([
          {label: 'Completed', value: count(counts.completed), tone: 'finished',
           testid: 'checkpoints-completed'},
          {label: 'In progress', value: count(counts.in_progress), tone: 'running'},
          {label: 'Failed', value: count(counts.failed), tone: 'failed'},
        ]),
        h('h2', {}, 'Latest completed checkpoint'),
        latest.id === undefined
            ? h('p', {class: 'muted'}, 'No checkpoint has completed yet.')
            : facts([['ID', String(latest.id)],
                     ['Triggered', formatTimestamp(latest.trigger_timestamp)],
                     ['Duration', formatDuration(latest.end_to_end_duration)],
                     ['State size', formatBytes(latest.state_size)],
                     ['Alignment', formatDuration(latest.alignment_duration)]]),
        h('h2', {}, 'History'),
        table([{title: 'ID', numeric: true}, {title: 'Status'}, {title: 'Triggered'},
               {title: 'Duration', numeric: true}, {title: 'State size', numeric: true},
               {title: 'Alignment', numeric: true}, {title: 'Acknowledged', numeric: true}],
              rows, {'data-testid': 'checkpoint-history'}, 'No checkpoint has been triggered.'));
  }
}
