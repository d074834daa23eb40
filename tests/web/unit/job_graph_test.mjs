// Unit tests of reading a job's graph from /jobs/{id} (cluster/web/js/job_graph.js).
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {jobGraph} from '../../../cluster/web/js/job_graph.js';

test('vertices become nodes and plan inputs become labelled edges', () => {
  const graph = jobGraph({
    vertices: [{id: '0', name: 'Source'}, {id: '1', name: 'Sink', parallelism: 2}],
    plan: {nodes: [{id: '0', inputs: []},
                   {id: '1', inputs: [{id: '0', ship_strategy: 'HASH', exchange: 'pipelined'}]}]},
  });
  assert.deepEqual(graph.nodes.map((n) => n.id), ['0', '1']);
  assert.equal(graph.nodes[1].vertex.parallelism, 2);
  assert.deepEqual(graph.edges, [{from: '0', to: '1', label: 'HASH'}]);
});

test('a main and a side output between the same vertices share one edge', () => {
  const graph = jobGraph({
    vertices: [{id: 0}, {id: 1}],
    plan: {nodes: [{id: 1, inputs: [{id: 0, ship_strategy: 'FORWARD', side_output: ''},
                                    {id: 0, ship_strategy: 'FORWARD', side_output: 'late'}]}]},
  });
  assert.deepEqual(graph.edges, [{from: '0', to: '1', label: 'FORWARD · FORWARD side output late'}]);
});

test('plan nodes without a vertex entry are still drawn, by their description', () => {
  const graph = jobGraph({plan: {nodes: [{id: '7', description: 'Map', parallelism: 3}]}});
  assert.deepEqual(graph.nodes, [{id: '7', vertex: {id: '7', name: 'Map', parallelism: 3}}]);
});

test('missing or malformed fields give an empty graph, not an exception', () => {
  for (const job of [{}, {vertices: null, plan: 5}, {vertices: [null, {}], plan: {nodes: [null]}},
                     {plan: {nodes: [{id: '1', inputs: 'x'}]}}]) {
    const graph = jobGraph(job);
    assert.ok(Array.isArray(graph.nodes) && Array.isArray(graph.edges));
    assert.equal(graph.edges.length, 0);
  }
});
