// Unit tests of the status page's hash routes (cluster/web/js/router.js).
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {parseRoute} from '../../../cluster/web/js/router.js';

test('the empty hash and #/overview are the cluster overview', () => {
  for (const hash of ['', '#', '#/', '#/overview', '#/overview/']) {
    assert.deepEqual(parseRoute(hash), {name: 'overview'}, hash);
  }
});

test('job routes carry the job id, the tab and the selected vertex', () => {
  assert.deepEqual(parseRoute('#/jobs'), {name: 'jobs'});
  assert.deepEqual(parseRoute('#/jobs/ab12'), {name: 'job', jobId: 'ab12', tab: 'overview'});
  assert.deepEqual(parseRoute('#/jobs/ab12/checkpoints'),
                   {name: 'job', jobId: 'ab12', tab: 'checkpoints'});
  assert.deepEqual(parseRoute('#/jobs/ab12/exceptions'),
                   {name: 'job', jobId: 'ab12', tab: 'exceptions'});
  assert.deepEqual(parseRoute('#/jobs/ab12/vertices/3'),
                   {name: 'job', jobId: 'ab12', tab: 'overview', vertexId: '3'});
});

test('task manager routes, with ids decoded', () => {
  assert.deepEqual(parseRoute('#/taskmanagers'), {name: 'taskmanagers'});
  assert.deepEqual(parseRoute('#/taskmanagers/tm%2F1'),
                   {name: 'taskmanager', taskManagerId: 'tm/1'});
});

test('anything else is unknown, including malformed escapes', () => {
  assert.equal(parseRoute('#/jobs/ab12/metrics').name, 'unknown');
  assert.equal(parseRoute('#/nowhere').name, 'unknown');
  assert.equal(parseRoute('#/taskmanagers/a/b').name, 'unknown');
  assert.deepEqual(parseRoute('#/jobs/%E0%A4%A'), {name: 'job', jobId: '%E0%A4%A', tab: 'overview'});
});
