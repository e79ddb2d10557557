// dashboard.js: the web dashboard in real headless Chromium (Debian's), driven
// by puppeteer-core, against a running `agentmon demo` (tests/integration/
// dashboard.sh starts it and passes its URL).
//
//   node tests/browser/dashboard.js URL OUTDIR WRITE_TOKEN
//
// Checks, page by page: the page loads with no console error, no page error
// and no failed or refused request; every chart has drawn data points (a
// panel marked hide_empty may say "no data" instead); then: changing the
// time range re-queries and redraws (the charts' x range follows); a filter
// narrows a table; a panel downloads as CSV; and a DLQ replay from the page
// (confirmed, with the write credentials typed in) moves a message back to
// its queue -- checked by the caller with `agentmon`-independent evidence
// (the coordinator's DLQ through its API, and the agent logging the task
// again); the trace page follows a recent trace; clicking an exemplar of a
// latency chart opens its trace, with its log lines. In serve mode: the
// trace's records and the log line posted for it, a demo trace's lines
// from the tailed log (AM_LOG_TRACE), and the events' exemplar clicked
// through to its trace. A PNG of each page goes to OUTDIR. Prints one JSON line of facts
// for the caller. Exits 1 naming the first failure.
'use strict';
const path = require('path');
const fs = require('fs');
const puppeteer = require(path.join(process.env.NODE_MODULES, 'puppeteer-core'));

const [url, outdir, token, mode] = process.argv.slice(2);
// mode "serve": `agentmon serve` with a few events: every page loads clean
// (no console error, failed request or panel error); charts are not required
// to have points, and the demo-only checks are skipped.
const SERVE = mode === 'serve';
// the trace page's events table as {agent, kind} (its columns: time, agent, kind, what)
function traceRows() {
  const t = document.querySelector('[data-trace-path]').parentElement.querySelector('table');
  return t ? [...t.querySelectorAll('tbody tr')].map((r) => ({ agent: r.cells[1] && r.cells[1].textContent, kind: r.cells[2] && r.cells[2].textContent })) : [];
}
const PAGES = ['overview', 'messaging', 'agents', 'llm', 'trace', 'communication', 'system', 'alerts'];
const problems = [];
let expect401 = false;
const facts = { pages: {} };

function fail(msg) {
  console.error('dashboard.js: ' + msg);
  process.exitCode = 1;
  throw new Error(msg);
}
// Click the newest exemplar of a latency chart on page: the trace page of
// its trace id opens, with that trace's log lines.
async function clickExemplar(p, page) {
  await p.goto(url + '?page=' + page + '&range=5m', { waitUntil: 'load' });
  await waitRefreshes(p, 2);
  // pause the live refresh (the page's own checkbox), so that the point
  // found is the point clicked; one refresh may still be under way
  await p.click('#pause');
  await new Promise((r) => setTimeout(r, 1500));
  const pt = await p.evaluate(() => window.agentmonDashboard.exemplarPoint());
  if (!pt) fail(page + ': no latency chart draws an exemplar');
  await p.mouse.click(pt.x, pt.y);
  await p.waitForFunction(() => new URLSearchParams(location.search).get('page') === 'trace', { timeout: 5000 })
    .catch(() => fail(page + ': clicking exemplar ' + JSON.stringify(pt) + ' did not open the trace page'));
  const opened = await p.evaluate(() => new URLSearchParams(location.search).get('trace'));
  if (opened !== pt.trace) fail(page + ': the click opened trace ' + opened + ', not the exemplar\'s ' + JSON.stringify(pt));
  await p.click('#pause'); // live again
  await waitRefreshes(p, 1);
  const rows = await p.evaluate(traceRows);
  const logs = rows.filter((r) => /^log /.test(r.kind));
  if (!logs.length) fail('the trace page of exemplar ' + pt.trace + ' (' + pt.panel + ') shows no log line: ' + JSON.stringify(rows));
  return { panel: pt.panel, trace: pt.trace, log_lines: logs.length };
}

