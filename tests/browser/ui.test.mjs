// End-to-end test of the Switchboard web UI in headless Chromium.
//
// Starts `switchboard demo` on a free loopback port with a fresh data dir,
// then drives the server-rendered pages the way a person would: sign in as
// the demo owner, create a workspace, a team and a member, put the member in
// the team, check the audit log, and finally sign in as the new member. A second
// test searches on the Listening page and follows the demo's spike alert. A third
// answers a German complaint from a local Mastodon instance (mastodon.mjs) in the
// Inbox as the demo support agent, with keyboard shortcuts.
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
import { startMastodon, mention } from './mastodon.mjs';

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
const passwords = new Map(); // demo e-mail -> password, as `switchboard demo` prints them
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
    if (/^[^@\s]+@acme\.example$/.test(fields[0]) && fields[1]) passwords.set(fields[0], fields[1]);
  }
  return passwords.get('owner@acme.example');
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

// ---- Inbox: a German complaint from Mastodon, answered once by the support agent ----

const COMPLAINT = '@acme Die App stürzt seit dem Update ständig ab, Frechheit! Ich will mein Geld zurück';
const COMPLAINT_STATUS_ID = '113500000000000042';
const CUSTOMER = {
  id: '5501', username: 'lena', acct: 'lena@beispiel.social', display_name: 'Lena Krüger',
  url: 'https://beispiel.social/@lena', followers_count: 310, following_count: 12, statuses_count: 99,
};
const SAVED_REPLY = { name: 'Entschuldigung', body: 'Hallo {{author}}, das tut uns leid – {{agent}} kümmert sich darum.' };
const MASTODON_TOKEN = 'e2e-mastodon-token';

/** The JSON API as a signed-in person (session cookie plus X-CSRF-Token). */
async function apiAs(email) {
  const res = await fetch(`${baseURL}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: passwords.get(email) }),
  });
  const login = await res.json();
  assert.equal(res.status, 200, `API login as ${email}: ${JSON.stringify(login)}`);
  const cookie = (res.headers.get('set-cookie') || '').split(';')[0];
  return async (method, path, json) => {
    const r = await fetch(`${baseURL}/api/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': login.csrf_token },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const text = await r.text();
    let body;
    try { body = JSON.parse(text); } catch { body = text; }
    return { status: r.status, body };
  };
}

/** Reloads until `locator` is visible (the router and the job runner work every second or so). */
async function reloadUntilVisible(page, locator, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await locator.first().isVisible())) {
    if (Date.now() > deadline) {
      assert.fail(`${what} did not show within ${timeoutMs} ms\n--- page text ---\n${(await page.locator('main').innerText()).slice(0, 2000)}`);
    }
    await sleep(500);
    await page.reload();
  }
}

test('inbox: a German complaint from Mastodon is assigned, answered once and closed with the keyboard', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  parseOwnerPassword();
  for (const who of ['owner', 'agent', 'viewer', 'manager']) {
    assert.ok(passwords.get(`${who}@acme.example`), `no demo password for ${who}@acme.example in the output`);
  }
  const mastodon = await startMastodon({
    token: MASTODON_TOKEN,
    notifications: [mention({ id: '9001', statusId: COMPLAINT_STATUS_ID, text: COMPLAINT.replace(/^@acme /, ''), author: CUSTOMER })],
  });
  const pages = [];
  try {
    await inboxFlow(mastodon, pages);
  } catch (e) {
    for (const [i, p] of pages.entries()) await shot(p, i ? `failure-inbox-${i}.png` : 'failure.png').catch(() => {});
    t.diagnostic(`mastodon requests: ${mastodon.requests.join(' | ')}`);
    throw e;
  } finally {
    for (const p of pages) await p.context().close().catch(() => {});
    await mastodon.close();
    for (const n of notes) t.diagnostic(n);
  }
  assert.deepEqual(problems, [], `CSP violations or page errors:\n${problems.join('\n')}`);
});

