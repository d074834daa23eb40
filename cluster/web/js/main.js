// The status page's entry point: hash routing and the live-update loop.
// Each route gets a view object with an `element` and an async `refresh()`; the loop calls
// refresh() now and then once a second after the previous one finished (never two at once),
// pauses while the tab is hidden, and shows in the header whether the job manager answers.
// A route change stops the old loop (its generation number no longer matches) before the
// next view starts; answers that still arrive for the old view land in a detached element.

import {setToken} from './api.js';
import {h, replaceChildren} from './dom.js';
import {parseRoute} from './router.js';
import {JobView} from './views/job.js';
import {JobsView} from './views/jobs.js';
import {routes} from './views/links.js';
import {OverviewView} from './views/overview.js';
import {TaskManagerView, TaskManagersView} from './views/taskmanagers.js';

const kPollIntervalMs = 1000;

class UnknownRouteView {
  constructor(route) {
    this.element = h('section', {class: 'view'}, h('h1', {}, 'Page not found'),
                     h('p', {}, `Nothing lives at ${route.hash}. `,
                       h('a', {href: routes.overview()}, 'Go to the cluster overview.')));
  }

  async refresh() {}
}

function createView(route) {
  switch (route.name) {
    case 'overview': return new OverviewView();
    case 'jobs': return new JobsView();
    case 'job': return new JobView(route);
    case 'taskmanagers': return new TaskManagersView();
    case 'taskmanager': return new TaskManagerView(route.taskManagerId);
    default: return new UnknownRouteView(route);
  }
}

const main = document.getElementById('view');
const connection = document.getElementById('connection');
const errorBanner = document.getElementById('error');
let currentView = null;
let generation = 0;
let timer = null;

// The banner asking for the cluster token; built once, so polling does not wipe the input.
function showTokenForm() {
  if (!errorBanner.hidden && errorBanner.dataset.kind === 'token') return;
  const input = h('input', {type: 'password', name: 'token', autocomplete: 'off',
                            placeholder: 'cluster token', 'aria-label': 'Cluster token'});
  const form = h('form', {class: 'token-form', onsubmit: (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    restartPolling();
  }}, 'This job manager needs the cluster token to show its status. ', input,
      h('button', {type: 'submit'}, 'Use token'));
  errorBanner.dataset.kind = 'token';
  errorBanner.hidden = false;
  replaceChildren(errorBanner, form);
}

function showConnection(error) {
  if (error) {
    connection.className = 'connection down';
    connection.textContent = error.status === 0 ? 'job manager unreachable'
        : error.status === 401 ? 'token needed' : 'error';
    if (error.status === 401) {
      showTokenForm();
      return;
    }
    errorBanner.dataset.kind = 'error';
    errorBanner.hidden = false;
    errorBanner.textContent = error.message;
  } else {
    const now = new Date();
    connection.className = 'connection up';
    connection.textContent = `live · ${now.toLocaleTimeString()}`;
    errorBanner.hidden = true;
  }
}

async function poll(pollGeneration) {
  if (pollGeneration !== generation) return;
  if (!document.hidden) {
    try {
      await currentView.refresh();
      if (pollGeneration === generation) showConnection(null);
    } catch (error) {
      if (pollGeneration === generation) showConnection(error);
      if (!(error instanceof Error) || error.status === undefined) console.error(error);
    }
  }
  if (pollGeneration === generation) {
    timer = setTimeout(() => poll(pollGeneration), kPollIntervalMs);
  }
}

function highlightNavigation(route) {
  const section = route.name.startsWith('job') ? 'jobs'
      : route.name.startsWith('taskmanager') ? 'taskmanagers' : route.name;
  for (const link of document.querySelectorAll('nav.main a')) {
    link.classList.toggle('active', link.dataset.section === section);
  }
}

// Stops the running loop and starts a new one with an immediate refresh.
function restartPolling() {
  generation += 1;
  clearTimeout(timer);
  poll(generation);
}

function navigate() {
  const route = parseRoute(window.location.hash);
  highlightNavigation(route);
  if (!currentView?.reuse?.(route)) {
    currentView = createView(route);
    replaceChildren(main, currentView.element);
  }
  restartPolling();
}

window.addEventListener('hashchange', navigate);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) restartPolling();
});
navigate();
