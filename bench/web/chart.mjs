// The dashboard's time to a drawn chart, for scripts/bench-web.sh: logs in,
// then loads /sites/{id}?range=R `runs` times per range in headless
// Chromium and reads the "mochi-chart-drawn" performance mark that app.js
// sets once uPlot has drawn (time from navigation start, so it includes the
// page, its scripts and the timeseries request). Prints p50 and p95.
//   node bench/web/chart.mjs BASE EMAIL PASSWORD SITE_ID RUNS TMPDIR
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [base, email, password, site, runsArg, tmp] = process.argv.slice(2);
const runs = Number(runsArg);
const TARGET_MS = 500;
const userDataDir = fs.mkdtempSync(path.join(tmp, 'chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
  viewport: { width: 1280, height: 900 }
});
await context.route('**/*', (route) => {
  const h = new URL(route.request().url()).hostname;
  return h === '127.0.0.1' || h === 'localhost' ? route.continue() : route.abort();
});
const page = context.pages()[0] || (await context.newPage());
await page.goto(`${base}/login`);
await page.fill('input[name="email"]', email);
await page.fill('input[name="password"]', password);
await Promise.all([page.waitForNavigation(), page.click('form [type="submit"]')]);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
};
let missed = 0;
for (const range of ['30d', '12mo']) {
  const times = [];
  for (let i = 0; i < runs + 1; i++) {
    await page.goto(`${base}/sites/${site}?range=${range}`);
    await page.waitForSelector('#chart[data-state="drawn"]', { timeout: 30000 });
    const t = await page.evaluate(() => performance.getEntriesByName('mochi-chart-drawn')[0]?.startTime);
    if (i > 0) times.push(t); // the first load warms the caches
  }
  const p50 = pct(times, 50);
  const p95 = pct(times, 95);
  const ok = p95 < TARGET_MS;
  if (!ok) missed++;
  console.log(`   chart ${range.padEnd(5)} p50 ${p50.toFixed(1).padStart(7)} ms  p95 ${p95.toFixed(1).padStart(7)} ms  ${ok ? 'ok' : 'MISSED'} (< ${TARGET_MS})`);
}
await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
