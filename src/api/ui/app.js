// The analysts' workbench: search with filters, facets and a timeline; the article view; alerts
// (save a search, dry run, edit, pause, delete); the delivery log with replay; source health;
// export. Plain script, no build step.
//
// The URL is the state: the view, the query, its filters, sort, page cursor and the open article
// are all in the query string, so that every view is a permalink and back/forward replay it.
// Text from the web and from users is only ever inserted as text (textContent); the one
// exception is search highlights, which the server escapes and which are accepted only when
// <mark> is their sole markup.
"use strict";

const $ = (id) => document.getElementById(id);
const TOPIC_NAMES = { sanctions: "sanctions", tariffs: "tariffs", export_controls: "export controls", chip_smuggling: "chip smuggling" };
const VIEWS = ["search", "alerts", "deliveries", "sources"];
const FILTERS = ["topic", "min_score", "source", "from", "to"];
const PAGE_SIZE = 20;
// Permalink parameters in the order they are written.
const URL_KEYS = ["view", "q", ...FILTERS, "sort", "interval", "cursor", "status", "article"];

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v; else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function notice(text, isError) {
  const n = $("notice");
  n.textContent = text;
  n.classList.toggle("error", Boolean(isError));
}

// ---- The URL as state ----

function current() {
  return new URLSearchParams(location.search);
}

function viewOf(p) {
  return VIEWS.includes(p.get("view")) ? p.get("view") : "search";
}

// Drops empty values and defaults, and orders the keys, so that equal states have equal URLs.
function canonical(p) {
  const out = new URLSearchParams();
  for (const k of URL_KEYS) {
    const v = p.get(k);
    if (!v) continue;
    if ((k === "view" && v === "search") || (k === "sort" && v === "relevance") || (k === "interval" && v === "auto")) continue;
    out.set(k, v);
  }
  return out;
}

function hrefOf(p) {
  const s = canonical(p).toString();
  return s ? "?" + s : location.pathname;
}

// Goes to a new state: a history entry (or a replaced one), then the page follows the URL.
function go(p, replace) {
  const href = hrefOf(p);
  if (href !== location.search && !(href === location.pathname && !location.search)) {
    history[replace ? "replaceState" : "pushState"](null, "", href);
  }
  render();
}

// The search box and filters as URL parameters (view, cursor and article left out).
function searchParamsFromControls() {
  const p = new URLSearchParams();
  const q = $("q").value.trim();
  if (q) p.set("q", q);
  for (const id of FILTERS) if ($(id).value) p.set(id, $(id).value);
  p.set("sort", $("sort").value);
  p.set("interval", $("interval").value);
  return p;
}

function controlsFromUrl(p) {
  $("q").value = p.get("q") || "";
  for (const id of FILTERS) {
    const v = p.get(id) || "";
    const c = $(id);
    // A source named in a permalink may not be among the options yet.
    if (c.tagName === "SELECT" && v && ![...c.options].some((o) => o.value === v)) c.append(el("option", { value: v }, v));
    c.value = v;
  }
  $("sort").value = p.get("sort") === "newest" ? "newest" : "relevance";
  $("interval").value = ["day", "week", "month"].includes(p.get("interval")) ? p.get("interval") : "auto";
  $("d-status").value = ["pending", "delivered", "dead"].includes(p.get("status")) ? p.get("status") : "";
}

// The parameters the API takes for the current search's filters.
function apiFilters(p, keys) {
  const out = new URLSearchParams();
  for (const k of ["q", ...FILTERS, ...(keys || [])]) if (p.get(k)) out.set(k, p.get(k));
  return out;
}

function submitSearch() {
  const p = searchParamsFromControls();
  go(p);
}

// ---- API calls ----

// The API token (needed to change things when the daemon has one) stays in this tab's
// sessionStorage and travels only in the Authorization header of the calls that change things.
const TOKEN_KEY = "wirewatch.api-token";
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

