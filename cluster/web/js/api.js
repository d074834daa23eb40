// Reads the job manager's REST API (Flink's shapes, see DESIGN.md) for the status page.
// Paths are resolved against the page's own URL, so the page works wherever the job manager
// serves it, with no other host involved. Every call has a timeout and reports failures as an
// ApiError with the HTTP status (0 for network errors and timeouts). The page only reads.

const kTimeoutMs = 5000;

export class ApiError extends Error {
  constructor(path, status, message) {
    super(message);
    this.path = path;
    this.status = status;
  }
}

const apiBase = new URL('.', window.location.href);

// A job manager whose reads are closed answers 401; the user can then enter the cluster
// token, which is kept for this browser tab only (sessionStorage) and sent as a bearer token.
const kTokenKey = 'brook.token';

export function setToken(token) {
  if (token) {
    sessionStorage.setItem(kTokenKey, token);
  } else {
    sessionStorage.removeItem(kTokenKey);
  }
}

function authorization() {
  const token = sessionStorage.getItem(kTokenKey);
  return token ? {Authorization: `Bearer ${token}`} : {};
}

export async function getJson(path) {
  const url = new URL(path.replace(/^\//, ''), apiBase);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), kTimeoutMs);
  let response;
  try {
    response = await fetch(url, {headers: {Accept: 'application/json', ...authorization()},
                                 signal: controller.signal, cache: 'no-store'});
  } catch (error) {
    const reason = error.name === 'AbortError' ? `no answer within ${kTimeoutMs / 1000} s`
                                               : 'job manager unreachable';
    throw new ApiError(path, 0, `${path}: ${reason}`);
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // A non-JSON body: the status code alone tells what happened.
  }
  if (!response.ok) {
    const detail = body && (body.error ?? (Array.isArray(body.errors) ? body.errors.join('; ')
                                                                     : undefined));
    throw new ApiError(path, response.status,
                       `${path}: HTTP ${response.status}${detail ? ' — ' + detail : ''}`);
  }
  if (body === null || typeof body !== 'object') {
    throw new ApiError(path, response.status, `${path}: the answer is not a JSON object`);
  }
  return body;
}

export const api = {
  overview: () => getJson('/overview'),
  jobs: () => getJson('/jobs'),
  job: (jobId) => getJson(`/jobs/${encodeURIComponent(jobId)}`),
  vertex: (jobId, vertexId) =>
      getJson(`/jobs/${encodeURIComponent(jobId)}/vertices/${encodeURIComponent(vertexId)}`),
  checkpoints: (jobId) => getJson(`/jobs/${encodeURIComponent(jobId)}/checkpoints`),
  exceptions: (jobId) => getJson(`/jobs/${encodeURIComponent(jobId)}/exceptions`),
  taskManagers: () => getJson('/taskmanagers'),
  taskManager: (id) => getJson(`/taskmanagers/${encodeURIComponent(id)}`),
};