async function inboxFlow(mastodon, pages) {
  // 1. Set up through the API as the owner: a channel to the local instance in Acme Global,
  //    a saved reply and an SLA policy for Support; then poll the channel.
  const api = await apiAs('owner@acme.example');
  const list = await api('GET', '/workspaces');
  const global = list.body.workspaces.find((w) => w.slug === 'acme-global');
  assert.ok(global, `no acme-global workspace: ${JSON.stringify(list.body).slice(0, 500)}`);
  const ws = global.id;
  const channel = await api('POST', `/workspaces/${ws}/channels`, {
    network: 'mastodon', name: 'Acme on Mastodon', base_url: mastodon.url, access_token: MASTODON_TOKEN, feeds: ['notifications'],
  });
  assert.equal(channel.status, 201, `create channel: ${JSON.stringify(channel.body)}`);
  const saved = await api('POST', `/workspaces/${ws}/saved-replies`, SAVED_REPLY);
  assert.equal(saved.status, 201, `create saved reply: ${JSON.stringify(saved.body)}`);
  const sla = await api('POST', `/workspaces/${ws}/sla-policies`, { team: 'Support', priority: 'normal', first_response_minutes: 60, resolution_minutes: 480 });
  assert.ok([201, 409].includes(sla.status), `create SLA policy: ${JSON.stringify(sla.body)}`);
  const polled = await api('POST', `/workspaces/${ws}/channels/${channel.body.id}/poll`, {});
  assert.equal(polled.status, 200, `poll: ${JSON.stringify(polled.body)}`);
  assert.ok(mastodon.requests.some((r) => r.startsWith('GET /api/v1/notifications')), 'the channel did not read the notifications');

  // 2. A manager opens the conversation later on; first the agent finds it in Support.
  const page = await newPage();
  pages.push(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  await signIn(page, 'agent@acme.example', passwords.get('agent@acme.example'));
  await submitAndWait(page, page.locator('nav.modules').getByRole('link', { name: 'Inbox' }));
  await expectPath(page, /^\/w\/[^/]+\/inbox$/, 'Inbox from the nav');
  await submitAndWait(page, page.locator('nav.queues a.queue', { hasText: 'Support' }));
  assert.match(new URL(page.url()).searchParams.get('view') || '', /^team:/, 'the Support queue is a team view');
  assert.ok(await page.locator('#conv-list li.conv-row').count() > 0, 'the demo fills the Support queue');
  await shot(page, 'inbox-queue.png');
  // Narrow the queue with the listening query language.
  await page.locator('#iq').fill('frechheit lang:de');
  await submitAndWait(page, page.locator('.inbox-filters').getByRole('button', { name: 'Filter' }));
  const row = page.locator('#conv-list li.conv-row', { hasText: 'Die App stürzt seit dem Update' });
  await reloadUntilVisible(page, row, 'the complaint in the Support queue');
  const rowText = await row.first().innerText();
  assert.match(rowText, /Lena Krüger/, `the row does not name the author: ${rowText}`);
  assert.match(rowText, /mastodon/, `the row does not name the network: ${rowText}`);
  assert.match(rowText, /complaint|bug report/, `the row shows no intent: ${rowText}`);
  assert.match(rowText, /Support/, `the row does not show the team: ${rowText}`);
  assert.equal(await page.locator('#conv-list li.conv-row').count(), 1, 'the filter should leave only the complaint');

  // 3. Keyboard: ? shows the shortcuts, Escape hides them, j opens the first conversation.
  await page.keyboard.press('?');
  await page.locator('#shortcut-help').waitFor({ state: 'visible' });
  assert.match(await page.locator('#shortcut-help').innerText(), /Assign the open conversation to me/);
  await page.keyboard.press('Escape');
  await page.locator('#shortcut-help').waitFor({ state: 'hidden' });
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('j')]);
  await expectPath(page, /^\/w\/[^/]+\/inbox\/[^/]+$/, 'j opens the conversation');
  const convPath = new URL(page.url()).pathname;
  const conversationId = convPath.split('/').pop();
  assert.match(await page.locator('#timeline').innerText(), /Frechheit! Ich will mein Geld zurück/);
  assert.match(await page.locator('#sla').innerText(), /First response[\s\S]*Resolution/, 'SLA timers are shown');

  // 4. A manager looks at the same conversation: the agent sees it.
  const manager = await newPage();
  pages.push(manager);
  await signIn(manager, 'manager@acme.example', passwords.get('manager@acme.example'));
  await Promise.all([
    manager.waitForResponse((r) => r.url().endsWith(`/conversations/${conversationId}/presence`) && r.request().method() === 'POST'),
    manager.goto(convPath),
  ]);
  await page.reload();
  await page.locator('#presence .who', { hasText: 'Mia Manager is viewing' }).waitFor();

  // 5. a: assign to me.
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('a')]);
  assert.match(await flashText(page), /Assigned to you/);
  assert.match(await page.locator('#conv-assignee').innerText(), /Jonas Agent \(you\)/);
  assert.match(await page.locator('#timeline').innerText(), /assigned it to Support · Jonas Agent/);

  // 6. Pick the saved reply: the box holds it filled in for Lena and Jonas.
  const expected = 'Hallo @lena@beispiel.social, das tut uns leid – Jonas Agent kümmert sich darum.';
  await page.keyboard.press('r');
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'reply-body', 'r focuses the reply box');
  await page.locator('#saved-reply').selectOption({ label: SAVED_REPLY.name });
  assert.equal(await page.locator('#reply-body').inputValue(), expected);

  // 7. Send it with a double click, then send the very same form again: one reply.
  const form = await page.locator('#reply-form').evaluate((f) => ({ action: f.action, body: new URLSearchParams(new FormData(f)).toString() }));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.locator('#send-reply').dblclick()]);
  assert.match(await flashText(page), /Reply queued|already sent/);
  const again = await page.evaluate(async ({ action, body }) => {
    const r = await fetch(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    return { status: r.status, text: await r.text() };
  }, form);
  assert.equal(again.status, 200, 'the resubmitted form leads back to the page');
  assert.match(again.text, /already sent from this form; it was not sent again/, 'the resubmission is recognised');
  const sentReply = page.locator('#timeline .entry.reply[data-reply-status="sent"]');
  await reloadUntilVisible(page, sentReply, 'the reply marked sent');
  assert.equal(await page.locator('#timeline .entry.reply').count(), 1, 'one reply on the timeline');
  assert.match(await sentReply.innerText(), /das tut uns leid – Jonas Agent kümmert sich darum/);
  await page.locator('#timeline [data-event="reply_sent"]').waitFor();
  await shot(page, 'inbox.png');

  // 8. e: close.
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('e')]);
  assert.match(await flashText(page), /Closed/);
  assert.match(await page.locator('#conv-state').innerText(), /closed/);
  const timeline = await page.locator('#timeline').innerText();
  assert.match(timeline, /assigned it to Support/, `no assignment on the timeline:\n${timeline}`);
  assert.match(timeline, /Reply sent on the network/, `no sent reply on the timeline:\n${timeline}`);
  assert.match(timeline, /changed the status from open to closed/, `no close on the timeline:\n${timeline}`);
  await shot(page, 'inbox-closed.png');

  // 9. The instance got exactly one status, answering the complaint, with the variables filled.
  assert.equal(mastodon.posts.length, 1, `expected one POST /api/v1/statuses, got ${mastodon.posts.length}: ${JSON.stringify(mastodon.posts)}`);
  const [post] = mastodon.posts;
  assert.equal(post.body.in_reply_to_id, COMPLAINT_STATUS_ID);
  assert.equal(post.body.status, expected);
  assert.equal(post.authorization, `Bearer ${MASTODON_TOKEN}`);
  assert.ok(post.idempotencyKey, 'no Idempotency-Key sent');
  const api2 = await api('GET', `/workspaces/${ws}/conversations/${conversationId}`);
  assert.equal(api2.body.status, 'closed');

  // 10. A viewer reads the conversation but gets no reply box, note or assignment controls.
  const viewer = await newPage();
  pages.push(viewer);
  await signIn(viewer, 'viewer@acme.example', passwords.get('viewer@acme.example'));
  await viewer.goto(convPath);
  assert.match(await viewer.locator('#timeline').innerText(), /Frechheit/);
  for (const sel of ['#reply-form', '#reply-body', '#assign-me', '#assign-form', '#close-form', '#note-form']) {
    assert.equal(await viewer.locator(sel).count(), 0, `a viewer sees ${sel}`);
  }
  await viewer.locator('#read-only').waitFor();
}
