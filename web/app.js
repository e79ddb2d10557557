/*
 * app.js: the agentmon dashboard. One page, no build step, no framework.
 *
 * Every panel is defined once, in panels.json (title, PromQL, unit, chart
 * type); the page's pages list which panels and which special widgets (DLQ,
 * trace, graph, alerts, cost, ...) they show. State lives in the URL
 * (?page=&range=&from=&to=&agent=&session=&provider=&trace=), so a view can
 * be shared. Every 2 s the visible page re-queries its panels (polling: one
 * request per panel query, never overlapping the last refresh) and redraws
 * them in place. Data comes from the server's query API: PromQL
 * (/api/v1/query, /api/v1/query_range), the store's rows and summaries when
 * the server has a store (agentmon serve), the DLQ and log routes when it has
 * a coordinator and a log file (agentmon demo). GET /api/v1/dashboard says
 * which; the page asks for nothing that would fail.
 */
'use strict';
(function () {
  const REFRESH_MS = 2000;
  const RANGES = { '5m': 300, '1h': 3600, '24h': 86400 };
  const PALETTE = ['#2463d1', '#e8710a', '#2e9d4a', '#c62828', '#8e44ad', '#00838f', '#b8860b',
    '#d81b60', '#5d6d7e', '#7cb342', '#3949ab', '#6d4c41'];
  const EXEMPLAR = '#d81b60'; // exemplar points over latency lines

  let DEF = null;      // panels.json
  let CFG = null;      // GET /api/v1/dashboard
  let S = null;        // the state, from the URL
  let widgets = [];    // the visible page's widgets: {id, el, refresh(), data}
  let charts = [];     // Chart instances of the visible page
  let busy = false, timer = null, gen = 0, refreshes = 0;

  // ---------------------------------------------------------------- helpers
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  const $ = (id) => document.getElementById(id);

  function readState() {
    const q = new URLSearchParams(location.search);
    const g = (k, d) => q.get(k) || d;
    return { page: g('page', 'overview'), range: g('range', '1h'), from: g('from', ''), to: g('to', ''),
      agent: g('agent', ''), session: g('session', ''), provider: g('provider', ''), trace: g('trace', '') };
  }
  function query(over) {
    const s = Object.assign({}, S, over || {});
    const q = new URLSearchParams();
    for (const k of ['page', 'range', 'from', 'to', 'agent', 'session', 'provider', 'trace'])
      if (s[k] && !(k === 'range' && s[k] === '1h') && !((k === 'from' || k === 'to') && s.range !== 'custom') &&
          !(k === 'trace' && s.page !== 'trace'))
        q.set(k, s[k]);
    return '?' + q.toString();
  }
  function go(over, push) {
    const url = query(over);
    history[push ? 'pushState' : 'replaceState'](null, '', url);
    S = readState();
    render();
  }

  // The time window: [start, end] in unix seconds, the step, the rate window.
  function win() {
    let end = Math.round(Date.now()) / 1000, span = RANGES[S.range] || 3600;
    if (S.range === 'custom' && S.from && S.to) {
      const f = Date.parse(S.from) / 1000, t = Date.parse(S.to) / 1000;
      if (f < t) { end = t; span = t - f; }
    }
    // ~100 points a chart; rate() windows as Grafana's $__rate_interval:
    // a step and one sample, and at least 4 of the server's samples (it
    // feeds its window every sample_interval_s)
    const step = Math.max(2, Math.ceil(span / 100));
    const si = CFG.sample_interval_s || 15;
    return { start: end - span, end, span, step, rate: Math.ceil(Math.max(step + si, 4 * si)) };
  }

  function reEscape(v) { return v.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&').replace(/"/g, '\\"'); }
  function expand(expr, w) {
    const agent = S.agent ? reEscape(S.agent) : '.*';
    const type = S.agent ? reEscape(S.agent.split(':')[0]) : '.*';
    return expr.replaceAll('$__rate_interval', w.rate + 's').replaceAll('$__range', Math.round(w.span) + 's')
      .replaceAll('$agent_type', type).replaceAll('$agent', agent)
      .replaceAll('$provider', S.provider ? reEscape(S.provider) : '.*')
      .replaceAll('$session', S.session ? reEscape(S.session) : '.*');
  }

  function authHeader() {
    const c = sessionStorage.getItem('agentmon.credentials') || '';
    if (!c) return {};
    return { Authorization: c.includes(':') ? 'Basic ' + btoa(c) : 'Bearer ' + c };
  }
  async function api(path, params, method) {
    const q = params ? '?' + new URLSearchParams(params).toString() : '';
    const r = await fetch(path + q, { method: method || 'GET', headers: authHeader(), cache: 'no-store' });
    let j = null;
    try { j = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok || !j || j.status === 'error')
      throw new Error((j && j.error) || (r.status + ' ' + r.statusText));
    return j.data !== undefined ? j.data : j;
  }
  const instant = (expr, w) => api('/api/v1/query', { query: expand(expr, w), time: w.end.toFixed(3) });
  const range = (expr, w) => api('/api/v1/query_range', { query: expand(expr, w), start: w.start.toFixed(3),
    end: w.end.toFixed(3), step: w.step });

  // Intl formatters, made once: toLocaleString() builds one per call, and
  // Chart.js formats every tick several times a draw (it was most of the
  // first render's time)
  const FORMATS = new Map();
  function formatter(key, make) {
    let f = FORMATS.get(key);
    if (!f) FORMATS.set(key, f = make());
    return f;
  }
  const numberFormat = (d) => formatter('n' + d, () => new Intl.NumberFormat(undefined, { maximumFractionDigits: d }));
  const clockFormat = (secs) => formatter(secs ? 'hms' : 'hm', () => new Intl.DateTimeFormat(undefined,
    { hour12: false, hour: '2-digit', minute: '2-digit', second: secs ? '2-digit' : undefined }));

  function fmt(v, unit) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    const n = (x, d) => numberFormat(d).format(x);
    switch (unit) {
      case 'percentunit': return n(v * 100, 1) + ' %';
      case 'percent': return n(v, 1) + ' %';
      case 's': return a === 0 ? '0 s' : a < 1e-3 ? n(v * 1e6, 0) + ' µs' : a < 1 ? n(v * 1e3, 1) + ' ms' : n(v, 2) + ' s';
      case 'ms': return n(v, 1) + ' ms';
      case 'bytes': {
        const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0, x = v;
        while (Math.abs(x) >= 1024 && i < u.length - 1) { x /= 1024; i++; }
        return n(x, 1) + ' ' + u[i];
      }
      case 'Bps': return fmt(v, 'bytes') + '/s';
      case 'reqps': case 'ops': return n(v, a < 10 ? 2 : 1) + '/s';
      case 'currencyUSD': return '$' + n(v, 2);
      default: return a >= 1e6 ? n(v / 1e6, 2) + ' M' : a >= 1e4 ? n(v / 1e3, 1) + ' k' : n(v, a < 10 ? 2 : 0);
    }
  }
  function labelOf(metric, legend) {
    const m = Object.assign({}, metric); delete m.__name__;
    if (legend) return legend.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => m[k] || '');
    const v = Object.values(m);
    return v.length ? v.join(' / ') : 'value';
  }
  // a time as the APIs give it (unix seconds, or RFC 3339) in seconds
  function secs(t) { return typeof t === 'number' ? t : Date.parse(t) / 1000; }
  function time(t) {
    return formatter('dt', () => new Intl.DateTimeFormat(undefined, { hour12: false, year: 'numeric', month: 'numeric',
      day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })).format(t * 1000);
  }

  // ---------------------------------------------------------------- export
  function toCSV(table) {
    const q = (v) => { const s = v === null || v === undefined ? '' : String(v); return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
    return [table.columns.map(q).join(','), ...table.rows.map((r) => r.map(q).join(','))].join('\n') + '\n';
  }
  function download(w, kind) {
    const t = w.table || { columns: [], rows: [] };
    const body = kind === 'csv' ? toCSV(t) : JSON.stringify(w.raw !== undefined ? w.raw : t, null, 1);
    const a = h('a', { href: URL.createObjectURL(new Blob([body], { type: kind === 'csv' ? 'text/csv' : 'application/json' })),
      download: w.id + '-' + S.page + '.' + kind });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
  }

  // ---------------------------------------------------------------- widgets
  function panelBox(id, title, cls) {
    const w = { id, table: null, raw: undefined };
    const dl = (k) => h('button', { type: 'button', 'aria-label': 'Download ' + title + ' as ' + k.toUpperCase(),
      onclick: () => download(w, k), 'data-download': k }, k.toUpperCase());
    const body = h('div', { class: 'body' });
    w.el = h('section', { class: 'panel ' + (cls || ''), 'data-panel': id, 'aria-label': title },
      h('h2', {}, h('span', { class: 't', title, text: title }), dl('csv'), dl('json')), body);
    w.body = body;
    return w;
  }
  function setError(w, e) {
    let el = w.el.querySelector('.err');
    if (!e) { if (el) el.remove(); return; }
    if (!el) { el = h('p', { class: 'err', role: 'status' }); w.el.append(el); }
    el.textContent = String(e.message || e);
  }

  function statWidget(id, p) {
    const w = panelBox(id, p.title, 'stat');
    const v = h('div', { class: 'value', 'data-value': '' }, '…');
    w.body.append(v);
    w.refresh = async (win_) => {
      const res = await Promise.all(p.targets.map((t) => instant(t.expr, win_)));
      const r = res[0].result || [];
      const x = r.length ? Number(r[0].value[1]) : null;
      v.textContent = p.unit === 'short' && x !== null && p.title.match(/alerts/i) ? String(x) : fmt(x, p.unit);
      v.classList.toggle('firing', !!(p.title.match(/alerts/i) && x > 0));
      w.raw = res;
      w.table = { columns: ['time', 'value'], rows: x === null ? [] : [[new Date(win_.end * 1000).toISOString(), x]] };
    };
    return w;
  }

  function chartOptions(unit) {
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue('--muted').trim(), grid = css.getPropertyValue('--line').trim();
    return {
      animation: false, parsing: false, normalized: true, responsive: true, maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 10, color: fg } },
        tooltip: { callbacks: { title: (it) => it.length ? time(it[0].parsed.x / 1000) : '',
          label: (c) => (c.dataset.$exemplars ? 'trace ' + c.raw.trace : c.dataset.label) + ': ' + fmt(c.parsed.y, unit) } } },
      scales: {
        x: { type: 'linear', ticks: { color: fg, maxTicksLimit: 6, callback: (v) => clockFormat(S.range === '5m').format(v) }, grid: { color: grid } },
        y: { beginAtZero: true, ticks: { color: fg, maxTicksLimit: 6, callback: (v) => fmt(v, unit) }, grid: { color: grid } },
      },
      elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 1.5, tension: 0 } },
    };
  }

  function chartWidget(id, p) {
    const w = panelBox(id, p.title);
    const canvas = h('canvas', { role: 'img', 'aria-label': p.title + ' chart' });
    const box = h('div', { class: 'chartbox' }, canvas);
    const note = h('p', { class: 'note', hidden: true });
    w.body.append(box, note);
    let chart = null;
    // Live refreshes ask only for the steps after the last one evaluated
    // (on the same grid: start + k * step), append them and drop what left
    // the range; a new range, page or filter builds the widget anew and
    // loads it whole.
    let store = null, lastEval = null, gridKey = null;
    w.refresh = async (win_) => {
      const key = win_.span + '/' + win_.step;
      let q = win_;
      if (store && gridKey === key && S.range !== 'custom' && lastEval !== null) {
        q = lastEval + win_.step <= win_.end ? Object.assign({}, win_, { start: lastEval + win_.step }) : null;
      } else {
        store = p.targets.map(() => new Map());
      }
      gridKey = key;
      // latency charts: the exemplars of their histograms, asked with the
      // lines (not after them: one round trip less before the chart draws)
      const exemplars = p.unit === 's' && p.targets.some((t) => t.expr.includes('_bucket'))
        ? Promise.all(p.targets.map((t) => api('/api/v1/query_exemplars',
          { query: expand(t.expr, win_), start: win_.start.toFixed(3), end: win_.end.toFixed(3) }).catch(() => [])))
        : null;
      if (q) {
        const got = await Promise.all(p.targets.map((t) => range(t.expr, q)));
        got.forEach((r, ti) => (r.result || []).forEach((s) => {
          const k = JSON.stringify(s.metric);
          if (!store[ti].has(k)) store[ti].set(k, { metric: s.metric, values: [] });
          const e = store[ti].get(k);
          for (const v of s.values) if (!e.values.length || v[0] > e.values[e.values.length - 1][0]) e.values.push(v);
        }));
        lastEval = q.start + Math.floor((q.end - q.start) / q.step) * q.step;
      }
      for (const m of store) for (const [k, e] of m) {
        let i = 0;
        while (i < e.values.length && e.values[i][0] < win_.start) i++;
        if (i) e.values.splice(0, i);
        if (!e.values.length) m.delete(k);
      }
      const res = store.map((m) => ({ resultType: 'matrix', result: [...m.values()] }));
      const ds = [];
      const cols = ['time'], byT = new Map();
      res.forEach((r, ti) => (r.result || []).forEach((s) => {
        const label = labelOf(s.metric, p.targets[ti].legend) || ('query ' + (ti + 1));
        const data = s.values.map(([t, v]) => ({ x: t * 1000, y: Number(v) })).filter((pt) => Number.isFinite(pt.y));
        const c = PALETTE[ds.length % PALETTE.length];
        ds.push({ label, data, borderColor: c, backgroundColor: c });
        cols.push(label);
        for (const pt of data) {
          if (!byT.has(pt.x)) byT.set(pt.x, {});
          byT.get(pt.x)[cols.length - 1] = pt.y;
        }
      }));
      w.raw = res;
      w.table = { columns: cols, rows: [...byT.keys()].sort((a, b) => a - b).map((t) => {
        const r = byT.get(t); return [new Date(t).toISOString(), ...cols.slice(1).map((_, i) => r[i + 1] ?? '')];
      }) };
      // the exemplars as points over the lines; a click opens the trace
      // page of that trace id
      if (exemplars) {
        const ex = await exemplars;
        const pts = [];
        for (const series of ex.flat()) for (const e of series.exemplars || [])
          if (e.labels && e.labels.trace_id) pts.push({ x: e.timestamp * 1000, y: Number(e.value), trace: e.labels.trace_id });
        if (pts.length) ds.push({ type: 'scatter', label: 'exemplars (click: trace)', data: pts.sort((a, b) => a.x - b.x),
          $exemplars: true, pointRadius: 3, pointHoverRadius: 5, borderColor: EXEMPLAR, backgroundColor: EXEMPLAR, showLine: false });
        w.exemplars = pts;
      }
      const empty = !ds.some((d) => d.data.length);
      note.hidden = !empty;
      note.textContent = empty ? (p.empty_note || 'No data in this range.') : '';
      box.hidden = empty;
      if (empty) { if (chart) { charts.splice(charts.indexOf(chart), 1); chart.destroy(); chart = null; } return; }
      if (!chart) {
        const onClick = (e) => {
          // the exemplar nearest to the click, of those under it
          const d2 = (el) => (el.element.x - e.x) ** 2 + (el.element.y - e.y) ** 2;
          const hit = chart.getElementsAtEventForMode(e, 'point', { intersect: true }, false)
            .filter((el) => chart.data.datasets[el.datasetIndex].$exemplars).sort((a, b) => d2(a) - d2(b))[0];
          // after Chart.js is done with the event: the trace page destroys this chart
          const trace = hit && chart.data.datasets[hit.datasetIndex].data[hit.index].trace;
          if (trace) setTimeout(() => go({ page: 'trace', trace }, true), 0);
        };
        chart = new Chart(canvas, { type: 'line', data: { datasets: ds }, options: Object.assign(chartOptions(p.unit), { onClick }) });
        chart.$panel = id;
        charts.push(chart);
      } else {
        chart.data.datasets = ds;
      }
      // the whole chosen range, so that a range's change shows
      chart.options.scales.x.min = win_.start * 1000;
      chart.options.scales.x.max = win_.end * 1000;
      chart.update('none');
      chart.$refreshed = refreshes;
    };
    return w;
  }

  function tableEl(columns, rows, opts) {
    const o = opts || {};
    const body = rows.length ? rows.map((r) => h('tr', {}, r.map((c, i) => {
      const cell = o.cell ? o.cell(c, i, r) : c;
      return h('td', { class: typeof c === 'number' ? 'num' : null }, cell instanceof Node ? cell : (typeof c === 'number' ? fmt(c, (o.units || [])[i]) : (c ?? '')));
    }))) : [h('tr', {}, h('td', { colspan: columns.length, class: 'note', text: o.empty || 'Nothing in this range.' }))];
    return h('div', { class: 'tablewrap' }, h('table', {}, h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', text: c })))), h('tbody', {}, body)));
  }
  function setTable(w, columns, rows, opts) {
    w.table = { columns, rows };
    const old = w.body.querySelector('.tablewrap');
    const t = tableEl(columns, rows, opts);
    if (old) old.replaceWith(t); else w.body.append(t);
  }
  function traceLink(id) {
    return id ? h('a', { href: query({ page: 'trace', trace: id }), 'data-trace': id }, id.slice(0, 12) + '…') : '';
  }

  // Rows of a store table (agentmon serve).
  function rowsWidget(id, spec) {
    const w = panelBox(id, spec.title, 'wide');
    w.refresh = async (win_) => {
      const params = { start: win_.start.toFixed(3), end: win_.end.toFixed(3), limit: 200 };
      if (S.session) params.session_id = S.session;
      if (S.agent) {
        const col = spec.columns.find(([c]) => /agent_id$/.test(c));
        if (col) params[col[0]] = S.agent;
      }
      if (S.provider && spec.table === 'llm') params.provider = S.provider;
      const rows = await api('/api/v1/metrics/' + spec.table, params);
      w.raw = rows;
      const last = rows.slice(-200).reverse();
      setTable(w, spec.columns.map((c) => c[1]), last.map((r) => spec.columns.map(([c]) => c === 'timestamp' ? time(secs(r[c])) : r[c])),
        { cell: (c, i) => spec.columns[i][0] === 'trace_id' ? traceLink(c) : c });
    };
    return w;
  }

  // Per-group summaries of a store table (agentmon serve): a chart of a percentile.
  function summaryWidget(id, spec) {
    const p = { title: spec.title, unit: spec.unit, targets: [] };
    const w = chartWidget(id, p);
    w.refresh = async (win_) => {
      const params = { start: win_.start.toFixed(3), end: win_.end.toFixed(3), step: Math.max(60, Math.ceil(win_.span / 60 / 60) * 60), group_by: spec.group_by };
      if (S.session) params.session_id = S.session;
      const d = await api('/api/v1/metrics/' + spec.table + '/summary', params);
      w.raw = d;
      const cols = ['time', 'group', 'count', 'error_rate', 'p50', 'p95', 'p99'];
      const rows = [];
      const ds = d.groups.map((g, i) => {
        const label = Object.values(g.group).join(' / ') || 'all';
        g.points.forEach((pt) => rows.push([pt.t, label, pt.count, pt.error_rate, pt.p50, pt.p95, pt.p99]));
        return { label, data: g.points.map((pt) => ({ x: Date.parse(pt.t), y: pt[spec.stat] })), borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length] };
      });
      w.table = { columns: cols, rows };
      drawInto(w, ds, spec.unit);
    };
    return w;
  }
  function drawInto(w, ds, unit) {
    const canvas = w.el.querySelector('canvas'), box = w.el.querySelector('.chartbox'), note = w.el.querySelector('.note');
    const empty = !ds.some((d) => d.data.length);
    note.hidden = !empty; note.textContent = empty ? 'No records in this range.' : '';
    box.hidden = empty;
    let chart = charts.find((c) => c.canvas === canvas);
    if (empty) { if (chart) { charts.splice(charts.indexOf(chart), 1); chart.destroy(); } return; }
    if (!chart) { chart = new Chart(canvas, { type: 'line', data: { datasets: ds }, options: chartOptions(unit) }); chart.$panel = w.id; charts.push(chart); }
    else { chart.data.datasets = ds; chart.update('none'); }
    chart.$refreshed = refreshes;
  }

  // Dead-letter queues, with list / replay / purge through the coordinator API.
  function dlqWidget(id, spec) {
    const w = panelBox(id, spec.title, 'wide');
    const status = h('p', { class: 'note', role: 'status', 'aria-live': 'polite', 'data-dlq-status': '' });
    const cred = h('input', { type: 'password', id: 'dlq-cred', autocomplete: 'off', size: 18,
      placeholder: 'token or user:password', value: sessionStorage.getItem('agentmon.credentials') || '' });
    cred.addEventListener('change', () => sessionStorage.setItem('agentmon.credentials', cred.value));
    const list = h('div', { class: 'dlqlist' });
    w.body.append(h('div', { class: 'row' }, h('label', { for: 'dlq-cred' }, 'Write credentials for actions '), cred), status);
    let open = null;
    async function act(agent, what, msgId) {
      const text = what === 'purge' ? `Purge every dead letter of ${agent}? They are deleted for good.`
        : msgId ? `Replay message ${msgId} to ${agent}'s queue?` : `Replay every dead letter of ${agent} to its queue?`;
      if (!window.confirm(text)) { status.textContent = 'Cancelled.'; return; }
      sessionStorage.setItem('agentmon.credentials', cred.value);
      try {
        const d = await api('/api/v1/dlq/' + encodeURIComponent(agent) + '/' + what, msgId ? { id: msgId } : null, 'POST');
        status.textContent = what === 'purge' ? `Purged ${d.purged} message(s) of ${agent}.` : `Replayed ${d.replayed} message(s) to ${agent}.`;
        status.dataset.done = what + ':' + (d.purged ?? d.replayed);
      } catch (e) {
        status.textContent = `${what} failed: ${e.message}` + (/401|403|credential|auth/i.test(e.message) ? ' (enter the write credentials above)' : '');
        status.dataset.done = 'error';
      }
      await w.refresh(win());
    }
    async function showList(agent) {
      open = agent;
      const entries = await api('/api/v1/dlq/' + encodeURIComponent(agent), { limit: 100 });
      const t = tableEl(['dead at', 'id', 'from', 'type', 'reason', 'error', 'attempts', ''],
        entries.map((e) => [time(e.dead_at), e.id, e.from, e.type, e.reason, e.error, e.attempts, '']),
        { empty: 'No dead letters.', cell: (c, i, r) => i === 7 ? h('button', { type: 'button', 'data-replay-id': r[1], onclick: () => act(agent, 'replay', r[1]) }, 'Replay') : c });
      list.replaceChildren(h('h3', { class: 'note', text: `Dead letters of ${agent}` }), t);
      w.raw = { agents: w.raw && w.raw.agents, entries };
    }
    w.refresh = async (win_) => {
      const r = await instant('messaging_dlq_length{agent=~"$agent"}', win_);
      const rows = (r.result || []).map((s) => [s.metric.agent, Number(s.value[1])]).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      setTable(w, ['agent', 'dead letters', 'actions'], rows.map((x) => [...x, '']), {
        cell: (c, i, row) => i !== 2 ? c : h('span', { class: 'row' },
          h('button', { type: 'button', 'data-dlq-list': row[0], onclick: () => showList(row[0]) }, 'List'),
          h('button', { type: 'button', 'data-dlq-replay': row[0], disabled: row[1] === 0, onclick: () => act(row[0], 'replay') }, 'Replay all'),
          h('button', { type: 'button', class: 'danger', 'data-dlq-purge': row[0], disabled: row[1] === 0, onclick: () => act(row[0], 'purge') }, 'Purge')) });
      w.table.rows = rows;
      w.raw = { agents: r.result };
      w.body.append(list);
      if (open) await showList(open);
    };
    return w;
  }

  // Instant-query tables (worker health, system details in the demo).
  function instantTable(id, spec) {
    const w = panelBox(id, spec.title, spec.wide ? 'wide' : '');
    w.refresh = async (win_) => {
      const res = await Promise.all(spec.queries.map((q) => instant(q.expr, win_)));
      const keyOf = (m) => spec.key.map((k) => m[k] || '').join('\u0000');
      const rows = new Map();
      res.forEach((r, qi) => (r.result || []).forEach((s) => {
        const k = keyOf(s.metric);
        if (!rows.has(k)) rows.set(k, [...spec.key.map((kk) => s.metric[kk] || ''), ...spec.queries.map(() => null)]);
        rows.get(k)[spec.key.length + qi] = Number(s.value[1]);
      }));
      w.raw = res;
      const list = [...rows.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
      setTable(w, [...spec.key_titles, ...spec.queries.map((q) => q.title)], list,
        { units: [...spec.key.map(() => ''), ...spec.queries.map((q) => q.unit)],
          cell: (c, i) => spec.queries[i - spec.key.length] && spec.queries[i - spec.key.length].map ? (spec.queries[i - spec.key.length].map[c] ?? c) : c });
    };
    return w;
  }

  // Who talks to whom: nodes on a circle, edges weighted by messages.
  function graphWidget(id, spec) {
    const w = panelBox(id, spec.title, 'wide graph');
    const svgBox = h('div', {});
    w.body.append(svgBox);
    w.refresh = async (win_) => {
      const span = Math.max(60, Math.round(win_.span)) + 's';
      const [msgs, proc] = await Promise.all([
        instant(`sum by (from_agent, to_agent, message_type) (increase(insa_agent_messages_total[${span}]))`, win_),
        instant(`histogram_quantile(0.95, sum by (agent, le) (rate(messaging_processing_seconds_bucket[${span}])))`, win_)]);
      const p95 = new Map((proc.result || []).map((s) => [s.metric.agent, Number(s.value[1])]));
      let edges = (msgs.result || []).map((s) => ({ from: s.metric.from_agent, to: s.metric.to_agent, type: s.metric.message_type, n: Number(s.value[1]) }));
      if (S.agent) edges = edges.filter((e) => e.from === S.agent || e.to === S.agent);
      edges = edges.filter((e) => e.n > 0);
      w.raw = { messages: msgs.result, processing_p95: proc.result };
      const names = [...new Set(edges.flatMap((e) => [e.from, e.to]))].sort();
      const W = 900, H = 420, R = 170, cx = W / 2, cy = H / 2;
      const pos = new Map(names.map((n, i) => [n, [cx + R * 1.9 * Math.cos(2 * Math.PI * i / names.length - Math.PI / 2), cy + R * Math.sin(2 * Math.PI * i / names.length - Math.PI / 2)]]));
      const NS = 'http://www.w3.org/2000/svg';
      const el = (t, a, txt) => { const e = document.createElementNS(NS, t); for (const [k, v] of Object.entries(a)) e.setAttribute(k, v); if (txt !== undefined) e.textContent = txt; return e; };
      const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Graph of messages between agents' });
      const defs = el('defs', {});
      const mk = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerUnits: 'userSpaceOnUse', markerWidth: '9', markerHeight: '9', orient: 'auto-start-reverse' });
      mk.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: 'currentColor' }));
      defs.append(mk); svg.append(defs);
      const max = Math.max(1, ...edges.map((e) => e.n));
      for (const e of edges) {
        const [x1, y1] = pos.get(e.from), [x2, y2] = pos.get(e.to);
        const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
        const sx = x1 + dx / len * 24, sy = y1 + dy / len * 24, tx = x2 - dx / len * 26, ty = y2 - dy / len * 26;
        const mx = (sx + tx) / 2 - dy / len * 18, my = (sy + ty) / 2 + dx / len * 18;
        const path = el('path', { class: 'edge', d: `M ${sx} ${sy} Q ${mx} ${my} ${tx} ${ty}`, 'stroke-width': (1 + 5 * e.n / max).toFixed(1), 'marker-end': 'url(#arrow)' });
        path.append(el('title', {}, `${e.from} → ${e.to} (${e.type}): ${Math.round(e.n)} messages`));
        svg.append(path);
      }
      for (const n of names) {
        const [x, y] = pos.get(n);
        const g = el('g', {});
        g.append(el('circle', { class: 'node', cx: x, cy: y, r: 22 }));
        g.append(el('text', { x, y: y + 36, 'text-anchor': 'middle' }, n));
        if (p95.has(n)) g.append(el('text', { x, y: y + 4, 'text-anchor': 'middle' }, fmt(p95.get(n), 's')));
        g.append(el('title', {}, `${n}: p95 processing ${fmt(p95.get(n), 's')}`));
        svg.append(g);
      }
      svgBox.replaceChildren(names.length ? svg : h('p', { class: 'note', text: 'No messages in this range.' }));
      edges.sort((a, b) => b.n - a.n);
      setTable(w, ['source', 'target', 'message type', 'messages', 'messages/s', 'target p95 processing'],
        edges.map((e) => [e.from, e.to, e.type, Math.round(e.n), e.n / win_.span, p95.get(e.to) ?? null]),
        { units: ['', '', '', 'short', 'reqps', 's'] });
    };
    return w;
  }

  // LLM cost: tokens in the range by provider and model times the price table.
  function costWidget(id, spec) {
    const w = panelBox(id, spec.title, 'wide');
    const note = h('p', { class: 'note' });
    w.body.append(note);
    const table = () => (CFG.prices_are_examples ? DEF.prices_example.rows : CFG.prices);
    const price = (prov, model) => table().find((p) => p.provider === prov && p.model === model) ||
      table().find((p) => p.provider === prov && p.model === '*');
    w.refresh = async (win_) => {
      const span = Math.max(60, Math.round(win_.span)) + 's';
      const r = await instant(`sum by (gen_ai_provider_name, gen_ai_request_model, gen_ai_token_type) (increase(gen_ai_client_token_usage_sum{gen_ai_provider_name=~"$provider"}[${span}]))`, win_);
      const m = new Map();
      for (const s of r.result || []) {
        const k = s.metric.gen_ai_provider_name + '\u0000' + s.metric.gen_ai_request_model;
        if (!m.has(k)) m.set(k, { provider: s.metric.gen_ai_provider_name, model: s.metric.gen_ai_request_model, input: 0, output: 0 });
        m.get(k)[s.metric.gen_ai_token_type === 'output' ? 'output' : 'input'] += Number(s.value[1]);
      }
      let total = 0;
      const rows = [...m.values()].map((x) => {
        const p = price(x.provider, x.model);
        const cost = p ? (x.input * p.input + x.output * p.output) / 1e6 : null;
        if (cost !== null) total += cost;
        return [x.provider, x.model, Math.round(x.input), Math.round(x.output), p ? p.input : null, p ? p.output : null, cost];
      });
      rows.push(['total', '', null, null, null, null, total]);
      w.raw = { tokens: r.result, prices: table(), currency: CFG.currency };
      note.textContent = `Prices per million tokens in ${CFG.currency}` + (CFG.prices_are_examples ? ' — example prices (set yours with --llm-price PROVIDER/MODEL=IN,OUT)' : ', from the configuration') + '.';
      setTable(w, ['provider', 'model', 'input tokens', 'output tokens', 'price in', 'price out', 'cost'], rows,
        { units: ['', '', 'short', 'short', '', '', 'currencyUSD'] });
    };
    return w;
  }

  // Alerts: pending and firing, the rules, silences, history (with a store).
  function alertsWidget(id, spec) {
    const w = panelBox(id, spec.title, 'wide');
    const parts = { alerts: h('div', {}), rules: h('div', {}), silences: h('div', {}), history: h('div', {}) };
    w.body.append(h('h3', { class: 'note', text: 'Pending and firing' }), parts.alerts, h('h3', { class: 'note', text: 'Rules' }), parts.rules,
      h('h3', { class: 'note', text: 'Silences' }), parts.silences, CFG.store ? h('h3', { class: 'note', text: 'History' }) : null, CFG.store ? parts.history : null);
    const put = (el, cols, rows, o) => el.replaceChildren(tableEl(cols, rows, o));
    w.refresh = async (win_) => {
      const [al, rules, sil] = await Promise.all([api('/api/v1/alerts'), api('/api/v1/rules', { type: 'alert' }), api('/api/v1/silences')]);
      const alerts = (al.alerts || []).filter((a) => !S.agent || Object.values(a.labels).some((v) => v === S.agent || v === S.agent.split(':')[0]));
      const rows = alerts.map((a) => [a.labels.alertname, a.state, a.labels.severity || '', Object.entries(a.labels).filter(([k]) => k !== 'alertname' && k !== 'severity').map(([k, v]) => k + '=' + v).join(', '), a.activeAt ? time(Date.parse(a.activeAt) / 1000) : '', (a.annotations && a.annotations.summary) || '']);
      put(parts.alerts, ['alert', 'state', 'severity', 'labels', 'since', 'summary'], rows, { empty: 'Nothing pending or firing.', cell: (c, i) => i === 1 ? h('span', { class: c, text: c }) : c });
      const rr = (rules.groups || []).flatMap((g) => g.rules.map((r) => [g.name, r.name, r.state || '', r.query, (r.alerts || []).length]));
      put(parts.rules, ['group', 'rule', 'state', 'expression', 'alerts'], rr, { empty: 'No rules loaded.', cell: (c, i) => i === 2 ? h('span', { class: c, text: c }) : c });
      const sl = (Array.isArray(sil) ? sil : []).map((s) => [s.id, (s.status && s.status.state) || '', s.matchers.map((m) => m.name + (m.isEqual === false ? '!' : '') + (m.isRegex ? '=~' : '=') + m.value).join(', '), s.startsAt, s.endsAt, s.createdBy, s.comment]);
      put(parts.silences, ['id', 'state', 'matchers', 'starts', 'ends', 'by', 'comment'], sl, { empty: 'No silences.' });
      let hist = [];
      if (CFG.store) {
        hist = await api('/api/v1/alerts/history', { start: win_.start.toFixed(3), end: win_.end.toFixed(3), limit: 200 });
        const hr = (Array.isArray(hist) ? hist : []).map((x) => [time(secs(x.timestamp)), x.alertname || '', x.state || '', x.labels ? Object.entries(x.labels).map(([k, v]) => k + '=' + v).join(', ') : '']);
        put(parts.history, ['time', 'alert', 'state', 'labels'], hr.reverse(), { empty: 'No changes in this range.' });
      }
      w.raw = { alerts: al, rules, silences: sil, history: hist };
      w.table = { columns: ['alert', 'state', 'severity', 'labels', 'since', 'summary'], rows };
    };
    return w;
  }

  // One trace: its log lines and records in time order, and the agents it visited.
  function traceWidget(id, spec) {
    const w = panelBox(id, spec.title, 'wide');
    const input = h('input', { id: 'trace-id', size: 36, value: S.trace, placeholder: '32 hex digits', pattern: '[0-9a-fA-F-]{32,36}', 'aria-label': 'Trace id' });
    const form = h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); go({ trace: input.value.trim() }, true); } },
      h('label', { for: 'trace-id' }, 'Trace id '), input, h('button', { type: 'submit' }, 'Show'));
    const path = h('p', { class: 'note', 'data-trace-path': '' });
    const events = h('div', {}), recent = h('div', {});
    w.body.append(form, path, events, h('h3', { class: 'note', text: 'Recent traces' }), recent);
    w.refresh = async (win_) => {
      const got = [];
      if (S.trace) {
        const jobs = [];
        if (CFG.logs) jobs.push(api('/api/v1/logs', { trace_id: S.trace, limit: 2000 }).then((lines) => lines.forEach((l) =>
          got.push({ t: Date.parse(l.timestamp) / 1000, agent: l.component || '', kind: 'log ' + (l.level || '').toLowerCase(), what: l.message + ' ' + JSON.stringify(Object.fromEntries(Object.entries(l).filter(([k]) => !['timestamp', 'level', 'component', 'message', 'trace_id'].includes(k)))) }))));
        if (CFG.store) for (const [table, agentCol, what] of [['task', 'agent_id', (r) => `${r.status} in ${fmt(r.duration, 's')}${r.error_type ? ' (' + r.error_type + ')' : ''}`],
          ['llm', 'agent_id', (r) => `${r.provider}/${r.model} ${r.status} in ${fmt(r.latency, 's')}, ${r.input_tokens ?? 0}+${r.output_tokens ?? 0} tokens`],
          ['communication', 'source_agent_id', (r) => `${r.source_agent_id} → ${r.target_agent_id} ${r.message_type} ${fmt(r.processing_time, 'ms')}`]])
          jobs.push(api('/api/v1/metrics/' + table, { trace_id: S.trace, start: 0, end: (Date.now() / 1000 + 60).toFixed(0), limit: 1000 }).then((rows) => rows.forEach((r) =>
            got.push({ t: secs(r.timestamp), agent: r[agentCol] || '', kind: table + ' record', what: what(r) }))));
        await Promise.all(jobs);
        got.sort((a, b) => a.t - b.t);
        const visited = [];
        for (const g of got) if (g.agent && visited[visited.length - 1] !== g.agent) visited.push(g.agent);
        path.textContent = got.length ? 'Agents visited, in order: ' + visited.join(' → ') : 'Nothing found for this trace id.';
      } else {
        path.textContent = 'Enter a trace id, or pick one below or from a table.';
      }
      events.replaceChildren(tableEl(['time', 'agent', 'kind', 'what'], got.map((g) => [new Date(g.t * 1000).toISOString().slice(11, 23), g.agent, g.kind, g.what]), { empty: S.trace ? 'Nothing recorded for this trace.' : 'No trace chosen.' }));
      w.table = { columns: ['time', 'agent', 'kind', 'what'], rows: got.map((g) => [new Date(g.t * 1000).toISOString(), g.agent, g.kind, g.what]) };
      w.raw = got;
      const seen = new Map();
      if (CFG.logs) {
        const lines = await api('/api/v1/logs', { limit: 400 });
        for (const l of lines.reverse()) if (l.trace_id && !seen.has(l.trace_id)) seen.set(l.trace_id, l);
      } else if (CFG.store) {
        const rows = await api('/api/v1/metrics/task', { start: win_.start.toFixed(3), end: win_.end.toFixed(3), limit: 200 });
        for (const r of rows.reverse()) if (r.trace_id && !seen.has(r.trace_id)) seen.set(r.trace_id, { timestamp: new Date(secs(r.timestamp) * 1000).toISOString(), component: r.agent_id, message: r.status });
      }
      recent.replaceChildren(tableEl(['time', 'trace', 'agent', 'last line'], [...seen.entries()].slice(0, 15).map(([t, l]) => [l.timestamp.slice(11, 23), t, l.component || '', l.message || '']),
        { empty: 'No traced lines yet.', cell: (c, i) => i === 1 ? traceLink(c) : c }));
    };
    return w;
  }

  // The session filter narrows what carries a session: the store's rows and
  // summaries (session_id), and PromQL panels whose queries use $session
  // (series with a session label). Any other PromQL panel says that the
  // filter does not apply, rather than show unfiltered numbers as filtered.
  function build(spec, i) {
    const w = make(spec, i);
    const promql = typeof spec === 'string' || ['table', 'graph', 'cost'].includes(spec.kind);
    const exprs = typeof spec === 'string' ? DEF.panels[spec].targets.map((t) => t.expr) : (spec.queries || []).map((q) => q.expr);
    if (w && S.session && promql && !exprs.some((e) => e.includes('$session')))
      w.el.querySelector('h2').after(h('p', { class: 'note', 'data-session-na': '',
        text: 'The session filter does not apply here: these series carry no session label.' }));
    return w;
  }
  function make(spec, i) {
    if (typeof spec === 'string') {
      const p = DEF.panels[spec];
      if (!p) return null;
      return p.type === 'stat' || p.type === 'gauge' ? statWidget(spec, p) : chartWidget(spec, p);
    }
    const id = spec.id || (spec.kind + '_' + i);
    if ((spec.kind === 'rows' || spec.kind === 'summary') && !CFG.store) return null;
    if (spec.kind === 'dlq' && !CFG.coordinator) return null;
    switch (spec.kind) {
      case 'rows': return rowsWidget(id, spec);
      case 'summary': return summaryWidget(id, spec);
      case 'dlq': return dlqWidget(id, spec);
      case 'table': return instantTable(id, spec);
      case 'graph': return graphWidget(id, spec);
      case 'cost': return costWidget(id, spec);
      case 'alerts': return alertsWidget(id, spec);
      case 'trace': return traceWidget(id, spec);
      default: return null;
    }
  }

  // ---------------------------------------------------------------- the page
  async function refresh(force) {
    if (busy || (!force && $('pause').checked) || document.hidden && !force) return;
    busy = true;
    const mine = gen, w_ = win();
    refreshes++;
    try {
      await Promise.all(widgets.map(async (w) => {
        try { await w.refresh(w_); if (mine === gen) setError(w, null); } catch (e) { if (mine === gen) setError(w, e); }
      }));
      $('live').textContent = 'updated ' + new Date().toLocaleTimeString(undefined, { hour12: false });
      document.body.dataset.refreshed = String(refreshes);
    } finally { busy = false; }
  }

  function render() {
    gen++;
    for (const c of charts) c.destroy();
    charts = []; widgets = [];
    const page = DEF.pages.find((p) => p.id === S.page) || DEF.pages[0];
    document.title = page.title + ' · ' + CFG.title;
    for (const a of $('pages').children) a.setAttribute('aria-current', a.dataset.page === page.id ? 'page' : 'false');
    for (const a of $('pages').children) a.href = query({ page: a.dataset.page });
    $('range').value = S.range in RANGES || S.range === 'custom' ? S.range : '1h';
    $('custom').hidden = S.range !== 'custom';
    $('from').value = S.from; $('to').value = S.to;
    $('session').value = S.session;
    for (const k of ['agent', 'provider']) {
      const sel = $(k);
      if (S[k] && ![...sel.options].some((o) => o.value === S[k])) sel.append(h('option', { value: S[k] }, S[k]));
      sel.value = S[k];
    }
    const main = $('main');
    main.replaceChildren();
    const stats = h('div', { class: 'stats' });
    page.widgets.forEach((spec, i) => {
      const w = build(spec, i);
      if (!w) return;
      widgets.push(w);
      if (w.el.classList.contains('stat')) { if (!stats.parentNode) main.append(stats); stats.append(w.el); } else main.append(w.el);
    });
    document.body.dataset.page = page.id;
    return refresh(true);
  }

  async function fillFilters() {
    const w_ = win();
    const opts = async (id, expr, label) => {
      try {
        const r = await instant(expr, w_);
        const sel = $(id), have = new Set([...sel.options].map((o) => o.value));
        for (const v of [...new Set((r.result || []).map((s) => s.metric[label]))].filter(Boolean).sort())
          if (!have.has(v)) sel.append(h('option', { value: v }, v));
        sel.value = S[id];
      } catch (e) { /* the filter keeps "all" */ }
    };
    await Promise.all([opts('agent', 'count by (agent) (messaging_queue_length)', 'agent'),
      opts('provider', 'count by (provider) (ccr_requests_total)', 'provider')]);
  }

  async function start() {
    S = readState();
    [DEF, CFG] = await Promise.all([fetch('/ui/panels.json').then((r) => r.json()), api('/api/v1/dashboard')]);
    $('title').textContent = CFG.title;
    $('storenote').textContent = CFG.store ? ', and the store\'s records' : '';
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    $('pages').replaceChildren(...DEF.pages.map((p) => h('a', { href: query({ page: p.id }), 'data-page': p.id,
      onclick: (e) => { if (e.ctrlKey || e.metaKey || e.shiftKey) return; e.preventDefault(); go({ page: p.id }, true); } }, p.title)));
    $('range').addEventListener('change', () => {
      $('custom').hidden = $('range').value !== 'custom';
      if ($('range').value !== 'custom') go({ range: $('range').value }, true);
    });
    for (const id of ['agent', 'provider']) $(id).addEventListener('change', () => go({ [id]: $(id).value }, true));
    $('controls').addEventListener('submit', (e) => {
      e.preventDefault();
      go({ range: $('range').value, from: $('from').value, to: $('to').value, session: $('session').value.trim() }, true);
    });
    window.addEventListener('popstate', () => { S = readState(); render(); });
    // trace links anywhere: stay on this page (a new tab still works)
    $('main').addEventListener('click', (e) => {
      const a = e.target.closest('a[data-trace]');
      if (!a || e.ctrlKey || e.metaKey || e.shiftKey) return;
      e.preventDefault();
      go({ page: 'trace', trace: a.dataset.trace }, true);
    });
    document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(true); });
    // the filters' choices fill in once the panels have drawn: not a round
    // trip before the first chart, nor two requests competing with the
    // panels' for the browser's six connections (the URL already holds the
    // chosen ones)
    render().then(fillFilters);
    timer = setInterval(() => refresh(false), REFRESH_MS);
  }

  // For tests and the curious: the page's state, its charts and a way to wait.
  window.agentmonDashboard = {
    state: () => S, refreshes: () => refreshes, refresh: () => refresh(true),
    charts: () => charts.map((c) => ({ panel: c.$panel, refreshed: c.$refreshed, points: c.data.datasets.reduce((n, d) => n + d.data.length, 0),
      firstX: Math.min(...c.data.datasets.flatMap((d) => d.data.map((p) => p.x))) })),
    widgets: () => widgets.map((w) => ({ id: w.id, rows: w.table ? w.table.rows.length : null, error: (w.el.querySelector('.err') || {}).textContent || null })),
    // where on the screen an exemplar point of a chart is (the one farthest
    // from the others, so that a click finds it alone), and its trace id
    exemplarPoint: () => {
      for (const c of charts) {
        const i = c.data.datasets.findIndex((d) => d.$exemplars);
        if (i < 0) continue;
        c.canvas.scrollIntoView({ block: 'center' });
        const el = c.getDatasetMeta(i).data, r = c.canvas.getBoundingClientRect();
        const alone = (j) => Math.min(Infinity, ...el.map((o, k) => k === j ? Infinity : Math.hypot(o.x - el[j].x, o.y - el[j].y)));
        let j = -1;
        for (let k = 0; k < el.length; k++) if (j < 0 || alone(k) > alone(j)) j = k;
        if (j >= 0) return { panel: c.$panel, x: r.left + el[j].x, y: r.top + el[j].y, trace: c.data.datasets[i].data[j].trace, alone_px: alone(j) };
      }
      return null;
    },
  };
  document.addEventListener('DOMContentLoaded', () => start().catch((e) => {
    $('main').replaceChildren(h('p', { class: 'err', role: 'alert', text: 'The dashboard could not start: ' + e.message }));
  }));
})();
