// Drives headless Chromium over the DevTools protocol for the status page's browser test.
// The protocol runs over a pipe (--remote-debugging-pipe: Chromium reads commands from its
// fd 3 and writes answers and events to its fd 4, each a JSON message ended by a NUL byte),
// so no debugging port is opened and no WebSocket client or npm package is needed.
//
// Life cycle: Browser.launch() (or start() then ready()) starts one Chromium with a fresh
// profile directory; newPage() opens a tab; close() asks Chromium to quit, kills it (by its
// own pid) if it does not, and removes the profile; kill() does it at once. Single-threaded
// like all Node code; one Browser per test.

import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

const kCommandTimeoutMs = 15_000;
const kStderrKeptBytes = 8192;

export class Browser {
  // Spawns Chromium; call ready() before anything else. Separate from ready() so a caller
  // holds the Browser (and can kill() it) while Chromium is still starting.
  static start({executable = 'chromium', width = 1440, height = 1000} = {}) {
    const profile = mkdtempSync(join(tmpdir(), 'brook-chromium-'));
    const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                  '--disable-dev-shm-usage', '--disable-extensions', '--no-first-run',
                  '--no-default-browser-check', '--mute-audio', '--hide-scrollbars',
                  `--window-size=${width},${height}`, `--user-data-dir=${profile}`,
                  '--remote-debugging-pipe', 'about:blank'];
    const child = spawn(executable, args, {stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe']});
    const browser = new Browser(child, profile);
    browser.spawned = new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new Error(`cannot start ${executable}: ${error.message}`)));
    });
    return browser;
  }

  // Resolves once Chromium answers on the pipe; on failure Chromium is killed.
  async ready() {
    try {
      await this.spawned;
      await this.send('Browser.getVersion');
    } catch (error) {
      this.kill();
      throw error;
    }
  }

  static async launch(options = {}) {
    const browser = Browser.start(options);
    await browser.ready();
    return browser;
  }

  constructor(child, profile) {
    this.child = child;
    this.profile = profile;
    this.nextId = 1;
    this.pending = new Map();       // command id → {resolve, reject, timer, method}
    this.listeners = new Set();     // (method, params, sessionId) => void
    this.stderr = '';
    this.exited = false;
    let buffered = '';
    child.stdio[4].setEncoding('utf8');
    child.stdio[4].on('data', (chunk) => {
      buffered += chunk;
      let end;
      while ((end = buffered.indexOf('\0')) >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        this.dispatch(JSON.parse(message));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      this.stderr = (this.stderr + chunk).slice(-kStderrKeptBytes);
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      for (const {reject, timer, method} of this.pending.values()) {
        clearTimeout(timer);
        reject(new Error(`Chromium exited (${signal ?? code}) during ${method}`));
      }
      this.pending.clear();
    });
    // A closed pipe after exit must not crash the test with an unhandled 'error' event.
    child.stdio[3].on('error', () => {});
  }

  dispatch(message) {
    if (message.id !== undefined) {
      const call = this.pending.get(message.id);
      if (!call) return;
      this.pending.delete(message.id);
      clearTimeout(call.timer);
      if (message.error) {
        call.reject(new Error(`${call.method}: ${message.error.message}`));
      } else {
        call.resolve(message.result);
      }
    } else {
      for (const listener of this.listeners) listener(message.method, message.params,
                                                      message.sessionId);
    }
  }

  send(method, params = {}, sessionId = undefined) {
    if (this.exited) return Promise.reject(new Error(`Chromium is not running (${method})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer from Chromium within ${kCommandTimeoutMs} ms`));
      }, kCommandTimeoutMs);
      this.pending.set(id, {resolve, reject, timer, method});
      this.child.stdio[3].write(JSON.stringify({id, method, params, sessionId}) + '\0');
    });
  }

  async newPage() {
    const {targetId} = await this.send('Target.createTarget', {url: 'about:blank'});
    const {sessionId} = await this.send('Target.attachToTarget', {targetId, flatten: true});
    const page = new Page(this, sessionId);
    await page.open();
    return page;
  }

  // For when there is no time to ask nicely (the test's deadline): synchronous.
  kill() {
    if (!this.exited && this.child.pid !== undefined) this.child.kill('SIGKILL');
    this.exited = true;
    rmSync(this.profile, {recursive: true, force: true});
  }

  async close() {
    if (!this.exited && this.child.pid !== undefined) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.send('Browser.close').catch(() => {});
      const timer = setTimeout(() => { if (!this.exited) this.child.kill('SIGKILL'); }, 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.profile, {recursive: true, force: true});
  }
}

