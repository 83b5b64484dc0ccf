// The admin UI: plain DOM, no build step. Every value from the API is set as text, never as HTML
// (descriptions and failure excerpts come straight from feeds).
"use strict";

const TOKEN_KEY = "job-importer-token";
const PAGE_SIZE = 25;
const view = document.getElementById("view");
let current = { onRun: null, timer: null }; // what the visible page listens to

// DOM ----------------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function table(headers, rows, attrs) {
  return h("div", { class: "scroll" },
    h("table", attrs || {},
      h("thead", {}, h("tr", {}, headers.map(([label, cls]) => h("th", { class: cls || null }, label)))),
      h("tbody", {}, rows)));
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function seconds(ms) {
  if (ms === null || ms === undefined) return "";
  return ms < 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function shortened(text, limit) {
  const value = text || "";
  return value.length > limit ? `${value.slice(0, limit)}…` : value;
}

function excerptCell(text) {
  return h("td", { class: "excerpt", title: (text || "").length > 240 ? text : null }, shortened(text, 240));
}

function reasonCell(text) {
  return h("td", { class: "wrap", title: (text || "").length > 300 ? text : null }, shortened(text, 300));
}

function badge(text, cls) {
  return h("span", { class: `badge ${cls || text}` }, text);
}

// Text of a feed's HTML, text only: tags dropped (block tags become line breaks), entities decoded
// by a textarea, which creates no elements. Parsing the HTML (even in an inert DOMParser document)
// would make the browser report each inline handler of the feed against the Content-Security-Policy.
function plainText(html) {
  if (!html) return "";
  const text = html
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, " ")
    .replace(/<\/?(p|br|div|li|ul|ol|h[1-6]|tr|table|blockquote)\b[^>]*>/gi, "\n")
    .replace(/<[^>]*>?/g, "");
  const decoder = document.createElement("textarea");
  decoder.innerHTML = text;
  return decoder.value.replace(/\n\s*\n+/g, "\n\n").trim();
}

function notify(message, isError) {
  const box = document.getElementById("notice");
  box.textContent = message;
  box.className = isError ? "error" : "";
  box.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { box.hidden = true; }, isError ? 10000 : 4000);
}

// API ----------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function authHeaders(extra) {
  const headers = Object.assign({ Accept: "application/json" }, extra || {});
  if (token()) headers.Authorization = `Bearer ${token()}`;
  return headers;
}

function describe(body, response) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  }
  return `${response.status} ${response.statusText}`;
}

async function api(method, path, body) {
  const init = { method, headers: authHeaders(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const asker = current; // the page that asks (route() makes a new one for every page shown)
  const response = await fetch(path, init);
  const data = await response.json().catch(() => null);
  if (response.status === 401) askForToken();
  // The user moved on while the answer was on its way: drawn now, the old page would replace the
  // one on screen. Its answer never arrives (the old page's code just stops there).
  if (asker !== current) return new Promise(() => {});
  if (!response.ok) throw new ApiError(response.status, describe(data, response));
  return data;
}

// A callback for later (a timer) that does nothing once the user has moved to another page: run
// then, it would draw the page it belongs to over the one on screen.
function whileShown(callback) {
  const page = current;
  return (...args) => { if (page === current) callback(...args); };
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== "" && value != null) search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}

// Run an action from a button: disable it meanwhile, report the outcome.
async function act(button, work, done) {
  button.disabled = true;
  try {
    const result = await work();
    if (done) notify(done(result));
    return result;
  } catch (error) {
    notify(error.message, true);
    return null;
  } finally {
    button.disabled = false;
  }
}

// Token --------------------------------------------------------------------------------------

function askForToken() {
  const dialog = document.getElementById("token-dialog");
  if (dialog.open) return;
  document.getElementById("token-input").value = token();
  dialog.showModal();
}

function setupToken() {
  const match = location.hash.match(/^#token=([^&]*)/);
  if (match) { // `job-importer up` prints the UI address with the token in the fragment
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", `${location.pathname}#/imports`);
  }
  document.getElementById("token-button").addEventListener("click", askForToken);
  const dialog = document.getElementById("token-dialog");
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "save") sessionStorage.setItem(TOKEN_KEY, document.getElementById("token-input").value.trim());
    if (dialog.returnValue === "clear") sessionStorage.removeItem(TOKEN_KEY);
    if (dialog.returnValue !== "cancel") { live.restart(); route(); }
  });
}

// Live runs (Server-Sent Events read with fetch, so the token can go in a header) ------------

