// The web server in a real browser: Debian's chromium, driven by
// playwright-core, loads the demo page of tests/browser/demo_server.c the
// way a museum will open its UI (a one-time login link), checks the label
// and the button a test may rely on (docs: shared/design/ui.md), files a
// request with the keyboard alone, sees it come back on the event stream,
// runs axe-core (no serious or critical violation), and takes screenshots.
//
// Run by tests/browser/run_browser_tests.sh, which skips it when chromium
// or the npm packages are missing outside `make test`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const npmDir = process.env.CS_BROWSER_NPM;
const require = createRequire(path.join(npmDir, 'package.json'));
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const screenshots = process.env.CS_SCREENSHOT_DIR;

// Chromium runs as root here: no sandbox, and nothing that reaches out.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let server, home, profile, context, base, loginUrl;
const problems = []; // console errors, page errors, failed requests

before(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'cs-browser-home-'));
  profile = mkdtempSync(path.join(tmpdir(), 'cs-browser-profile-'));
  server = spawn(process.env.CS_WEB_DEMO, ['--home', home, '--listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: server.stdout });
  for await (const line of lines) {
    if (line.startsWith('port ')) base = `http://127.0.0.1:${line.slice(5)}`;
    if (line.startsWith('http://')) { loginUrl = line; break; }
  }
  assert.ok(base && loginUrl, 'the demo server printed its port and a login link');
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 700 },
    locale: 'fr-FR',
  });
});

after(async () => {
  if (context) await context.close();
  if (server) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    assert.equal(await exited, 0, 'the demo server stops cleanly on SIGTERM');
  }
  rmSync(home, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
});

function watch(page) {
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    // The event stream is cut when the page closes; that is not a failure.
    if (!request.url().endsWith('/api/events')) problems.push(`request failed: ${request.url()}`);
  });
}

async function seriousViolations(page) {
  await page.evaluate(axeSource); // DevTools evaluation, not an inline script: CSP allows it
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact}: ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

test('a page without a session sends the browser to the login page', async () => {
  const page = await context.newPage();
  watch(page);
  const response = await page.goto(`${base}/`);
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(response.status(), 200);
  await assert.doesNotReject(page.getByRole('heading', { name: 'Connexion' }).waitFor());
  assert.deepEqual(await seriousViolations(page), []);
  await page.screenshot({ path: path.join(screenshots, 'login.png'), fullPage: true });
  await page.close();
});

test('the login link opens a session and leaves no token in the address', async () => {
  const page = await context.newPage();
  watch(page);
  const response = await page.goto(loginUrl);
  assert.equal(page.url(), `${base}/`);
  assert.ok(!page.url().includes('token'));
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /^default-src 'self'/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  assert.equal(headers['access-control-allow-origin'], undefined);
  const cookies = await context.cookies(base);
  const session = cookies.find((c) => c.name === 'clubsync-de300001');
  assert.ok(session, 'the session cookie is set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session cookie');
  // The same link again is refused: a token works once.
  const again = await context.newPage();
  const refused = await again.goto(loginUrl);
  assert.equal(refused.status(), 403);
  await again.close();
  await page.close();
});

test('the new-request form: label, button, keyboard, live update, accessibility', async () => {
  const page = await context.newPage();
  watch(page);
  await page.goto(`${base}/`);
  assert.equal(await page.locator('html').getAttribute('lang'), 'fr');
  const title = page.getByLabel('Titre');
  const button = page.getByRole('button', { name: 'Déposer la demande' });
  await title.waitFor();
  assert.ok(await title.isVisible());
  assert.ok(await button.isVisible());
  // Wait for the module script and the event stream to be ready.
  await page.waitForFunction(() => document.readyState === 'complete');

  // The keyboard alone: Tab to the field, type, Tab to the button, Enter.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'title');
  await page.keyboard.type('Export Joconde/POP');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Déposer la demande');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'the focused button shows a focus ring');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: 'Demande déposée' }).waitFor();
  assert.equal(await page.getByRole('status').textContent(), 'Demande déposée\u00a0: Export Joconde/POP');
  // The event stream announced it too.
  await page.locator('#live li', { hasText: 'Export Joconde/POP' }).waitFor();

  // An empty title is refused in words, and focus goes back to the field.
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: 'Le titre est obligatoire' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'title');

  assert.deepEqual(await seriousViolations(page), []);
  await page.screenshot({ path: path.join(screenshots, 'demo.png'), fullPage: true });
  await page.close();
  assert.deepEqual(problems, [], 'no console error, page error or failed request');
});

test('a change from the page without the CSRF token is refused by the server', async () => {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  // Same origin and session cookie, but no X-CSRF-Token: 403.
  const status = await page.evaluate(async () => {
    const response = await fetch('/api/demo/requests', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"title":"x"}',
    });
    return response.status;
  });
  assert.equal(status, 403);
  await page.close();
});
