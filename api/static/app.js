// mediasearch web page: search, editor facets, asset pages and feeds over the /v1 API.
// Plain JavaScript, no dependencies, no external requests.
//
// The search page follows the issue-17 contract (docs: /work/prompts/contract17.md in the project's notes):
// "N found" is the response's `found` (the confident set), the tabs are `counts`, the facets are counted over
// that same set, hits below the relevance cut-off come back only on request (`loose=true`) and are shown
// in their own section. When a server predates that contract (no `found` field), the page falls back to
// the older figures (`candidates`, the type facet) and simply has no "more results" section.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const main = $("#main");
const FACET_LABELS = { type: "Media type", label: "Labels", owner: "Owner", licence: "Licence", colour: "Colours",
  faces: "Faces", annotation: "Annotations (OCR, speech, content flags…)", model: "Annotation model", year: "Year",
  tag: "Tags", visibility: "Visibility" };
const TABS = [["all", "All"], ["image", "Images"], ["video", "Videos"], ["text", "Texts"], ["audio", "Audio"]];
const SORTS = [["relevance", "Relevance"], ["date", "Date"], ["duration", "Duration"], ["owner", "Owner"], ["title", "Title"]];
const DEFAULT_ORDER = { relevance: "desc", date: "desc", duration: "desc", owner: "asc", title: "asc" };
// The table's columns: [key, heading, the server sort it maps to (or null), cell].
const COLUMNS = [
  ["title", "Title", "title", h => `<a href="${assetUrl(h.id)}" data-link>${esc(h.title || h.id)}</a>${h.snippet ? `<div class="snippet">${h.snippet}</div>` : ""}`],
  ["media_type", "Type", null, h => esc(h.media_type)],
  ["owner", "Owner", "owner", h => esc(h.owner)],
  ["score", "Score", "relevance", h => (typeof h.score === "number" ? h.score.toFixed(4) : "")],
  ["moment", "Moment", null, h => (h.segment ? `${fmtTime(h.segment.start)}–${fmtTime(h.segment.end)}` : "")],
  ["duplicates", "Duplicates", null, h => (h.duplicates ? String(h.duplicates) : "")],
  ["id", "Id", null, h => esc(h.id)],
];
const DEFAULT_COLUMNS = ["title", "media_type", "owner", "score", "id"];
const PAGE = 24;
const state = { q: "", tab: "all", selected: {}, excluded: {}, image: null, imageUrl: null, page: 0,
  view: "grid", why: false, sort: "relevance", order: null, columns: [...DEFAULT_COLUMNS], loose: false,
  last: null, looseData: null, seq: 0, drawer: false };

function esc(s) { return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function user() { return $("#username").value.trim(); }
function withUser(params = {}) { const u = user(); return u ? { ...params, username: u } : params; }
function qs(params) { const p = new URLSearchParams(); for (const [k, v] of Object.entries(params)) { if (Array.isArray(v)) v.forEach(x => p.append(k, x)); else if (v !== null && v !== undefined && v !== "") p.append(k, v); } return p.toString(); }
function fmtTime(t) { if (t == null) return ""; const m = Math.floor(t / 60), s = Math.floor(t % 60); return `${m}:${String(s).padStart(2, "0")}`; }
function assetUrl(id) { return `/assets/${encodeURIComponent(id)}`; }
function plural(n, one, many = one + "s") { return `${n} ${n === 1 ? one : many}`; }

async function api(path, options = {}) {
  const res = await fetch(path, options);
  if (res.status === 204) return null;
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = body.error || {};
    const detail = Array.isArray(body.detail) ? body.detail.map(d => `${d.loc.join(".")}: ${d.msg}`).join("; ") : "";
    const err = new Error((e.message || detail || res.statusText) + (e.hint ? `\n(${e.hint})` : ""));
    err.status = res.status;
    throw err;
  }
  return body;
}

// ---------- search: state <-> URL ----------
// Everything that makes a result page is in the URL, so Back and Forward restore it and a search can be
// bookmarked or shared: the query, tab, included (f.FIELD) and excluded (nf.FIELD) facet values, sort,
// order, page, view, table columns and whether the loose hits are shown.
function effectiveOrder() { return state.order || DEFAULT_ORDER[state.sort] || "desc"; }

function urlQuery({ page = true } = {}) {
  const p = { q: state.q, tab: state.tab === "all" ? "" : state.tab };
  for (const [f, vs] of Object.entries(state.selected)) if (vs.length) p[`f.${f}`] = vs;
  for (const [f, vs] of Object.entries(state.excluded)) if (vs.length) p[`nf.${f}`] = vs;
  if (state.sort !== "relevance") p.sort = state.sort;
  if (state.order) p.order = state.order;
  if (page && state.page) p.page = state.page + 1;
  if (state.view !== "grid") p.view = state.view;
  if (state.view === "table" && state.columns.join(",") !== DEFAULT_COLUMNS.join(",")) p.cols = state.columns.join(",");
  if (state.loose) p.loose = "1";
  return qs(p);
}
function searchHref() { const s = urlQuery(); return "/" + (s ? "?" + s : ""); }

function stateFromUrl(search) {
  const p = new URLSearchParams(search);
  state.q = p.get("q") || "";
  state.tab = TABS.some(([k]) => k === p.get("tab")) ? p.get("tab") : "all";
  state.selected = {}; state.excluded = {};
  for (const [k, v] of p.entries()) {
    if (k.startsWith("f.")) (state.selected[k.slice(2)] ||= []).push(v);
    else if (k.startsWith("nf.")) (state.excluded[k.slice(3)] ||= []).push(v);
  }
  state.sort = SORTS.some(([k]) => k === p.get("sort")) ? p.get("sort") : "relevance";
  state.order = ["asc", "desc"].includes(p.get("order")) ? p.get("order") : null;
  state.page = Math.max(0, (parseInt(p.get("page"), 10) || 1) - 1);
  state.view = p.get("view") === "table" ? "table" : "grid";
  const cols = (p.get("cols") || "").split(",").filter(c => COLUMNS.some(([k]) => k === c));
  state.columns = cols.length ? cols : [...DEFAULT_COLUMNS];
  state.loose = p.get("loose") === "1";
  $("#q").value = state.q;
}