const live = {
  controller: null,
  async run() {
    for (;;) {
      const controller = new AbortController();
      this.controller = controller;
      let refused = false;
      try {
        const response = await fetch("/imports/stream", { headers: authHeaders({ Accept: "text/event-stream" }), signal: controller.signal });
        if (!response.ok) { refused = response.status === 401 || response.status === 403; throw new Error(`stream ${response.status}`); }
        setLive(true);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            dispatch(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch (error) {
        if (controller.signal.aborted && this.controller !== controller) return; // restarted
      }
      setLive(false);
      if (refused) return; // needs a token: restarted when one is saved
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  },
  restart() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.run();
  },
};

function setLive(on) {
  const badgeEl = document.getElementById("live");
  badgeEl.textContent = on ? "live" : "offline";
  badgeEl.classList.toggle("on", on);
}

function dispatch(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length || (event !== "progress" && event !== "finished")) return;
  const run = JSON.parse(data.join("\n"));
  if (current.onRun) current.onRun(run, event);
}

// Routing ------------------------------------------------------------------------------------

const routes = [
  [/^#\/imports\/(.+)$/, (id) => showRun(decodeURIComponent(id))],
  [/^#\/queues\/([^/]+)\/messages\/(.+)$/, (queue, id) => showMessage(decodeURIComponent(queue), decodeURIComponent(id))],
  [/^#\/queues\/([^/]+)\/messages$/, (queue) => showMessages(decodeURIComponent(queue))],
  [/^#\/queues$/, showQueues],
  [/^#\/jobs\/(.+)$/, (id) => showJob(decodeURIComponent(id))],
  [/^#\/jobs$/, showJobs],
  [/^#\/imports$/, showImports],
  [/^#\/feeds$/, showFeeds],
];

function route() {
  clearInterval(current.timer);
  current = { onRun: null, timer: null };
  const hash = location.hash.split("?")[0] || "#/imports";
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", hash.startsWith(`#/${link.dataset.nav}`));
  }
  for (const [pattern, show] of routes) {
    const match = hash.match(pattern);
    if (match) { show(...match.slice(1)); return; }
  }
  location.hash = "#/imports";
}

function render(...children) {
  view.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
}

function pager(page, total, go) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  return h("div", { class: "pager" },
    h("button", { type: "button", disabled: page <= 1, onclick: () => go(page - 1) }, "‹ Newer"),
    h("span", { "data-test": "page" }, `Page ${page} of ${pages} · ${total} total`),
    h("button", { type: "button", disabled: page >= pages, onclick: () => go(page + 1) }, "Older ›"));
}

// Imports ------------------------------------------------------------------------------------

const COUNTS = ["fetched", "new", "updated", "unchanged", "duplicates", "failed"];
// Beside the counts: what the run's end expired in its feed and brought back (hidden on a phone).
const LIFECYCLE = ["expired", "reactivated"];

function runCells(run) {
  const duration = run.duration_ms ?? (run.started_at ? Date.now() - new Date(run.started_at).getTime() : null);
  // Status and counts first: on a phone they are what shows without scrolling.
  return [
    h("td", {}, h("a", { href: `#/imports/${encodeURIComponent(run.run_id)}` }, run.run_id)),
    h("td", { "data-field": "status" }, badge(run.status), run.not_modified ? h("div", { class: "muted" }, "not modified") : null),
    COUNTS.map((name) => h("td", { class: "num", "data-field": name }, run[name])),
    LIFECYCLE.map((name) => h("td", { class: "num hide-narrow", "data-field": name }, run[name] ?? 0)),
    h("td", { class: "num" }, seconds(duration)),
    h("td", { class: "wrap" }, run.feed_url, run.error ? h("div", { class: "muted" }, run.error) : null,
      run.warning ? h("div", { class: "muted", "data-field": "warning" }, `Warning: ${run.warning}`) : null),
    h("td", {}, when(run.created_at)),
    h("td", { class: "hide-narrow" }, when(run.finished_at)),
  ];
}

const RUN_HEADERS = [["Run"], ["Status"], ...COUNTS.map((name) => [name, "num"]),
  ...LIFECYCLE.map((name) => [name, "num hide-narrow"]), ["Duration", "num"], ["Feed"],
  ["Created"], ["Finished", "hide-narrow"]];

function runRow(run) {
  return h("tr", { "data-run-id": run.run_id }, runCells(run));
}

async function showImports() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const filters = {
    feed: params.get("feed") || "", status: params.get("status") || "",
    since: params.get("since") || "", until: params.get("until") || "",
  };
  const page = Number(params.get("page") || 1);
  const go = (next) => { location.hash = `#/imports${query({ ...filters, page: next > 1 ? next : "" })}`; };
  let feeds = [];
  let runs;
  try {
    [feeds, runs] = await Promise.all([
      api("GET", "/feeds"),
      api("GET", `/imports${query({ page, page_size: PAGE_SIZE, feed: filters.feed, status: filters.status,
        since: filters.since ? new Date(filters.since).toISOString() : "", until: filters.until ? new Date(filters.until).toISOString() : "" })}`),
    ]);
  } catch (error) {
    render(h("h1", {}, "Imports"), h("p", { class: "error" }, error.message));
    return;
  }
  const tbody = h("tbody", {}, runs.items.map(runRow));
  const rows = new Map(runs.items.map((run) => [run.run_id, true]));
  let reload = null;
  current.onRun = (run) => {
    const row = tbody.querySelector(`tr[data-run-id="${CSS.escape(run.run_id)}"]`);
    if (row) row.replaceChildren(...runCells(run).flat());
    else if (page === 1 && !rows.has(run.run_id) && !reload) reload = setTimeout(whileShown(showImports), 300); // a new run
  };
  render(
    h("h1", {}, "Imports"),
    startForm(feeds),
    filterForm(feeds, filters, (next) => { location.hash = `#/imports${query(next)}`; }),
    h("div", { class: "scroll" }, h("table", { id: "runs" },
      h("thead", {}, h("tr", {}, RUN_HEADERS.map(([label, cls]) => h("th", { class: cls || null }, label)))), tbody)),
    runs.items.length ? null : h("p", { class: "muted" }, "No runs yet: start an import above."),
    pager(page, runs.total, go),
  );
}

function startForm(feeds) {
  const boxes = feeds.map((feed) => h("input", { type: "checkbox", value: feed.url }));
  const url = h("input", { type: "url", name: "url", placeholder: "https://example.com/feed.xml", "aria-label": "Another feed URL" });
  const start = async (button, chosen) => {
    const body = chosen === null ? undefined : { feeds: chosen };
    await act(button, () => api("POST", "/imports/start", body),
      (result) => `Started ${result.run_ids.length} run(s) (${result.batch_id})`);
    if (!location.hash.startsWith("#/imports/")) showImports(); // the new runs, even without the live stream
  };
  const enabled = feeds.filter((feed) => feed.enabled).length;
  const all = h("button", { type: "button", class: "primary", id: "start-all", disabled: !enabled, onclick: (e) => start(e.target, null) },
    `Import all ${enabled} enabled feeds`);
  const chosen = h("button", { type: "button", id: "start-chosen", onclick: (e) => {
    const urls = boxes.filter((box) => box.checked).map((box) => box.value);
    if (url.value.trim()) urls.push(url.value.trim());
    if (!urls.length) { notify("Tick a feed or enter a URL first", true); return; }
    start(e.target, urls);
  } }, "Import chosen");
  return h("section", { class: "card" },
    h("div", { class: "toolbar" }, all),
    h("details", {}, h("summary", {}, "Choose feeds"),
      h("div", { class: "feeds" }, feeds.map((feed, i) => h("label", {}, boxes[i], feed.url))),
      h("div", { class: "toolbar" }, h("label", { class: "grow" }, "Another feed URL", url), chosen)));
}

function filterForm(feeds, filters, apply) {
  const feed = h("select", { name: "feed" }, h("option", { value: "" }, "All feeds"),
    feeds.map((f) => h("option", { value: f.url, selected: f.url === filters.feed }, f.url)));
  const status = h("select", { name: "status" }, h("option", { value: "" }, "Any status"),
    ["queued", "fetching", "importing", "completed", "failed"].map((s) => h("option", { value: s, selected: s === filters.status }, s)));
  const since = h("input", { type: "datetime-local", name: "since", value: filters.since });
  const until = h("input", { type: "datetime-local", name: "until", value: filters.until });
  return h("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    apply({ feed: feed.value, status: status.value, since: since.value, until: until.value });
  } },
  h("label", {}, "Feed", feed), h("label", {}, "Status", status),
  h("label", {}, "From", since), h("label", {}, "To", until),
  h("button", { type: "submit" }, "Filter"));
}

// One run ------------------------------------------------------------------------------------

async function showRun(runId) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const page = Number(params.get("page") || 1);
  const go = (next) => { location.hash = `#/imports/${encodeURIComponent(runId)}${query({ page: next > 1 ? next : "" })}`; };
  let run;
  let items;
  try {
    [run, items] = await Promise.all([
      api("GET", `/imports/${encodeURIComponent(runId)}`),
      api("GET", `/failed-items${query({ run_id: runId, page, page_size: PAGE_SIZE })}`),
    ]);
  } catch (error) {
    render(h("h1", {}, "Run"), h("p", {}, error.message), h("a", { href: "#/imports" }, "Back to imports"));
    return;
  }
  current.onRun = (update) => { if (update.run_id === runId) showRun(runId); };
  const fields = [
    ["Status", badge(run.status)], ["Feed", run.feed_url], ["Source", run.source], ["Trigger", run.trigger],
    ["Created", when(run.created_at)], ["Started", when(run.started_at)], ["Finished", when(run.finished_at)],
    ["Duration", seconds(run.duration_ms)], ["HTTP status", run.http_status ?? ""],
    ...[...COUNTS, ...LIFECYCLE].map((name) => [name, h("span", { "data-field": name }, run[name] ?? 0)]),
    ["active listings", h("span", { "data-field": "active_listings" }, run.active_listings ?? "—")],
  ];
  render(
    h("p", {}, h("a", { href: "#/imports" }, "‹ Imports")),
    h("h1", {}, `Run ${run.run_id}`),
    h("section", { class: "card grid", id: "run" }, fields.map(([label, value]) => h("div", {}, h("span", { class: "label" }, label), value))),
    run.error ? h("p", { class: "card" }, h("strong", {}, "Error: "), run.error) : null,
    run.warning ? h("p", { class: "card" }, h("strong", {}, "Warning: "), run.warning) : null,
    h("h2", {}, `Failures (${run.failed})`),
    run.failures.length < run.failed
      ? h("p", { class: "muted", id: "failures-capped" }, `The run keeps its first ${run.failures.length}; every failed item is listed, page by page, under Failed items.`)
      : null,
    run.failures.length
      ? table([["GUID"], ["Reason"]], run.failures.map((f) => h("tr", {}, h("td", { class: "wrap" }, f.guid || "—"), h("td", { class: "wrap" }, f.reason))), { id: "failures" })
      : h("p", { class: "muted" }, "No failures."),
    h("h2", {}, `Failed items (${items.total})`),
    h("div", { id: "run-failed-items" }, failedItemsTable(items.items, () => showRun(runId)), items.total > PAGE_SIZE ? pager(page, items.total, go) : null),
  );
}

function failedItemsTable(items, refresh) {
  if (!items.length) return h("p", { class: "muted" }, "No failed items.");
  const rows = items.map((item) => h("tr", { "data-item-id": item.id },
    h("td", { class: "hide-narrow" }, when(item.created_at)),
    h("td", {}, badge(item.stage, "")),
    h("td", { class: "wrap" }, item.guid || "—"),
    reasonCell(item.reason),
    excerptCell(item.payload_excerpt || item.raw),
    h("td", {}, h("div", { class: "actions" },
      item.resendable ? h("button", { type: "button", onclick: (e) => act(e.target,
        () => api("POST", `/failed-items/${encodeURIComponent(item.id)}/requeue`),
        (r) => `Sent again as run ${r.run_ids[0]}`).then(refresh) }, "Requeue") : null,
      h("button", { type: "button", class: "danger", onclick: (e) => act(e.target,
        () => api("DELETE", `/failed-items/${encodeURIComponent(item.id)}`), () => "Deleted").then(refresh) }, "Delete")))));
  return table([["When", "hide-narrow"], ["Stage"], ["GUID"], ["Reason"], ["Excerpt"], [""]], rows, { class: "failed-items" });
}

// Queues -------------------------------------------------------------------------------------

async function showQueues() {
  const cards = h("div", { class: "queues", id: "queues" });
  const dead = h("section", { id: "dead-letters" });
  const failed = h("section", { id: "failed-items" });
  const charts = h("section", { id: "charts-section" });
  render(h("h1", {}, "Queues"), cards, charts, h("h2", {}, "Dead letters"), dead, h("h2", {}, "Failed items"), failed);
  chartsSection().then((section) => charts.replaceChildren(section));
  // queue -> { paused, card }. A card keeps its nodes while its queue's pause state stays (its
  // counts are updated in place), so a click on a count is never lost to a redraw.
  let shown = new Map();
  const refreshCounts = async () => {
    try {
      const queues = await api("GET", "/queues");
      const next = new Map();
      for (const q of queues) {
        const kept = shown.get(q.queue);
        if (kept && kept.paused === q.paused) next.set(q.queue, updateQueueCard(kept, q));
        else next.set(q.queue, { paused: q.paused, card: queueCard(refreshCounts)(q) });
      }
      shown = next;
      const now = [...next.values()].map((entry) => entry.card);
      if (now.length !== cards.children.length || now.some((card, i) => cards.children[i] !== card)) cards.replaceChildren(...now);
    } catch (error) {
      shown = new Map();
      cards.replaceChildren(h("p", {}, error.message));
    }
  };
  const refreshDead = async () => {
    const queues = await api("GET", "/queues").catch(() => []);
    const parts = [];
    for (const q of queues) {
      const page = await api("GET", `/queues/${q.queue}/dead${query({ page_size: 50 })}`).catch(() => null);
      if (page) parts.push(deadLetters(q.queue, page, refreshAll));
    }
    dead.replaceChildren(...parts);
  };
  const refreshFailed = async () => {
    const page = await api("GET", `/failed-items${query({ page_size: 50 })}`).catch(() => null);
    if (!page) return;
    failed.replaceChildren(
      h("div", { class: "toolbar" },
        h("span", { class: "muted" }, `${page.total} item(s)`),
        h("button", { type: "button", disabled: !page.items.some((i) => i.resendable), onclick: (e) => act(e.target,
          () => api("POST", "/failed-items/requeue"), (r) => `Sent ${r.items} item(s) again; ${r.skipped} fetch-stage item(s) skipped`).then(refreshAll) }, "Requeue all"),
        h("button", { type: "button", class: "danger", disabled: !page.total, onclick: (e) => {
          if (confirm("Delete every failed-item record?")) act(e.target, () => api("DELETE", "/failed-items"), (r) => `Deleted ${r.count}`).then(refreshAll);
        } }, "Delete all")),
      failedItemsTable(page.items, refreshAll));
  };
  const refreshAll = () => Promise.all([refreshCounts(), refreshDead(), refreshFailed()]);
  await refreshAll();
  current.timer = setInterval(refreshCounts, 2000);
}

const QUEUE_COUNTS = ["ready", "delayed", "in_progress", "dead"];

function updateQueueCard(entry, q) {
  for (const name of QUEUE_COUNTS) entry.card.querySelector(`[data-field="${name}"] b`).textContent = q[name];
  entry.card.querySelector('[data-field="workers"]').textContent = `${q.workers} worker(s)`;
  return entry;
}

function queueCard(refresh) {
  return (q) => h("div", { class: "card", "data-queue": q.queue },
    h("div", { class: "toolbar" }, h("strong", {}, q.queue), q.paused ? badge("paused") : badge("running", "completed"),
      h("span", { class: "muted", "data-field": "workers" }, `${q.workers} worker(s)`)),
    h("div", { class: "counts" },
      QUEUE_COUNTS.map((name) => h("a", { "data-field": name, href: `#/queues/${encodeURIComponent(q.queue)}/messages?state=${name}`, title: `Browse the ${name.replace("_", " ")} messages` },
        h("b", {}, q[name]), h("span", {}, name.replace("_", " "))))),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: (e) => act(e.target,
        () => api("POST", `/queues/${q.queue}/${q.paused ? "resume" : "pause"}`), () => `${q.paused ? "Resumed" : "Paused"} ${q.queue}`).then(refresh) },
      q.paused ? "Resume" : "Pause")));
}

