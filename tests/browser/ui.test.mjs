// End-to-end test of the Switchboard web UI in headless Chromium.
//
// Starts `switchboard demo` on a free loopback port with a fresh data dir,
// then drives the server-rendered pages the way a person would: sign in as
// the demo owner, create a workspace, a team and a member, put the member in
// the team, check the audit log, and finally sign in as the new member. A second
// test searches on the Listening page and follows the demo's spike alert.
//
// Run with ./run.sh (or `node --test ui.test.mjs` after `npm ci`).
// Environment:
//   SWITCHBOARD_BIN            server binary (default ../../target/debug/switchboard;
//                              a relative path is taken from this folder)
//   CHROMIUM_PATH              browser executable (default /usr/bin/chromium)
//   SWITCHBOARD_SCREENSHOT_DIR where screenshots go (default <repo>/target/browser)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const BIN = path.resolve(HERE, process.env.SWITCHBOARD_BIN || '../../target/debug/switchboard');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = path.resolve(process.env.SWITCHBOARD_SCREENSHOT_DIR || path.join(REPO, 'target', 'browser'));

const STEP_TIMEOUT_MS = 15_000; // per Playwright action / navigation
const STARTUP_TIMEOUT_MS = 30_000; // server start until /healthz answers
const TEST_TIMEOUT_MS = 100_000; // the whole flow; stays under 2 minutes

const NEW_MEMBER = {
  email: 'camille@acme.example',
  name: 'Camille Martin',
  role: 'agent',
  password: 'correct-horse-42',
};

/** @type {import('node:child_process').ChildProcess | undefined} */
let server;
/** @type {import('playwright-core').Browser | undefined} */
let browser;
let dataDir;
let baseURL;
let ownerPassword;
let serverStdout = '';
let serverStderr = '';
const problems = []; // CSP violations and page errors, collected from every page
const notes = []; // other console errors and failed responses: reported, not fatal

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function serverLog() {
  const tail = (s) => s.split('\n').slice(-40).join('\n');
  return `--- server stdout ---\n${tail(serverStdout)}\n--- server stderr ---\n${tail(serverStderr)}`;
}

async function waitForServer() {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastError = 'no attempt';
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`switchboard exited early (code ${server.exitCode}, signal ${server.signalCode})\n${serverLog()}`);
    }
    try {
      const res = await fetch(`${baseURL}/healthz`, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.text()).trim();
      if (res.status === 200 && body === 'ok' && ownerPassword) return;
      lastError = `healthz answered ${res.status} ${JSON.stringify(body)}`;
    } catch (e) {
      lastError = String(e.cause?.code || e.message || e);
    }
    await sleep(200);
  }
  throw new Error(`switchboard did not become ready within ${STARTUP_TIMEOUT_MS} ms (${lastError}; owner password ${ownerPassword ? 'seen' : 'not seen'})\n${serverLog()}`);
}

function parseOwnerPassword() {
  for (const line of serverStdout.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'owner@acme.example' && fields[1]) return fields[1];
  }
  return undefined;
}

async function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!done) {
    server.kill('SIGKILL');
    await Promise.race([exited, sleep(2_000)]);
  }
}

before(async () => {
  assert.ok(existsSync(BIN), `switchboard binary not found at ${BIN}; build it with \`cargo build\` or set SWITCHBOARD_BIN`);
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}; install it (apt-get install chromium) or set CHROMIUM_PATH`);
  mkdirSync(SHOTS, { recursive: true });
  rmSync(path.join(SHOTS, 'failure.png'), { force: true });

  dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-e2e-'));
  const port = await freePort();
  baseURL = `http://127.0.0.1:${port}`;

  server = spawn(BIN, ['demo', '--data-dir', dataDir, '--bind', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  server.on('error', (e) => { serverStderr += `\n[spawn error] ${e.message}`; });
  server.stdout.setEncoding('utf8');
  server.stderr.setEncoding('utf8');
  server.stdout.on('data', (d) => {
    serverStdout += d;
    ownerPassword ??= parseOwnerPassword();
  });
  server.stderr.on('data', (d) => { serverStderr += d; });

  await waitForServer();

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-quic',
      '--no-first-run',
      '--disable-sync',
    ],
  });
});