// ---------- search: requests ----------
function filtersFromSelection() {
  const terms = [];
  for (const [field, values] of Object.entries(state.selected)) if (values.length) terms.push({ field, values });
  for (const [field, values] of Object.entries(state.excluded)) if (values.length) terms.push({ field, values, negate: true });
  return { terms, ranges: [] };
}

function searchRequest(k = PAGE, offset = state.page * PAGE, loose = state.loose) {
  const media = state.tab === "all" ? null : [state.tab];
  const request = { q: state.q, k, offset, media_types: media, filters: filtersFromSelection(), loose, sort: state.sort };
  if (state.order) request.order = state.order;
  return request;
}

async function fetchResults(request) {
  if (state.image && state.image.type.startsWith("video/")) {  // query by video: POST /v1/search/video
    const form = new FormData();
    form.append("clip", state.image);
    form.append("k", request.k);
    form.append("filters", JSON.stringify(request.filters));
    if (user()) form.append("username", user());
    const v = await api("/v1/search/video", { method: "POST", body: form });
    const hits = v.hits.map(h => ({ ...h, channels: { video_coarse: { rank: 0, score: h.coarse }, ...(h.fine == null ? {} : { video_fine: { rank: 0, score: h.fine } }) } }));
    return { ...v, query: null, fused: hits, lists: { video: hits }, facets: {}, candidates: v.coarse_candidates, degraded: [],
             found: hits.length, counts: { all: hits.length, video: hits.length }, loose: [], loose_found: 0,
             fusion: `query by video: keyframes, then frame by frame over ${Math.round(v.rerank * 100)}%`, next_cursor: null };
  }
  if (!state.image) return api(`/v1/search?${qs(withUser())}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
  const form = new FormData();
  form.append("image", state.image);
  if (state.q) form.append("q", state.q);
  form.append("k", request.k);
  form.append("offset", request.offset);
  if (request.media_types) form.append("type", request.media_types[0]);
  form.append("filters", JSON.stringify(request.filters));
  if (request.loose) form.append("loose", "true");
  if (user()) form.append("username", user());
  return api("/v1/search/image", { method: "POST", body: form });
}

// The element that has the focus, as a selector that finds its counterpart after a redraw.
function focusKey(el) {
  if (!el || el === document.body || !main.contains(el)) return null;
  if (el.id) return "#" + CSS.escape(el.id);
  const attrs = [...el.attributes].filter(a => a.name.startsWith("data-") || a.name === "value");
  return attrs.length ? el.tagName.toLowerCase() + attrs.map(a => `[${a.name}="${CSS.escape(a.value)}"]`).join("") : null;
}
function restoreFocus(key) {
  if (!key) return;
  const el = $(key, main) || $("#result-count", main);
  if (el) el.focus({ preventScroll: true });
}

// history: "push" for a user's action (Back returns to the page before), "replace" when the URL already
// says what is shown (first load, Back/Forward), "none" to leave the address alone.
async function runSearch({ history: how = "push" } = {}) {
  const seq = ++state.seq;
  const focus = focusKey(document.activeElement);
  main.setAttribute("aria-busy", "true");
  const status = $("#result-count", main);
  if (status) status.textContent = "Searching…";
  else if (!main.querySelector(".layout")) main.innerHTML = `<p class="toolbar" aria-live="polite">Searching…</p>`;
  const href = searchHref();
  try {
    let data = await fetchResults(searchRequest());
    // Nothing confident: the empty state shows the closest loose matches, so ask for them.
    if (data.found === 0 && data.loose_found > 0 && !(data.loose || []).length && seq === state.seq) data = await fetchResults(searchRequest(PAGE, 0, true));
    if (seq !== state.seq) return;  // a newer search is on its way
    setUrl(href, how);
    state.last = data;
    renderSearch(data, focus);
  } catch (err) {
    if (seq !== state.seq) return;
    setUrl(href, how);
    state.last = null;
    main.innerHTML = `<div class="layout"><aside class="facets" id="filters"></aside><section><p class="error" role="alert">${esc(err.message)}</p></section></div>`;
  } finally {
    if (seq === state.seq) main.removeAttribute("aria-busy");
  }
}

function setUrl(href, how) {
  if (how === "none" || (location.pathname + location.search === href && how === "push")) return;
  if (how === "push") history.pushState(null, "", href); else history.replaceState(null, "", href);
}

// ---------- search: rendering ----------
function hitsFor(data, key = "fused") {
  const list = key === "loose" ? data.loose || [] : data.fused;
  if (state.tab === "all") return list;
  if (key === "fused" && data.lists && data.lists[state.tab]) return data.lists[state.tab];
  return list.filter(h => h.media_type === state.tab);
}

function contract(data) { return typeof data.found === "number"; }

function tabCounts(data) {
  if (contract(data) && data.counts) return { ...data.counts, all: data.counts.all ?? data.found };
  const byType = Object.fromEntries((data.facets.type || []).map(f => [f.value, f.count]));
  return { ...byType, all: Object.values(byType).reduce((a, b) => a + b, 0) };
}

function renderSearch(data, focus = null) {
  if (!data) return;
  const opened = new Set($$("details[id]", main).filter(d => d.open).map(d => d.id));
  const counts = tabCounts(data);
  const hits = hitsFor(data);
  const honest = contract(data);
  const found = honest ? data.found : data.candidates;
  const tabs = TABS.filter(([key]) => key !== "audio" || counts.audio).map(([key, label]) => {
    const selected = state.tab === key;
    return `<button role="tab" id="tab-${key}" data-tab="${key}" aria-selected="${selected}" aria-controls="results-panel" tabindex="${selected ? 0 : -1}">${label} <span class="count">(${counts[key] || 0})</span></button>`;
  }).join("");
  const first = state.page * PAGE;
  const countText = honest
    ? `${plural(found, "result")} found${hits.length && found > PAGE ? ` · ${first + 1}–${first + hits.length} shown` : ""} · ${Math.round(data.took_ms)} ms`
    : `${hits.length} shown of ${data.candidates} found · ${Math.round(data.took_ms)} ms`;
  const degraded = data.degraded.length ? ` · <span class="error">degraded: ${esc(data.degraded.join("; "))}</span>` : "";
  const empty = honest ? found === 0 : !hits.length;
  const more = honest ? first + PAGE < found : data.next_cursor;
  main.innerHTML = `
    <div class="layout">
      <aside class="facets${state.drawer ? " open" : ""}" id="filters" aria-label="Filters">
        <div class="drawer-head"><h2>Filters</h2><button type="button" class="secondary drawer-only" id="drawer-close">Close</button></div>
        <div id="saved-panel">${savedPanel()}</div>
        ${renderFacets(data.facets)}
      </aside>
      <div class="backdrop drawer-only" id="drawer-backdrop" ${state.drawer ? "" : "hidden"}></div>
      <section aria-label="Results" class="results">
        <div class="tabs" role="tablist" aria-label="Result types">${tabs}</div>
        <div id="results-panel" role="tabpanel" aria-labelledby="tab-${state.tab}">
        <div class="toolbar">
          <span aria-live="polite" id="result-count" tabindex="-1">${countText}</span>
          <span class="spacer"></span>
          <button type="button" class="secondary drawer-only" id="drawer-open" aria-controls="filters" aria-expanded="${state.drawer}">Filters${activeCount() ? ` (${activeCount()})` : ""}</button>
          <label>Sort <select id="sort" aria-label="Sort by">${SORTS.map(([k, l]) => `<option value="${k}" ${state.sort === k ? "selected" : ""}>${l}</option>`).join("")}</select></label>
          <button type="button" class="secondary" id="order" aria-label="Order: ${effectiveOrder() === "asc" ? "ascending" : "descending"}, change">${effectiveOrder() === "asc" ? "↑ Asc" : "↓ Desc"}</button>
          <label><input type="checkbox" id="why-toggle" ${state.why ? "checked" : ""}> Why this result</label>
          <button type="button" class="secondary" id="view-toggle" aria-pressed="${state.view === "table"}">${state.view === "grid" ? "Table view" : "Grid view"}</button>
          ${state.view === "table" ? columnChooser() : ""}
          <span class="export">Export <button type="button" class="link" data-export="csv" aria-label="Export CSV">CSV</button> <button type="button" class="link" data-export="json" aria-label="Export JSON">JSON</button></span>
        </div>
        ${chips()}
        ${cutoffNote(data)}
        ${data.did_you_mean && !empty ? `<p class="did-you-mean">Did you mean ${didYouMean(data.did_you_mean)}?</p>` : ""}
        ${empty ? emptyState(data) : `<div id="results-list" tabindex="-1" aria-label="Results">${state.view === "grid" ? `<div class="grid">${hits.map(card).join("")}</div>` : table(hits)}</div>`}
        ${empty || (honest && state.page === 0 && !more) ? "" : `<nav class="pager" aria-label="Pages">
          <button type="button" class="secondary" id="prev" ${state.page === 0 ? "disabled" : ""}>← Previous</button>
          <span>Page ${state.page + 1}${honest && found ? ` of ${Math.max(1, Math.ceil(found / PAGE))}` : ""}</span>
          <button type="button" class="secondary" id="next" ${more ? "" : "disabled"}>Next →</button>
        </nav>`}
        ${looseSection(data, empty)}
        <p class="toolbar">fusion: ${esc(data.fusion)} · encoder ${esc(data.encoder)}${degraded}</p>
        </div>
      </section>
    </div>`;
  for (const id of opened) { const d = document.getElementById(id); if (d) d.open = true; }
  for (const [field, text] of Object.entries(state.facetSearch || {})) filterFacet(field, text);
  restoreFocus(focus);
}

function didYouMean(text) {
  const href = "/?" + qs({ q: text });
  return `<a href="${esc(href)}" data-link data-suggested="${esc(text)}"><b>${esc(text)}</b></a>`;
}

function cutoffNote(data) {
  const c = data.cutoff;
  if (!c || c.measured !== false) return "";
  const note = c.note || `the relevance thresholds of profile “${c.profile}” were not measured on this collection`;
  return `<p class="note" id="cutoff-note"><b>Relevance cut-off:</b> ${esc(note)}${c.hides === false ? " — results below it are kept apart, not hidden." : ""}</p>`;
}

function emptyState(data) {
  const what = state.q ? `for “${esc(state.q)}”` : state.image ? "for this picture" : "";
  const filters = activeCount();
  return `<div class="empty" id="results-list" tabindex="-1">
    <h2>No results ${what}</h2>
    ${data.did_you_mean ? `<p class="did-you-mean">Did you mean ${didYouMean(data.did_you_mean)}?</p>` : ""}
    ${data.cutoff && data.cutoff.nonsense ? `<p id="nonsense-why">None of these words occurs in the collection, and no picture or text stood out from the rest.</p>` : ""}
    <p>${filters ? `Remove a filter (${plural(filters, "is", "are")} active), or try other words.` : state.q || state.image ? "Try other or fewer words, or check the spelling." : "Type a query, drop an image, or pick a filter."}</p>
  </div>`;
}

function looseSection(data, empty) {
  const n = data.loose_found || 0;
  if (!contract(data) || !n) return "";
  // Loose hits are shown on request (or when nothing is confident), even where the server sends them anyway.
  const loose = state.loose || empty ? hitsFor(data, "loose") : [];
  const title = empty ? "Closest loose matches" : "More results (below the confidence cut-off)";
  const why = empty
    ? `Nothing scored above the relevance cut-off. These ${plural(n, "hit")} came closest; they are probably not what you are looking for.`
    : `${plural(n, "more hit")} scored below the relevance cut-off${data.cutoff && data.cutoff.hides === false ? " (kept apart, not hidden, while the cut-off is not measured)" : ""}.`;
  const body = loose.length
    ? (state.view === "grid" ? `<div class="grid">${loose.map(card).join("")}</div>` : table(loose))
    : `<button type="button" class="secondary" id="show-loose" aria-controls="loose">Show ${plural(n, "more result")}</button>`;
  return `<section class="loose" id="loose" aria-labelledby="loose-title"><h2 id="loose-title" tabindex="-1">${title}</h2><p class="toolbar">${why}</p>${body}</section>`;
}

function activeCount() {
  return [...Object.values(state.selected), ...Object.values(state.excluded)].reduce((n, vs) => n + vs.length, 0);
}

function chips() {
  const items = [];
  const label = f => (FACET_LABELS[f] || f).replace(/ \(.*\)$/, "");
  for (const [kind, source] of [["f", state.selected], ["nf", state.excluded]])
    for (const [field, values] of Object.entries(source))
      for (const v of values) {
        const text = `${kind === "nf" ? "not " : ""}${label(field)}: ${v}`;
        items.push(`<li><button type="button" class="chip-remove${kind === "nf" ? " excluded" : ""}" data-chip="${kind}" data-chip-field="${esc(field)}" data-chip-value="${esc(v)}" aria-label="Remove filter ${esc(text)}">${esc(text)} <span aria-hidden="true">×</span></button></li>`);
      }
  if (!items.length) return "";
  return `<div class="chips" aria-label="Active filters"><ul>${items.join("")}</ul><button type="button" class="link" id="clear-all">Clear all</button></div>`;
}

function renderFacets(facets) {
  const fields = Object.keys(FACET_LABELS).filter(f => f !== "type" && (facets[f] || []).length);
  if (!fields.length) return `<p class="toolbar">No facets for this result set.</p>`;
  return fields.map(field => {
    const values = facets[field];
    const shown = values.slice(0, 8);
    const rest = values.slice(8);
    const name = FACET_LABELS[field];
    const row = v => {
      const checked = (state.selected[field] || []).includes(v.value);
      return `<div class="facet-row" data-row="${esc(v.value.toLowerCase())}"><label><span><input type="checkbox" data-facet="${field}" value="${esc(v.value)}" ${checked ? "checked" : ""}> ${esc(v.value)}</span><span class="count">${v.count}</span></label>` +
        `<button type="button" class="exclude" data-exclude="${field}" data-exclude-value="${esc(v.value)}" title="Exclude ${esc(v.value)}" aria-label="Exclude ${esc(name)}: ${esc(v.value)}">−</button></div>`;
    };
    const search = values.length > 8
      ? `<input type="search" class="facet-search" data-facet-search="${field}" value="${esc((state.facetSearch || {})[field] || "")}" placeholder="Search ${esc(name.toLowerCase().replace(/ \(.*\)$/, ""))}" aria-label="Search in ${esc(name)}">` : "";
    return `<fieldset class="facet" data-field="${field}"><legend>${name}</legend>${search}${shown.map(row).join("")}
      ${rest.length ? `<details id="more-${field}"><summary class="more">${rest.length} more</summary>${rest.map(row).join("")}</details>` : ""}
      <p class="facet-none" hidden>No match.</p></fieldset>`;
  }).join("");
}

function filterFacet(field, text) {
  const set = $(`fieldset[data-field="${field}"]`, main);
  if (!set) return;
  const needle = text.trim().toLowerCase();
  let shown = 0;
  for (const row of $$(".facet-row", set)) { const hit = !needle || row.dataset.row.includes(needle); row.hidden = !hit; shown += hit; }
  const more = $("details", set);
  if (more && needle) more.open = true;
  $(".facet-none", set).hidden = shown > 0;
}

function channelsTable(h) {
  const rows = Object.entries(h.channels).map(([name, c]) =>
    `<tr><td>${esc(name)}</td><td>#${c.rank}</td><td>${c.score.toFixed(3)}</td><td>${c.normalised == null ? "" : c.normalised.toFixed(3)}</td></tr>`).join("");
  return `<div class="why"><table aria-label="Channel contributions"><tr><th>channel</th><th>rank</th><th>raw</th><th>norm.</th></tr>${rows}</table></div>`;
}

function card(h) {
  const u = user() ? `?username=${encodeURIComponent(user())}` : "";
  const preview = `/v1/assets/${encodeURIComponent(h.id)}/preview${u}`;
  const thumb = h.media_type === "video"  // the animated preview, or the thumbnail when there is none
    ? `<img loading="lazy" alt="" src="${preview}" onerror="this.onerror=null;this.src='${esc(h.thumbnail || "")}${u}'">`
    : h.thumbnail ? `<img loading="lazy" alt="" src="${esc(h.thumbnail)}${u}">` : `<span class="texticon" aria-hidden="true">¶</span>`;
  const when = h.segment ? `<span class="badge">▶ ${(h.moments?.length ? h.moments : [h.segment]).map(m => `${fmtTime(m.start)}–${fmtTime(m.end)}`).join(" → ")}</span>` : (h.media_type === "video" ? `<span class="badge">▶ video</span>` : "");
  const href = assetUrl(h.id) + (h.segment ? `#t=${h.segment.start}` : "");
  return `<article class="card" data-id="${esc(h.id)}">
    <a class="hit-link" href="${href}" data-link><div class="media">${thumb}${when}</div>
    <div class="body"><div class="title">${esc(h.title || h.id)}</div>
    ${h.snippet ? `<div class="snippet">${h.snippet}</div>` : ""}
    <div class="meta">${esc(h.media_type)} · ${esc(h.owner)}${h.duplicates ? ` · +${h.duplicates} duplicate${h.duplicates > 1 ? "s" : ""}` : ""}</div></div></a>
    ${state.why ? `<div class="body">${channelsTable(h)}</div>` : ""}
  </article>`;
}

function ariaSort(key) {
  if (!key || state.sort !== key) return "none";
  return effectiveOrder() === "asc" ? "ascending" : "descending";
}

function table(hits) {
  const cols = COLUMNS.filter(([k]) => state.columns.includes(k));
  const head = cols.map(([k, label, sort]) => {
    if (!sort) return `<th scope="col">${label}</th>`;
    const s = ariaSort(sort);
    return `<th scope="col" aria-sort="${s}"><button type="button" data-sort="${sort}" data-col-sort="${k}">${label}<span class="arrow" aria-hidden="true">${s === "ascending" ? " ▲" : s === "descending" ? " ▼" : ""}</span></button></th>`;
  }).join("");
  const rows = hits.map(h => `<tr>${cols.map(c => `<td>${c[3](h)}</td>`).join("")}</tr>${state.why ? `<tr><td colspan="${cols.length}">${channelsTable(h)}</td></tr>` : ""}`).join("");
  return `<div class="table-wrap"><table class="results"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

function columnChooser() {
  return `<details class="columns" id="column-chooser"><summary>Columns</summary><fieldset><legend class="visually-hidden">Columns shown</legend>
    ${COLUMNS.map(([k, label]) => `<label><input type="checkbox" data-col="${k}" ${state.columns.includes(k) ? "checked" : ""} ${k === "title" ? "disabled" : ""}> ${label}</label>`).join("")}
  </fieldset></details>`;
}

// Sort on the server, over the whole confident set; the header says so at once, the rows follow.
function setSort(sort, order) {
  state.sort = sort;
  state.order = order && order !== DEFAULT_ORDER[sort] ? order : null;
  state.page = 0;
  for (const th of $$("table.results th[aria-sort]", main)) {
    const s = ariaSort($("button", th).dataset.sort);
    th.setAttribute("aria-sort", s);
    $(".arrow", th).textContent = s === "ascending" ? " ▲" : s === "descending" ? " ▼" : "";
  }
  runSearch();
}

async function exportResults(format) {
  const data = state.image ? state.last : await fetchResults({ ...searchRequest(500, 0, false), facets: [] });
  const hits = hitsFor(data);
  let blob;
  if (format === "json") blob = new Blob([JSON.stringify(hits, null, 2)], { type: "application/json" });
  else {
    const cols = ["id", "media_type", "title", "owner", "score", "duplicates"];
    const cell = v => `"${String(v ?? "").replace(/"/g, '""')}"`;
    blob = new Blob([[cols.join(","), ...hits.map(h => cols.map(c => cell(h[c])).join(","))].join("\n")], { type: "text/csv" });
  }
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `mediasearch-results.${format}`;
  document.body.appendChild(a); a.click(); a.remove();
}

