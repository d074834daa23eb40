// Layered (Sugiyama-style) layout of a job graph, flowing left to right:
//   1. cycles are broken by reversing DFS back edges (a job graph has none; this is defence),
//   2. longest-path layering, then every source moves right next to its first consumer,
//   3. edges spanning several layers get one dummy node per crossed layer,
//   4. barycentric ordering sweeps (down and up) keep the order with the fewest crossings,
//   5. vertical positions: each node is pulled toward the mean of its neighbours, solved per
//      layer as an isotonic regression (pool adjacent violators) so boxes never overlap,
//   6. edges leaving or entering one box get separate ports along its side.
// Pure computation on plain objects, no DOM: dag_view.js draws the result and the unit
// tests in tests/web/unit check it in Node.

const kDefaults = {
  nodeWidth: 230,
  nodeHeight: 108,
  layerGap: 90,      // horizontal space between layers, where edges run
  nodeGap: 28,       // vertical space between boxes of one layer
  dummyHeight: 12,   // room a long edge takes where it crosses a layer
  margin: 16,
  portGap: 14,       // vertical distance between edges leaving or entering one side of a box
  orderingSweeps: 12,
  positionSweeps: 8,
};

// nodes: [{id, ...}]; edges: [{from, to, ...}] (ids compared as strings; edges naming unknown
// nodes, self loops and duplicates are ignored). Returns
//   {width, height, crossings,
//    nodes: [{id, x, y, width, height, layer, order, data}],   (x, y: top-left corner)
//    edges: [{from, to, points: [{x, y}, ...], reversed, data}]} (points: source to target)
export function layoutDag(nodes, edges, options = {}) {
  const opt = {...kDefaults, ...options};
  const graph = buildGraph(nodes, edges);
  breakCycles(graph);
  assignLayers(graph);
  const layers = insertDummies(graph, opt);
  const crossings = orderLayers(graph, layers, opt.orderingSweeps);
  positionNodes(graph, layers, opt);
  return describe(graph, layers, opt, crossings);
}

function buildGraph(nodes, edges) {
  const items = new Map();  // id → {id, real, data, preds: [], succs: [], height}
  for (const node of nodes) {
    const id = String(node.id);
    if (!items.has(id)) items.set(id, {id, real: true, data: node, preds: [], succs: []});
  }
  const unique = new Map();
  for (const edge of edges) {
    const from = String(edge.from);
    const to = String(edge.to);
    const key = from + '\u0000' + to;
    if (from === to || !items.has(from) || !items.has(to) || unique.has(key)) continue;
    unique.set(key, {from, to, data: edge, reversed: false, chain: []});
  }
  return {items, edges: [...unique.values()]};
}

// Layout edges go from lower to higher layer; an original edge whose DFS visit found it
// closing a cycle is laid out reversed (and drawn back in its own direction).
function breakCycles(graph) {
  const outgoing = new Map([...graph.items.keys()].map((id) => [id, []]));
  for (const edge of graph.edges) outgoing.get(edge.from).push(edge);
  const state = new Map();  // id → 'active' | 'done'
  for (const start of graph.items.keys()) {
    if (state.has(start)) continue;
    // Iterative DFS: a stack of [id, next edge index], so deep graphs cannot overflow.
    const stack = [[start, 0]];
    state.set(start, 'active');
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const out = outgoing.get(top[0]);
      if (top[1] >= out.length) {
        state.set(top[0], 'done');
        stack.pop();
        continue;
      }
      const edge = out[top[1]++];
      const seen = state.get(edge.to);
      if (seen === 'active') {
        edge.reversed = true;
      } else if (seen === undefined) {
        state.set(edge.to, 'active');
        stack.push([edge.to, 0]);
      }
    }
  }
  for (const edge of graph.edges) {
    const [u, v] = edge.reversed ? [edge.to, edge.from] : [edge.from, edge.to];
    edge.u = u;
    edge.v = v;
    graph.items.get(u).succs.push(v);
    graph.items.get(v).preds.push(u);
  }
}

function assignLayers(graph) {
  const indegree = new Map();
  for (const item of graph.items.values()) indegree.set(item.id, item.preds.length);
  const queue = [...graph.items.values()].filter((item) => item.preds.length === 0);
  for (const item of queue) item.layer = 0;
  const topological = [];
  while (queue.length > 0) {
    const item = queue.shift();
    topological.push(item);
    for (const succId of item.succs) {
      const succ = graph.items.get(succId);
      succ.layer = Math.max(succ.layer ?? 0, item.layer + 1);
      indegree.set(succId, indegree.get(succId) - 1);
      if (indegree.get(succId) === 0) queue.push(succ);
    }
  }
  // A source feeding only a late vertex (a side input joined downstream, say) sits right
  // before that vertex instead of at the far left with a long edge.
  for (const item of topological) {
    if (item.preds.length > 0 || item.succs.length === 0) continue;
    const firstConsumer = Math.min(...item.succs.map((id) => graph.items.get(id).layer));
    item.layer = Math.max(item.layer, firstConsumer - 1);
  }
}