async function api(path, p, init) {
  const opts = Object.assign({ credentials: "omit" }, init || {});
  const headers = new Headers(opts.headers || {});
  if (opts.method && opts.method !== "GET" && token()) headers.set("Authorization", "Bearer " + token());
  if (opts.json !== undefined) {
    headers.set("Content-Type", "application/json");
    opts.body = JSON.stringify(opts.json);
    delete opts.json;
  }
  opts.headers = headers;
  const resp = await fetch(path + (p && p.toString() ? "?" + p.toString() : ""), opts);
  const body = resp.status === 204 ? {} : await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const msg = (body.error && body.error.message) || resp.statusText;
    throw new Error(resp.status === 401 || resp.status === 403 ? `${msg} (enter the API token under “API token” at the top)` : msg);
  }
  return body;
}

// ---- Rendering the view the URL names ----

// What was last drawn, per part of the search view, so that opening an article or going back
// from one does not search again.
const drawn = { results: null, timeline: null, facets: null };

async function render() {
  const p = current();
  const view = viewOf(p);
  controlsFromUrl(p);
  for (const v of VIEWS) $("view-" + v).hidden = v !== view;
  for (const a of document.querySelectorAll("#views a")) {
    const q = new URLSearchParams(p);
    q.set("view", a.dataset.view);
    q.delete("article");
    a.setAttribute("href", hrefOf(q));
    if (a.dataset.view === view) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  document.title = view === "search" ? (p.get("q") ? `${p.get("q")} · wirewatch` : "wirewatch") : `${view} · wirewatch`;
  const article = p.get("article");
  if (article && /^[0-9a-fA-F]{1,64}$/.test(article)) {
    if ($("article").dataset.id !== article || !$("article").open) openArticle(article);
  } else if ($("article").open) {
    $("article").close();
  }
  if (view === "search") await renderSearch(p);
  else if (view === "alerts") await renderAlerts();
  else if (view === "deliveries") await renderDeliveries(p);
  else if (view === "sources") await renderSources();
}

async function renderSearch(p) {
  updateExportLinks(p);
  const key = (keys) => apiFilters(p, keys).toString();
  const tasks = [];
  if (drawn.results !== key(["sort", "cursor"])) { drawn.results = key(["sort", "cursor"]); tasks.push(search(p)); }
  if (drawn.timeline !== key(["interval"])) { drawn.timeline = key(["interval"]); tasks.push(timeline(p)); }
  if (drawn.facets !== key()) { drawn.facets = key(); tasks.push(facets(p)); }
  await Promise.all(tasks);
}

function updateExportLinks(p) {
  for (const format of ["csv", "jsonl"]) {
    const e = apiFilters(p);
    e.set("format", format);
    e.set("sort", p.get("sort") === "newest" ? "newest" : "relevance");
    $("export-" + format).setAttribute("href", "/api/v1/export?" + e.toString());
  }
}

// ---- Search ----

// Server highlights: escaped text with <mark> tags only. Anything else is shown as plain text.
function highlighted(html) {
  const span = el("span");
  if (/<(?!\/?mark>)/i.test(html)) {
    span.textContent = html.replace(/<\/?mark>/g, "");
  } else {
    span.innerHTML = html;
  }
  return span;
}

function badges(topics) {
  const box = el("span", { class: "badges" });
  for (const t of topics || []) {
    box.append(el("span", { class: "badge " + t.name, title: "score " + t.score }, TOPIC_NAMES[t.name] || t.name));
  }
  return box;
}

// Entities by name, with their kind and id in the tooltip; a click filters by the entity.
function entityChips(entities) {
  const box = el("span", { class: "entities" });
  for (const e of entities || []) {
    const chip = el("button", { type: "button", class: "entity " + e.kind, title: `${e.kind} · entity:${e.id}` }, e.name || e.id, el("span", { class: "kind" }, e.kind));
    chip.addEventListener("click", () => { if ($("article").open) $("article").close(); applyFacet("entity", e.id); });
    box.append(chip);
  }
  return box;
}

// Restricted-party listings beside the entities: list, entry and programs in the tooltip; a click
// finds every article naming the entry.
function listedChips(listed) {
  const box = el("span", { class: "listings" });
  for (const l of listed || []) {
    const programs = (l.programs || []).join(", ");
    const title = `listed on ${l.list}${l.listed_on ? " since " + l.listed_on : ""} · entry ${l.id}${programs ? " · " + programs : ""}`;
    const chip = el("a", { href: "#", class: "listed", title }, `${l.list}: ${l.name}`);
    chip.addEventListener("click", (ev) => { ev.preventDefault(); applyFacet("listed", l.id); });
    box.append(chip);
  }
  return box;
}

function date(s) {
  return s ? s.slice(0, 10) : "undated";
}

function when(s) {
  return s ? s.slice(0, 16).replace("T", " ") + " UTC" : "—";
}

function articleHref(id) {
  const p = current();
  p.set("article", id);
  return hrefOf(p);
}

function openArticleLink(id, ...children) {
  const link = el("a", { href: articleHref(id), "data-id": id }, ...children);
  link.addEventListener("click", (ev) => {
    ev.preventDefault();
    const p = current();
    p.set("article", id);
    go(p);
  });
  return link;
}

function renderHit(h) {
  return el("li", { class: "hit", "data-id": h.id },
    el("h3", {}, openArticleLink(h.id, highlighted(h.highlights.title))),
    el("div", { class: "meta" }, `${h.source} · ${date(h.published)} `, badges(h.topics), entityChips(h.entities), listedChips(h.listed)),
    el("p", { class: "snippet" }, highlighted(h.highlights.body)));
}

function cursorOffset(c) {
  const m = /^(\d+)\.(-?\d+)$/.exec(c || "");
  return m ? { offset: Number(m[1]), asof: m[2] } : null;
}

async function search(p) {
  const q = apiFilters(p, ["sort", "cursor"]);
  q.set("limit", String(PAGE_SIZE));
  $("status").textContent = "Searching…";
  try {
    const r = await api("/api/v1/search", q);
    $("results").replaceChildren(...r.hits.map(renderHit));
    const at = cursorOffset(p.get("cursor"));
    const offset = at ? at.offset : 0;
    $("next").hidden = !r.next_cursor;
    $("next").dataset.cursor = r.next_cursor || "";
    $("prev").hidden = offset === 0;
    // The previous page of the same snapshot: cursors are `offset.asof`.
    $("prev").dataset.cursor = at && offset > PAGE_SIZE ? `${offset - PAGE_SIZE}.${at.asof}` : "";
    const notes = r.notes && r.notes.length ? ` (query read leniently: ${r.notes.join("; ")})` : "";
    const range = offset > 0 || r.next_cursor ? ` · showing ${r.hits.length ? offset + 1 : 0}–${offset + r.hits.length}` : "";
    $("status").textContent = `${r.total} result${r.total === 1 ? "" : "s"} in ${r.took_ms.toFixed(1)} ms${range}${notes}`;
  } catch (e) {
    drawn.results = null;
    $("results").replaceChildren();
    $("next").hidden = $("prev").hidden = true;
    $("status").textContent = "Error: " + e.message;
  }
}

function page(which) {
  const p = current();
  const c = $(which).dataset.cursor;
  if (c) p.set("cursor", c); else p.delete("cursor");
  go(p);
  $("status").focus();
}

async function timeline(p) {
  const svg = $("timeline");
  svg.replaceChildren();
  try {
    // "auto" starts with days and coarsens until the chart has at most ~120 bars.
    const chosen = ["day", "week", "month"].includes(p.get("interval")) ? p.get("interval") : "auto";
    let t = null;
    for (const interval of chosen === "auto" ? ["day", "week", "month"] : [chosen]) {
      const q = apiFilters(p);
      q.set("interval", interval);
      try {
        t = await api("/api/v1/timeline", q);
      } catch (e) {
        if (chosen !== "auto") throw e;
        continue;
      }
      if (t.buckets.length <= 120) break;
    }
    if (!t) throw new Error("no timeline");
    const n = t.buckets.length;
    if (!n) { $("timeline-caption").textContent = "No matches over time."; return; }
    const max = Math.max(1, ...t.buckets.map((b) => b.count));
    const w = 1000 / n;
    svg.setAttribute("viewBox", "0 0 1000 100");
    svg.setAttribute("preserveAspectRatio", "none");
    t.buckets.forEach((b, i) => {
      const h = (b.count / max) * 96;
      const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      r.setAttribute("x", String(i * w + w * 0.1));
      r.setAttribute("width", String(Math.max(w * 0.8, 0.5)));
      r.setAttribute("y", String(100 - h));
      r.setAttribute("height", String(h));
      r.setAttribute("data-count", String(b.count));
      const tip = document.createElementNS("http://www.w3.org/2000/svg", "title");
      tip.textContent = `${b.start}: ${b.count}`;
      r.append(tip);
      svg.append(r);
    });
    $("timeline-caption").textContent = `${t.total} match${t.total === 1 ? "" : "es"} per ${t.interval}, ${t.buckets[0].start} to ${t.buckets[n - 1].start}`;
  } catch (e) {
    drawn.timeline = null;
    $("timeline-caption").textContent = "Timeline: " + e.message;
  }
}

async function facets(p) {
  const box = $("facets");
  try {
    const f = await api("/api/v1/facets", apiFilters(p));
    box.replaceChildren();
    for (const field of ["topic", "source", "entity", "lang", "listed", "program"]) {
      const values = f.facets[field] || [];
      if (!values.length) continue;
      const list = el("ul", { "data-field": field });
      for (const v of values.slice(0, 12)) {
        const b = el("button", { type: "button", class: "facet" }, el("span", {}, field === "topic" ? TOPIC_NAMES[v.value] || v.value : v.value), el("span", { class: "count" }, String(v.count)));
        // Programs are shown for counting; the query language has no program filter.
        if (field !== "program") b.addEventListener("click", () => applyFacet(field, v.value));
        list.append(el("li", { "data-value": v.value }, b));
      }
      box.append(el("h4", {}, field), list);
    }
    // Keep the source filter's choices current.
    const sel = $("source"), chosen = sel.value;
    const names = new Set([...sel.options].map((o) => o.value));
    for (const v of f.facets.source || []) if (!names.has(v.value)) sel.append(el("option", { value: v.value }, v.value));
    sel.value = chosen;
  } catch (e) {
    drawn.facets = null;
    box.textContent = "Facets: " + e.message;
  }
}

function applyFacet(field, value) {
  const p = searchParamsFromControls();
  if (field === "topic" || field === "source") {
    p.set(field, value);
  } else {
    const q = p.get("q") || "";
    p.set("q", (q ? q + " AND " : "") + `${field}:"${value.replace(/"/g, "")}"`);
  }
  go(p);
}

// ---- Article view ----

async function openArticle(id) {
  const dlg = $("article");
  dlg.dataset.id = id;
  try {
    const a = await api("/api/v1/articles/" + encodeURIComponent(id));
    if (dlg.dataset.id !== id) return;
    $("a-title").textContent = a.title;
    $("a-meta").textContent = `${a.source} · ${date(a.published)}${a.authors.length ? " · " + a.authors.join(", ") : ""}${a.language ? " · " + a.language : ""}`;
    $("a-topics").replaceChildren(badges(a.analysis.topics));
    $("a-entities").replaceChildren(...(a.analysis.entities.length ? ["Entities: ", entityChips(a.analysis.entities)] : []),
      ...((a.analysis.listed || []).length ? [" Listed: ", listedChips(a.analysis.listed)] : []));
    $("a-facts").replaceChildren(...(a.analysis.facts.length ? [el("h3", {}, "Facts"), ...a.analysis.facts.map((f) => el("div", { class: "fact" }, describeFact(f)))] : []));
    $("a-body").replaceChildren(...bodyWithMentions(a.body, a.analysis.mentions.filter((m) => m.field === "body")));
    const link = $("a-link");
    if (/^https?:\/\//.test(a.url)) link.setAttribute("href", a.url); else link.removeAttribute("href");
    if (!dlg.open) dlg.showModal();
    $("close").focus();
  } catch (e) {
    notice("Article: " + e.message, true);
    const p = current();
    if (p.get("article") === id) { p.delete("article"); go(p, true); }
  }
}

function describeFact(f) {
  if (f.kind === "tariff_change") {
    const from = f.from_pct != null ? `from ${f.from_pct}% ` : "";
    const on = f.target ? ` (${f.target})` : "";
    const at = f.effective ? `, effective ${f.effective}` : "";
    return `Tariff${f.actor ? " (" + f.actor + ")" : ""} on ${f.product || "?"}${on}: ${from}to ${f.to_pct}%${at}`;
  }
  if (f.kind === "export_control_action") {
    const n = f.count != null ? `${f.count} ` : "";
    const whose = f.target ? `${f.target} ` : "";
    return `${f.agency || "?"} added ${n}${whose}entities to the ${String(f.list || "?").replaceAll("_", " ")}`;
  }
  if (f.kind === "smuggling_case") {
    const parts = [(f.chips || []).join(", ")];
    if (f.quantity != null) parts.push(`${f.quantity} units`);
    if (f.value_usd != null) parts.push(`$${f.value_usd.toLocaleString("en-US")}`);
    if (f.route && f.route.length) parts.push(`via ${f.route.join(", ")}`);
    return `Smuggling case: ${parts.join("; ")}`;
  }
  return JSON.stringify(f);
}

// Paragraphs of the body, with the sentences that mention a topic marked. Offsets are in
// characters (code points), as the API gives them.
function bodyWithMentions(body, mentions) {
  const chars = Array.from(body);
  const marks = mentions.map((m) => [m.start, m.end, m.topic]).sort((a, b) => a[0] - b[0]);
  const out = [];
  let para = el("p"), pos = 0;
  const pushText = (from, to, topic) => {
    const text = chars.slice(from, to).join("");
    const parts = text.split("\n\n");
    parts.forEach((part, i) => {
      if (i > 0) { out.push(para); para = el("p"); }
      if (!part) return;
      para.append(topic ? el("mark", { class: "mention " + topic, title: TOPIC_NAMES[topic] || topic }, part) : document.createTextNode(part));
    });
  };
  for (const [start, end, topic] of marks) {
    if (start < pos) continue;
    pushText(pos, start, null);
    pushText(start, end, topic);
    pos = end;
  }
  pushText(pos, chars.length, null);
  out.push(para);
  return out;
}

// ---- Alerts ----

const SPEC_KEYS = ["name", "query", "topic", "entity", "source", "lang", "min_score", "channels", "mode", "on_update", "enabled"];
let editing = null; // the id of the alert in the editor; null for a new one

// An alert as the API takes it back (it refuses `id` and `origin` in a body).
function specOf(a) {
  const spec = {};
  for (const k of SPEC_KEYS) if (a[k] !== undefined && a[k] !== null) spec[k] = a[k];
  return spec;
}

function describeSearch(a) {
  const parts = [];
  if (a.query) parts.push(a.query);
  if (a.topic) parts.push("topic: " + (TOPIC_NAMES[a.topic] || a.topic));
  if (a.entity) parts.push("entity: " + a.entity);
  if (a.source) parts.push("source: " + a.source);
  if (a.lang) parts.push("lang: " + a.lang);
  if (a.min_score) parts.push("score ≥ " + a.min_score);
  return parts.length ? parts.join(" · ") : "every new article";
}

function openEditor(a, title) {
  editing = a && a.id ? a.id : null;
  $("ae-title").textContent = title || (editing ? "Edit alert" : "New alert");
  const s = a || {};
  $("ae-name").value = s.name || "";
  $("ae-query").value = s.query || "";
  $("ae-topic").value = s.topic || "";
  $("ae-min-score").value = String(s.min_score || 0);
  $("ae-entity").value = s.entity || "";
  $("ae-source").value = s.source || "";
  $("ae-lang").value = s.lang || "";
  $("ae-channels").value = (s.channels || []).join(", ");
  $("ae-mode").value = s.mode || "immediate";
  $("ae-on-update").checked = Boolean(s.on_update);
  $("ae-enabled").checked = s.enabled !== false;
  $("ae-error").textContent = "";
  $("ae-dry-result").replaceChildren();
  $("alert-editor").showModal();
  $(s.name ? "ae-query" : "ae-name").focus();
}

// The editor's fields as an alert body.
function editorSpec(forDryRun) {
  const spec = {
    name: $("ae-name").value.trim(),
    query: $("ae-query").value.trim(),
    min_score: Number($("ae-min-score").value) || 0,
    channels: $("ae-channels").value.split(",").map((c) => c.trim()).filter(Boolean),
    mode: $("ae-mode").value,
    on_update: $("ae-on-update").checked,
    enabled: $("ae-enabled").checked,
  };
  // A dry run needs no name yet; the API checks one anyway, as it would be saved.
  if (forDryRun && !spec.name) spec.name = spec.query.slice(0, 200) || "dry run";
  for (const [k, id] of [["topic", "ae-topic"], ["entity", "ae-entity"], ["source", "ae-source"], ["lang", "ae-lang"]]) {
    const v = $(id).value.trim();
    if (v) spec[k] = v;
  }
  return spec;
}

function saveCurrentSearch() {
  const p = current();
  const q = p.get("q") || "";
  openEditor({
    name: "",
    query: q,
    topic: p.get("topic") || "",
    source: p.get("source") || "",
    min_score: Number(p.get("min_score") || 0),
    enabled: true,
  }, "Save search as alert");
}

async function dryRun() {
  const out = $("ae-dry-result");
  $("ae-error").textContent = "";
  const days = $("ae-days").value || "30";
  out.replaceChildren(el("p", { class: "muted" }, "Running…"));
  try {
    const r = await api("/api/v1/alerts/test", new URLSearchParams({ days }), { method: "POST", json: editorSpec(true) });
    const list = el("ol", { class: "dry-matches" });
    for (const m of r.matches) {
      const ev = (m.evidence || []).slice(0, 2).map((e) => el("blockquote", {}, e.sentence));
      list.append(el("li", {}, el("strong", {}, m.title), el("span", { class: "meta" }, ` ${m.source} · ${date(m.published)} `), badges(m.topics), ...ev));
    }
    const shown = r.matches.length < r.total ? ` (the newest ${r.matches.length} that pass the minimum score shown)` : "";
    out.replaceChildren(
      el("h3", {}, "Dry run"),
      el("p", { id: "ae-dry-summary" }, `Would have matched ${r.total} article${r.total === 1 ? "" : "s"} in the last ${days} day${days === "1" ? "" : "s"}${shown}.`),
      list);
  } catch (e) {
    out.replaceChildren();
    $("ae-error").textContent = "Dry run: " + e.message;
  }
}

async function saveAlert() {
  $("ae-error").textContent = "";
  const spec = editorSpec(false);
  try {
    const a = editing
      ? await api("/api/v1/alerts/" + editing, null, { method: "PUT", json: spec })
      : await api("/api/v1/alerts", null, { method: "POST", json: spec });
    $("alert-editor").close();
    notice(`Saved alert “${a.name}” (id ${a.id}).`);
    if (viewOf(current()) === "alerts") renderAlerts();
  } catch (e) {
    $("ae-error").textContent = "Could not save the alert: " + e.message;
  }
}

function confirmThen(text, action) {
  $("confirm-text").textContent = text;
  const dlg = $("confirm");
  const yes = $("confirm-yes");
  const fresh = yes.cloneNode(true);
  yes.replaceWith(fresh);
  fresh.addEventListener("click", async () => { dlg.close(); await action(); });
  dlg.showModal();
  $("confirm-no").focus();
}

async function renderAlerts() {
  const body = $("alerts-table").tBodies[0];
  try {
    const { alerts } = await api("/api/v1/alerts");
    body.replaceChildren(...alerts.map(alertRow));
    if (!alerts.length) body.append(el("tr", {}, el("td", { colspan: "6", class: "empty" }, "No alerts yet: search, then “Save as alert…”.")));
  } catch (e) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "error" }, "Alerts: " + e.message)));
  }
}

