// dashboard.js: what the web dashboard costs, measured in a real browser and
// on the collector that answers it. Prints am-bench's JSON, one figure a line.
//
//   NODE_MODULES=... node bench/dashboard.js AGENTMON [WARMUP_S]
//
// Starts `AGENTMON demo` on 127.0.0.1 (port 0), lets it run WARMUP_S
// seconds (default 40) so that the window holds data, then:
//   dashboard_first_render_ms       from navigation to the overview complete
//                                   (every stat filled, every chart drawn), in
//                                   headless Chromium on this machine, median
//                                   of 7 cold loads (target <= 1000 ms); with
//                                   AM_BENCH_DASHBOARD_PEER=AGENTMON2 (another
//                                   build, e.g. of main), its demo runs beside
//                                   ours and the loads alternate between the
//                                   two: "peer", "peer_value", "ratio"
//   dashboard_first_render_requests the requests the page made before that
//                                   moment (files and API), median
//   dashboard_refresh_cpu_ms_PAGE   the demo's CPU time (user + system, from
//                                   /proc) to answer one live refresh of every
//                                   panel of PAGE (every 2 s; charts ask for
//                                   the steps since their last): the requests
//                                   the page made in one refresh, recorded in
//                                   Chromium, replayed 40 times. The demo's agents keep working
//                                   meanwhile, so only the threads that used
//                                   no CPU over an idle stretch as long (the
//                                   HTTP server's) are counted (target <= 20 ms)
//   dashboard_load_cpu_ms_PAGE      the same for the page's first load (every
//                                   chart over the whole range)
//   dashboard_*_handler_ms_PAGE     the same requests as the server's own
//                                   agentmon_http_request_duration_seconds
//                                   sees it (handler wall time, summed)
// The window then holds WARMUP_S seconds of samples: a 5-minute view of a
// demo that ran longer reads more (see docs/DASHBOARD.md).
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require(path.join(process.env.NODE_MODULES, 'puppeteer-core'));

const [agentmon, warmArg] = process.argv.slice(2);
const WARMUP = Number(warmArg || 40);
const REPS = 40;
const REFRESH_GAP_MS = 2500; // longer than a refresh period: the last one is over
const PAGES = ['overview', 'messaging', 'agents', 'llm', 'communication', 'system', 'alerts'];
const TICK_MS = 1000 / 100; // USER_HZ on Linux