after(async () => {
  try {
    if (browser) await browser.close().catch(() => {});
  } finally {
    await stopServer();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
});

async function newPage() {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (/Content Security Policy/i.test(msg.text())) {
      problems.push(`CSP violation on ${page.url()}: ${msg.text()}`);
    } else {
      notes.push(`console error on ${page.url()}: ${msg.text()}`);
    }
  });
  page.on('response', (res) => {
    if (res.status() >= 400) notes.push(`HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  page.on('dialog', (d) => d.accept()); // data-confirm forms
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
}

/** Submits a form by clicking a button and waits for the resulting page load. */
async function submitAndWait(page, button) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
}

/** Fails with the page's visible text when it is not the expected page. */
async function expectPath(page, re, what) {
  const url = new URL(page.url());
  if (!re.test(url.pathname)) {
    const text = (await page.locator('body').innerText().catch(() => '')).slice(0, 1500);
    assert.fail(`${what}: expected path matching ${re}, got ${url.pathname}\n--- page text ---\n${text}`);
  }
}

/** Text of the flash messages on the page, for better failure output. */
async function flashText(page) {
  return (await page.locator('.flash').allInnerTexts()).join(' | ');
}

async function signIn(page, email, password) {
  await page.goto('/login');
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(password);
  await submitAndWait(page, page.getByRole('button', { name: 'Sign in' }));
  await expectPath(page, /^\/w\/[^/]+$/, `after signing in as ${email}`);
}

test('owner sets up a workspace, team and member; the member can sign in', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage();
  try {
    await ownerAndMemberFlow(page);
  } catch (e) {
    // Leave a picture of where it went wrong next to the others.
    await shot(page, 'failure.png').catch(() => {});
    throw e;
  } finally {
    await page.context().close().catch(() => {});
    for (const n of notes) t.diagnostic(n);
  }
  assert.deepEqual(problems, [], `CSP violations or page errors:\n${problems.join('\n')}`);
});

async function ownerAndMemberFlow(page) {
  // 1. Sign in as the demo owner.
  await signIn(page, 'owner@acme.example', ownerPassword);
  await shot(page, 'after-login.png');

  // 2. All workspaces -> create "Acme FR" under "Acme Global".
  await submitAndWait(page, page.getByRole('link', { name: 'All workspaces' }));
  await expectPath(page, /^\/workspaces$/, 'All workspaces');
  await page.locator('#ws-name').fill('Acme FR');
  await page.locator('#ws-slug').fill('acme-fr');
  const parentValue = await page.locator('#ws-parent option').evaluateAll((opts) => {
    const o = opts.find((x) => x.textContent.replace(/^[\s—↳-]+/, '').trim() === 'Acme Global');
    return o ? o.value : null;
  });
  assert.ok(parentValue, '"Acme Global" is not offered as a parent in #ws-parent');
  await page.locator('#ws-parent').selectOption(parentValue);
  await shot(page, 'workspaces.png');
  await submitAndWait(page, page.getByRole('button', { name: 'Create workspace' }));
  await expectPath(page, /^\/w\/[^/]+$/, 'after creating workspace');
  const wsPath = new URL(page.url()).pathname;
  await page.locator('.flash.ok').first().waitFor();
  await page.getByRole('heading', { name: 'Acme FR' }).first().waitFor();
  assert.match(await page.locator('main').innerText(), /Acme FR/);
  await shot(page, 'workspace.png');

  // 3. New team "Support FR" (function: support).
  await page.locator('#team-name').fill('Support FR');
  await page.locator('#team-function').selectOption('support');
  await submitAndWait(page, page.getByRole('button', { name: 'Create team' }));
  await expectPath(page, /^\/w\/[^/]+\/teams\/[^/]+$/, `after creating team (flash: ${await flashText(page)})`);
  const teamPath = new URL(page.url()).pathname;
  assert.ok(teamPath.startsWith(`${wsPath}/teams/`), `team ${teamPath} is not under workspace ${wsPath}`);
  assert.match(await page.locator('main').innerText(), /Support FR/);
  await page.goto(wsPath);
  const teamList = page.locator('#team-list');
  await teamList.waitFor();
  assert.match(await teamList.innerText(), /Support FR/, '#team-list does not list the new team');

  // 4. Members of Acme FR -> add Camille as agent.
  await submitAndWait(page, page.getByRole('link', { name: 'Members', exact: true }));
  await expectPath(page, /^\/w\/[^/]+\/members$/, 'Members tab');
  assert.equal(new URL(page.url()).pathname, `${wsPath}/members`);
  await page.locator('#m-email').fill(NEW_MEMBER.email);
  await page.locator('#m-name').fill(NEW_MEMBER.name);
  await page.locator('#m-role').selectOption(NEW_MEMBER.role);
  await page.locator('#m-password').fill(NEW_MEMBER.password);
  await submitAndWait(page, page.getByRole('button', { name: 'Add member' }));
  const memberList = page.locator('#member-list');
  await memberList.waitFor();
  const camilleRow = memberList.locator('tr', { hasText: NEW_MEMBER.email });
  assert.equal(await camilleRow.count(), 1,
    `#member-list should have one row for ${NEW_MEMBER.email} (flash: ${await flashText(page)})\n${await memberList.innerText()}`);
  const rowText = await camilleRow.innerText();
  assert.match(rowText, /\bagent\b/, `Camille's row does not show the role agent: ${rowText}`);
  assert.match(rowText, /Camille Martin/, `Camille's row does not show her name: ${rowText}`);
  await shot(page, 'members.png');

  // 5. Add Camille to team "Support FR".
  await page.goto(teamPath);
  await page.locator('#tm-user').fill(NEW_MEMBER.email);
  await submitAndWait(page, page.getByRole('button', { name: 'Add', exact: true }));
  await expectPath(page, /^\/w\/[^/]+\/teams\/[^/]+$/, 'after adding to team');
  const teamMembers = page.locator('#team-members');
  await teamMembers.waitFor();
  assert.match(await teamMembers.innerText(), /camille@acme\.example|Camille Martin/,
    `#team-members does not list Camille (flash: ${await flashText(page)})`);
  await shot(page, 'team.png');

  // 6. Audit log tab shows member.add.
  await page.goto(wsPath);
  await submitAndWait(page, page.getByRole('link', { name: 'Audit log', exact: true }));
  const audit = page.locator('#audit-log');
  await audit.waitFor();
  const auditText = await audit.innerText();
  // Exactly "member.add" (team.member.add is a different action), about Camille.
  const memberAddRows = audit.locator('tbody tr').filter({
    has: page.locator('td .badge').getByText('member.add', { exact: true }),
  });
  assert.ok(await memberAddRows.count() >= 1, `#audit-log does not show member.add:\n${auditText}`);
  assert.match(await memberAddRows.first().innerText(), /camille@acme\.example|Camille Martin/,
    `the member.add audit entry is not about Camille:\n${await memberAddRows.first().innerText()}`);
  await shot(page, 'audit.png');

  // 7. Log out, sign in as Camille, and find Acme FR in the workspace switcher.
  await submitAndWait(page, page.getByRole('button', { name: 'Log out' }));
  await expectPath(page, /^\/login$/, 'after logout');
  await signIn(page, NEW_MEMBER.email, NEW_MEMBER.password);
  const switcher = await page.locator('#ws-switch option').allInnerTexts();
  assert.ok(switcher.some((t) => t.replace(/^[\s—↳-]+/, '').trim() === 'Acme FR'),
    `#ws-switch does not offer Acme FR to Camille: ${JSON.stringify(switcher)}`);
  assert.match(await page.locator('header').innerText(), /camille@acme\.example/);
  await shot(page, 'member-login.png');
}

test('listening: search with highlighted mentions, charts and the demo spike alert', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await newPage();
  try {
    await listeningFlow(page);
  } catch (e) {
    await shot(page, 'failure.png').catch(() => {});
    throw e;
  } finally {
    await page.context().close().catch(() => {});
    for (const n of notes) t.diagnostic(n);
  }
  assert.deepEqual(problems, [], `CSP violations or page errors:\n${problems.join('\n')}`);
});

/** Picks a workspace in the header's switcher by its name. */
async function switchWorkspace(page, name) {
  const value = await page.locator('#ws-switch option').evaluateAll((opts, n) => {
    const o = opts.find((x) => x.textContent.replace(/^[\s—↳-]+/, '').trim() === n);
    return o ? o.value : null;
  }, name);
  assert.ok(value, `#ws-switch does not offer ${name}`);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.locator('#ws-switch').selectOption(value)]);
}

