// A small element builder for the status page. Text from the server (job names, exception
// messages) is only ever set as text nodes or attribute values, never parsed as HTML.

const kSvgNamespace = 'http://www.w3.org/2000/svg';

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// h('a', {href: '#/jobs', class: 'link'}, 'Jobs', ...) → <a href="#/jobs" class="link">Jobs</a>
export function h(tag, attributes, ...children) {
  return build(document.createElement(tag), attributes, children);
}

export function svg(tag, attributes, ...children) {
  return build(document.createElementNS(kSvgNamespace, tag), attributes, children);
}

export function replaceChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

// A status word (RUNNING, COMPLETED, ...) as a coloured badge.
export function stateBadge(state) {
  const text = typeof state === 'string' && state.length > 0 ? state : 'UNKNOWN';
  return h('span', {class: `badge state-${text.toLowerCase()}`, 'data-state': text}, text);
}

// A table with a fixed header; rows: arrays of cells (nodes or text) or {cells, attributes}.
export function table(columns, rows, attributes = {}, emptyText = 'Nothing to show yet.') {
  const body = rows.length === 0
      ? [h('tr', {class: 'empty'}, h('td', {colspan: columns.length}, emptyText))]
      : rows.map((row) => {
          const cells = Array.isArray(row) ? row : row.cells;
          const rowAttributes = Array.isArray(row) ? {} : row.attributes;
          return h('tr', rowAttributes, cells.map((cell, i) =>
              h('td', {class: columns[i].numeric ? 'num' : undefined}, cell)));
        });
  return h('table', {class: 'data', ...attributes},
           h('thead', {}, h('tr', {}, columns.map((c) =>
               h('th', {class: c.numeric ? 'num' : undefined}, c.title)))),
           h('tbody', {}, body));
}

// A row of labelled figures, as on the cluster overview.
export function statCards(cards) {
  return h('div', {class: 'cards'}, cards.map(({label, value, testid, tone}) =>
      h('div', {class: `card ${tone ? 'tone-' + tone : ''}`},
        h('div', {class: 'card-value', 'data-testid': testid}, value),
        h('div', {class: 'card-label'}, label))));
}

// A definition list of label/value pairs for detail pages.
export function facts(pairs) {
  return h('dl', {class: 'facts'}, pairs.map(([label, value]) =>
      [h('dt', {}, label), h('dd', {}, value)]));
}