function setImage(file) {
  state.image = file;
  const chip = $("#image-chip");
  if (!file) { chip.hidden = true; chip.innerHTML = ""; return; }
  if (state.imageUrl) URL.revokeObjectURL(state.imageUrl);
  state.imageUrl = URL.createObjectURL(file);
  chip.hidden = false;
  chip.innerHTML = `<img alt="" src="${state.imageUrl}"> Searching by ${file.type.startsWith("video/") ? "clip" : "image"}: ${esc(file.name)} <button class="link" id="clear-image" type="button">remove</button>`;
}

// ---------- saved searches (per signed-in user; GET/POST /v1/saved-searches, DELETE …/{id}) ----------
const saved = { available: false, items: [], error: "" };

function savedPanel() {
  if (!saved.available) return "";
  const list = saved.items.length
    ? `<ul class="saved-list">${saved.items.map(s => `<li><a href="/?${esc(s.query)}" data-link>${esc(s.name)}</a>
        <button type="button" class="link" data-delete-saved="${esc(s.id)}" aria-label="Delete saved search ${esc(s.name)}">Delete</button></li>`).join("")}</ul>`
    : `<p class="toolbar">None yet.</p>`;
  return `<section class="saved" aria-labelledby="saved-title"><h3 id="saved-title">Saved searches</h3>${list}
    <form id="save-search" class="save-search"><label for="save-name" class="visually-hidden">Name of this search</label>
    <input id="save-name" placeholder="Name this search" value="${esc(state.q)}" maxlength="200"><button type="submit">Save</button></form>
    ${saved.error ? `<p class="error" role="alert">${esc(saved.error)}</p>` : ""}</section>`;
}

