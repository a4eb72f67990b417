// The analysts' page: search, filters, facets, timeline, article view.
// Text from the web is only ever inserted as text (textContent); the one exception is search
// highlights, which the server escapes and which are accepted only when <mark> is their sole markup.
"use strict";

const $ = (id) => document.getElementById(id);
const TOPIC_NAMES = { sanctions: "sanctions", tariffs: "tariffs", export_controls: "export controls", chip_smuggling: "chip smuggling" };
let nextCursor = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function params(extra) {
  const p = new URLSearchParams();
  const q = $("q").value.trim();
  if (q) p.set("q", q);
  for (const id of ["topic", "min_score", "source", "from", "to"]) {
    const v = $(id).value;
    if (v) p.set(id, v);
  }
  for (const [k, v] of Object.entries(extra || {})) if (v) p.set(k, v);
  return p;
}

// The API token (needed to change things when the daemon has one) stays in this tab's
// sessionStorage and travels only in the Authorization header of the calls that change things.
const TOKEN_KEY = "wirewatch.api-token";
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

async function api(path, p, init) {
  const opts = Object.assign({ credentials: "omit" }, init || {});
  const headers = new Headers(opts.headers || {});
  if (opts.method && opts.method !== "GET" && token()) headers.set("Authorization", "Bearer " + token());
  opts.headers = headers;
  const resp = await fetch(path + (p ? "?" + p.toString() : ""), opts);
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const msg = (body.error && body.error.message) || resp.statusText;
    throw new Error(resp.status === 401 || resp.status === 403 ? `${msg} (enter the API token under “Save as alert”)` : msg);
  }
  return body;
}

// Saves the current query and filters as an alert (no channel: it is seen in the alert's
// matches, its Atom feed and the event stream until one is added in the configuration).
async function saveAlert() {
  const spec = { name: $("alert-name").value.trim(), query: $("q").value.trim() };
  for (const id of ["topic", "source"]) if ($(id).value) spec[id] = $(id).value;
  if ($("min_score").value) spec.min_score = Number($("min_score").value);
  try {
    const a = await api("/api/v1/alerts", null, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(spec),
    });
    $("status").textContent = `Saved as alert “${a.name || spec.name}” (id ${a.id}).`;
  } catch (e) {
    $("status").textContent = "Could not save the alert: " + e.message;
  }
}

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
    const chip = el("a", { href: "#", class: "entity " + e.kind, title: `${e.kind} · entity:${e.id}` }, e.name || e.id);
    chip.addEventListener("click", (ev) => { ev.preventDefault(); applyFacet("entity", e.id); });
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

function renderHit(h) {
  const link = el("a", { href: "#", "data-id": h.id }, highlighted(h.highlights.title));
  link.addEventListener("click", (ev) => { ev.preventDefault(); openArticle(h.id); });
  return el("li", { class: "hit", "data-id": h.id },
    el("h3", {}, link),
    el("div", { class: "meta" }, `${h.source} · ${date(h.published)} `, badges(h.topics), entityChips(h.entities), listedChips(h.listed)),
    el("p", { class: "snippet" }, highlighted(h.highlights.body)));
}

async function search(append) {
  const p = params({ sort: $("sort").value, limit: "20", cursor: append ? nextCursor : "" });
  $("status").textContent = "Searching…";
  try {
    const r = await api("/api/v1/search", p);
    if (!append) $("results").replaceChildren();
    for (const h of r.hits) $("results").append(renderHit(h));
    nextCursor = r.next_cursor;
    $("more").hidden = !nextCursor;
    const notes = r.notes && r.notes.length ? ` (query read leniently: ${r.notes.join("; ")})` : "";
    $("status").textContent = `${r.total} result${r.total === 1 ? "" : "s"} in ${r.took_ms.toFixed(1)} ms${notes}`;
    if (!append) { timeline(); facets(); }
  } catch (e) {
    $("status").textContent = "Error: " + e.message;
  }
}

