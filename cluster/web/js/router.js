// The status page's routes, read from the URL's hash (#/jobs/{id}/checkpoints, ...).
// Pure, without DOM access, so the unit tests in tests/web/unit run it in Node; links that
// produce these routes are in views/links.js.

// '#/jobs/abc/vertices/3' → {name: 'job', jobId: 'abc', tab: 'overview', vertexId: '3'}
export function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '')
                    .map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  const [first, id, sub, subId] = parts;
  if (parts.length === 0 || (first === 'overview' && parts.length === 1)) {
    return {name: 'overview'};
  }
  if (first === 'jobs') {
    if (parts.length === 1) return {name: 'jobs'};
    if (parts.length === 2) return {name: 'job', jobId: id, tab: 'overview'};
    if (parts.length === 3 && (sub === 'exceptions' || sub === 'checkpoints' ||
                               sub === 'overview')) {
      return {name: 'job', jobId: id, tab: sub};
    }
    if (parts.length === 4 && sub === 'vertices') {
      return {name: 'job', jobId: id, tab: 'overview', vertexId: subId};
    }
  }
  if (first === 'taskmanagers') {
    if (parts.length === 1) return {name: 'taskmanagers'};
    if (parts.length === 2) return {name: 'taskmanager', taskManagerId: id};
  }
  return {name: 'unknown', hash};
}