function deadLetters(queue, page, refresh) {
  const rows = page.items.map((letter) => h("tr", { "data-message-id": letter.message_id },
    h("td", { class: "hide-narrow" }, when(letter.dead_at)),
    h("td", {}, letter.actor),
    h("td", {}, letter.run_id ? h("a", { href: `#/imports/${encodeURIComponent(letter.run_id)}` }, letter.run_id) : "—"),
    h("td", { class: "num" }, letter.items),
    reasonCell(letter.reason),
    excerptCell(letter.excerpt),
    h("td", {}, h("div", { class: "actions" },
      h("button", { type: "button", onclick: (e) => act(e.target,
        () => api("POST", `/queues/${queue}/dead/${encodeURIComponent(letter.message_id)}/requeue`), () => "Requeued").then(refresh) }, "Requeue"),
      h("button", { type: "button", class: "danger", onclick: (e) => act(e.target,
        () => api("DELETE", `/queues/${queue}/dead/${encodeURIComponent(letter.message_id)}`), () => "Deleted").then(refresh) }, "Delete")))));
  return h("div", { class: "card", "data-dead-queue": queue },
    h("div", { class: "toolbar" }, h("strong", {}, `${queue}: ${page.total} dead`),
      h("button", { type: "button", disabled: !page.total, onclick: (e) => act(e.target,
        () => api("POST", `/queues/${queue}/dead/requeue`), (r) => `Requeued ${r.count}`).then(refresh) }, "Requeue all"),
      h("button", { type: "button", class: "danger", disabled: !page.total, onclick: (e) => {
        if (confirm(`Delete every dead message of ${queue}?`)) act(e.target, () => api("DELETE", `/queues/${queue}/dead`), (r) => `Deleted ${r.count}`).then(refresh);
      } }, "Delete all")),
    rows.length ? table([["Died", "hide-narrow"], ["Actor"], ["Run"], ["Items", "num"], ["Reason"], ["Message"], [""]], rows) : null);
}

