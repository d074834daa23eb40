// Draws a job's graph as SVG: one box per vertex (name, parallelism, live records/s in and
// out, backpressure colour, watermark) and arrows for the edges, labelled with the ship
// strategy (and the side output they carry, if any). Layout comes from dag_layout.js and is
// recomputed only when the graph's shape changes; each poll only rewrites the figures inside
// the boxes, so the boxes stay in place (and under the mouse) while the numbers move.
// Used only on the browser's main thread; one DagView per job page.

import {layoutDag} from './dag_layout.js';
import {svg} from './dom.js';
import {backpressureLevelOf, formatPercent, formatRate, formatWatermark, hasWatermark}
    from './format.js';
import {jobGraph} from './job_graph.js';
import {objectOf} from './json.js';

const kTextInset = 14;  // left padding inside a box, past the backpressure bar
const kMinimumScale = 0.8;

// Sets `text` on an SVG text element, cut with an ellipsis to fit `maxWidth` pixels.
// Measuring needs the element in the document; detached, it falls back to a length guess.
function setFittedText(element, text, maxWidth) {
  element.textContent = text;
  if (!element.isConnected) {
    const guess = Math.floor(maxWidth / 7.5);
    if (text.length > guess) element.textContent = text.slice(0, guess - 1) + '…';
    return;
  }
  if (element.getComputedTextLength() <= maxWidth) return;
  let low = 0;
  let high = text.length;
  while (low < high) {  // the longest prefix that fits together with the ellipsis
    const middle = Math.ceil((low + high) / 2);
    element.textContent = text.slice(0, middle) + '…';
    if (element.getComputedTextLength() <= maxWidth) low = middle; else high = middle - 1;
  }
  element.textContent = text.slice(0, low) + '…';
}

function signature(graph) {
  return JSON.stringify([graph.nodes.map((n) => n.id),
                         graph.edges.map((e) => [e.from, e.to, e.label])]);
}

