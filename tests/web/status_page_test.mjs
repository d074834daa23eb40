#!/usr/bin/env node
// Browser test of the web status page against a running job manager:
//   node tests/web/status_page_test.mjs --url http://127.0.0.1:8081 [--job ID]
//        [--artifacts DIR] [--timeout-s 60] [--chromium PATH]
// Waits until the job (--job, else the first RUNNING one) runs, loads #/jobs/<id> in headless
// Chromium, waits for the DAG with as many vertices as /jobs/<id> has, waits for a non-zero
// live record rate, clicks a vertex and expects one row per subtask, clicks the Checkpoints
// tab and expects the history table, then opens the task managers page. Screenshots of each step
// (and of the failure, if any) go to the artifact directory. Prints one PASS or FAIL line
// and exits 0 or 1; the whole run is bounded by --timeout-s.

import {mkdirSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {parseArgs} from 'node:util';

import {Browser} from './chromium.mjs';

const {values: options} = parseArgs({options: {
  url: {type: 'string'},
  job: {type: 'string'},
  artifacts: {type: 'string', default: 'status-page-artifacts'},
  'timeout-s': {type: 'string', default: '60'},
  chromium: {type: 'string', default: process.env.CHROMIUM ?? 'chromium'},
  // The job tracks latency: its last vertex's page must show a latency table.
  'expect-latency': {type: 'boolean', default: false},
}});

const timeoutMs = Number(options['timeout-s']) * 1000;
const startedAt = Date.now();
let step = 'starting';
let browser = null;
let page = null;

function finish(passed, message) {
  console.log(`${passed ? 'PASS' : 'FAIL'} status page: ${message}`);
  process.exitCode = passed ? 0 : 1;
}

// How long one wait may take: 30 s, and never past the run's deadline minus time to save a
// screenshot and stop Chromium, so a slow step fails with its own message.
function stepTimeoutMs() {
  return Math.max(1000, Math.min(30_000, timeoutMs - (Date.now() - startedAt) - 4000));
}

async function getJson(base, path) {
  let response;
  try {
    response = await fetch(new URL(path.replace(/^\//, ''), base),
                           {signal: AbortSignal.timeout(5000)});
  } catch (error) {
    throw new Error(`GET ${path}: ${error.cause?.message ?? error.message}`);
  }
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
  return response.json();
}

// The job (/jobs/{id}) once it is RUNNING: the named one, else the first RUNNING one. Polls,
// so the test may start right after the cluster and the submission (a job manager that does
// not answer yet counts as "not yet").
async function waitForRunningJob(base, wantedId) {
  const deadline = Date.now() + stepTimeoutMs();
  let lastProblem = 'no answer yet';
  for (;;) {
    try {
      let jobId = wantedId;
      if (!jobId) {
        const jobs = (await getJson(base, '/jobs')).jobs ?? [];
        jobId = jobs.find((job) => job.state === 'RUNNING')?.id;
        lastProblem = `no RUNNING job among ${jobs.length}`;
      }
      if (jobId) {
        const job = await getJson(base, `/jobs/${encodeURIComponent(jobId)}`);
        if (job.state === 'RUNNING') return {...job, jid: job.jid ?? jobId};
        lastProblem = `job ${jobId} is ${job.state}`;
      }
    } catch (error) {
      lastProblem = error.message;
    }
    if (Date.now() >= deadline) throw new Error(lastProblem);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const countOf = (selector) => `document.querySelectorAll(${JSON.stringify(selector)}).length`;

async function run(artifacts) {
  if (!options.url) throw new Error('--url BASE_URL of the job manager is required');
  const base = new URL(options.url.endsWith('/') ? options.url : options.url + '/');

  step = options.job ? `waiting for job ${options.job} to run` : 'waiting for a RUNNING job';
  const job = await waitForRunningJob(base, options.job);
  const jobId = job.jid;
  const vertices = job.vertices ?? [];
  if (vertices.length === 0) throw new Error(`job ${jobId} has no vertices in /jobs/${jobId}`);

  step = 'starting Chromium';
  browser = Browser.start({executable: options.chromium});
  await browser.ready();
  page = await browser.newPage();

  step = 'loading the job page';
  await page.navigate(new URL(`#/jobs/${encodeURIComponent(jobId)}`, base).href);
  await page.waitFor(`${countOf('[data-testid="dag"] [data-testid="dag-vertex"]')} === ${vertices.length}`,
                     `a DAG with ${vertices.length} vertices`, stepTimeoutMs());
  const rendered = await page.evaluate(`[...document.querySelectorAll('[data-testid="dag-vertex"]')]
      .map((v) => v.dataset.vertexId).sort()`);
  const expected = vertices.map((v) => String(v.id)).sort();
  if (JSON.stringify(rendered) !== JSON.stringify(expected)) {
    throw new Error(`DAG shows vertices ${rendered} but the job has ${expected}`);
  }

  step = 'waiting for a live record rate';
  const rate = await page.waitFor(`(() => {
      for (const text of document.querySelectorAll('[data-testid="dag-vertex"] [data-testid="vertex-rate"]')) {
        const rate = Math.max(Number(text.dataset.rateIn) || 0, Number(text.dataset.rateOut) || 0);
        if (rate > 0) return {vertex: text.closest('[data-testid="dag-vertex"]').dataset.vertexId,
                              rate, text: text.textContent};
      }
      return null;
    })()`, 'a vertex with a non-zero records/s', stepTimeoutMs());
  await page.screenshot(join(artifacts, '1-job-overview.png'));

  step = `clicking vertex ${rate.vertex}`;
  const vertex = vertices.find((v) => String(v.id) === rate.vertex);
  await page.click(`[data-testid="dag-vertex"][data-vertex-id="${CSS_escape(rate.vertex)}"]`);
  await page.waitFor(`location.hash.endsWith('/vertices/${encodeURIComponent(rate.vertex)}')`,
                     'the vertex route after the click', stepTimeoutMs());
  await page.waitFor(`${countOf('[data-testid="subtask-table"] [data-testid="subtask-row"]')} === ${vertex.parallelism}`,
                     `${vertex.parallelism} subtask rows of vertex ${rate.vertex}`, stepTimeoutMs());
  await page.screenshot(join(artifacts, '2-vertex.png'));

  if (options['expect-latency']) {
    const sink = vertices[vertices.length - 1];
    step = `opening the last vertex ${sink.id} for its latency`;
    await page.evaluate(`location.hash = '#/jobs/${encodeURIComponent(jobId)}/vertices/` +
                        `${encodeURIComponent(sink.id)}'`);
    await page.waitFor(`${countOf('[data-testid="latency-table"] [data-testid="latency-row"]')} > 0`,
                       `a latency row on vertex ${sink.id}`, stepTimeoutMs());
    await page.screenshot(join(artifacts, '2b-latency.png'));
  }

  step = 'opening the Checkpoints tab';
  await page.click('[data-testid="tab-checkpoints"]');
  await page.waitFor(`(() => {
      const table = document.querySelector('[data-testid="checkpoint-history"]');
      return table !== null && table.getBoundingClientRect().height > 0;
    })()`, 'a visible checkpoint history table', stepTimeoutMs());
  await page.screenshot(join(artifacts, '3-checkpoints.png'));

  step = 'opening the task managers page';
  const managers = (await getJson(base, '/taskmanagers')).taskmanagers ?? [];
  await page.click('[data-testid="nav-taskmanagers"]');
  await page.waitFor(`${countOf('[data-testid="taskmanager-row"]')} === ${managers.length}`,
                     `${managers.length} task manager rows`, stepTimeoutMs());
  await page.screenshot(join(artifacts, '4-taskmanagers.png'));

  step = 'drawing a wide graph';
  const wide = await checkWideGraph(page);
  await page.screenshot(join(artifacts, '5-wide-graph.png'));

  if (page.errors.length > 0) {
    step = 'checking the page for script errors';
    throw new Error(page.errors.join('; '));
  }
  return `job ${jobId}: ${vertices.length} vertices, ${rate.text} on vertex ${rate.vertex}, ` +
         `${vertex.parallelism} subtasks, checkpoints tab, ${managers.length} task managers, ` +
         `${wide}; screenshots in ${artifacts}`;
}

// The widest graphs must stay inside their frame: the page's own DagView draws a made-up job
// (a chain of 16 vertices after 12 sources feeding one union: far wider and taller than the
// window) into a frame on the page, with the page's stylesheet. The graph may shrink to 80 %
// and then scroll inside its frame; the page itself must not get wider, and scrolling the
// frame must reach the last vertex.
async function checkWideGraph(page) {
  const result = await page.evaluate(`(async () => {
    const {DagView} = await import('./js/dag_view.js');
    const vertices = [];
    const nodes = [];
    const add = (name, inputs) => {
      const id = String(vertices.length);
      vertices.push({id, name, parallelism: 4, status: 'RUNNING', metrics: {}});
      nodes.push({id, parallelism: 4, description: name,
                  inputs: inputs.map((from) => ({id: from, ship_strategy: 'HASH'}))});
      return id;
    };
    const sources = [];
    for (let i = 0; i < 12; ++i) sources.push(add('Source: clicks ' + i, []));
    let previous = [add('Union', sources)];
    for (let i = 0; i < 16; ++i) previous = [add('Map ' + i + ' -> Filter ' + i, previous)];
    const frame = document.createElement('div');
    frame.className = 'dag-frame';
    frame.dataset.testid = 'wide-dag-frame';
    const main = document.querySelector('main');
    main.prepend(frame);
    const view = new DagView(() => {});
    frame.append(view.element);
    view.update({vertices, plan: {nodes}}, null);
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    const viewBox = view.element.viewBox.baseVal;
    const svgRect = view.element.getBoundingClientRect();
    const frameRect = frame.getBoundingClientRect();
    const mainRect = main.getBoundingClientRect();
    const boxes = [...view.element.querySelectorAll('[data-testid="dag-vertex"]')];
    // The end of the chain, far right: scrolling the frame must bring it fully into view.
    const end = view.element.querySelector('[data-testid="dag-vertex"][data-vertex-id="28"]');
    const scrolls = frame.scrollWidth > frame.clientWidth;
    end.scrollIntoView({block: 'center', inline: 'center'});
    const last = end.getBoundingClientRect();
    const after = frame.getBoundingClientRect();
    return {
      vertices: boxes.length,
      scale: svgRect.width / viewBox.width,
      scaleY: svgRect.height / viewBox.height,
      frameRight: frameRect.right, mainRight: mainRect.right,
      pageWidth: document.documentElement.scrollWidth, windowWidth: window.innerWidth,
      lastInside: last.right <= after.right + 1 && last.left >= after.left - 1 &&
                  last.bottom <= after.bottom + 1 && last.top >= after.top - 1,
      scrolls, scrolledLeft: frame.scrollLeft,
    };
  })()`);
  const problems = [];
  if (result.vertices !== 29) problems.push(`${result.vertices} of 29 vertices drawn`);
  if (!(result.scale >= 0.79 && result.scale <= 1.001)) problems.push(`scale ${result.scale}`);
  if (Math.abs(result.scale - result.scaleY) > 0.01) {
    problems.push(`distorted: ${result.scale} wide, ${result.scaleY} high`);
  }
  if (result.frameRight > result.mainRight + 0.5) {
    problems.push(`the frame ends at ${result.frameRight}, past its container (${result.mainRight})`);
  }
  if (result.pageWidth > result.windowWidth) {
    problems.push(`the page is ${result.pageWidth} px wide in a ${result.windowWidth} px window`);
  }
  if (!result.scrolls) problems.push('the frame does not scroll');
  if (!result.lastInside || result.scrolledLeft <= 0) {
    problems.push('the last vertex cannot be scrolled into the frame');
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return `a 29-vertex graph at ${Math.round(result.scale * 100)} % scrolls in its frame`;
}

// Vertex ids are Flink-style hex or small numbers; escape anyway so a selector cannot break.
function CSS_escape(text) {
  return String(text).replace(/["\\]/g, '\\$&');
}

async function main() {
  const artifacts = resolve(options.artifacts);
  mkdirSync(artifacts, {recursive: true});
  // The backstop if a step hangs outside the bounded waits (a wedged Chromium, say).
  const deadline = setTimeout(() => {
    finish(false, `timed out after ${timeoutMs / 1000} s while ${step}`);
    browser?.kill();
    process.exit(1);
  }, timeoutMs);
  // Stopped from outside (ctest's timeout, Ctrl-C): Chromium must not outlive the test.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      finish(false, `stopped by ${signal} while ${step}`);
      browser?.kill();
      process.exit(1);
    });
  }
  try {
    finish(true, await run(artifacts));
  } catch (error) {
    if (page) await page.screenshot(join(artifacts, 'failure.png')).catch(() => {});
    if (page?.errors.length > 0) console.error(`page errors: ${page.errors.join('; ')}`);
    if (browser?.stderr && step === 'starting Chromium') console.error(browser.stderr);
    finish(false, `${step}: ${error.message}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    clearTimeout(deadline);
  }
}

main();