function redrawSaved() { const p = $("#saved-panel", main); if (p) p.innerHTML = savedPanel(); }

async function loadSaved() {
  if (!(auth.me && auth.me.role) && !user()) { saved.available = false; redrawSaved(); return; }
  try {
    const d = await api(`/v1/saved-searches?${qs(withUser())}`);
    saved.items = Array.isArray(d) ? d : d.items || d.saved_searches || d.searches || [];
    saved.available = true;
  } catch { saved.available = false; }
  redrawSaved();
}

async function saveSearch(name) {
  saved.error = "";
  try {
    await api(`/v1/saved-searches?${qs(withUser())}`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: name || state.q || "search", query: urlQuery({ page: false }) }) });
  } catch (err) { saved.error = err.message; }
  await loadSaved();
  const field = $("#save-name", main); if (field) field.focus();
}

async function deleteSaved(id) {
  saved.error = "";
  try { await api(`/v1/saved-searches/${encodeURIComponent(id)}?${qs(withUser())}`, { method: "DELETE" }); }
  catch (err) { saved.error = err.message; }
  await loadSaved();
  const title = $("#saved-title", main); if (title) { title.tabIndex = -1; title.focus(); }
}

// ---------- autocomplete under the search box (ARIA 1.2 combobox with a listbox) ----------
const suggest = { timer: null, items: [], active: -1, off: false, seq: 0 };