// Feeds --------------------------------------------------------------------------------------
// The feed registry: each feed's health as its runs left it, and a switch to pause it.

function feedHealth(feed) {
  const health = feed.health;
  if (!feed.enabled) return badge("disabled", "paused");
  if (!health.last_run) return badge("not run yet", "queued");
  return health.consecutive_failures ? badge("failing", "failed") : badge("ok", "completed");
}

function feedRow(feed, refresh) {
  const health = feed.health;
  const last = health.last_run;
  const action = feed.enabled ? "disable" : "enable";
  // Health and its switch first: on a phone they are what shows without scrolling.
  const toggle = h("button", { type: "button", "data-action": action, onclick: (e) => act(e.target,
    () => api("POST", `/feeds/${encodeURIComponent(feed.id)}/${action}`), (f) => `${f.enabled ? "Enabled" : "Disabled"} ${f.source}`).then(refresh) },
  feed.enabled ? "Disable" : "Enable");
  return h("tr", { "data-feed-id": feed.id, "data-enabled": String(feed.enabled) },
    h("td", {}, h("div", { "data-field": "health" }, feedHealth(feed)),
      health.consecutive_failures ? h("div", { class: "muted", "data-field": "failures" }, `${health.consecutive_failures} failed in a row`) : null,
      h("div", { class: "actions" }, toggle)),
    h("td", { class: "wrap" }, h("strong", {}, feed.source), h("div", { class: "muted" }, feed.url),
      health.last_error ? h("div", { class: "muted", "data-field": "last_error" }, health.last_error) : null),
    h("td", { class: "num", "data-field": "active" }, health.active_listings ?? ""),
    h("td", { class: "hide-narrow", "data-field": "last_run" }, last ? h("a", { href: `#/imports/${encodeURIComponent(last.id)}` }, when(last.at)) : "never"),
    h("td", { class: "hide-narrow", "data-field": "last_success" }, when(health.last_success_at)),
    h("td", { class: "hide-narrow", "data-field": "schedule" }, feed.schedule || "default"),
    h("td", { class: "hide-narrow", "data-field": "next_fetch" }, when(health.next_fetch)),
    h("td", { class: "hide-narrow" }, feed.managed_by));
}