function insertDummies(graph, opt) {
  let layerCount = 0;
  for (const item of graph.items.values()) layerCount = Math.max(layerCount, item.layer + 1);
  const layers = Array.from({length: layerCount}, () => []);
  for (const item of graph.items.values()) {
    item.height = opt.nodeHeight;
    layers[item.layer].push(item);
  }
  // Segments between adjacent layers: the graph the ordering and positioning work on.
  for (const item of graph.items.values()) {
    item.up = [];
    item.down = [];
  }
  let dummyCount = 0;
  for (const edge of graph.edges) {
    let previous = graph.items.get(edge.u);
    const target = graph.items.get(edge.v);
    for (let layer = previous.layer + 1; layer < target.layer; ++layer) {
      const dummy = {id: `dummy:${dummyCount++}`, real: false, layer, height: opt.dummyHeight,
                     up: [], down: []};
      layers[layer].push(dummy);
      edge.chain.push(dummy);
      previous.down.push(dummy);
      dummy.up.push(previous);
      previous = dummy;
    }
    previous.down.push(target);
    target.up.push(previous);
  }
  return layers;
}

function setOrder(layers) {
  for (const layer of layers) layer.forEach((item, index) => { item.order = index; });
}

function countCrossings(layers) {
  let crossings = 0;
  for (let l = 0; l + 1 < layers.length; ++l) {
    const segments = [];
    for (const item of layers[l]) {
      for (const next of item.down) segments.push([item.order, next.order]);
    }
    for (let i = 0; i < segments.length; ++i) {
      for (let j = i + 1; j < segments.length; ++j) {
        const [a0, a1] = segments[i];
        const [b0, b1] = segments[j];
        if ((a0 - b0) * (a1 - b1) < 0) ++crossings;
      }
    }
  }
  return crossings;
}

// Reorders one layer by the mean order of each item's neighbours in the adjacent layer;
// an item without neighbours there keeps its place as its key. Ties keep the current order.
function sortByBarycenter(layer, neighboursOf) {
  const keyed = layer.map((item) => {
    const neighbours = neighboursOf(item);
    const key = neighbours.length === 0
        ? item.order
        : neighbours.reduce((sum, n) => sum + n.order, 0) / neighbours.length;
    return {item, key};
  });
  keyed.sort((a, b) => a.key - b.key || a.item.order - b.item.order);
  keyed.forEach(({item}, index) => { item.order = index; layer[index] = item; });
}

function orderLayers(graph, layers, sweeps) {
  setOrder(layers);
  let best = countCrossings(layers);
  let bestOrder = layers.map((layer) => [...layer]);
  for (let sweep = 0; sweep < sweeps && best > 0; ++sweep) {
    if (sweep % 2 === 0) {
      for (let l = 1; l < layers.length; ++l) sortByBarycenter(layers[l], (item) => item.up);
    } else {
      for (let l = layers.length - 2; l >= 0; --l) {
        sortByBarycenter(layers[l], (item) => item.down);
      }
    }
    const crossings = countCrossings(layers);
    if (crossings < best) {
      best = crossings;
      bestOrder = layers.map((layer) => [...layer]);
    }
  }
  bestOrder.forEach((order, l) => { layers[l].splice(0, layers[l].length, ...order); });
  setOrder(layers);
  return best;
}

// Places one layer's centres as close as possible (least squares) to `desired` while keeping
// their order and the spacing between boxes: with offsets removed the constraint is that the
// values do not decrease, which pool-adjacent-violators solves exactly.
function packLayer(layer, desired, gap) {
  const offsets = [];
  let offset = 0;
  layer.forEach((item, i) => {
    if (i > 0) offset += layer[i - 1].height / 2 + gap + item.height / 2;
    offsets.push(offset);
  });
  const blocks = [];  // {sum, count}
  layer.forEach((item, i) => {
    blocks.push({sum: desired[i] - offsets[i], count: 1});
    while (blocks.length > 1) {
      const last = blocks[blocks.length - 1];
      const before = blocks[blocks.length - 2];
      if (before.sum / before.count <= last.sum / last.count) break;
      before.sum += last.sum;
      before.count += last.count;
      blocks.pop();
    }
  });
  let i = 0;
  for (const block of blocks) {
    const value = block.sum / block.count;
    for (let k = 0; k < block.count; ++k, ++i) layer[i].center = value + offsets[i];
  }
}