function closeSuggest() {
  suggest.items = []; suggest.active = -1;
  const list = $("#suggest-list");
  list.hidden = true; list.innerHTML = "";
  $("#q").setAttribute("aria-expanded", "false");
  $("#q").removeAttribute("aria-activedescendant");
}

function drawSuggest() {
  const list = $("#suggest-list");
  if (!suggest.items.length) return closeSuggest();
  list.innerHTML = suggest.items.map((s, i) => `<li role="option" id="suggest-${i}" data-suggest="${i}" aria-selected="${i === suggest.active}">
    <span class="text">${esc(s.text)}</span><span class="kind">${esc(s.kind || "")}${s.count ? ` · ${s.count}` : ""}</span></li>`).join("");
  list.hidden = false;
  $("#q").setAttribute("aria-expanded", "true");
  if (suggest.active >= 0) $("#q").setAttribute("aria-activedescendant", `suggest-${suggest.active}`);
  else $("#q").removeAttribute("aria-activedescendant");
}

function askSuggest() {
  clearTimeout(suggest.timer);
  const text = $("#q").value;
  if (suggest.off || text.trim().length < 2) return closeSuggest();
  suggest.timer = setTimeout(async () => {
    const seq = ++suggest.seq;
    try {
      const d = await api(`/v1/suggest?${qs(withUser({ q: text, limit: 8 }))}`);
      if (seq !== suggest.seq || $("#q").value !== text || document.activeElement !== $("#q")) return;
      suggest.items = (d.suggestions || []).filter(s => s.text && s.text.toLowerCase() !== text.trim().toLowerCase());
      suggest.active = -1;
      drawSuggest();
    } catch (err) {
      if (err.status === 404 || err.status === 405) suggest.off = true;  // a server without /v1/suggest
      closeSuggest();
    }
  }, 150);
}