async function listeningFlow(page) {
  // 1. Sign in as the demo owner and open Listening from the module nav.
  await signIn(page, 'owner@acme.example', ownerPassword);
  await submitAndWait(page, page.locator('nav.modules').getByRole('link', { name: 'Listening' }));
  await expectPath(page, /^\/w\/[^/]+\/listening$/, 'Listening from the nav');
  const topics = await page.locator('#topic-list').innerText();
  assert.match(topics, /Acme App/, `#topic-list does not list the demo topics:\n${topics}`);

  // 2. Type a query: matching mentions come back with the words marked, and a chart.
  await page.locator('#lq').fill('app lang:de');
  await submitAndWait(page, page.getByRole('button', { name: 'Search', exact: true }));
  await expectPath(page, /^\/w\/[^/]+\/listening$/, 'after searching');
  assert.equal(new URL(page.url()).searchParams.get('q'), 'app lang:de');
  const marks = page.locator('#results .hit-text mark');
  assert.ok(await marks.count() > 0, `no highlighted mentions:\n${(await page.locator('main').innerText()).slice(0, 1500)}`);
  assert.match((await marks.first().innerText()).toLowerCase(), /^app$/);
  const chart = page.locator('svg.volume-chart');
  await chart.waitFor();
  assert.ok(await chart.locator('g.bar rect.seg-neg').count() > 0, 'the volume chart has no negative segments');
  assert.ok(await chart.locator('g.annotation').count() > 0, 'the release annotation is not on the chart');
  const box = await chart.boundingBox();
  assert.ok(box && box.width > 500 && box.height > 100, `the chart is too small: ${JSON.stringify(box)}`);
  await shot(page, 'listening.png');
  await submitAndWait(page, page.locator('#results .hit-links').getByRole('link', { name: 'Open conversation' }).first());
  await expectPath(page, /^\/w\/[^/]+\/items\/[^/]+$/, 'Open conversation');
  assert.match(await page.locator('#item').innerText(), /app/i);
  await page.goBack();

  // 3. A syntax error is explained under the query box.
  await page.locator('#lq').fill('app OR');
  await submitAndWait(page, page.getByRole('button', { name: 'Search', exact: true }));
  assert.match(await page.locator('#query-error').innerText(), /column 7: /);

  // 4. Acme DE: the spike after the release becomes an alert (the scanner runs at start-up).
  await switchWorkspace(page, 'Acme DE');
  await page.goto(`${new URL(page.url()).pathname}/listening`);
  const alert = page.locator('#alerts .alert-list li').first();
  const deadline = Date.now() + 45_000;
  while (!(await alert.isVisible()) && Date.now() < deadline) {
    await sleep(1_000);
    await page.reload();
  }
  assert.ok(await alert.isVisible(), `no alert in Acme DE:\n${await page.locator('#alerts').innerText()}`);
  assert.match(await alert.innerText(), /App 4\.2 release/, 'the alert does not name the release');
  await submitAndWait(page, alert.getByRole('link', { name: 'Show' }));
  assert.ok(await page.locator('svg.volume-chart rect.spike').count() > 0, 'the spike window is not shaded');
  await shot(page, 'listening-spike.png');
  await submitAndWait(page, page.locator('#alerts').getByRole('button', { name: 'Acknowledge' }).first());
  assert.match(await flashText(page), /acknowledged/i);
  assert.match(await page.locator('#alerts').innerText(), /Acknowledged by owner@acme\.example/);
}