async function showFeeds() {
  const list = h("div", { id: "feeds" }, h("p", { class: "muted" }, "Loading…"));
  render(h("h1", {}, "Feeds"),
    h("p", { class: "muted" }, "Feeds from the config (FEEDS, FEEDS_FILE, the chart's feeds) follow it; others are added with POST /feeds or job-importer feeds add."),
    list);
  const refresh = async () => {
    try {
      const feeds = await api("GET", "/feeds");
      list.replaceChildren(feeds.length
        ? table([["Health"], ["Feed"], ["Active", "num"], ["Last run", "hide-narrow"], ["Last success", "hide-narrow"],
          ["Schedule", "hide-narrow"], ["Next fetch", "hide-narrow"], ["Managed by", "hide-narrow"]], feeds.map((feed) => feedRow(feed, refresh)))
        : h("p", { class: "muted" }, "No feeds in the registry."));
    } catch (error) {
      list.replaceChildren(h("p", {}, error.message));
    }
  };
  await refresh();
}

// Charts -------------------------------------------------------------------------------------
// Drawn as SVG here (no library): items per interval as stacked bars, the backlog as lines.

const SVG_NS = "http://www.w3.org/2000/svg";
const CHART = { width: 640, height: 180, left: 44, bottom: 22, top: 8, right: 8 };

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  for (const child of children.flat(Infinity)) if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((top) => top >= value);
}