function pickSuggest(i) {
  const s = suggest.items[i];
  if (!s) return;
  const next = s.text;  // the completed box: the words typed before, then the completion
  $("#q").value = next;
  closeSuggest();
  submitQuery(next);
}

function submitQuery(text) {
  clearTimeout(suggest.timer); suggest.seq++;
  closeSuggest();
  state.q = text.trim();
  state.page = 0;
  runSearch();
}

// ---------- asset page ----------
async function renderAsset(id) {
  main.innerHTML = `<p>Loading…</p>`;
  let a;
  try { a = await api(`/v1/assets/${encodeURIComponent(id)}?${qs(withUser())}`); }
  catch (err) { main.innerHTML = `<p class="error" role="alert">${esc(err.message)}</p><p><a href="/" data-link>Back to search</a></p>`; return; }
  const u = user() ? `?username=${encodeURIComponent(user())}` : "";
  const base = `/v1/assets/${encodeURIComponent(a.id)}`;
  let media = "";
  if (a.media_type === "image") media = `<img class="main" alt="${esc(a.title || a.id)}" src="${base}/original${u}">`;
  else if (a.media_type === "video") media = `<video controls preload="metadata" src="${base}/original${u}" aria-label="${esc(a.title || a.id)}"></video>
      <img class="strip" alt="Keyframe strip" src="${base}/strip${u}" onerror="this.remove()">`;
  else if (a.media_type === "audio") media = `<audio controls src="${base}/original${u}"></audio>`;
  else media = `<pre class="text">${esc(a.text)}</pre>`;
  const annotations = a.annotations.map(n => `<tr><td>${esc(n.name)}</td><td>${esc(n.value)}</td><td>${n.confidence == null ? "" : n.confidence.toFixed(2)}</td>
    <td>${esc(n.model || "person")}${n.model_version ? ` <span class="count">${esc(n.model_version)}</span>` : ""}</td>
    <td>${n.time ? `<button class="link" data-seek="${n.time.start}">${fmtTime(n.time.start)}–${fmtTime(n.time.end)}</button>` : ""}</td></tr>`).join("");
  const owner = user() && user() === a.owner;
  main.innerHTML = `<p><a href="/" data-link>← Back to search</a></p>
    <div class="asset"><div>${media}</div>
    <div><h1>${esc(a.title || a.id)}</h1>
      ${a.description ? `<p>${esc(a.description)}</p>` : ""}
      <dl class="props"><dt>Id</dt><dd>${esc(a.id)}</dd><dt>Type</dt><dd>${esc(a.media_type)}</dd><dt>Owner</dt><dd>${esc(a.owner)}</dd>
        <dt>Created</dt><dd>${esc(a.created_at)}</dd><dt>Visibility</dt><dd>${esc(a.visibility)}</dd><dt>Licence</dt><dd>${esc(a.licence || "—")}</dd>
        <dt>Tags</dt><dd>${esc(a.tags.join(", ") || "—")}</dd>${a.width ? `<dt>Size</dt><dd>${a.width}×${a.height}</dd>` : ""}
        ${a.duplicate_ids.length ? `<dt>Also posted as</dt><dd>${a.duplicate_ids.map(d => `<a href="${assetUrl(d)}" data-link>${esc(d)}</a>`).join(", ")}</dd>` : ""}</dl>
      ${owner ? `<form class="edit" id="edit-form" aria-label="Edit asset">
        <label>Title <input name="title" value="${esc(a.title)}"></label>
        <label>Description <textarea name="description" rows="2">${esc(a.description)}</textarea></label>
        <label>Tags <input name="tags" value="${esc(a.tags.join(", "))}"></label>
        <label>Visibility <select name="visibility"><option ${a.visibility === "public" ? "selected" : ""}>public</option><option ${a.visibility === "private" ? "selected" : ""}>private</option></select></label>
        <div><button type="submit">Save</button> <button type="button" class="secondary" id="delete-asset">Delete</button></div></form>`
        : `<p class="toolbar">${user() ? "Only its owner can edit this asset." : "Enter the owner's username above to edit or delete."}</p>`}
    </div></div>
    <h2>Annotations (${a.annotations.length})</h2>
    <div class="table-wrap"><table class="annotations"><thead><tr><th>name</th><th>value</th><th>confidence</th><th>model</th><th>time</th></tr></thead><tbody>${annotations || `<tr><td colspan="5">None</td></tr>`}</tbody></table></div>
    <h2>More like this</h2><div id="similar"><p>Loading…</p></div>`;
  const t = parseFloat((location.hash.match(/t=([\d.]+)/) || [])[1]);
  const video = $("video", main);
  if (video && !isNaN(t)) video.addEventListener("loadedmetadata", () => { video.currentTime = t; }, { once: true });
  api(`${base}/similar?${qs(withUser({ k: 8 }))}`).then(d => {
    const part = (title, hits) => hits && hits.length ? `<h3>${title}</h3><div class="grid">${hits.map(card).join("")}</div>` : "";
    $("#similar").innerHTML = (part("Pictures", d.lists.image) + part("Texts", d.lists.text)) || "<p>Nothing similar.</p>";
  })
    .catch(err => { $("#similar").innerHTML = `<p class="error">${esc(err.message)}</p>`; });
}