async function timeline() {
  const svg = $("timeline");
  svg.replaceChildren();
  try {
    // "auto" starts with days and coarsens until the chart has at most ~120 bars.
    const chosen = $("interval").value;
    let t = null;
    for (const interval of chosen === "auto" ? ["day", "week", "month"] : [chosen]) {
      try {
        t = await api("/api/v1/timeline", params({ interval }));
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
    $("timeline-caption").textContent = `${t.total} matches per ${t.interval}, ${t.buckets[0].start} to ${t.buckets[n - 1].start}`;
  } catch (e) {
    $("timeline-caption").textContent = "Timeline: " + e.message;
  }
}

async function facets() {
  const box = $("facets");
  try {
    const f = await api("/api/v1/facets", params());
    box.replaceChildren();
    for (const field of ["topic", "source", "entity", "lang", "listed", "program"]) {
      const values = f.facets[field] || [];
      if (!values.length) continue;
      const list = el("ul", { "data-field": field });
      for (const v of values.slice(0, 12)) {
        const item = el("li", { "data-value": v.value }, el("span", {}, v.value), el("span", {}, String(v.count)));
        if (field !== "program") item.addEventListener("click", () => applyFacet(field, v.value));
        list.append(item);
      }
      box.append(el("h4", {}, field), list);
    }
    // Keep the source filter's choices current.
    const sel = $("source"), current = sel.value;
    const names = new Set([...sel.options].map((o) => o.value));
    for (const v of f.facets.source || []) if (!names.has(v.value)) sel.append(el("option", { value: v.value }, v.value));
    sel.value = current;
  } catch (e) {
    box.textContent = "Facets: " + e.message;
  }
}

function applyFacet(field, value) {
  if (field === "topic" || field === "source") {
    $(field).value = value;
  } else {
    const q = $("q").value.trim();
    $("q").value = (q ? q + " AND " : "") + `${field}:"${value.replace(/"/g, "")}"`;
  }
  search(false);
}

async function openArticle(id) {
  try {
    const a = await api("/api/v1/articles/" + encodeURIComponent(id));
    $("a-title").textContent = a.title;
    $("a-meta").textContent = `${a.source} · ${date(a.published)}${a.authors.length ? " · " + a.authors.join(", ") : ""}${a.language ? " · " + a.language : ""}`;
    $("a-topics").replaceChildren(badges(a.analysis.topics));
    $("a-entities").replaceChildren(...(a.analysis.entities.length ? ["Entities: ", entityChips(a.analysis.entities)] : []),
      ...((a.analysis.listed || []).length ? [" Listed: ", listedChips(a.analysis.listed)] : []));
    $("a-facts").replaceChildren(...a.analysis.facts.map((f) => el("div", { class: "fact" }, describeFact(f))));
    $("a-body").replaceChildren(...bodyWithMentions(a.body, a.analysis.mentions.filter((m) => m.field === "body")));
    const link = $("a-link");
    if (/^https?:\/\//.test(a.url)) link.setAttribute("href", a.url); else link.removeAttribute("href");
    $("article").showModal();
  } catch (e) {
    $("status").textContent = "Error: " + e.message;
  }
}

function describeFact(f) {
  if (f.kind === "tariff_change") {
    const from = f.from_pct != null ? `from ${f.from_pct}% ` : "";
    const on = f.target ? ` (${f.target})` : "";
    const when = f.effective ? `, effective ${f.effective}` : "";
    return `Tariff${f.actor ? " (" + f.actor + ")" : ""} on ${f.product || "?"}${on}: ${from}to ${f.to_pct}%${when}`;
  }
  if (f.kind === "export_control_action") {
    const n = f.count != null ? `${f.count} ` : "";
    const whose = f.target ? `${f.target} ` : "";
    return `${f.agency || "?"} added ${n}${whose}entities to the ${f.list.replaceAll("_", " ")}`;
  }
  if (f.kind === "smuggling_case") {
    const parts = [f.chips.join(", ")];
    if (f.quantity != null) parts.push(`${f.quantity} units`);
    if (f.value_usd != null) parts.push(`$${f.value_usd.toLocaleString("en-US")}`);
    if (f.route.length) parts.push(`via ${f.route.join(", ")}`);
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
      para.append(topic ? el("mark", { class: "mention", title: TOPIC_NAMES[topic] || topic }, part) : document.createTextNode(part));
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

document.addEventListener("DOMContentLoaded", () => {
  $("search").addEventListener("submit", (ev) => { ev.preventDefault(); search(false); });
  for (const id of ["topic", "min_score", "source", "from", "to", "sort"]) $(id).addEventListener("change", () => search(false));
  $("interval").addEventListener("change", timeline);
  $("more").addEventListener("click", () => search(true));
  $("close").addEventListener("click", () => $("article").close());
  $("save-alert").addEventListener("submit", (ev) => { ev.preventDefault(); saveAlert(); });
  $("token").value = token();
  $("token").addEventListener("change", () => {
    const t = $("token").value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
  });
  $("token-form").addEventListener("submit", (ev) => ev.preventDefault());
  $("forget").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); $("token").value = ""; });
  const q = new URLSearchParams(location.search).get("q");
  if (q) $("q").value = q;
  search(false);
});
