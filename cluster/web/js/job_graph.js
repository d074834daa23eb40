// The graph of a job as the DAG view draws it, from a /jobs/{id} answer: one node per vertex
// (plan nodes without a vertex entry too) and one edge per connected pair of vertices.
// Pure, without DOM access (the unit tests import it in Node).

import {listOf, objectOf} from './json.js';

// Nodes: {id, vertex} (vertex: the /jobs/{id} entry, or one made from the plan node);
// edges: {from, to, label} with the ship strategy and side output in the label.
export function jobGraph(job) {
  const vertices = listOf(job.vertices);
  const planNodes = listOf(objectOf(job.plan).nodes);
  const nodes = new Map();
  for (const vertex of vertices) {
    if (vertex?.id !== undefined) nodes.set(String(vertex.id), {id: String(vertex.id), vertex});
  }
  for (const planNode of planNodes) {
    if (!planNode || planNode.id === undefined) continue;
    const id = String(planNode.id);
    if (!nodes.has(id)) nodes.set(id, {id, vertex: {id, name: planNode.description,
                                                     parallelism: planNode.parallelism}});
  }
  // Inputs from the same vertex (its main and a side output, say) share one arrow.
  const edges = new Map();
  for (const planNode of planNodes) {
    for (const input of listOf(planNode?.inputs)) {
      if (input?.id === undefined) continue;
      const sideOutput = typeof input.side_output === 'string' ? input.side_output : '';
      const label = [input.ship_strategy, sideOutput && `side output ${sideOutput}`]
          .filter((part) => typeof part === 'string' && part !== '').join(' ');
      const key = JSON.stringify([String(input.id), String(planNode.id)]);
      const edge = edges.get(key);
      if (edge) {
        if (label && !edge.label.split(' · ').includes(label)) {
          edge.label = edge.label ? `${edge.label} · ${label}` : label;
        }
      } else {
        edges.set(key, {from: String(input.id), to: String(planNode.id), label});
      }
    }
  }
  return {nodes: [...nodes.values()], edges: [...edges.values()]};
}