function axes(top, labels) {
  const { width, height, left, bottom, top: pad, right } = CHART;
  const y = (v) => height - bottom - (v / top) * (height - bottom - pad);
  const grid = [0, top / 2, top].map((v) => [
    svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: "grid" }),
    svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, v.toLocaleString()),
  ]);
  const ticks = labels.map(([x, text, anchor]) => svg("text", { x, y: height - 6, "text-anchor": anchor || "middle", class: "tick" }, text));
  return { y, parts: [grid, ticks] };
}

function hourLabel(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

const ITEM_SERIES = [["new", "series-new"], ["updated", "series-updated"], ["failed", "series-failed"]];

function itemsChart(buckets) {
  const { width, height, left, bottom, right } = CHART;
  const totals = buckets.map((b) => ITEM_SERIES.reduce((sum, [name]) => sum + b[name], 0));
  const top = niceMax(Math.max(0, ...totals));
  const slot = (width - left - right) / Math.max(1, buckets.length);
  const every = Math.max(1, Math.ceil(buckets.length / 6));
  const labels = buckets.map((b, i) => [left + slot * (i + 0.5), i % every === 0 ? hourLabel(new Date(b.start)) : ""]);
  const { y, parts } = axes(top, labels);
  const bars = buckets.map((b, i) => {
    let base = 0;
    return ITEM_SERIES.map(([name, cls]) => {
      if (!b[name]) return null;
      const rect = svg("rect", { x: left + slot * i + 1, width: Math.max(1, slot - 2), y: y(base + b[name]), height: y(base) - y(base + b[name]),
        class: cls, "data-series": name, "data-value": b[name] }, svg("title", {}, `${hourLabel(new Date(b.start))}: ${b[name]} ${name}`));
      base += b[name];
      return rect;
    });
  });
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", id: "items-chart", role: "img", "aria-label": "Items per interval: new, updated, failed" },
    parts, bars, svg("line", { x1: left, x2: width - right, y1: height - bottom, y2: height - bottom, class: "axis" }));
}

function backlogChart(samples) {
  const { width, height, left, right } = CHART;
  const queues = samples.length ? Object.keys(samples[samples.length - 1].queues) : [];
  const waiting = (sample, q) => { const c = sample.queues[q]; return c ? c.ready + c.delayed + c.in_progress : 0; };
  const top = niceMax(Math.max(0, ...samples.flatMap((s) => queues.map((q) => waiting(s, q)))));
  const t0 = samples.length ? samples[0].at : 0;
  const t1 = samples.length ? samples[samples.length - 1].at : 1;
  const x = (at) => left + (t1 > t0 ? (at - t0) / (t1 - t0) : 0.5) * (width - left - right);
  const labels = samples.length ? [[x(t0), hourLabel(new Date(t0 * 1000)), "start"], [x(t1), hourLabel(new Date(t1 * 1000)), "end"]] : [];
  const { y, parts } = axes(top, labels);
  const lines = queues.map((q, i) => svg("polyline", {
    points: samples.map((s) => `${x(s.at).toFixed(1)},${y(waiting(s, q)).toFixed(1)}`).join(" "),
    class: `line series-${i % 4}`, "data-series-queue": q, "data-points": samples.length }, svg("title", {}, `${q}: ready + delayed + in progress`)));
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", id: "backlog-chart", role: "img", "aria-label": "Queue backlog over time" }, parts, lines);
}

function legend(entries) {
  return h("div", { class: "legend" }, entries.map(([label, cls]) => h("span", {}, h("i", { class: cls }), label)));
}

async function chartsSection() {
  const [buckets, samples] = await Promise.all([
    api("GET", `/stats/items${query({ hours: 24, bucket_minutes: 60 })}`).catch(() => []),
    api("GET", `/stats/backlog${query({ hours: 6 })}`).catch(() => []),
  ]);
  const queues = samples.length ? Object.keys(samples[samples.length - 1].queues) : [];
  return h("div", { class: "charts", id: "charts" },
    h("div", { class: "card" }, h("strong", {}, "Items per hour, last 24 h"), legend(ITEM_SERIES.map(([name, cls]) => [name, cls])), itemsChart(buckets)),
    h("div", { class: "card" }, h("strong", {}, "Backlog (ready + delayed + in progress), last 6 h"),
      legend(queues.map((q, i) => [q, `series-${i % 4}`])),
      samples.length ? backlogChart(samples) : h("p", { class: "muted" }, "No samples yet: the API records one every BACKLOG_SAMPLE_S.")));
}