function alertRow(a) {
  const fromConfig = a.origin === "config";
  const locked = fromConfig ? "defined in the configuration file; change it there" : undefined;
  const btn = (label, cls, action) => {
    const b = el("button", { type: "button", class: cls, disabled: fromConfig, title: locked }, label);
    b.addEventListener("click", action);
    return b;
  };
  const open = new URLSearchParams();
  for (const k of ["topic", "source"]) if (a[k]) open.set(k, a[k]);
  if (a.query) open.set("q", a.query);
  const edit = btn("Edit", "secondary edit", () => openEditor(a));
  const pause = btn(a.enabled ? "Pause" : "Resume", "secondary pause", async () => {
    try {
      await api("/api/v1/alerts/" + a.id, null, { method: "PUT", json: Object.assign(specOf(a), { enabled: !a.enabled }) });
      notice(`Alert “${a.name}” ${a.enabled ? "paused" : "resumed"}.`);
      renderAlerts();
    } catch (e) { notice("Could not change the alert: " + e.message, true); }
  });
  const del = btn("Delete", "danger delete", () => confirmThen(`Delete the alert “${a.name}” and its delivery log?`, async () => {
    try {
      await api("/api/v1/alerts/" + a.id, null, { method: "DELETE" });
      notice(`Alert “${a.name}” deleted.`);
      renderAlerts();
    } catch (e) { notice("Could not delete the alert: " + e.message, true); }
  }));
  const searchLink = el("a", { href: hrefOf(open) }, "Search");
  const feed = el("a", { href: `/api/v1/alerts/${a.id}/feed.atom` }, "Atom");
  return el("tr", { "data-id": String(a.id), class: a.enabled ? "" : "paused" },
    cell("Name", "", el("strong", {}, a.name), fromConfig ? el("span", { class: "chip" }, "config") : null),
    cell("Search", "", describeSearch(a)),
    cell("Channels", "", (a.channels || []).join(", ") || "—"),
    cell("Mode", "", a.mode || "immediate"),
    cell("State", "", el("span", { class: "chip " + (a.enabled ? "ok" : "warn") }, a.enabled ? "active" : "paused")),
    cell("Actions", "actions", edit, pause, del, searchLink, feed));
}

