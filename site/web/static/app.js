// Atoll dashboard: renders the site's GET /v1/view, kept current by the /v1/stream
// server-sent events, or by polling /v1/view while the stream is down. Read-only.
// The site serves it to charter identities only: GET /v1/whoami says who the login
// cookie is; without one the page shows a form that POSTs a token to /v1/login and,
// when GET /v1/login/methods names an OpenID provider, a link to sign in there
// (v1/oidc/login, which comes back to this page with a session cookie).
// Every value from the API reaches the page through textContent or a data-* attribute.
'use strict';

(() => {
  const POLL_MS = 2000; // polling period while the stream is down
  const RETRY_MS = 15000; // before opening a stream again after it failed for good
  const MAX_EVENTS = 100;

  const $ = (id) => document.getElementById(id);

  // h builds an element: h('td', {class: 'x', data: {field: 'ready'}}, 'text', node, [more]).
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'data') for (const [dk, dv] of Object.entries(v)) { if (dv != null) el.dataset[dk] = String(dv); }
      else if (k === 'class') el.className = v;
      else el.setAttribute(k, String(v));
    }
    for (const c of kids.flat(Infinity)) if (c != null && c !== false && c !== '') el.append(c instanceof Node ? c : String(c));
    return el;
  }
  const badge = (text, kind, data) => h('span', {class: 'badge ' + (kind || ''), data}, text);
  const muted = (text) => h('span', {class: 'muted'}, text);
  // A Job's counts (summed, or one cluster's) and, once it finished, how.
  const jobCounts = (j) => h('span', {class: 'job', data: {field: 'job'}},
    h('b', {}, j.succeeded), muted(' succeeded · '), j.active, muted(' active · '), j.failed, muted(' failed'));
  const finished = (j) => j.finished && badge(j.finished, j.finished === 'Failed' ? 'bad' : 'ok', {field: 'finished'});
  const ratio = (ready, desired) => h('span', {class: 'ratio' + (ready < desired ? ' short' : '')},
    h('b', {data: {field: 'ready'}}, ready), ' / ', h('span', {data: {field: 'desired'}}, desired));

  // A share (scheduler.Share embedded in a placement) in either spelling of its fields.
  const share = (o) => ({
    name: o.Name ?? o.name, replicas: o.Replicas ?? o.replicas ?? 0, base: o.Base ?? o.base ?? 0,
    takeover: o.Takeover ?? o.takeover ?? 0, hold: o.Hold ?? o.hold ?? 0, reason: o.Reason ?? o.reason ?? '',
  });

  // ago: how long before the view's own time t was, in a few characters.
  function ago(t, at) {
    if (!t || t.startsWith('0001-')) return '';
    let s = Math.max(0, (Date.parse(at) - Date.parse(t)) / 1000);
    if (!Number.isFinite(s)) return '';
    for (const [n, u] of [[86400, 'd'], [3600, 'h'], [60, 'm']]) if (s >= n) return Math.floor(s / n) + u;
    return Math.floor(s) + 's';
  }
  const since = (t, at) => { const a = ago(t, at); return a && h('span', {class: 'since', title: t}, a); };
  const clock = (t) => { const d = new Date(t); return isNaN(d) ? '' : d.toLocaleTimeString([], {hour12: false}); };

  // qty parses a Kubernetes quantity ("500m", "16Gi", "1e3") to a number.
  function qty(s) {
    const m = /^([0-9.]+(?:e[0-9]+)?)([a-zA-Z]*)$/.exec(String(s || '').trim());
    if (!m) return NaN;
    const mult = {'': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
      Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60}[m[2]];
    return mult === undefined ? NaN : parseFloat(m[1]) * mult;
  }
  function amount(res, n) {
    if (!Number.isFinite(n)) return '?';
    if (res === 'memory') {
      for (const [u, d] of [['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]]) if (n >= d) return +(n / d).toFixed(1) + u;
      return n + 'B';
    }
    if (res === 'cpu' && n > 0 && n < 1) return Math.round(n * 1000) + 'm';
    return String(+n.toFixed(1));
  }

  // table: column labels, then rows; each cell's label is repeated in data-label for the
  // stacked layout of narrow screens.
  function table(labels, rows, empty) {
    if (!rows.length) return h('p', {class: 'empty'}, empty);
    return h('div', {class: 'scroll'}, h('table', {},
      h('thead', {}, h('tr', {}, labels.map((l) => h('th', {scope: 'col'}, l)))),
      h('tbody', {}, rows.map(([attrs, cells]) => h('tr', attrs,
        cells.map((c, i) => h('td', {data: {label: labels[i], field: c.field}}, h('div', {}, c.kids ?? c))))))));
  }
  const cell = (field, ...kids) => ({field, kids});

  function siteState(s) {
    if (s.alive && s.live) return badge('alive', 'ok');
    if (s.alive) return badge('suspect', 'warn'); // lost, but within the scheduler's hysteresis
    if (s.live) return badge('returning', 'warn');
    return badge('down', 'bad');
  }
  function syncState(s) {
    if (s.self) return badge('this site', 'info');
    if (!s.live) return muted('unknown');
    if (s.inSync) return badge('in sync', 'ok', {sync: 'in'});
    if (s.lagSeconds > 0) return badge('lag ' + s.lagSeconds.toFixed(1) + ' s', 'warn', {sync: 'lag'});
    return badge('catching up', 'warn', {sync: 'diff'});
  }

  function renderSites(v) {
    return table(['Site', 'Region', 'Jurisdiction', 'Status', 'Sync', 'Clusters', 'Replicas'], v.sites.map((s) => [
      {data: {site: s.name, alive: s.alive, live: s.live}, class: s.self ? 'self' : ''},
      [cell('name', h('strong', {}, s.name), s.self && badge('here', 'info')), cell('region', s.region),
        cell('jurisdiction', badge(s.jurisdiction, 'jur')), cell('alive', siteState(s), ' ', since(s.since, v.at)),
        cell('sync', syncState(s)), cell('clusters', s.clusters), cell('replicas', ratio(s.ready, s.desired))],
    ]), 'No sites in the charter.');
  }

  // capacity: cpu, memory and pods, then the extended resources (nvidia.com/gpu, ...:
  // names with a domain prefix) in name order, each free of allocatable with a bar; and
  // what the site left out of what the cluster published (c.ignored).
  function capacity(c) {
    const alloc = c.allocatable || {}, avail = c.available || {};
    const extended = Object.keys(alloc).filter((r) => r.includes('/')).sort();
    const rows = ['cpu', 'memory', 'pods'].filter((r) => r in alloc).concat(extended).map((r) => {
      const total = qty(alloc[r]), free = r in avail ? qty(avail[r]) : NaN;
      const bar = h('span', {class: 'bar'}, h('span', {}));
      const used = total > 0 && Number.isFinite(free) ? Math.min(1, Math.max(0, 1 - free / total)) : 0;
      bar.firstChild.style.width = (100 * used).toFixed(1) + '%'; // CSSOM, which the page's CSP allows
      bar.classList.toggle('full', used >= 0.9);
      return h('div', {class: r.includes('/') ? 'cap ext' : 'cap', data: {resource: r}, title: Math.round(100 * used) + '% in use'}, h('span', {class: 'res'}, r),
        h('span', {class: 'num'}, h('b', {}, amount(r, free)), muted(' free of ' + amount(r, total))), bar);
    });
    if (c.ignored && c.ignored.length) rows.push(h('div', {class: 'sub', data: {field: 'ignored'}}, 'not read: ' + c.ignored.join('; ')));
    return rows.length ? rows : muted('not reported');
  }

  function renderClusters(v) {
    return table(['Cluster', 'Health', 'Version', 'Nodes', 'Capacity', 'Replicas'], v.clusters.map((c) => [
      {data: {cluster: c.site + '/' + c.name, healthy: c.healthy}},
      [cell('name', h('strong', {}, c.name), muted(' @ ' + c.site),
        (c.region || c.zone) && h('div', {class: 'sub'}, [c.provider, c.region, c.zone].filter(Boolean).join(' · '))),
      cell('health', c.healthy ? badge('healthy', 'ok') : badge('unhealthy', 'bad'), c.reason && h('div', {class: 'sub'}, c.reason)),
      cell('version', c.version || muted('?')), cell('nodes', ratio(c.readyNodes, c.nodes)),
      cell('capacity', capacity(c)), cell('replicas', ratio(c.ready, c.desired))],
    ]), 'No member clusters have joined.');
  }

  function shareLine(sh, extra) {
    return [h('span', {class: 'n', data: {field: 'replicas'}}, sh.replicas), sh.base !== sh.replicas && muted(' (base ' + sh.base + ')'),
      sh.takeover > 0 && badge('takeover +' + sh.takeover, 'warn'), sh.hold > 0 && badge('hold ' + sh.hold, 'info'), extra,
      sh.reason && h('span', {class: 'reason'}, sh.reason)];
  }

  function renderWorkload(w, v) {
    const mode = w.duplicated ? 'Duplicated' : 'Divided';
    const sites = (w.sites || []).map((p) => {
      const sh = share(p);
      return h('li', {class: sh.replicas > 0 ? '' : 'idle', data: {site: sh.name, alive: p.alive}},
        h('div', {class: 'line'}, h('span', {class: 'dot ' + (p.alive ? 'ok' : 'bad'), title: p.alive ? 'alive' : 'down'}),
          h('strong', {}, sh.name), shareLine(sh), since(p.since, v.at)),
        p.clusters && h('ul', {class: 'clusters'}, p.clusters.map((c) => {
          const cs = share(c);
          return h('li', {data: {cluster: cs.name}}, h('div', {class: 'line'}, h('span', {class: 'cname'}, cs.name),
            shareLine(cs, [h('span', {class: 'applied'}, 'ready ', ratio(c.ready, c.desired)), c.job && jobCounts(c.job), c.job && finished(c.job)]),
            since(c.since, v.at)));
        })));
    });
    return h('article', {class: 'card', data: {detail: w.workload}},
      h('header', {}, h('h3', {}, w.workload),
        h('div', {class: 'tags'}, w.kind && badge(w.kind, '', {field: 'kind'}), badge(mode, 'mode', {field: 'mode'}),
          (w.bound || []).map((b) => badge(b, 'jur')), w.redacted && badge('header only', 'lock'))),
      h('p', {class: 'stats'},
        h('span', {}, muted('replicas '), h('b', {data: {field: 'replicas'}}, w.replicas < 0 ? '–' : w.replicas)),
        h('span', {}, muted('ready '), ratio(w.ready, w.desired)),
        w.job && jobCounts(w.job), w.job && finished(w.job),
        w.missing > 0 && badge(w.missing + ' missing', 'bad', {field: 'missing'}),
        w.policy && h('span', {class: 'sub'}, 'policy ' + w.policy)),
      w.error && h('p', {class: 'error', data: {field: 'error'}}, w.error),
      w.conditions && w.conditions.length > 0 && h('ul', {class: 'conditions', data: {field: 'conditions'}}, w.conditions.map((c) => h('li', {}, c))),
      sites.length > 0 && h('ul', {class: 'shares'}, sites));
  }

  // The workloads list is virtual: a scroller of fixed-height rows (--row-h in the
  // stylesheet) that holds only the rows in sight and OVERSCAN on either side, so the
  // page stays as quick with 10,000 workloads as with ten. The search box filters in the
  // page as ?q does at the site: namespace/name holding the text, ignoring case. A row
  // clicked (or the only match) shows its whole card below the list.
  const wl = {all: [], shown: [], v: null, query: '', selected: '', rowH: 0, drawn: ''};
  function workloadRow(w) {
    const mode = w.duplicated ? 'Duplicated' : 'Divided';
    const placed = (w.sites || []).filter((p) => share(p).replicas > 0);
    return h('div', {class: 'vrow' + (w.workload === wl.selected ? ' selected' : ''), role: 'row', tabindex: 0,
      data: {workload: w.workload}, 'aria-selected': w.workload === wl.selected},
      h('span', {class: 'wname', role: 'cell', data: {field: 'name'}}, h('strong', {}, w.workload), w.kind && muted(' ' + w.kind)),
      h('span', {class: 'wtags', role: 'cell'}, badge(mode, 'mode', {field: 'mode'}), (w.bound || []).map((b) => badge(b, 'jur')),
        w.redacted && badge('header only', 'lock'), w.missing > 0 && badge(w.missing + ' missing', 'bad'), w.error && badge('error', 'bad')),
      h('span', {class: 'stats', role: 'cell'}, muted('replicas '), h('b', {data: {field: 'replicas'}}, w.replicas < 0 ? '–' : w.replicas),
        muted(' ready '), ratio(w.ready, w.desired), w.job && muted(' · ' + w.job.succeeded + ' succeeded'), w.job && finished(w.job)),
      h('span', {class: 'wsites', role: 'cell'}, placed.map((p) => {
        const sh = share(p);
        return h('span', {class: 'badge site', data: {site: sh.name}}, sh.name + ' ' + sh.replicas + (sh.takeover > 0 ? ' · takeover +' + sh.takeover : ''));
      })));
  }
  const matches = (w, q) => !q || (w.namespace + '/' + w.name).toLowerCase().includes(q) || w.workload.toLowerCase().includes(q);
  function filterWorkloads() {
    wl.shown = wl.query ? wl.all.filter((w) => matches(w, wl.query)) : wl.all;
    $('wl-matched').textContent = wl.query ? wl.shown.length + ' of ' + wl.all.length + ' match' : '';
    const list = $('wl-list');
    list.hidden = wl.shown.length === 0;
    $('wl-empty').hidden = wl.shown.length > 0;
    $('wl-empty').textContent = wl.all.length ? 'No workload matches “' + $('wl-search').value + '”.' : 'No workloads.';
    $('wl-space').style.height = (wl.shown.length * rowHeight()) + 'px';
    wl.drawn = '';
    drawRows();
    renderDetail();
  }
  function rowHeight() {
    const px = parseFloat(getComputedStyle($('wl-list')).getPropertyValue('--row-h'));
    wl.rowH = px > 0 ? px : 44;
    return wl.rowH;
  }
  const OVERSCAN = 10;
  function drawRows() {
    const list = $('wl-list'), rowH = wl.rowH || rowHeight();
    const first = Math.max(0, Math.floor(list.scrollTop / rowH) - OVERSCAN);
    const last = Math.min(wl.shown.length, Math.ceil((list.scrollTop + list.clientHeight) / rowH) + OVERSCAN);
    const key = first + ':' + last;
    if (key === wl.drawn) return;
    wl.drawn = key;
    const rows = $('wl-rows');
    rows.style.transform = 'translateY(' + (first * rowH) + 'px)';
    rows.replaceChildren(...wl.shown.slice(first, last).map(workloadRow));
  }
  function renderDetail() {
    const only = wl.query && wl.shown.length === 1 ? wl.shown[0].workload : '';
    const name = wl.selected || only;
    const w = name && wl.all.find((x) => x.workload === name);
    fill('workload-detail', w ? renderWorkload(w, wl.v)
      : wl.shown.length > 0 && h('p', {class: 'note'}, 'Select a workload to see its replicas per site and cluster.'));
  }
  function renderWorkloads(v) {
    wl.all = v.workloads; wl.v = v;
    filterWorkloads();
  }
  let scrollQueued = false;
  $('wl-list').addEventListener('scroll', () => {
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => { scrollQueued = false; drawRows(); });
  });
  addEventListener('resize', () => { if (wl.v) { wl.rowH = 0; filterWorkloads(); } });
  let searchTimer = null;
  $('wl-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      wl.query = $('wl-search').value.trim().toLowerCase();
      $('wl-list').scrollTop = 0;
      filterWorkloads();
    }, 120);
  });
  const select = (row) => {
    if (!row) return;
    wl.selected = wl.selected === row.dataset.workload ? '' : row.dataset.workload;
    wl.drawn = '';
    drawRows();
    renderDetail();
  };
  $('wl-rows').addEventListener('click', (e) => select(e.target.closest('[data-workload]')));
  $('wl-rows').addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(e.target.closest('[data-workload]')); } });

  // At most MAX_RESIDENCY bounded workloads are listed; search finds the others.
  const MAX_RESIDENCY = 200;
  function renderResidency(v) {
    const all = v.workloads.filter((w) => w.bound && w.bound.length);
    const bounded = all.slice(0, MAX_RESIDENCY);
    const chips = (names, allowed) => names.length ? names.map((n) => badge(n, allowed.includes(n) ? 'site' : 'bad')) : muted('none');
    const t = table(['Workload', 'Bound', 'Allowed sites', 'Placed at', 'Running at', 'Body here'], bounded.map((w) => {
      const allowed = w.allowed || [], sites = w.sites || [];
      const placed = sites.filter((p) => share(p).replicas > 0).map((p) => share(p).name);
      const running = sites.filter((p) => (p.clusters || []).some((c) => c.desired > 0)).map((p) => share(p).name);
      return [{data: {workload: w.workload, redacted: !!w.redacted}}, [cell('workload', h('strong', {}, w.workload)),
        cell('bound', w.bound.join(', ')), cell('allowed', chips(allowed, allowed)), cell('placed', chips(placed, allowed)),
        cell('running', chips(running, allowed)),
        cell('body', w.redacted
          ? h('span', {class: 'badge lock', data: {field: 'redacted'}}, 'body redacted here — this site holds only the signed header')
          : badge('held here', 'ok'))]];
    }), 'No workload is bound to a jurisdiction.');
    return all.length > bounded.length ? [t, h('p', {class: 'note'}, (all.length - bounded.length) + ' more bounded workloads: search for them under Workloads.')] : t;
  }

  function renderConvergence(v) {
    return [h('p', {class: 'digest'}, muted('This site\u2019s digest '), h('code', {data: {field: 'digest'}}, v.digest),
      muted(' \u00b7 ' + v.changes + ' changes' + (v.pending ? ', ' + v.pending + ' waiting for dependencies' : ''))),
    table(['Site', 'Changes', 'State'], v.sites.map((s) => [{data: {site: s.name}},
      [cell('name', h('strong', {}, s.name)), cell('changes', s.self || s.live ? s.changes : muted('?')), cell('sync', syncState(s))]]), '')];
  }

  function renderEvents(v) {
    const evs = (v.events || []).slice().sort((a, b) => b.seq - a.seq).slice(0, MAX_EVENTS);
    if (!evs.length) return h('p', {class: 'empty'}, 'No events yet.');
    return h('ol', {class: 'events'}, evs.map((e) => h('li', {data: {seq: e.seq, kind: e.kind}},
      h('time', {datetime: e.time, title: e.time}, clock(e.time)), badge(e.kind, 'kind-' + e.kind),
      h('span', {class: 'msg'}, e.message))));
  }

  function fill(testid, ...kids) {
    document.querySelector('[data-testid="' + testid + '"]').replaceChildren(...kids.flat().filter(Boolean));
  }
  function count(name, n) { document.querySelector('[data-count="' + name + '"]').textContent = String(n); }

  let last = '', lastAt = 0;
  function render(v, raw) {
    const at = Date.parse(v.at) || 0;
    if (raw === last || at < lastAt) return; // unchanged, or older than what is shown
    last = raw; lastAt = at;
    v.sites = v.sites || []; v.clusters = v.clusters || []; v.workloads = v.workloads || [];
    document.title = (v.federation || 'Atoll') + ' \u00b7 ' + v.site;
    $('federation').textContent = v.federation || '(unnamed)';
    $('site').textContent = v.site;
    $('role').textContent = v.role;
    $('digest').textContent = (v.digest || '').slice(0, 12);
    $('digest').title = v.digest || '';
    $('changes').textContent = String(v.changes) + (v.pending ? ' (+' + v.pending + ' pending)' : '');
    $('foot-site').textContent = v.site;
    $('at').textContent = clock(v.at);
    $('at').setAttribute('datetime', v.at);
    fill('sites', renderSites(v));
    fill('clusters', renderClusters(v));
    renderWorkloads(v);
    fill('residency', renderResidency(v));
    fill('convergence', renderConvergence(v));
    fill('events', renderEvents(v));
    count('sites', v.sites.length); count('clusters', v.clusters.length); count('workloads', v.workloads.length);
    count('residency', v.workloads.filter((w) => w.bound && w.bound.length).length); count('events', (v.events || []).length);
    document.body.dataset.loaded = 'true';
  }
  function take(raw) {
    try { render(JSON.parse(raw), raw); } catch (e) { console.error('dashboard: bad view', e); }
  }

  // The connection: a stream when it can, polling while it cannot.
  let stream = null, pollTimer = null;
  function setConn(state, text) { $('conn').dataset.state = state; $('conn-text').textContent = text; }
  const streaming = () => stream && stream.readyState === 1;
  async function poll() {
    try {
      const r = await fetch('v1/view', {cache: 'no-store'});
      if (r.status === 401) { signedOut('Your session ended: sign in again.'); return; }
      if (!r.ok) throw new Error('GET v1/view: ' + r.status);
      take(await r.text());
      if (!streaming()) setConn('polling', 'polling');
    } catch (e) {
      if (!streaming()) setConn('offline', 'disconnected');
    }
  }
  function startPolling() { if (!pollTimer) pollTimer = setInterval(poll, POLL_MS); }
  function stopPolling() { clearInterval(pollTimer); pollTimer = null; }
  function connect() {
    if (document.body.dataset.auth === 'out') return;
    if (typeof EventSource !== 'function') { startPolling(); return; }
    stream = new EventSource('v1/stream');
    stream.addEventListener('open', () => { stopPolling(); setConn('live', 'live'); });
    stream.addEventListener('view', (e) => { setConn('live', 'live'); take(e.data); });
    stream.addEventListener('error', () => {
      startPolling();
      if (stream.readyState === 2) { // closed for good (not an event stream): try again later
        stream = null;
        setConn('polling', 'polling');
        setTimeout(connect, RETRY_MS);
      } else {
        setConn('offline', 'reconnecting');
      }
    });
  }
  function disconnect() {
    stopPolling();
    if (stream) { stream.close(); stream = null; }
  }

  // Who is looking: the server filters what it sends anyway; the page says so.
  function showWho(id) {
    document.body.dataset.auth = 'in';
    $('login').hidden = true;
    if (!id) { $('who').hidden = true; return; } // a server without logins
    let text = id.name + ' \u00b7 ' + id.role;
    if (id.namespaces && id.namespaces.length) text += ' of ' + id.namespaces.join(', ');
    if (id.via === 'oidc' && id.subject) text += ' \u00b7 signed in as ' + id.subject;
    $('who-text').textContent = text;
    $('who').hidden = id.via === 'socket';
    const scoped = id.role === 'operator' && !(id.namespaces || []).includes('*');
    $('scope').hidden = !scoped;
    $('scope').textContent = scoped ? 'Only the namespaces you are granted: ' + ((id.namespaces || []).join(', ') || 'none') + '.' : '';
  }
  function signedOut(why) {
    disconnect();
    last = ''; lastAt = 0;
    document.body.dataset.auth = 'out';
    document.body.dataset.loaded = 'false';
    ['sites', 'clusters', 'residency', 'convergence', 'events', 'workload-detail'].forEach((id) => fill(id));
    wl.all = []; wl.shown = []; wl.v = null; $('wl-rows').replaceChildren(); $('wl-space').style.height = '0px';
    $('who').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = why || '';
    methods();
  }
  // methods shows the OpenID sign-in when the site has one.
  let methodsAsked = false;
  async function methods() {
    if (methodsAsked) return;
    methodsAsked = true;
    try {
      const r = await fetch('v1/login/methods', {cache: 'no-store'});
      const m = r.ok ? await r.json() : {};
      if (!m.oidc || !m.oidc.issuer) return;
      let host = m.oidc.issuer;
      try { host = new URL(m.oidc.issuer).host; } catch (e) { /* shown as it is */ }
      $('oidc-login').textContent = 'Sign in with ' + host;
      $('oidc-issuer').textContent = m.oidc.issuer;
      $('oidc').hidden = false;
    } catch (e) {
      methodsAsked = false; // try again at the next sign-out
    }
  }
  async function begin() {
    let id = null;
    try {
      const r = await fetch('v1/whoami', {cache: 'no-store'});
      if (r.status === 401) { signedOut(''); return; }
      if (r.ok) id = await r.json();
    } catch (e) {
      setConn('offline', 'disconnected');
      setTimeout(begin, POLL_MS);
      return;
    }
    showWho(id);
    poll();
    connect();
  }
  async function login() {
    const token = $('token').value.trim();
    if (!token) { $('login-error').textContent = 'Paste a token first.'; return; }
    try {
      const r = await fetch('v1/login', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({token})});
      const body = await r.json().catch(() => ({}));
      if (!r.ok) { $('login-error').textContent = body.error || ('Sign-in failed: ' + r.status); return; }
      $('token').value = '';
      $('login-error').textContent = '';
      showWho(body);
      poll();
      connect();
    } catch (e) {
      $('login-error').textContent = 'The site did not answer.';
    }
  }
  async function logout() {
    try { await fetch('v1/logout', {method: 'POST'}); } catch (e) { /* signed out here anyway */ }
    signedOut('Signed out.');
  }
  $('login-button').addEventListener('click', login);
  $('logout').addEventListener('click', logout);
  begin();
})();
