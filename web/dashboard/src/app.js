// Titan's live dashboard: one panel per /v1/analytics view, refreshed every REFRESH_MS. The
// data-metric names every panel shows are listed at the top of index.html; keep them in step.
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement,
  PointElement, Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement,
  PointElement, Tooltip);

const REFRESH_MS = 5000;
// A view that has not answered by then counts as failed for this refresh; the API's own deadline
// is shorter, so this only catches a connection that hangs.
const FETCH_TIMEOUT_MS = 8000;
const COLORS = ['#2e6fdb', '#e8833a', '#3aa757', '#c7443b', '#8b5cc7', '#8c6d31', '#d46fb4', '#6b7280',
  '#17a2b8', '#b5a316'];

// The window and list sizes of the page's own query string, passed on to every view.
function viewQuery() {
  const own = new URLSearchParams(window.location.search);
  const q = new URLSearchParams();
  for (const name of ['minutes', 'from', 'to']) {
    if (own.has(name)) q.set(name, own.get(name));
  }
  return q;
}

async function fetchView(path, extra) {
  const q = viewQuery();
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  const own = new URLSearchParams(window.location.search);
  if (extra && 'limit' in extra && own.has('limit')) q.set('limit', own.get('limit'));
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
  try {
    const res = await fetch(`/v1/analytics/${path}?${q}`, { cache: 'no-store', signal: ctl.signal });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(body.message || `HTTP ${res.status}`);
      err.code = body.code || `http_${res.status}`;
      throw err;
    }
    return body;
  } catch (e) {
    if (!e.code) e.code = e.name === 'AbortError' ? 'timeout' : 'network';
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

// --- numbers as text -------------------------------------------------------------------------

function rate(x) {
  return String(Math.round(x * 10000) / 10000);
}

// metrics renders a panel's numbers: [label, data-metric name, value, text?] each.
function metrics(panel, items) {
  const box = panel.querySelector('.metrics');
  const nodes = items.map(([label, name, value, text]) => {
    const item = document.createElement('div');
    item.className = 'metric';
    const l = document.createElement('span');
    l.className = 'label';
    l.textContent = label;
    const v = document.createElement('span');
    v.className = 'value';
    v.dataset.metric = name;
    v.dataset.value = String(value);
    v.textContent = text === undefined ? String(value) : text;
    item.append(l, v);
    return item;
  });
  box.replaceChildren(...nodes);
}

function windowItems(view) {
  return [['from', 'window-from', view.from], ['to', 'window-to', view.to]];
}

// --- minutes on the x axis -------------------------------------------------------------------

// minutes lists the minutes of a view's window (those starting inside [from, to)), as the API
// keys them, so that a chart shows minutes without rows as gaps of zero.
function minutes(view) {
  const out = [];
  const step = 60000;
  const from = Date.parse(view.from);
  let m = Math.ceil(from / step) * step;
  const to = Date.parse(view.to);
  for (; m < to && out.length < 10080; m += step) out.push(m);
  return out;
}

function label(ms) {
  return new Date(ms).toISOString().slice(11, 16);
}

function byMinute(rows) {
  const map = new Map();
  for (const r of rows) map.set(Date.parse(r.minute), r);
  return map;
}

// --- charts ----------------------------------------------------------------------------------

const charts = new Map();

// chart draws a panel's chart, created on the first refresh and updated in place after. A chart
// that cannot be drawn (no canvas, as in a DOM without layout) marks the panel data-chart="error"
// and leaves its numbers, which the page is read by, as they are.
function chart(panel, type, data, options) {
  const name = panel.dataset.view;
  try {
    let c = charts.get(name);
    if (!c) {
      c = new Chart(panel.querySelector('canvas'), {
        type,
        data,
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          interaction: { mode: 'index', intersect: false },
          plugins: { legend: { position: 'bottom' } },
          ...options,
        },
      });
      if (!c.ctx) throw new Error('no canvas context');
      charts.set(name, c);
    } else {
      c.data = data;
      c.update('none');
    }
    panel.dataset.chart = 'ok';
  } catch (e) {
    panel.dataset.chart = 'error';
    console.warn(`chart ${name}: ${e.message}`);
  }
}

function color(i) {
  return COLORS[i % COLORS.length];
}

// --- the views -------------------------------------------------------------------------------