// A table cell labelled for the phone layout, where rows become cards; its content is wrapped so
// that the label and the content are the cell's two columns.
function cell(label, cls, ...children) {
  return el("td", { "data-label": label, class: cls || undefined }, el("div", { class: "cell" }, ...children));
}

// ---- Deliveries ----

async function renderDeliveries(p) {
  const body = $("deliveries-table").tBodies[0];
  try {
    const q = new URLSearchParams({ limit: "200" });
    if (p.get("status")) q.set("status", p.get("status"));
    const [{ deliveries }, { alerts }] = await Promise.all([api("/api/v1/deliveries", q), api("/api/v1/alerts")]);
    const names = new Map(alerts.map((a) => [a.id, a.name]));
    body.replaceChildren(...deliveries.map((d) => deliveryRow(d, names)));
    if (!deliveries.length) body.append(el("tr", {}, el("td", { colspan: "10", class: "empty" }, "No deliveries.")));
  } catch (e) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "10", class: "error" }, "Deliveries: " + e.message)));
  }
}

function deliveryRow(d, names) {
  const replay = d.status === "dead" ? el("button", { type: "button", class: "replay" }, "Replay") : null;
  if (replay) {
    replay.addEventListener("click", async () => {
      try {
        await api(`/api/v1/deliveries/${d.id}/replay`, null, { method: "POST" });
        notice(`Delivery ${d.id} queued again.`);
        renderDeliveries(current());
      } catch (e) { notice("Could not replay: " + e.message, true); }
    });
  }
  const state = { delivered: "ok", pending: "warn", dead: "bad" }[d.status] || "";
  return el("tr", { "data-id": String(d.id), class: "status-" + d.status },
    cell("#", "", String(d.id)),
    cell("Alert", "", names.get(d.alert_id) || `#${d.alert_id}`),
    cell("Article", "", openArticleLink(d.article_id, el("code", { title: d.article_id }, d.article_id.slice(0, 10) + "…"))),
    cell("Channel", "", d.channel),
    cell("Status", "", el("span", { class: "chip " + state }, d.status === "dead" ? "failed" : d.status)),
    cell("Attempts", "", String(d.attempts)),
    cell("Next attempt", "", d.status === "pending" ? when(d.next_attempt_at) : "—"),
    cell("Delivered", "", when(d.delivered_at)),
    cell("Last error", d.last_error ? "error-text" : "", d.last_error || "—"),
    cell("Action", "", replay));
}