// One tab. Collects uncaught page exceptions and console errors, which the test fails on.
export class Page {
  constructor(browser, sessionId) {
    this.browser = browser;
    this.sessionId = sessionId;
    this.errors = [];
    browser.listeners.add((method, params, eventSession) => {
      if (eventSession !== sessionId) return;
      if (method === 'Runtime.exceptionThrown') {
        const details = params.exceptionDetails;
        this.errors.push(`uncaught: ${details.exception?.description ?? details.text}`);
      } else if (method === 'Runtime.consoleAPICalled' && params.type === 'error') {
        this.errors.push('console.error: ' +
                         params.args.map((a) => a.value ?? a.description ?? '').join(' '));
      }
    });
  }

  send(method, params = {}) {
    return this.browser.send(method, params, this.sessionId);
  }

  async open() {
    await this.send('Runtime.enable');
    await this.send('Page.enable');
  }

  async navigate(url) {
    const result = await this.send('Page.navigate', {url});
    if (result.errorText) throw new Error(`cannot load ${url}: ${result.errorText}`);
  }

  // Value of a JavaScript expression in the page (promises awaited); page exceptions throw.
  async evaluate(expression) {
    const result = await this.send('Runtime.evaluate',
                                   {expression, returnByValue: true, awaitPromise: true});
    if (result.exceptionDetails) {
      const details = result.exceptionDetails;
      throw new Error(`evaluating ${expression}: ${details.exception?.description ?? details.text}`);
    }
    return result.result.value;
  }

  // Polls `expression` every 100 ms until it is truthy; returns its value. On timeout the
  // error says what was awaited and the expression's last value.
  async waitFor(expression, description, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      last = await this.evaluate(expression);
      if (last) return last;
      if (Date.now() >= deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${description} ` +
                        `(last value: ${JSON.stringify(last)})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  // A real mouse click at the centre of the first element matching `selector`, so the test
  // covers hit-testing too (an element hidden under another one would not get the click).
  async click(selector) {
    const box = await this.evaluate(`(() => {
      const element = document.querySelector(${JSON.stringify(selector)});
      if (!element) return null;
      element.scrollIntoView({block: 'center', inline: 'center'});
      const r = element.getBoundingClientRect();
      return {x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height};
    })()`);
    if (!box || box.w === 0 || box.h === 0) throw new Error(`nothing visible to click at ${selector}`);
    const mouse = {x: box.x, y: box.y, button: 'left', clickCount: 1};
    await this.send('Input.dispatchMouseEvent', {type: 'mouseMoved', x: box.x, y: box.y});
    await this.send('Input.dispatchMouseEvent', {type: 'mousePressed', ...mouse});
    await this.send('Input.dispatchMouseEvent', {type: 'mouseReleased', ...mouse});
  }

  // The whole page, not only the window.
  async screenshot(path) {
    const {cssContentSize: size} = await this.send('Page.getLayoutMetrics');
    const clip = {x: 0, y: 0, width: Math.ceil(size.width), height: Math.ceil(size.height),
                  scale: 1};
    const {data} = await this.send('Page.captureScreenshot', {format: 'png', clip,
                                                              captureBeyondViewport: true});
    writeFileSync(path, Buffer.from(data, 'base64'));
  }
}