// Messages -----------------------------------------------------------------------------------

const STATES = ["ready", "delayed", "in_progress", "dead"];
// What can be done to selected messages in each state (the API skips the ones it cannot).
const STATE_ACTIONS = {
  ready: [["delete", "Delete"]],
  delayed: [["promote", "Promote to ready"], ["delete", "Delete"]],
  in_progress: [],
  dead: [["requeue", "Requeue"], ["delete", "Delete"]],
};

async function showMessages(queue) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const state = STATES.includes(params.get("state")) ? params.get("state") : "ready";
  const page = Number(params.get("page") || 1);
  const base = `#/queues/${encodeURIComponent(queue)}/messages`;
  const go = (next) => { location.hash = `${base}${query({ state, page: next > 1 ? next : "" })}`; };
  const tabs = h("nav", { class: "tabs", "aria-label": "Message state" }, STATES.map((name) =>
    h("a", { href: `${base}?state=${name}`, class: name === state ? "active" : null, "data-state": name }, name.replace("_", " "))));
  let result;
  try {
    result = await api("GET", `/queues/${encodeURIComponent(queue)}/messages${query({ state, page, page_size: PAGE_SIZE })}`);
  } catch (error) {
    render(h("h1", {}, `Messages of ${queue}`), tabs, h("p", { class: "error" }, error.message));
    return;
  }
  const boxes = [];
  const rows = result.items.map((m) => {
    const box = h("input", { type: "checkbox", value: m.message_id, "aria-label": `Select ${m.message_id}` });
    boxes.push(box);
    return h("tr", { "data-message-id": m.message_id },
      h("td", {}, box),
      h("td", { class: "id" }, h("a", { href: `${base}/${encodeURIComponent(m.message_id)}` }, m.message_id)),
      h("td", {}, m.actor),
      h("td", {}, m.run_id ? h("a", { href: `#/imports/${encodeURIComponent(m.run_id)}` }, m.run_id) : "—"),
      h("td", { class: "num" }, m.items),
      h("td", { class: "hide-narrow" }, when(m.enqueued_at)),
      h("td", {}, when(m.eta)),
      h("td", { class: "num" }, m.retries));
  });
  const selected = () => boxes.filter((box) => box.checked).map((box) => box.value);
  const all = h("input", { type: "checkbox", "aria-label": "Select all on this page",
    onchange: (e) => { for (const box of boxes) box.checked = e.target.checked; } });
  const actions = STATE_ACTIONS[state].map(([verb, label]) => h("button", {
    type: "button", class: verb === "delete" ? "danger" : null, "data-action": verb, disabled: !rows.length,
    onclick: (e) => {
      const ids = selected();
      if (!ids.length) { notify("Select messages first", true); return; }
      if (verb === "delete" && !confirm(`Delete ${ids.length} message(s) of ${queue} for good?`)) return;
      act(e.target, () => api("POST", `/queues/${encodeURIComponent(queue)}/messages/${verb}`, { ids }),
        (r) => `${label}: ${r.count} done${r.skipped.length ? `, ${r.skipped.length} skipped (gone, or held by a worker)` : ""}`)
        .then(() => showMessages(queue));
    } }, label));
  render(
    h("h1", {}, h("a", { href: "#/queues" }, "Queues"), ` › ${queue}`),
    tabs,
    h("div", { class: "toolbar" }, h("span", { class: "muted", "data-test": "total" }, `${result.total} ${state.replace("_", " ")} message(s)`), actions),
    rows.length
      ? table([[all], ["Message"], ["Actor"], ["Run"], ["Items", "num"], ["Enqueued", "hide-narrow"], ["Due"], ["Retries", "num"]], rows, { id: "messages" })
      : h("p", { class: "muted" }, "None."),
    pager(page, result.total, go));
}

async function showMessage(queue, messageId) {
  const back = `#/queues/${encodeURIComponent(queue)}/messages`;
  let m;
  try {
    m = await api("GET", `/queues/${encodeURIComponent(queue)}/messages/${encodeURIComponent(messageId)}`);
  } catch (error) {
    render(h("h1", {}, "Message"), h("p", { class: "error" }, error.message), h("a", { href: back }, "Back to the messages"));
    return;
  }
  const field = (label, value) => h("div", {}, h("span", { class: "label" }, label), value === null || value === undefined || value === "" ? "—" : value);
  const verbs = STATE_ACTIONS[m.state];
  render(
    h("h1", {}, h("a", { href: back + `?state=${m.state}` }, `${queue}: ${m.state.replace("_", " ")}`), " › message"),
    h("div", { class: "card grid", id: "message" },
      field("Message", m.message_id), field("State", badge(m.state.replace("_", " "), m.state)), field("Actor", m.actor),
      field("Run", m.run_id ? h("a", { href: `#/imports/${encodeURIComponent(m.run_id)}` }, m.run_id) : null),
      field("Items", m.items), field("Enqueued", when(m.enqueued_at)), field("Due", when(m.eta)), field("Retries", m.retries)),
    h("div", { class: "actions" }, verbs.map(([verb, label]) => h("button", { type: "button", class: verb === "delete" ? "danger" : null, onclick: (e) => {
      if (verb === "delete" && !confirm("Delete this message for good?")) return;
      act(e.target, () => api("POST", `/queues/${encodeURIComponent(queue)}/messages/${verb}`, { ids: [m.message_id] }),
        (r) => (r.count ? `${label}: done` : `${label}: skipped (gone, or held by a worker)`)).then((r) => { if (r && r.count) location.hash = back + `?state=${m.state}`; });
    } }, label))),
    m.error ? h("section", {}, h("h2", {}, "Error"), h("pre", { class: "block", id: "message-error" }, m.error)) : null,
    m.traceback ? h("section", {}, h("h2", {}, "Traceback"), h("pre", { class: "block", id: "message-traceback" }, m.traceback)) : null,
    h("h2", {}, "Payload"), h("pre", { class: "block", id: "message-payload" }, m.payload));
}