// ---- Sources ----

async function renderSources() {
  const body = $("sources-table").tBodies[0];
  try {
    const { sources } = await api("/api/v1/sources");
    body.replaceChildren(...sources.map(sourceRow));
    if (!sources.length) body.append(el("tr", {}, el("td", { colspan: "9", class: "empty" }, "No sources configured.")));
  } catch (e) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "9", class: "error" }, "Sources: " + e.message)));
  }
}

function sourceRow(s) {
  const flags = [];
  const flag = (on, label, cls, title) => { if (on) flags.push(el("span", { class: "chip flag " + cls, title }, label)); };
  flag(s.bot_wall, "bot wall", "bad", `anti-bot challenge pages (${s.bot_wall_pages} article pages since start)`);
  flag(s.paywall, "paywall", "warn", `${s.paywalled_pages} article pages were paywall teasers since start`);
  flag(s.stale, "stale", "warn", "answers, but has brought nothing new for a long time");
  flag(!s.enabled, "disabled", "", "switched off in the configuration");
  flag(s.refused_fetches > 0, "refused", "bad", s.last_refusal || "");
  const ok = s.status === "ok" || s.status === "not-modified";
  const error = [s.last_error, s.last_refusal ? "refused: " + s.last_refusal : null].filter(Boolean).join(" · ");
  return el("tr", { "data-name": s.name },
    cell("Source", "", el("strong", {}, s.name), el("div", { class: "meta url" }, `${s.kind} · ${s.url}`)),
    cell("Status", "", el("span", { class: "chip " + (s.status ? (ok ? "ok" : "bad") : "") }, s.status || "not polled yet"),
      s.consecutive_failures ? el("div", { class: "meta" }, `${s.consecutive_failures} failures in a row`) : null),
    cell("Last fetch", "", when(s.last_attempt)),
    cell("Last success", "", when(s.last_success)),
    cell("Items/day", "num", s.items_per_day.toFixed(1)),
    cell("Articles", "num", String(s.article_count)),
    cell("Next check", "", when(s.next_check)),
    cell("Flags", "flags", ...(flags.length ? flags : ["—"])),
    cell("Error", error ? "error-text" : "", error || "—"));
}