// A smooth path through the layout's points: each step leaves and enters horizontally.
function pathThrough(points) {
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length; ++i) {
    const a = points[i - 1];
    const b = points[i];
    if (a.y === b.y) {
      d += ` L${b.x},${b.y}`;
    } else {
      const dx = (b.x - a.x) / 2;
      d += ` C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
    }
  }
  return d;
}

export class DagView {
  // onSelect(vertexId) is called when the user clicks a vertex (or presses Enter on it).
  constructor(onSelect) {
    this.onSelect = onSelect;
    this.element = svg('svg', {'data-testid': 'dag', class: 'dag', role: 'group',
                               'aria-label': 'Job graph'});
    this.layoutSignature = null;
    this.boxes = new Map();  // vertex id → the box's group and text elements
  }

  update(job, selectedVertexId) {
    const graph = jobGraph(job);
    const graphSignature = signature(graph);
    if (graphSignature !== this.layoutSignature) {
      this.draw(graph);
      this.layoutSignature = graphSignature;
    }
    for (const node of graph.nodes) this.fill(node.id, node.vertex, selectedVertexId);
  }

  draw(graph) {
    const layout = layoutDag(graph.nodes, graph.edges);
    const marker = svg('marker', {id: 'dag-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5,
                                  markerWidth: 7, markerHeight: 7,
                                  orient: 'auto-start-reverse'},
                       svg('path', {d: 'M0,0 L10,5 L0,10 z', class: 'dag-arrow-head'}));
    const edgeLayer = svg('g', {class: 'dag-edges'});
    for (const edge of layout.edges) {
      const points = edge.points;
      const middle = Math.floor((points.length - 1) / 2);
      const labelX = (points[middle].x + points[middle + 1].x) / 2;
      const labelY = (points[middle].y + points[middle + 1].y) / 2 - 6;
      edgeLayer.append(svg('g', {class: 'dag-edge', 'data-testid': 'dag-edge',
                                 'data-from': edge.from, 'data-to': edge.to},
          svg('path', {d: pathThrough(points), 'marker-end': 'url(#dag-arrow)'}),
          edge.data.label
              ? svg('text', {x: labelX, y: labelY, 'text-anchor': 'middle',
                             class: 'dag-edge-label'}, edge.data.label)
              : null));
    }
    const nodeLayer = svg('g', {class: 'dag-nodes'});
    this.boxes.clear();
    for (const node of layout.nodes) {
      const box = this.drawBox(node);
      this.boxes.set(node.id, box);
      nodeLayer.append(box.group);
    }
    this.element.replaceChildren(svg('defs', {}, marker), edgeLayer, nodeLayer);
    this.element.setAttribute('width', layout.width);
    this.element.setAttribute('height', layout.height);
    this.element.setAttribute('viewBox', `0 0 ${layout.width} ${layout.height}`);
    // A wide or tall graph shrinks to the frame (CSS max-width/max-height; the width and height
    // attributes give its proportions), but not below a readable size: then the frame scrolls.
    this.element.style.minWidth = `${Math.round(layout.width * kMinimumScale)}px`;
    this.element.style.minHeight = `${Math.round(layout.height * kMinimumScale)}px`;
  }

  drawBox(node) {
    const {x, y, width, height} = node;
    const text = (dy, cls, attributes = {}) =>
        svg('text', {x: x + kTextInset, y: y + dy, class: cls, ...attributes});
    const title = svg('title');
    const name = text(22, 'dag-name');
    const parallelism = text(42, 'dag-detail');
    const rate = text(62, 'dag-rate', {'data-testid': 'vertex-rate'});
    const backpressure = text(81, 'dag-detail', {'data-testid': 'vertex-backpressure'});
    const watermark = text(99, 'dag-detail', {'data-testid': 'vertex-watermark'});
    const group = svg('g', {class: 'dag-vertex', 'data-testid': 'dag-vertex',
                            'data-vertex-id': node.id, tabindex: 0, role: 'link',
                            onclick: () => this.onSelect(node.id),
                            onkeydown: (event) => {
                              if (event.key === 'Enter') this.onSelect(node.id);
                            }},
        title,
        svg('rect', {x, y, width, height, rx: 6, class: 'dag-box'}),
        svg('rect', {x, y, width: 6, height, rx: 3, class: 'dag-bp-bar'}),
        name, parallelism, rate, backpressure, watermark);
    return {group, title, name, parallelism, rate, backpressure, watermark, width,
            shownName: null};
  }

  fill(id, vertex, selectedVertexId) {
    const box = this.boxes.get(id);
    if (!box) return;
    const metrics = objectOf(vertex.metrics);
    const vertexName = typeof vertex.name === 'string' && vertex.name ? vertex.name : `vertex ${id}`;
    const level = backpressureLevelOf(metrics);
    box.group.setAttribute('class', `dag-vertex bp-${level}` +
                                    (id === selectedVertexId ? ' selected' : ''));
    box.group.setAttribute('data-backpressure', level);
    box.title.textContent = vertexName;
    if (box.shownName !== vertexName) {
      setFittedText(box.name, vertexName, box.width - kTextInset - 8);
      if (box.name.isConnected) box.shownName = vertexName;  // measured, not guessed: final
    }
    box.parallelism.textContent = `Parallelism ${vertex.parallelism ?? '—'}` +
                                  (vertex.status ? ` · ${vertex.status}` : '');
    const rateIn = metrics['read-records-per-second'];
    const rateOut = metrics['write-records-per-second'];
    box.rate.textContent = `in ${formatRate(rateIn)} · out ${formatRate(rateOut)}`;
    box.rate.setAttribute('data-rate-in', Number.isFinite(rateIn) ? rateIn : '');
    box.rate.setAttribute('data-rate-out', Number.isFinite(rateOut) ? rateOut : '');
    box.backpressure.textContent = level === 'unknown'
        ? 'backpressure —'
        : `backpressure ${level} · ${formatPercent(metrics['backpressure-ratio'])}`;
    box.watermark.textContent = hasWatermark(metrics.watermark)
        ? `watermark ${formatWatermark(metrics.watermark)}` : 'no watermark';
  }
}