// ---------- feed: api/static/feed.js (renderFeed) ----------


// ---------- routing and events ----------
function route() {
  closeSuggest();
  state.seq++;  // a search still on its way must not paint over the page routed to now
  main.removeAttribute("aria-busy");
  const path = decodeURIComponent(location.pathname);
  if (path.startsWith("/assets/")) return renderAsset(path.slice(8));
  if (path.startsWith("/feed")) return renderFeed(path.slice(6));
  stateFromUrl(location.search);
  loadSaved();
  return runSearch({ history: "replace" });
}

function navigate(href) { history.pushState(null, "", href); route(); }

function toggleValue(source, field, value, on) {
  const list = source[field] ||= [];
  const i = list.indexOf(value);
  if (on && i < 0) list.push(value);
  if (!on && i >= 0) list.splice(i, 1);
  if (!list.length) delete source[field];
}

function setDrawer(open) {
  state.drawer = open;
  const drawer = $("#filters", main);
  if (!drawer) return;
  drawer.classList.toggle("open", open);
  $("#drawer-backdrop", main).hidden = !open;
  $("#drawer-open", main).setAttribute("aria-expanded", String(open));
  (open ? $("#drawer-close", main) : $("#drawer-open", main)).focus();
}

function redraw() { history.replaceState(null, "", searchHref()); renderSearch(state.last, focusKey(document.activeElement)); }

document.addEventListener("click", e => {
  const link = e.target.closest("a[data-link]");
  if (link && !e.ctrlKey && !e.metaKey && link.origin === location.origin) {
    e.preventDefault();
    if (link.id === "feed-link") return navigate("/feed/" + encodeURIComponent(user()));
    return navigate(link.getAttribute("href"));
  }
  if (e.target.closest(".skip")) {  // the skip link lands on the results themselves, not on the sidebar before them
    e.preventDefault();
    const target = $("#results-list") || main;
    target.focus();
    target.scrollIntoView({ block: "start" });
    return;
  }
  const option = e.target.closest("[data-suggest]");
  if (option) return pickSuggest(Number(option.dataset.suggest));
  const t = e.target.closest("button, input, summary") || e.target;
  if (t.matches(".example")) { $("#q").value = t.textContent; setImage(null); submitQuery(t.textContent); }
  else if (t.dataset.tab) { if (t.dataset.tab !== state.tab) { state.tab = t.dataset.tab; state.page = 0; runSearch(); } }
  else if (t.dataset.exclude) { toggleValue(state.excluded, t.dataset.exclude, t.dataset.excludeValue, true); toggleValue(state.selected, t.dataset.exclude, t.dataset.excludeValue, false); state.page = 0; runSearch(); }
  else if (t.dataset.chip) { toggleValue(t.dataset.chip === "nf" ? state.excluded : state.selected, t.dataset.chipField, t.dataset.chipValue, false); state.page = 0; runSearch(); }
  else if (t.id === "clear-all") { state.selected = {}; state.excluded = {}; state.page = 0; runSearch(); }
  else if (t.id === "view-toggle") { state.view = state.view === "grid" ? "table" : "grid"; redraw(); }
  else if (t.dataset.sort) { const k = t.dataset.sort; setSort(k, state.sort === k ? (effectiveOrder() === "asc" ? "desc" : "asc") : null); }
  else if (t.id === "order") setSort(state.sort, effectiveOrder() === "asc" ? "desc" : "asc");
  else if (t.id === "show-loose") {
    state.loose = true;
    const focusLoose = () => { const h = $("#loose-title", main); if (h) h.focus(); };
    if (state.last && (state.last.loose || []).length) { history.pushState(null, "", searchHref()); renderSearch(state.last); focusLoose(); }
    else runSearch().then(focusLoose);
  }
  else if (t.dataset.export) exportResults(t.dataset.export);
  else if (t.id === "next") { state.page += 1; runSearch().then(() => window.scrollTo(0, 0)); }
  else if (t.id === "prev") { state.page = Math.max(0, state.page - 1); runSearch().then(() => window.scrollTo(0, 0)); }
  else if (t.id === "drawer-open") setDrawer(true);
  else if (t.id === "drawer-close" || t.id === "drawer-backdrop") setDrawer(false);
  else if (t.dataset.deleteSaved) deleteSaved(t.dataset.deleteSaved);
  else if (t.id === "clear-image") { setImage(null); runSearch(); }
  else if (t.dataset.seek) { const v = $("video", main); if (v) { v.currentTime = parseFloat(t.dataset.seek); v.play(); } }
  else if (t.id === "delete-asset") {
    if (confirm("Delete this asset from every store?")) api(`${location.pathname.replace("/assets/", "/v1/assets/")}?${qs(withUser())}`, { method: "DELETE" })
      .then(() => navigate("/")).catch(err => alert(err.message));
  }
});

// Autocomplete opens on a pointer press, before the box loses its focus.
document.addEventListener("mousedown", e => { if (e.target.closest("[data-suggest]")) e.preventDefault(); });