async function waitRefreshes(p, n) {
  const start = await p.evaluate(() => Number(document.body.dataset.refreshed || 0));
  await p.waitForFunction((k) => Number(document.body.dataset.refreshed || 0) >= k, { timeout: 20000 }, start + n);
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  try {
    const p = await browser.newPage();
    await p.setViewport({ width: 1366, height: 900 });   // a laptop screen
    // the one refusal the test provokes: a replay without credentials
    const expected = (u) => expect401 && /\/api\/v1\/dlq\/.*\/replay/.test(u || '');
    p.on('console', (m) => {
      if (m.type() === 'error' && !(expected(m.location().url) && /401/.test(m.text())))
        problems.push('console error: ' + m.text() + ' ' + (m.location().url || ''));
    });
    p.on('pageerror', (e) => problems.push('page error: ' + e.message));
    p.on('requestfailed', (r) => {
      // a download's blob: URL is cancelled by design once saved
      if (!r.url().startsWith('blob:')) problems.push('failed request: ' + r.url() + ' ' + r.failure().errorText);
    });
    p.on('response', (r) => { if (r.status() >= 400 && !(r.status() === 401 && expected(r.url()))) problems.push('HTTP ' + r.status() + ' ' + r.url()); });
    const requests = [];
    p.on('request', (r) => requests.push(r.url()));
    const def = await (await fetch(url + 'ui/panels.json')).json();

    // ---- every page: loads clean, charts drawn, no sideways scroll
    for (const page of PAGES) {
      await p.goto(url + '?page=' + page + '&range=5m', { waitUntil: 'load' });
      await waitRefreshes(p, 2);
      const st = await p.evaluate(() => ({ charts: window.agentmonDashboard.charts(), widgets: window.agentmonDashboard.widgets(),
        scroll: document.documentElement.scrollWidth - document.documentElement.clientWidth }));
      for (const w of st.widgets) if (w.error) problems.push(`${page}: panel ${w.id}: ${w.error}`);
      const drawn = new Map(st.charts.map((c) => [c.panel, c.points]));
      const pdef = def.pages.find((x) => x.id === page);
      for (const spec of pdef.widgets) {
        if (typeof spec !== 'string') continue;
        const pd = def.panels[spec];
        if (pd.type === 'stat' || pd.type === 'gauge') continue;
        if (!(drawn.get(spec) > 0) && !pd.hide_empty && !SERVE) problems.push(`${page}: chart ${spec} has no data points`);
      }
      if (st.scroll > 0) problems.push(`${page}: scrolls sideways by ${st.scroll} px at 1366 px`);
      facts.pages[page] = { charts: st.charts.length, points: st.charts.reduce((n, c) => n + c.points, 0), widgets: st.widgets.length };
      await p.screenshot({ path: path.join(outdir, (SERVE ? 'serve-' : 'dashboard-') + page + '.png'), fullPage: true });
      if (problems.length) fail(problems.join('\n'));
    }
    if (SERVE) {
      // the records of a trace, from the store
      await p.goto(url + '?page=trace&trace=' + token, { waitUntil: 'load' });
      await waitRefreshes(p, 1);
      const t = await p.evaluate(() => ({ path: document.querySelector('[data-trace-path]').textContent,
        rows: window.agentmonDashboard.widgets()[0].rows }));
      if (!(t.rows >= 2) || !/planner/.test(t.path)) fail('serve: the trace page does not show the trace\'s records: ' + JSON.stringify(t));
      // its log line, sent to POST /api/v1/logs as a shipper sends it
      const rawT = await p.evaluate(traceRows);
      if (!rawT.some((g) => /^log /.test(g.kind))) fail('serve: the trace page lacks the log line sent for the trace: ' + JSON.stringify(rawT));
      facts.trace = t;
      // a trace of the real demo, whose log file serve tails (--tail)
      if (process.env.AM_LOG_TRACE) {
        await p.goto(url + '?page=trace&trace=' + process.env.AM_LOG_TRACE, { waitUntil: 'load' });
        await waitRefreshes(p, 1);
        const d = await p.evaluate((f) => ({ path: document.querySelector('[data-trace-path]').textContent,
          raw: eval(f)() }), '(' + traceRows.toString() + ')');
        const logs = d.raw.filter((g) => /^log /.test(g.kind));
        const agents = new Set(logs.map((g) => g.agent));
        if (logs.length < 2 || agents.size < 2) fail('serve: the tailed demo trace shows too few log lines: ' + JSON.stringify(d));
        facts.tailed_trace = { lines: logs.length, path: d.path };
        await p.screenshot({ path: path.join(outdir, 'serve-trace-logs.png'), fullPage: true });
      }
      // the session filter: the store's tables narrow, PromQL panels without
      // a session label say that it does not apply
      await p.goto(url + '?page=agents&session=s1', { waitUntil: 'load' });
      await waitRefreshes(p, 1);
      const sess = await p.evaluate(() => [...document.querySelectorAll('section.panel')].map((el) => ({
        id: el.dataset.panel, na: !!el.querySelector('[data-session-na]') })));
      const na = sess.filter((x) => x.na), applied = sess.filter((x) => !x.na);
      if (!na.length || !applied.some((x) => /summary|rows/.test(x.id)) || applied.some((x) => /^task_|^agent_/.test(x.id)))
        fail('serve: the session filter is not shown as applying to the tables only: ' + JSON.stringify(sess));
      facts.session_filter = { not_applicable: na.length, applied: applied.map((x) => x.id) };
      // the task events' exemplars (their trace id) on the latency chart
      facts.exemplar = await clickExemplar(p, 'overview');
      if (facts.exemplar.trace !== token) fail('serve: the exemplar clicked is not the events\' trace: ' + JSON.stringify(facts.exemplar));
      if (problems.length) fail(problems.join('\n'));
      console.log(JSON.stringify(facts));
      return;
    }

    // ---- the time range re-queries and redraws
    await p.goto(url + '?page=overview&range=5m', { waitUntil: 'load' });
    await waitRefreshes(p, 1);
    const before = await p.evaluate(() => window.agentmonDashboard.charts());
    requests.length = 0;
    await p.select('#range', '1h');
    await p.waitForFunction(() => new URLSearchParams(location.search).get('range') === null ||
      new URLSearchParams(location.search).get('range') === '1h', { timeout: 5000 });
    await waitRefreshes(p, 1);
    const after = await p.evaluate(() => window.agentmonDashboard.charts());
    const ranged = requests.filter((u) => u.includes('/api/v1/query_range'));
    if (!ranged.length) fail('changing the range made no query_range request');
    const steps = new Set(ranged.map((u) => new URL(u).searchParams.get('step')));
    if (!steps.has('36')) fail('the 1 h range did not ask for 36 s steps: ' + [...steps]);
    for (const c of after) {
      const b = before.find((x) => x.panel === c.panel);
      if (!b || !(c.refreshed > b.refreshed)) fail(`chart ${c.panel} was not redrawn after the range changed`);
    }
    const xr = await p.evaluate(() => Chart.instances && Object.values(Chart.instances).map((c) => c.scales.x.max - c.scales.x.min));
    if (!xr.length || xr.some((d) => Math.abs(d - 3600e3) > 5e3)) fail('the charts do not span 1 h after choosing it: ' + xr);
    facts.range_change = { requests: ranged.length, charts_redrawn: after.length };

    // ---- by keyboard alone: Tab reaches a page's link, Enter opens it
    await p.goto(url + '?page=overview&range=5m', { waitUntil: 'load' });
    await waitRefreshes(p, 1);
    let tabs = 0;
    for (; tabs < 40; tabs++) {
      await p.keyboard.press('Tab');
      if (await p.evaluate(() => document.activeElement && document.activeElement.dataset.page === 'llm')) break;
    }
    if (tabs === 40) fail('40 presses of Tab never reached the LLM page\'s link');
    const ring = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    if (ring === 'none') fail('the focused link shows no focus ring');
    await p.keyboard.press('Enter');
    await p.waitForFunction(() => new URLSearchParams(location.search).get('page') === 'llm', { timeout: 5000 });
    await waitRefreshes(p, 1);
    const llm = await p.evaluate(() => window.agentmonDashboard.widgets().length);
    if (!(llm > 0)) fail('the LLM page opened by keyboard shows no panel');
    facts.keyboard = { tabs: tabs + 1, widgets: llm };

    // ---- a filter narrows a table (worker health, on the agents page)
    await p.goto(url + '?page=agents&range=5m', { waitUntil: 'load' });
    await waitRefreshes(p, 1);
    const rowsAll = await p.$$eval('section[aria-label="Worker health"] tbody tr', (t) => t.length);
    await p.select('#agent', 'coder:1');
    await p.waitForFunction(() => new URLSearchParams(location.search).get('agent') === 'coder:1');
    await waitRefreshes(p, 1);
    const cells = await p.$$eval('section[aria-label="Worker health"] tbody tr td:first-child', (t) => t.map((x) => x.textContent));
    if (!(rowsAll > 1) || cells.length !== 1 || cells[0] !== 'coder:1')
      fail(`the agent filter did not narrow the worker table: ${rowsAll} rows, then ${JSON.stringify(cells)}`);
    facts.filter = { rows_before: rowsAll, rows_after: cells.length };
    if (problems.length) fail(problems.join('\n'));

    // ---- a panel downloads as CSV
    const dl = fs.mkdtempSync(path.join(outdir, 'dl-'));
    const cdp = await p.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dl });
    await p.click('section[data-panel="task_p95_by_agent"] button[data-download="csv"]');
    let csv = null;
    for (let i = 0; i < 50 && !csv; i++) {
      const f = fs.readdirSync(dl).filter((x) => x.endsWith('.csv'));
      if (f.length) csv = fs.readFileSync(path.join(dl, f[0]), 'utf8');
      else await new Promise((r) => setTimeout(r, 100));
    }
    if (!csv || !csv.startsWith('time,') || csv.trim().split('\n').length < 2) fail('the CSV download is missing or empty: ' + csv);
    facts.csv_lines = csv.trim().split('\n').length;

    // ---- DLQ replay from the page, with credentials and confirmation
    await p.goto(url + '?page=messaging&range=5m', { waitUntil: 'load' });
    await waitRefreshes(p, 1);
    let agent = null;
    for (let i = 0; i < 60 && !agent; i++) {
      agent = await p.evaluate(() => {
        const b = [...document.querySelectorAll('button[data-dlq-replay]')].find((x) => !x.disabled);
        return b ? b.dataset.dlqReplay : null;
      });
      if (!agent) await waitRefreshes(p, 1);
    }
    if (!agent) fail('no dead letters appeared in two minutes');
    // live updates off, so that the tables stay put while we click (the
    // actions redraw the panel themselves); clicks in the page's own JS
    await p.click('#pause');
    await new Promise((r) => setTimeout(r, 2500));
    const press = (sel) => p.evaluate((s_) => document.querySelector(s_).click(), sel);
    await press(`button[data-dlq-list="${agent}"]`);
    await p.waitForSelector('button[data-replay-id]');
    const id = await p.$eval('button[data-replay-id]', (b) => b.dataset.replayId);
    const entry = (await (await fetch(url + 'api/v1/dlq/' + encodeURIComponent(agent))).json()).data.find((e) => e.id === id);
    // without credentials: refused, and nothing moved
    let dialogs = 0;
    p.on('dialog', (d) => { dialogs++; d.accept(); });
    expect401 = true;
    await press(`button[data-replay-id="${id}"]`);
    await p.waitForFunction(() => document.querySelector('[data-dlq-status]').dataset.done, { timeout: 10000 });
    const refused = await p.$eval('[data-dlq-status]', (e) => [e.dataset.done, e.textContent]);
    if (refused[0] !== 'error' || !/401|credential/i.test(refused[1])) fail('a replay without credentials was not refused: ' + refused);
    await p.type('#dlq-cred', token);
    await p.$eval('[data-dlq-status]', (e) => { delete e.dataset.done; });
    const listed = await p.$$eval('button[data-replay-id]', (b) => b.map((x) => x.dataset.replayId));
    if (!listed.includes(id)) fail(`message ${id} left the DLQ before the replay`);
    const t0 = Date.now() / 1000;
    await press(`button[data-replay-id="${id}"]`);
    await p.waitForFunction(() => document.querySelector('[data-dlq-status]').dataset.done, { timeout: 10000 });
    const done = await p.$eval('[data-dlq-status]', (e) => [e.dataset.done, e.textContent]);
    if (done[0] !== 'replay:1') fail('the replay did not report one message: ' + done);
    expect401 = false;
    if (dialogs !== 2) fail(`expected a confirmation per action, saw ${dialogs}`);
    facts.dlq = { agent, id, payload: entry ? entry.payload : null, replayed_at: t0 };
    await p.screenshot({ path: path.join(outdir, 'dashboard-messaging-replayed.png'), fullPage: true });
    if (problems.length) fail(problems.join('\n'));

    // ---- the trace page: pick a trace from the recent list, see its path
    await p.goto(url + '?page=trace', { waitUntil: 'load' });
    await waitRefreshes(p, 1);
    await p.click('a[data-trace]');
    await p.waitForFunction(() => new URLSearchParams(location.search).get('trace'));
    await waitRefreshes(p, 1);
    const trace = await p.evaluate(() => ({ path: document.querySelector('[data-trace-path]').textContent,
      rows: window.agentmonDashboard.widgets()[0].rows }));
    if (!/Agents visited/.test(trace.path) || !(trace.rows > 0)) fail('the trace page shows nothing for a recent trace: ' + JSON.stringify(trace));
    facts.trace = trace;
    await p.screenshot({ path: path.join(outdir, 'dashboard-trace.png'), fullPage: true });
    // ---- an exemplar of a latency chart opens its trace, with log lines
    facts.exemplar = await clickExemplar(p, 'overview');
    if (problems.length) fail(problems.join('\n'));
    console.log(JSON.stringify(facts));
  } finally {
    await browser.close();
  }
})().catch((e) => { if (!process.exitCode) { console.error('dashboard.js: ' + e.stack); process.exitCode = 1; } });
