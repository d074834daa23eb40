// Unit tests of the status page's DAG layout (cluster/web/js/dag_layout.js), run by
// `node --test tests/web/unit`.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {layoutDag} from '../../../cluster/web/js/dag_layout.js';

const ids = (...names) => names.map((id) => ({id}));
const edge = (from, to) => ({from, to});

function byId(layout) {
  return new Map(layout.nodes.map((node) => [node.id, node]));
}

function overlaps(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height &&
      b.y < a.y + a.height;
}

function assertNoOverlaps(layout) {
  for (let i = 0; i < layout.nodes.length; ++i) {
    for (let j = i + 1; j < layout.nodes.length; ++j) {
      assert.ok(!overlaps(layout.nodes[i], layout.nodes[j]),
                `${layout.nodes[i].id} overlaps ${layout.nodes[j].id}`);
    }
  }
}

test('a chain gets one layer per vertex, left to right', () => {
  const layout = layoutDag(ids('a', 'b', 'c'), [edge('a', 'b'), edge('b', 'c')]);
  const nodes = byId(layout);
  assert.deepEqual(['a', 'b', 'c'].map((id) => nodes.get(id).layer), [0, 1, 2]);
  assert.ok(nodes.get('a').x < nodes.get('b').x && nodes.get('b').x < nodes.get('c').x);
  assert.equal(layout.crossings, 0);
  assert.ok(layout.width >= nodes.get('c').x + nodes.get('c').width);
});

test('layers follow the longest path, and a late source sits next to its consumer', () => {
  // a → b → c → join, side → join: side would be layer 0 by longest path alone.
  const layout = layoutDag(ids('a', 'b', 'c', 'side', 'join'),
                           [edge('a', 'b'), edge('b', 'c'), edge('c', 'join'),
                            edge('side', 'join'), edge('a', 'join')]);
  const nodes = byId(layout);
  assert.equal(nodes.get('join').layer, 3);
  assert.equal(nodes.get('side').layer, 2);
  assert.equal(nodes.get('a').layer, 0);
  assertNoOverlaps(layout);
});

test('an edge spanning layers is routed through one bend per crossed layer', () => {
  const layout = layoutDag(ids('a', 'b', 'c'),
                           [edge('a', 'b'), edge('b', 'c'), edge('a', 'c')]);
  const long = layout.edges.find((e) => e.from === 'a' && e.to === 'c');
  const nodes = byId(layout);
  assert.equal(long.points.length, 4);  // out of a, into and out of layer 1, into c
  const a = nodes.get('a');
  const c = nodes.get('c');
  assert.equal(long.points[0].x, a.x + a.width);
  assert.ok(long.points[0].y > a.y && long.points[0].y < a.y + a.height);
  assert.equal(long.points.at(-1).x, c.x);
  assert.ok(long.points.at(-1).y > c.y && long.points.at(-1).y < c.y + c.height);
  // The bend must not run through b's box.
  const b = nodes.get('b');
  const bendY = long.points[1].y;
  assert.ok(bendY < b.y || bendY > b.y + b.height, `bend at ${bendY} crosses b`);
});

test('barycentric ordering removes avoidable crossings', () => {
  // Two parallel pipelines whose second layer is listed in crossed order.
  const layout = layoutDag(ids('s1', 's2', 'm2', 'm1', 'k1', 'k2'),
                           [edge('s1', 'm1'), edge('s2', 'm2'), edge('m1', 'k1'),
                            edge('m2', 'k2')]);
  assert.equal(layout.crossings, 0);
  const nodes = byId(layout);
  assert.ok((nodes.get('s1').y < nodes.get('s2').y) === (nodes.get('m1').y < nodes.get('m2').y));
  assertNoOverlaps(layout);
});

test('boxes of one layer never overlap and a lone pair is aligned', () => {
  const fanOut = ['x1', 'x2', 'x3', 'x4', 'x5'];
  const layout = layoutDag(ids('src', ...fanOut, 'sink'),
                           [...fanOut.map((x) => edge('src', x)),
                            ...fanOut.map((x) => edge(x, 'sink'))]);
  assertNoOverlaps(layout);
  const nodes = byId(layout);
  // Source and sink are centred on the fan.
  assert.ok(Math.abs(nodes.get('src').y - nodes.get('sink').y) < 1);
  const chain = layoutDag(ids('a', 'b'), [edge('a', 'b')]);
  const [a, b] = chain.nodes;
  assert.equal(a.y, b.y);
  for (const node of [...layout.nodes, ...chain.nodes]) assert.ok(node.y >= 0);
});

test('bad input is ignored rather than thrown on', () => {
  const layout = layoutDag(ids('a', 'b', 'a'),
                           [edge('a', 'a'), edge('a', 'missing'), edge('a', 'b'), edge('a', 'b')]);
  assert.equal(layout.nodes.length, 2);
  assert.equal(layout.edges.length, 1);
  const empty = layoutDag([], []);
  assert.equal(empty.nodes.length, 0);
  assert.ok(Number.isFinite(empty.width) && Number.isFinite(empty.height));
});

test('a cycle is laid out with one edge reversed, and still drawn source to target', () => {
  const layout = layoutDag(ids('a', 'b', 'c'),
                           [edge('a', 'b'), edge('b', 'c'), edge('c', 'a')]);
  const reversed = layout.edges.filter((e) => e.reversed);
  assert.equal(reversed.length, 1);
  const nodes = byId(layout);
  for (const e of layout.edges) {
    const from = nodes.get(e.from);
    const to = nodes.get(e.to);
    const start = e.points[0];
    const end = e.points.at(-1);
    assert.ok(start.y > from.y && start.y < from.y + from.height, `${e.from}→${e.to} start`);
    assert.ok(end.y > to.y && end.y < to.y + to.height, `${e.from}→${e.to} end`);
  }
});

test('edges sharing a box side get separate ports, ordered by where they lead', () => {
  const layout = layoutDag(ids('src', 'up', 'down', 'sink'),
                           [edge('src', 'up'), edge('src', 'down'), edge('up', 'sink'),
                            edge('down', 'sink')]);
  const nodes = byId(layout);
  const out = (to) => layout.edges.find((e) => e.from === 'src' && e.to === to).points[0].y;
  const into = (from) => layout.edges.find((e) => e.to === 'sink' && e.from === from).points.at(-1).y;
  const [upper, lower] = nodes.get('up').y < nodes.get('down').y ? ['up', 'down'] : ['down', 'up'];
  assert.ok(out(upper) < out(lower));
  assert.ok(into(upper) < into(lower));
});

test('ids are compared as strings and node data is carried through', () => {
  const layout = layoutDag([{id: 0, name: 'source'}, {id: '1', name: 'sink'}],
                           [{from: '0', to: 1, ship: 'HASH'}]);
  assert.equal(layout.edges.length, 1);
  assert.equal(layout.edges[0].data.ship, 'HASH');
  assert.equal(byId(layout).get('0').data.name, 'source');
});