document.addEventListener("change", e => {
  const t = e.target;
  if (t.dataset.facet) {
    toggleValue(state.selected, t.dataset.facet, t.value, t.checked);
    state.page = 0;
    runSearch();
  } else if (t.dataset.col) {
    state.columns = COLUMNS.map(([k]) => k).filter(k => k === t.dataset.col ? t.checked : state.columns.includes(k));
    redraw();
  } else if (t.id === "sort") setSort(t.value, null);
  else if (t.id === "why-toggle") { state.why = t.checked; renderSearch(state.last, focusKey(t)); }
  else if (t.id === "image-input" && t.files.length) { setImage(t.files[0]); state.page = 0; runSearch(); t.value = ""; }
  else if (t.id === "username" && t.value.trim() !== (localStorage.getItem("mediasearch-user") || "")) {
    localStorage.setItem("mediasearch-user", t.value.trim());
    route();
  }
});

document.addEventListener("input", e => {
  const t = e.target;
  if (t.id === "q") askSuggest();
  else if (t.dataset.facetSearch) { (state.facetSearch ||= {})[t.dataset.facetSearch] = t.value; filterFacet(t.dataset.facetSearch, t.value); }
});

document.addEventListener("focusout", e => { if (e.target.id === "q") setTimeout(() => { if (document.activeElement !== $("#q")) closeSuggest(); }, 100); });

document.addEventListener("submit", e => {
  if (e.target.id === "search-form") {
    e.preventDefault();
    submitQuery($("#q").value);
  } else if (e.target.id === "save-search") {
    e.preventDefault();
    saveSearch($("#save-name", main).value.trim());
  } else if (e.target.id === "edit-form") {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { title: f.get("title"), description: f.get("description"), visibility: f.get("visibility"),
      tags: f.get("tags").split(",").map(s => s.trim()).filter(Boolean) };
    api(`${location.pathname.replace("/assets/", "/v1/assets/")}?${qs(withUser())}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then(() => route()).catch(err => alert(err.message));
  }
});

document.addEventListener("keydown", e => {
  const t = e.target;
  if (t.id === "q" && !$("#suggest-list").hidden) {
    const n = suggest.items.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      suggest.active = e.key === "ArrowDown" ? (suggest.active + 1) % n : (suggest.active <= 0 ? n - 1 : suggest.active - 1);
      return drawSuggest();
    }
    if (e.key === "Enter" && suggest.active >= 0) { e.preventDefault(); return pickSuggest(suggest.active); }
    if (e.key === "Escape") { e.preventDefault(); return closeSuggest(); }
  }
  if (t.getAttribute && t.getAttribute("role") === "tab" && ["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) {
    // ARIA tablist: arrows move between the tabs and select the one they land on.
    e.preventDefault();
    const tabs = $$('[role="tab"]', t.parentElement);
    const i = tabs.indexOf(t);
    const j = e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : (i + (e.key === "ArrowRight" ? 1 : -1) + tabs.length) % tabs.length;
    tabs.forEach((b, k) => { b.tabIndex = k === j ? 0 : -1; b.setAttribute("aria-selected", String(k === j)); });
    tabs[j].focus();
    state.tab = tabs[j].dataset.tab; state.page = 0;
    return runSearch();
  }
  if (e.key === "Escape" && state.drawer) { e.preventDefault(); return setDrawer(false); }
  if (e.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) { e.preventDefault(); $("#q").focus(); }
});

// Drag and drop an image anywhere to search with it.
let dragDepth = 0;
document.addEventListener("dragenter", e => { if ([...e.dataTransfer.items].some(i => i.kind === "file")) { dragDepth++; $("#drop-overlay").hidden = false; } });
document.addEventListener("dragleave", () => { if (--dragDepth <= 0) { dragDepth = 0; $("#drop-overlay").hidden = true; } });
document.addEventListener("dragover", e => e.preventDefault());
document.addEventListener("drop", e => {
  e.preventDefault(); dragDepth = 0; $("#drop-overlay").hidden = true;
  const file = [...e.dataTransfer.files].find(f => f.type.startsWith("image/"));
  if (file) { setImage(file); state.page = 0; runSearch(); }
});

// ---------- API keys: on a service with keys, the page signs in (the key goes into an HttpOnly cookie,
// so that thumbnails and media load too) and the key, not the "Viewing as" box, says who you are.
const auth = { mode: "open", me: null };

async function initAuth() {
  const health = await fetch("/health").then(r => r.json()).catch(() => ({}));
  auth.mode = health.auth || "open";
  if (auth.mode !== "keys") return;
  const res = await fetch("/v1/me");
  auth.me = res.ok ? await res.json() : null;
  renderAuth();
}

function renderAuth() {
  const box = $("#auth");
  $("#who").hidden = true;
  box.hidden = false;
  if (auth.me && auth.me.role) {
    $("#username").value = auth.me.username;
    box.innerHTML = `Signed in as <b>${esc(auth.me.username)}</b> <span class="muted">(${esc(auth.me.role)})</span> <button id="sign-out" type="button" class="secondary">Sign out</button>`;
  } else {
    $("#username").value = "";
    box.innerHTML = `<form id="sign-in"><input id="api-key" type="password" size="14" placeholder="API key" aria-label="API key" autocomplete="off"><button type="submit">Sign in</button></form>`;
  }
}

document.addEventListener("submit", e => {
  if (e.target.id !== "sign-in") return;
  e.preventDefault();
  api("/v1/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key: $("#api-key").value }) })
    .then(me => { auth.me = me; renderAuth(); route(); })
    .catch(err => alert(err.message));
});

document.addEventListener("click", e => {
  if (e.target.id !== "sign-out") return;
  api("/v1/session", { method: "DELETE" }).then(() => { auth.me = null; renderAuth(); route(); });
});

window.addEventListener("popstate", route);
$("#username").value = localStorage.getItem("mediasearch-user") || "";
initAuth().finally(route);