// Jobs ---------------------------------------------------------------------------------------

async function showJobs() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const filters = {};
  for (const name of ["q", "source", "company", "location", "job_type"]) filters[name] = params.get(name) || "";
  filters.status = params.get("status") || "active";
  const page = Number(params.get("page") || 1);
  const inputs = {
    status: h("select", { name: "status" }, ["active", "expired", "all"].map((s) =>
      h("option", { value: s, selected: s === filters.status }, s === "all" ? "active and expired" : s))),
    q: h("input", { type: "search", name: "q", value: filters.q, placeholder: "Title or company" }),
    source: h("input", { name: "source", value: filters.source }),
    company: h("input", { name: "company", value: filters.company }),
    location: h("input", { name: "location", value: filters.location }),
    job_type: h("input", { name: "job_type", value: filters.job_type }),
  };
  const form = h("form", { class: "filters", id: "job-search", onsubmit: (e) => {
    e.preventDefault();
    const next = {};
    for (const [name, input] of Object.entries(inputs)) next[name] = input.value.trim();
    location.hash = `#/jobs${query(next)}`;
  } },
  h("label", { class: "grow2" }, "Search", inputs.q), h("label", {}, "Source", inputs.source),
  h("label", {}, "Company", inputs.company), h("label", {}, "Location", inputs.location),
  h("label", {}, "Type", inputs.job_type), h("label", {}, "Status", inputs.status),
  h("button", { type: "submit", class: "primary" }, "Search"));
  let jobs;
  try {
    jobs = await api("GET", `/jobs${query({ ...filters, page, page_size: PAGE_SIZE })}`);
  } catch (error) {
    render(h("h1", {}, "Jobs"), form, h("p", {}, error.message));
    return;
  }
  const rows = jobs.items.map((job) => h("tr", { class: job.status === "expired" ? "expired" : "", "data-status": job.status },
    h("td", { class: "wrap" }, h("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.title || "(untitled)"),
      job.status === "expired" ? [" ", h("span", { class: "badge expired", title: job.expired_reason || "" }, "expired")] : null),
    h("td", {}, job.company || ""), h("td", {}, job.location || ""), h("td", { class: "hide-narrow" }, job.job_type || ""),
    h("td", { class: "hide-narrow" }, job.source), h("td", { class: "hide-narrow" }, when(job.published_at))));
  render(
    h("h1", {}, "Jobs"), form,
    table([["Title"], ["Company"], ["Location"], ["Type", "hide-narrow"], ["Source", "hide-narrow"], ["Published", "hide-narrow"]], rows, { id: "jobs" }),
    jobs.items.length ? null : h("p", { class: "muted" }, "No jobs match."),
    pager(page, jobs.total, (next) => { location.hash = `#/jobs${query({ ...filters, page: next })}`; }),
  );
}

async function showJob(jobId) {
  let job;
  try {
    job = await api("GET", `/jobs/${encodeURIComponent(jobId)}`);
  } catch (error) {
    render(h("h1", {}, "Job"), h("p", {}, error.message), h("a", { href: "#/jobs" }, "Back to jobs"));
    return;
  }
  const status = job.status === "expired"
    ? h("span", {}, badge("expired"), ` ${job.expired_reason || ""} · ${when(job.expired_at)}`) : badge("active", "completed");
  const fields = [["Status", status], ["Company", job.company], ["Location", job.location], ["Type", job.job_type],
    ["Category", job.category], ["Source", job.source], ["Published", when(job.published_at)], ["Updated", when(job.updated_at)],
    ["Last seen", when(job.last_seen_at)]];
  render(
    h("p", {}, h("a", { href: "#/jobs" }, "‹ Jobs")),
    h("h1", {}, job.title),
    h("section", { class: "card grid" }, fields.map(([label, value]) => h("div", {}, h("span", { class: "label" }, label), value || "—"))),
    job.link && /^https?:\/\//i.test(job.link) ? h("p", {}, h("a", { href: job.link, rel: "noopener noreferrer nofollow", target: "_blank" }, "Open the listing")) : null,
    h("h2", {}, "Description"),
    h("div", { class: "description card", id: "description" }, plainText(job.description || job.content) || "—"),
  );
}

// Start --------------------------------------------------------------------------------------

setupToken();
window.addEventListener("hashchange", route);
route();
live.run();
