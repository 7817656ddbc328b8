// Loads Titan's dashboard in headless chromium and prints, as one JSON object on stdout, what the
// page shows: every panel's data-state and data-chart, every data-metric (by panel, since names
// such as window-from repeat), and for every chart canvas how many pixels are painted and how many
// have each colour of the page's palette. It also saves a full-page screenshot.
//
//   node dashboard.mjs URL SCREENSHOT [TIMEOUT_MS]
//
// The browser is $TITAN_CHROMIUM. The page may load nothing but URL's origin: any other request is
// aborted and listed under "blocked", for the caller to fail on. The script waits until
// body.dataset.loaded >= 1 and every panel is data-state="ok" and data-chart="ok"; if that does not
// happen within TIMEOUT_MS (default 60000) it still prints what it saw and the screenshot, with
// "error" set, and exits 1. What the page shows is under "page": loaded and error (body.dataset),
// and panels by view name.
import { chromium } from 'playwright-core';

// The palette of web/dashboard/src/app.js (COLORS), to tell a drawn dataset from bare axes.
const PALETTE = ['#2e6fdb', '#e8833a', '#3aa757', '#c7443b', '#8b5cc7', '#8c6d31', '#d46fb4', '#6b7280',
  '#17a2b8', '#b5a316'];

const [url, screenshot, timeoutArg] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error('usage: node dashboard.mjs URL SCREENSHOT [TIMEOUT_MS]');
  process.exit(2);
}
const timeout = Number(timeoutArg || 60000);
const origin = new URL(url).origin;
const report = { url, screenshot, blocked: [], console: [], pageErrors: [], failedRequests: [] };

// snapshot reads the page's state; it runs in the page.
function snapshot(palette) {
  const out = { loaded: Number(document.body.dataset.loaded || 0), error: document.body.dataset.error || '', panels: {} };
  const rgb = palette.map((h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)]);
  for (const panel of document.querySelectorAll('section[data-view]')) {
    const p = { state: panel.dataset.state || '', chart: panel.dataset.chart || '', metrics: {} };
    for (const el of panel.querySelectorAll('[data-metric]')) {
      p.metrics[el.dataset.metric] = { text: el.textContent, value: el.dataset.value ?? '' };
    }
    const canvas = panel.querySelector('canvas');
    if (canvas) {
      const c = { width: canvas.width, height: canvas.height, painted: 0, colors: {} };
      const ctx = canvas.width && canvas.height ? canvas.getContext('2d') : null;
      if (ctx) {
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        const hits = new Array(rgb.length).fill(0);
        for (let i = 0; i < px.length; i += 4) {
          if (px[i + 3] === 0) continue;
          c.painted += 1;
          if (px[i + 3] !== 255) continue;
          for (let k = 0; k < rgb.length; k += 1) {
            if (px[i] === rgb[k][0] && px[i + 1] === rgb[k][1] && px[i + 2] === rgb[k][2]) hits[k] += 1;
          }
        }
        palette.forEach((h, k) => { if (hits[k] > 0) c.colors[h] = hits[k]; });
      }
      p.canvas = c;
    }
    out.panels[panel.dataset.view] = p;
  }
  return out;
}

let browser;
let code = 0;
let page;
try {
  browser = await chromium.launch({
    executablePath: process.env.TITAN_CHROMIUM,
    headless: true,
    // No sandbox: the tests run as root in containers. The rest keeps chromium from calling home.
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-default-apps', '--disable-sync',
      '--disable-domain-reliability', '--disable-features=Translate,OptimizationHints,MediaRouter'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, serviceWorkers: 'block' });
  await context.route('**/*', (route) => {
    const u = route.request().url();
    let o = '';
    try { o = new URL(u).origin; } catch { /* not a URL with an origin: block it */ }
    if (o === origin) return route.continue();
    report.blocked.push(u);
    return route.abort('blockedbyclient');
  });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') report.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => report.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => report.failedRequests.push(`${r.url()}: ${r.failure()?.errorText}`));
  const res = await page.goto(url, { waitUntil: 'load', timeout });
  report.status = res ? res.status() : 0;
  await page.waitForFunction(() => {
    const panels = [...document.querySelectorAll('section[data-view]')];
    return Number(document.body.dataset.loaded || 0) >= 1 && panels.length > 0 &&
      panels.every((p) => p.dataset.state === 'ok' && p.dataset.chart === 'ok');
  }, null, { timeout, polling: 100 });
  // Two frames, so that a chart resized to its box after its first draw has drawn again.
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
} catch (e) {
  report.error = String(e?.message || e);
  code = 1;
}
try {
  if (page) {
    report.page = await page.evaluate(snapshot, PALETTE);
    await page.screenshot({ path: screenshot, fullPage: true });
  }
} catch (e) {
  report.error = [report.error, `reading the page: ${e?.message || e}`].filter(Boolean).join('; ');
  code = 1;
}
await browser?.close().catch(() => {});
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(code);