function renderOrders(panel, v) {
  const t = v.totals;
  const items = [
    ['orders', 'orders-total', t.orders], ['confirmed', 'orders-confirmed', t.confirmed],
    ['rejected', 'orders-rejected', t.rejected],
  ];
  for (const c of t.by_currency) {
    items.push([`GMV ${c.currency}`, `gmv-${c.currency}`, c.gmv_minor], [`units ${c.currency}`, `units-${c.currency}`, c.units],
      [`orders ${c.currency}`, `orders-${c.currency}`, c.orders]);
  }
  metrics(panel, items.concat(windowItems(v)));
  const mins = minutes(v);
  const rows = byMinute(v.minutes);
  const at = (m) => rows.get(m);
  const datasets = [
    { type: 'bar', label: 'confirmed', stack: 'orders', backgroundColor: color(2), data: mins.map((m) => at(m)?.confirmed ?? 0) },
    { type: 'bar', label: 'rejected', stack: 'orders', backgroundColor: color(3), data: mins.map((m) => at(m)?.rejected ?? 0) },
  ];
  t.by_currency.forEach((c, i) => {
    datasets.push({
      type: 'line', label: `GMV ${c.currency} (minor units)`, yAxisID: 'gmv', borderColor: color(i), pointRadius: 0,
      data: mins.map((m) => at(m)?.by_currency.find((x) => x.currency === c.currency)?.gmv_minor ?? 0),
    });
  });
  chart(panel, 'bar', { labels: mins.map(label), datasets }, {
    scales: { y: { stacked: true, beginAtZero: true, title: { display: true, text: 'orders' } },
      x: { stacked: true }, gmv: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } } },
  });
}

function renderFlashSales(panel, v) {
  const items = [['sales', 'sales-total', v.sales.length]];
  for (const s of v.sales) {
    items.push([`${s.sale_id} units`, `sale-units-${s.sale_id}`, s.units], [`${s.sale_id} sold`, `sale-sold-${s.sale_id}`, s.sold],
      [`${s.sale_id} sell-through`, `sale-sell-through-${s.sale_id}`, s.sell_through, rate(s.sell_through)]);
  }
  metrics(panel, items.concat(windowItems(v)));
  const mins = minutes(v);
  const datasets = v.sales.map((s, i) => {
    const rows = byMinute(s.minutes);
    let last = null;
    return {
      label: `${s.sale_id} (${s.sku || 'unknown SKU'})`, borderColor: color(i), stepped: true, pointRadius: 2,
      data: mins.map((m) => {
        if (rows.has(m)) last = rows.get(m).sell_through;
        return last;
      }),
    };
  });
  chart(panel, 'line', { labels: mins.map(label), datasets }, {
    scales: { y: { min: 0, max: 1, title: { display: true, text: 'sell-through' } } },
  });
}

function renderReservations(panel, v) {
  const t = v.totals;
  metrics(panel, [
    ['reserved', 'reserved-total', t.reserved], ['committed', 'committed-total', t.committed],
    ['released', 'released-total', t.released], ['expired', 'expired-total', t.expired],
    ['rejected', 'reservations-rejected-total', t.rejected], ['units reserved', 'reserved-units-total', t.reserved_units],
    ['conversion', 'conversion-rate', t.conversion_rate, rate(t.conversion_rate)],
    ['expiry', 'expiry-rate', t.expiry_rate, rate(t.expiry_rate)],
  ].concat(windowItems(v)));
  const mins = minutes(v);
  const rows = byMinute(v.minutes);
  const series = (key) => mins.map((m) => rows.get(m)?.[key] ?? 0);
  const rateSeries = (key) => mins.map((m) => (rows.get(m)?.reserved ? rows.get(m)[key] : null));
  chart(panel, 'bar', {
    labels: mins.map(label),
    datasets: [
      { label: 'reserved', backgroundColor: color(0), data: series('reserved') },
      { label: 'committed', backgroundColor: color(2), data: series('committed') },
      { label: 'expired', backgroundColor: color(3), data: series('expired') },
      { label: 'released', backgroundColor: color(7), data: series('released') },
      { type: 'line', label: 'conversion rate', yAxisID: 'rate', borderColor: color(4), spanGaps: true, data: rateSeries('conversion_rate') },
      { type: 'line', label: 'expiry rate', yAxisID: 'rate', borderColor: color(1), spanGaps: true, data: rateSeries('expiry_rate') },
    ],
  }, {
    scales: { y: { beginAtZero: true }, rate: { position: 'right', min: 0, max: 1, grid: { drawOnChartArea: false } } },
  });
}

function renderFraud(panel, v) {
  const items = [['decisions', 'fraud-total', v.decisions]];
  for (const o of v.by_outcome) items.push([o.outcome, `fraud-outcome-${o.outcome}`, o.decisions]);
  const reasons = new Map();
  for (const r of v.by_reason) reasons.set(r.reason, (reasons.get(r.reason) || 0) + r.decisions);
  for (const [reason, n] of reasons) items.push([reason, `fraud-${reason}`, n]);
  for (const r of v.by_reason) items.push([`${r.reason} (${r.outcome})`, `fraud-${r.reason}-${r.outcome}`, r.decisions]);
  metrics(panel, items.concat(windowItems(v)));
  const labels = [...reasons.keys()];
  const outcomes = [...new Set(v.by_reason.map((r) => r.outcome))].sort();
  const outcomeColor = { approve: color(2), review: color(1), reject: color(3) };
  chart(panel, 'bar', {
    labels,
    datasets: outcomes.map((o, i) => ({
      label: o, backgroundColor: outcomeColor[o] || color(i + 4),
      data: labels.map((reason) => v.by_reason.find((r) => r.reason === reason && r.outcome === o)?.decisions ?? 0),
    })),
  }, { indexAxis: 'y', scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } } });
}