// ---- Wiring ----

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

document.addEventListener("DOMContentLoaded", () => {
  $("search").addEventListener("submit", (ev) => { ev.preventDefault(); submitSearch(); });
  for (const id of [...FILTERS, "sort", "interval"]) $(id).addEventListener("change", submitSearch);
  $("next").addEventListener("click", () => page("next"));
  $("prev").addEventListener("click", () => page("prev"));
  $("status").setAttribute("tabindex", "-1");
  for (const a of document.querySelectorAll("#views a")) {
    a.addEventListener("click", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
      ev.preventDefault();
      go(new URLSearchParams(a.getAttribute("href").slice(1)));
    });
  }
  $("close").addEventListener("click", () => $("article").close());
  // However the article closes (button, Esc), the URL drops it: back reopens it.
  $("article").addEventListener("close", () => {
    const p = current();
    if (p.get("article")) { p.delete("article"); go(p); }
  });
  $("save-search").addEventListener("click", saveCurrentSearch);
  $("new-alert").addEventListener("click", () => openEditor(null));
  $("alert-form").addEventListener("submit", (ev) => { ev.preventDefault(); saveAlert(); });
  $("ae-dry").addEventListener("click", dryRun);
  $("ae-cancel").addEventListener("click", () => $("alert-editor").close());
  $("ae-close").addEventListener("click", () => $("alert-editor").close());
  $("confirm-no").addEventListener("click", () => $("confirm").close());
  $("d-status").addEventListener("change", () => {
    const p = current();
    if ($("d-status").value) p.set("status", $("d-status").value); else p.delete("status");
    go(p);
  });
  $("d-refresh").addEventListener("click", () => renderDeliveries(current()));
  $("s-refresh").addEventListener("click", renderSources);
  $("token").value = token();
  $("token").addEventListener("change", () => {
    const t = $("token").value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
  });
  $("token-form").addEventListener("submit", (ev) => ev.preventDefault());
  $("forget").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); $("token").value = ""; });
  // "/" focuses the search box from anywhere but a text field or a dialog.
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target) || document.querySelector("dialog[open]")) return;
    ev.preventDefault();
    if (viewOf(current()) !== "search") {
      const p = current();
      p.delete("view");
      go(p);
    }
    $("q").focus();
    $("q").select();
  });
  window.addEventListener("popstate", render);
  render();
});
