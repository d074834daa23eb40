// The Overview tab of a job: the DAG, and below it either the table of vertices or, when a
// vertex is selected (#/jobs/{id}/vertices/{vid}), that vertex's subtasks: the task manager
// each runs on, records and bytes in and out, rates, backpressure, busy time, how full the
// output and input queues are, and watermark; and, when latency tracking is on and the vertex
// ends in a sink, the end-to-end latency from each source.

import {api} from '../api.js';
import {listOf, objectOf} from '../json.js';
import {DagView} from '../dag_view.js';
import {h, replaceChildren, stateBadge, table} from '../dom.js';
import {backpressureLevelOf, formatBytes, formatCount, formatLatency, formatPercent,
        formatRate, formatWatermark} from '../format.js';
import {routes, taskManagerLink} from './links.js';

function backpressureBadge(metrics) {
  const level = backpressureLevelOf(metrics);
  return h('span', {class: `badge bp-${level}`, 'data-backpressure': level},
           level === 'unknown' ? '—' : `${level} ${formatPercent(metrics['backpressure-ratio'])}`);
}

// The metric cells vertices and subtasks share.
const kMetricColumns = [
  {title: 'Records in', numeric: true}, {title: 'Records out', numeric: true},
  {title: 'In/s', numeric: true}, {title: 'Out/s', numeric: true},
  {title: 'Bytes in', numeric: true}, {title: 'Bytes out', numeric: true},
  {title: 'Backpressure'}, {title: 'Busy', numeric: true},
  {title: 'Out queue', numeric: true}, {title: 'In queue', numeric: true},
  {title: 'Watermark'},
];

function metricCells(metricsValue) {
  const m = objectOf(metricsValue);
  return [formatCount(m['read-records']), formatCount(m['write-records']),
          formatRate(m['read-records-per-second']), formatRate(m['write-records-per-second']),
          formatBytes(m['read-bytes']), formatBytes(m['write-bytes']),
          backpressureBadge(m), formatPercent(m['busy-ratio']),
          formatPercent(m['out-pool-usage']), formatPercent(m['in-pool-usage']),
          formatWatermark(m.watermark)];
}

// End-to-end latency from each source to this vertex's sink (REST "latency" of a vertex).
function latencyTable(latencyValue) {
  const rows = listOf(latencyValue).map((entry) => {
    const l = objectOf(entry);
    return {
      attributes: {'data-testid': 'latency-row', 'data-source-id': l['source-id']},
      cells: [l['source-name'] || `vertex ${l['source-id']}`, formatCount(l.count),
              formatLatency(l['mean-ms']), formatLatency(l['p50-ms']),
              formatLatency(l['p99-ms']), formatLatency(l['max-ms'])],
    };
  });
  if (rows.length === 0) return null;
  return [h('h3', {}, 'Latency from the sources'),
          table([{title: 'Source'}, {title: 'Markers', numeric: true},
                 {title: 'Mean', numeric: true}, {title: 'p50', numeric: true},
                 {title: 'p99', numeric: true}, {title: 'Max', numeric: true}], rows,
                {'data-testid': 'latency-table'})];
}

export class OverviewTab {
  constructor(jobId) {
    this.jobId = jobId;
    this.dag = new DagView((vertexId) => {
      window.location.hash = routes.vertex(this.jobId, vertexId);
    });
    this.details = h('div', {class: 'vertex-details'});
    this.element = h('div', {'data-testid': 'job-overview'},
                     h('div', {class: 'dag-frame'}, this.dag.element), this.details);
  }

  select(vertexId) {
    this.vertexId = vertexId;
  }

  // The selected vertex's subtasks; a failure there (an unknown vertex id, say) is shown in
  // the panel rather than failing the whole page.
  async load(jobId, vertexId) {
    if (vertexId === null) return null;
    try {
      return {vertex: await api.vertex(jobId, vertexId)};
    } catch (error) {
      return {error};
    }
  }

  render(job, vertexAnswer) {
    this.dag.update(job, this.vertexId);
    if (this.vertexId === null) {
      this.renderVertices(job);
    } else {
      this.renderSubtasks(job, vertexAnswer);
    }
  }

  renderVertices(job) {
    const rows = listOf(job.vertices).map((vertex) => ({
      attributes: {'data-testid': 'vertex-row', 'data-vertex-id': vertex.id},
      cells: [h('a', {href: routes.vertex(this.jobId, vertex.id)}, vertex.name ?? vertex.id),
              stateBadge(vertex.status), String(vertex.parallelism ?? '—'),
              ...metricCells(vertex.metrics)],
    }));
    replaceChildren(this.details, h('h2', {}, 'Vertices'),
        table([{title: 'Name'}, {title: 'Status'}, {title: 'Parallelism', numeric: true},
               ...kMetricColumns], rows, {'data-testid': 'vertex-table'}));
  }

  renderSubtasks(job, answer) {
    const known = listOf(job.vertices).find((v) => String(v.id) === this.vertexId);
    const vertex = answer?.vertex ?? {};
    const name = vertex.name ?? known?.name ?? `vertex ${this.vertexId}`;
    const heading = h('h2', {},
        h('a', {href: routes.job(this.jobId), class: 'close', title: 'Back to all vertices'},
          '✕'),
        ` ${name}`,
        h('span', {class: 'muted'}, ` · parallelism ${vertex.parallelism ?? known?.parallelism ??
                                                     '—'}`));
    if (answer?.error) {
      replaceChildren(this.details, heading,
                      h('p', {class: 'error', 'data-testid': 'vertex-error'},
                        answer.error.message));
      return;
    }
    const rows = listOf(vertex.subtasks).map((subtask) => ({
      attributes: {'data-testid': 'subtask-row', 'data-subtask': subtask.subtask},
      cells: [String(subtask.subtask ?? '—'), stateBadge(subtask.status),
              taskManagerLink(subtask['taskmanager-id']), subtask.host ?? '—',
              ...metricCells(subtask.metrics)],
    }));
    replaceChildren(this.details, heading,
        table([{title: 'Subtask', numeric: true}, {title: 'Status'}, {title: 'Task manager'},
               {title: 'Host'}, ...kMetricColumns], rows,
              {'data-testid': 'subtask-table', 'data-vertex-id': this.vertexId},
              'No subtask is deployed.'),
        ...(latencyTable(vertex.latency) ?? []));
  }
}