function emit(o) { console.log(JSON.stringify(o)); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function statMs(file) {
  try {
    const f = fs.readFileSync(file, 'utf8');
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(v[11]) + Number(v[12])) * TICK_MS; // utime, stime
  } catch (e) { return 0; } // a thread that ended
}
// CPU milliseconds per thread of pid
function threadsMs(pid) {
  const m = new Map();
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) m.set(t, statMs(`/proc/${pid}/task/${t}/stat`));
  return m;
}
async function handlerSeconds(url) {
  const t = await (await fetch(url + 'metrics')).text();
  let s = 0;
  for (const l of t.split('\n'))
    if (l.startsWith('agentmon_http_request_duration_seconds_sum') && !l.includes('route="/metrics"')) s += Number(l.split(' ').pop());
  return s;
}
const median = (a) => { const b = [...a].sort((x, y) => x - y); return b[Math.floor(b.length / 2)]; };

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'am-dash-bench-'));
  const peerBin = process.env.AM_BENCH_DASHBOARD_PEER || '';
  const demos = [];
  // a demo of bin on port 0: its process and dashboard URL
  const startDemo = async (bin, log) => {
    const d = spawn(bin, ['demo', '--listen', '127.0.0.1:0', '--quiet', '--seed', '5', '--log', path.join(dir, log)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    demos.push(d);
    let out = '';
    d.stdout.on('data', (x) => { out += x; });
    for (let i = 0; i < 100 && !/dashboard at/.test(out); i++) await sleep(100);
    const m = out.match(/dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/);
    if (!m) throw new Error(bin + ' demo did not start: ' + out);
    return { proc: d, url: m[1] };
  };
  let browser = null;
  try {
    const ours = await startDemo(agentmon, 'demo.log');
    const demo = ours.proc, url = ours.url;
    const peer = peerBin ? await startDemo(peerBin, 'peer.log') : null;
    await sleep(WARMUP * 1000);
    browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'] });

    // time to first complete render of the overview, cold each time
    const firstRender = async (u) => {
      const ctx = await browser.createBrowserContext();
      const p = await ctx.newPage();
      await p.setViewport({ width: 1366, height: 900 });
      await p.goto(u + '?page=overview&range=5m', { waitUntil: 'load' });
      await p.waitForFunction(() => Number(document.body.dataset.refreshed || 0) >= 1 &&
        window.agentmonDashboard.charts().length > 0 && window.agentmonDashboard.charts().every((c) => c.points > 0), { timeout: 20000, polling: 'raf' });
      const r = await p.evaluate(() => { const t = performance.now();
        return { t, n: performance.getEntriesByType('resource').filter((e) => e.startTime < t).length + 1 }; });
      await ctx.close();
      return r;
    };
    const renders = [], requests = [], peerRenders = [];
    for (let i = 0; i < 7; i++) {
      const r = await firstRender(url);
      renders.push(r.t);
      requests.push(r.n);
      if (peer) peerRenders.push((await firstRender(peer.url)).t);
    }
    const fr = median(renders);
    const cmp = peer ? { peer: 'agentmon demo of ' + peerBin, peer_value: Number(median(peerRenders).toFixed(1)),
      ratio: Number((median(peerRenders) / fr).toFixed(2)) } : {};
    emit(Object.assign({ bench: 'dashboard_first_render_ms', unit: 'ms', value: Number(fr.toFixed(1)), target: 1000,
      ok: fr <= 1000, reference: { issue: 13 }, note: `overview, range 5m, headless Chromium, median of ${renders.length} cold loads: ${renders.map((r) => r.toFixed(0)).join(' ')}` +
        (peer ? `; peer: ${peerRenders.map((r) => r.toFixed(0)).join(' ')}` : '') }, cmp));
    emit({ bench: 'dashboard_first_render_requests', unit: 'requests', value: median(requests),
      note: 'the page, its files and the API requests made before the overview was complete (median)' });
    if (peer) { peer.proc.kill('SIGTERM'); demos.splice(demos.indexOf(peer.proc), 1); }

    // one refresh of each page: the requests the page makes
    const p = await browser.newPage();
    await p.setViewport({ width: 1366, height: 900 });
    const perPage = {}, perLoad = {};
    for (const page of PAGES) {
      const loads = [];
      const onLoad = (r) => { if (r.url().includes('/api/') && !r.url().includes('/api/v1/dashboard')) loads.push(r.url()); };
      p.on('request', onLoad);
      await p.goto(url + '?page=' + page + '&range=5m', { waitUntil: 'load' });
      await p.waitForFunction(() => Number(document.body.dataset.refreshed || 0) >= 1, { timeout: 20000 });
      p.off('request', onLoad);
      perLoad[page] = loads;
      // paused, then one refresh by hand: exactly its requests
      await p.click('#pause');
      await sleep(REFRESH_GAP_MS);
      const reqs = [];
      const on = (r) => { if (r.url().includes('/api/')) reqs.push(r.url()); };
      p.on('request', on);
      await p.evaluate(() => window.agentmonDashboard.refresh());
      p.off('request', on);
      perPage[page] = reqs;
    }
    await browser.close();
    browser = null;

    for (const [kind, page, reqs] of PAGES.flatMap((pg) => [['load', pg, perLoad[pg]], ['refresh', pg, perPage[pg]]])) {
      const refresh = () => Promise.all(reqs.map((u) => fetch(u).then((r) => r.arrayBuffer())));
      await refresh(); // warm
      const c0 = threadsMs(demo.pid);
      const h0 = await handlerSeconds(url);
      const t1 = Date.now();
      for (let i = 0; i < REPS; i++) await refresh();
      const t2 = Date.now(), c2 = threadsMs(demo.pid);
      const h2 = await handlerSeconds(url);
      // which threads work when nobody asks: as long again, right after
      await sleep(t2 - t1);
      const c4 = threadsMs(demo.pid);
      let busy = 0, quiet = 0, idleRate = 0;
      for (const [t, v2] of c2) {
        const idle = (c4.get(t) ?? v2) - v2, used = v2 - (c0.get(t) ?? 0);
        if (idle > 0) { idleRate += idle; busy++; } else { quiet += used; }
      }
      idleRate /= Math.max(1, t2 - t1);
      const cpu = quiet / REPS;
      emit({ bench: `dashboard_${kind}_cpu_ms_${page}`, unit: 'ms', value: Number(cpu.toFixed(2)), ...(kind === 'refresh' ? { target: 20, ok: cpu <= 20 } : {}),
        reference: { issue: 13 }, note: `${kind === 'load' ? 'the first load of the page (whole range), ' : 'a live refresh (the steps since the last), '}${reqs.length} requests, ${REPS} refreshes; CPU of the demo's threads idle without requests (${busy} busy threads left out, ${(idleRate * 1000).toFixed(0)} ms/s); window of ~${WARMUP} s` });
      emit({ bench: `dashboard_${kind}_handler_ms_${page}`, unit: 'ms', value: Number(((h2 - h0) * 1000 / REPS).toFixed(2)),
        note: 'the server\'s handler time (agentmon_http_request_duration_seconds) per refresh, wall clock' });
    }
  } catch (e) {
    emit({ bench: 'dashboard_browser', error: String(e.message || e) });
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close();
    for (const d of demos) {
      if (d.exitCode === null && d.signalCode === null) {
        d.kill('SIGTERM');
        await new Promise((r) => d.on('exit', r));
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