function renderPrices(panel, v) {
  const items = [];
  for (const p of v.skus) {
    items.push([`${p.sku} changes`, `price-changes-${p.sku}`, p.changes], [`${p.sku} price`, `price-${p.sku}`, p.price_minor],
      [`${p.sku} currency`, `price-currency-${p.sku}`, p.currency]);
  }
  metrics(panel, items.concat(windowItems(v)));
  chart(panel, 'bar', {
    labels: v.skus.map((p) => p.sku),
    datasets: [{ label: 'price changes', backgroundColor: color(4), data: v.skus.map((p) => p.changes) }],
  }, { scales: { y: { beginAtZero: true } } });
}

function renderTopSKUs(panel, v) {
  const units = new Map();
  const orders = new Map();
  for (const s of v.skus) {
    units.set(s.sku, (units.get(s.sku) || 0) + s.units);
    orders.set(s.sku, (orders.get(s.sku) || 0) + s.orders);
  }
  const items = [];
  for (const [sku, n] of units) items.push([`${sku} units`, `sku-units-${sku}`, n], [`${sku} orders`, `sku-orders-${sku}`, orders.get(sku)]);
  for (const s of v.skus) items.push([`${s.sku} revenue ${s.currency}`, `sku-revenue-${s.sku}-${s.currency}`, s.revenue_minor]);
  metrics(panel, items.concat(windowItems(v)));
  chart(panel, 'bar', {
    labels: v.skus.map((s) => `${s.sku} (${s.currency})`),
    datasets: [{ label: 'units', backgroundColor: color(0), data: v.skus.map((s) => s.units) }],
  }, { indexAxis: 'y', scales: { x: { beginAtZero: true } } });
}

function renderStockouts(panel, v) {
  const t = v.totals;
  const items = [['stock-outs', 'stockouts-total', t.stockouts], ['refusals', 'refusals-total', t.refusals],
    ['refused units', 'refused-units-total', t.refused_units]];
  for (const s of v.skus) {
    items.push([`${s.sku} stock-outs`, `stockouts-${s.sku}`, s.stockouts], [`${s.sku} refusals`, `refusals-${s.sku}`, s.refusals],
      [`${s.sku} refused units`, `refused-units-${s.sku}`, s.refused_units]);
  }
  metrics(panel, items.concat(windowItems(v)));
  chart(panel, 'bar', {
    labels: v.skus.map((s) => s.sku),
    datasets: [
      { label: 'stock-outs', backgroundColor: color(3), data: v.skus.map((s) => s.stockouts) },
      { label: 'refusals', backgroundColor: color(1), data: v.skus.map((s) => s.refusals) },
    ],
  }, { scales: { y: { beginAtZero: true } } });
}

const VIEWS = [
  { name: 'orders', path: 'orders', render: renderOrders },
  { name: 'flashsales', path: 'flashsales', render: renderFlashSales },
  { name: 'reservations', path: 'reservations', render: renderReservations },
  { name: 'fraud', path: 'fraud', render: renderFraud },
  { name: 'prices', path: 'prices', extra: { limit: '10' }, render: renderPrices },
  { name: 'top-skus', path: 'top-skus', extra: { by: 'units', limit: '10' }, render: renderTopSKUs },
  { name: 'stockouts', path: 'stockouts', extra: { limit: '10' }, render: renderStockouts },
];

// --- the refresh loop ------------------------------------------------------------------------

let refreshes = 0;

function problem(panel, e) {
  panel.dataset.state = 'error';
  let p = panel.querySelector('.problem');
  if (!p) {
    p = document.createElement('p');
    p.className = 'problem';
    panel.querySelector('.metrics').before(p);
  }
  p.dataset.error = e.code;
  p.textContent = `${e.code}: ${e.message}`;
}

async function refresh() {
  const results = await Promise.allSettled(VIEWS.map((v) => fetchView(v.path, v.extra)));
  const failed = [];
  results.forEach((r, i) => {
    const v = VIEWS[i];
    const panel = document.querySelector(`[data-view="${v.name}"]`);
    if (r.status === 'rejected') {
      failed.push(r.reason.code);
      problem(panel, r.reason);
      return;
    }
    try {
      v.render(panel, r.value);
      panel.dataset.state = 'ok';
      panel.querySelector('.problem')?.remove();
      if (i === 0) document.getElementById('window').textContent = `${r.value.from} to ${r.value.to} (UTC)`;
    } catch (e) {
      e.code = 'render';
      failed.push(e.code);
      problem(panel, e);
    }
  });
  const status = document.getElementById('status');
  if (failed.length === 0) {
    refreshes += 1;
    delete document.body.dataset.error;
    document.body.dataset.loaded = String(refreshes);
    status.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  } else {
    document.body.dataset.error = [...new Set(failed)].join(' ');
    status.textContent = `failed: ${document.body.dataset.error}`;
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, REFRESH_MS);
}

loop();
