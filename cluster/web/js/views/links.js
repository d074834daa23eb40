// Hash-route links shared by the views, so every page spells a route the same way.

import {h} from '../dom.js';

const part = (id) => encodeURIComponent(String(id));

export const routes = {
  overview: () => '#/overview',
  jobs: () => '#/jobs',
  job: (jobId, tab) => `#/jobs/${part(jobId)}` + (tab && tab !== 'overview' ? `/${tab}` : ''),
  vertex: (jobId, vertexId) => `#/jobs/${part(jobId)}/vertices/${part(vertexId)}`,
  taskManagers: () => '#/taskmanagers',
  taskManager: (id) => `#/taskmanagers/${part(id)}`,
};

export function jobLink(jobId, text) {
  return h('a', {href: routes.job(jobId)}, text || String(jobId));
}

export function taskManagerLink(id) {
  if (id === undefined || id === null || id === '') return '—';
  return h('a', {href: routes.taskManager(id)}, String(id));
}