function positionNodes(graph, layers, opt) {
  for (const layer of layers) {
    let y = 0;
    for (const item of layer) {
      item.center = y + item.height / 2;
      y += item.height + opt.nodeGap;
    }
  }
  // Centre each layer on the tallest one to start from a balanced picture.
  const extent = (layer) => layer.length === 0 ? 0 :
      layer[layer.length - 1].center + layer[layer.length - 1].height / 2;
  const tallest = Math.max(0, ...layers.map(extent));
  for (const layer of layers) {
    const shift = (tallest - extent(layer)) / 2;
    for (const item of layer) item.center += shift;
  }
  const mean = (items) => items.reduce((sum, n) => sum + n.center, 0) / items.length;
  for (let sweep = 0; sweep < opt.positionSweeps; ++sweep) {
    const down = sweep % 2 === 0;
    const indices = layers.map((_, l) => l);
    if (!down) indices.reverse();
    for (const l of indices) {
      const layer = layers[l];
      const desired = layer.map((item) => {
        const neighbours = [...item.up, ...item.down];
        return neighbours.length === 0 ? item.center : mean(neighbours);
      });
      packLayer(layer, desired, opt.nodeGap);
    }
  }
  let top = Infinity;
  for (const layer of layers) {
    for (const item of layer) top = Math.min(top, item.center - item.height / 2);
  }
  for (const layer of layers) {
    for (const item of layer) {
      item.center += opt.margin - (Number.isFinite(top) ? top : 0);
      item.x = opt.margin + item.layer * (opt.nodeWidth + opt.layerGap);
    }
  }
}

// Where several edges leave (or enter) one box, they get separate ports spread along its
// right (or left) side, ordered by where they go, so arrows do not pile up on one point.
function assignPorts(graph, opt) {
  const outgoing = new Map();
  const incoming = new Map();
  for (const edge of graph.edges) {
    const toward = edge.chain.length > 0 ? edge.chain[0] : graph.items.get(edge.v);
    const from = edge.chain.length > 0 ? edge.chain[edge.chain.length - 1]
                                       : graph.items.get(edge.u);
    if (!outgoing.has(edge.u)) outgoing.set(edge.u, []);
    if (!incoming.has(edge.v)) incoming.set(edge.v, []);
    outgoing.get(edge.u).push({edge, key: toward.center, side: 'out'});
    incoming.get(edge.v).push({edge, key: from.center, side: 'in'});
  }
  for (const [id, ports] of [...outgoing, ...incoming]) {
    const item = graph.items.get(id);
    ports.sort((a, b) => a.key - b.key);
    const step = ports.length < 2 ? 0 : Math.min(opt.portGap, (item.height * 0.6) / (ports.length - 1));
    ports.forEach((port, i) => {
      port.edge[port.side === 'out' ? 'outY' : 'inY'] =
          item.center + (i - (ports.length - 1) / 2) * step;
    });
  }
}

function describe(graph, layers, opt, crossings) {
  assignPorts(graph, opt);
  let height = 0;
  for (const layer of layers) {
    for (const item of layer) height = Math.max(height, item.center + item.height / 2);
  }
  const nodes = [];
  for (const item of graph.items.values()) {
    nodes.push({id: item.id, x: item.x, y: item.center - item.height / 2, width: opt.nodeWidth,
                height: item.height, layer: item.layer, order: item.order, data: item.data});
  }
  const edges = graph.edges.map((edge) => {
    const source = graph.items.get(edge.u);
    const target = graph.items.get(edge.v);
    const points = [{x: source.x + opt.nodeWidth, y: edge.outY}];
    for (const dummy of edge.chain) {
      points.push({x: dummy.x, y: dummy.center}, {x: dummy.x + opt.nodeWidth, y: dummy.center});
    }
    points.push({x: target.x, y: edge.inY});
    if (edge.reversed) points.reverse();
    return {from: edge.from, to: edge.to, points, reversed: edge.reversed, data: edge.data};
  });
  return {
    width: layers.length === 0 ? 2 * opt.margin
        : 2 * opt.margin + layers.length * opt.nodeWidth + (layers.length - 1) * opt.layerGap,
    height: height + opt.margin,
    crossings,
    nodes,
    edges,
  };
}
