// mediasearch web page: search, editor facets, asset pages and feeds over the /v1 API.
// Plain JavaScript, no dependencies, no external requests.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const main = $("#main");
const FACET_LABELS = { type: "Media type", label: "Labels", owner: "Owner", licence: "Licence", colour: "Colours",
  faces: "Faces", annotation: "Annotations (OCR, speech, content flags…)", model: "Annotation model", year: "Year",
  tag: "Tags", visibility: "Visibility" };
const TABS = [["all", "All"], ["image", "Images"], ["video", "Videos"], ["text", "Texts"]];
const PAGE = 24;
const state = { q: "", tab: "all", selected: {}, image: null, imageUrl: null, cursors: [null], page: 0,
  view: "grid", why: false, sort: null, last: null };

function esc(s) { return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function user() { return $("#username").value.trim(); }
function withUser(params = {}) { const u = user(); return u ? { ...params, username: u } : params; }
function qs(params) { const p = new URLSearchParams(); for (const [k, v] of Object.entries(params)) { if (Array.isArray(v)) v.forEach(x => p.append(k, x)); else if (v !== null && v !== undefined && v !== "") p.append(k, v); } return p.toString(); }
function fmtTime(t) { if (t == null) return ""; const m = Math.floor(t / 60), s = Math.floor(t % 60); return `${m}:${String(s).padStart(2, "0")}`; }
function assetUrl(id) { return `/assets/${encodeURIComponent(id)}`; }

async function api(path, options = {}) {
  const res = await fetch(path, options);
  if (res.status === 204) return null;
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = body.error || {};
    const detail = Array.isArray(body.detail) ? body.detail.map(d => `${d.loc.join(".")}: ${d.msg}`).join("; ") : "";
    throw new Error((e.message || detail || res.statusText) + (e.hint ? `\n(${e.hint})` : ""));
  }
  return body;
}

// ---------- search ----------
function filtersFromSelection() {
  const terms = [];
  for (const [field, values] of Object.entries(state.selected)) if (values.length) terms.push({ field, values });
  return { terms, ranges: [] };
}

function searchRequest(k = PAGE, cursor = null) {
  const media = state.tab === "all" ? null : [state.tab];
  return { q: state.q, k, cursor, media_types: media, filters: filtersFromSelection() };
}

async function runSearch({ resetPages = true } = {}) {
  if (resetPages) { state.cursors = [null]; state.page = 0; }
  syncUrl();
  main.innerHTML = `<p class="toolbar" aria-live="polite">Searching…</p>`;
  try {
    const request = searchRequest(PAGE, state.cursors[state.page]);
    let data;
    if (state.image && state.image.type.startsWith("video/")) {  // query by video: POST /v1/search/video
      const form = new FormData();
      form.append("clip", state.image);
      form.append("k", PAGE);
      form.append("filters", JSON.stringify(request.filters));
      if (user()) form.append("username", user());
      const v = await api("/v1/search/video", { method: "POST", body: form });
      const hits = v.hits.map(h => ({ ...h, channels: { video_coarse: { rank: 0, score: h.coarse }, ...(h.fine == null ? {} : { video_fine: { rank: 0, score: h.fine } }) } }));
      data = { ...v, query: null, fused: hits, lists: { video: hits }, facets: {}, candidates: v.coarse_candidates, degraded: [],
               fusion: `query by video: keyframes, then frame by frame over ${Math.round(v.rerank * 100)}%`, next_cursor: null };
    } else if (state.image) {
      const form = new FormData();
      form.append("image", state.image);
      if (state.q) form.append("q", state.q);
      form.append("k", PAGE);
      form.append("offset", state.page * PAGE);
      if (request.media_types) form.append("type", request.media_types[0]);
      form.append("filters", JSON.stringify(request.filters));
      if (user()) form.append("username", user());
      data = await api("/v1/search/image", { method: "POST", body: form });
    } else {
      data = await api(`/v1/search?${qs(withUser())}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
    }
    state.last = data;
    if (data.next_cursor) state.cursors[state.page + 1] = data.next_cursor;
    renderSearch(data);
  } catch (err) {
    main.innerHTML = `<div class="layout"><aside class="facets"></aside><section><p class="error" role="alert">${esc(err.message)}</p></section></div>`;
  }
}

function hitsFor(data) {
  if (state.tab === "all") return data.fused;
  if (state.tab === "image" || state.tab === "text" || state.tab === "video") return data.lists[state.tab] || data.fused.filter(h => h.media_type === state.tab);
  return data.fused;
}

function renderSearch(data) {
  const typeCounts = Object.fromEntries((data.facets.type || []).map(f => [f.value, f.count]));
  const hits = sortHits(hitsFor(data));
  const tabs = TABS.map(([key, label]) => {
    const n = key === "all" ? Object.values(typeCounts).reduce((a, b) => a + b, 0) : (typeCounts[key] || 0);
    return `<button role="tab" data-tab="${key}" aria-selected="${state.tab === key}">${label}${data.query || Object.keys(typeCounts).length ? ` <span class="count">(${n})</span>` : ""}</button>`;
  }).join("");
  const degraded = data.degraded.length ? ` · <span class="error">degraded: ${esc(data.degraded.join("; "))}</span>` : "";
  main.innerHTML = `
    <div class="layout">
      <aside class="facets" aria-label="Filters">${renderFacets(data.facets)}</aside>
      <section aria-label="Results">
        <div class="tabs" role="tablist" aria-label="Result types">${tabs}</div>
        <div class="toolbar">
          <span aria-live="polite" id="result-count">${hits.length} shown of ${data.candidates} found · ${data.took_ms} ms</span>
          <span class="spacer"></span>
          <label><input type="checkbox" id="why-toggle" ${state.why ? "checked" : ""}> Why this result</label>
          <button class="secondary" id="view-toggle" aria-pressed="${state.view === "table"}">${state.view === "grid" ? "Table view" : "Grid view"}</button>
          <button class="secondary" data-export="csv">Export CSV</button>
          <button class="secondary" data-export="json">Export JSON</button>
        </div>
        ${hits.length ? (state.view === "grid" ? `<div class="grid">${hits.map(card).join("")}</div>` : table(hits))
          : `<p>No results. ${data.query ? "Try other words, or remove a filter." : "Type a query, drop an image, or pick a filter."}</p>`}
        <nav class="pager" aria-label="Pages">
          <button class="secondary" id="prev" ${state.page === 0 ? "disabled" : ""}>← Previous</button>
          <span>Page ${state.page + 1}</span>
          <button class="secondary" id="next" ${data.next_cursor ? "" : "disabled"}>Next →</button>
        </nav>
        <p class="toolbar">fusion: ${esc(data.fusion)} · encoder ${esc(data.encoder)}${degraded}</p>
      </section>
    </div>`;
}

function renderFacets(facets) {
  const fields = Object.keys(FACET_LABELS).filter(f => f !== "type" && (facets[f] || []).length);
  if (!fields.length) return `<h2>Filters</h2><p class="toolbar">No facets for this result set.</p>`;
  return `<h2>Filters</h2>` + fields.map(field => {
    const values = facets[field];
    const shown = values.slice(0, 8);
    const rest = values.slice(8);
    const row = v => {
      const checked = (state.selected[field] || []).includes(v.value);
      return `<label><span><input type="checkbox" data-facet="${field}" value="${esc(v.value)}" ${checked ? "checked" : ""}> ${esc(v.value)}</span><span class="count">${v.count}</span></label>`;
    };
    return `<fieldset class="facet"><legend>${FACET_LABELS[field]}</legend>${shown.map(row).join("")}
      ${rest.length ? `<details><summary class="more">${rest.length} more</summary>${rest.map(row).join("")}</details>` : ""}</fieldset>`;
  }).join("");
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
  const when = h.segment ? `<span class="badge">▶ ${fmtTime(h.segment.start)}–${fmtTime(h.segment.end)}</span>` : (h.media_type === "video" ? `<span class="badge">▶ video</span>` : "");
  const href = assetUrl(h.id) + (h.segment ? `#t=${h.segment.start}` : "");
  return `<article class="card" data-id="${esc(h.id)}">
    <a class="hit-link" href="${href}" data-link><div class="media">${thumb}${when}</div>
    <div class="body"><div class="title">${esc(h.title || h.id)}</div>
    ${h.snippet ? `<div class="snippet">${h.snippet}</div>` : ""}
    <div class="meta">${esc(h.media_type)} · ${esc(h.owner)}${h.duplicates ? ` · +${h.duplicates} duplicate${h.duplicates > 1 ? "s" : ""}` : ""}</div></div></a>
    ${state.why ? `<div class="body">${channelsTable(h)}</div>` : ""}
  </article>`;
}

const COLUMNS = [["title", "Title"], ["media_type", "Type"], ["owner", "Owner"], ["score", "Score"], ["id", "Id"]];
function sortHits(hits) {
  if (!state.sort) return hits;
  const [key, dir] = state.sort;
  return [...hits].sort((a, b) => (a[key] > b[key] ? 1 : a[key] < b[key] ? -1 : 0) * dir);
}
function table(hits) {
  const head = COLUMNS.map(([k, label]) => {
    const sorted = state.sort && state.sort[0] === k ? (state.sort[1] > 0 ? "ascending" : "descending") : "none";
    return `<th aria-sort="${sorted}"><button data-sort="${k}">${label}${sorted === "ascending" ? " ▲" : sorted === "descending" ? " ▼" : ""}</button></th>`;
  }).join("");
  const rows = hits.map(h => `<tr><td><a href="${assetUrl(h.id)}" data-link>${esc(h.title || h.id)}</a>${h.snippet ? `<div class="snippet">${h.snippet}</div>` : ""}</td>
    <td>${esc(h.media_type)}</td><td>${esc(h.owner)}</td><td>${h.score.toFixed(4)}</td><td>${esc(h.id)}</td></tr>${state.why ? `<tr><td colspan="5">${channelsTable(h)}</td></tr>` : ""}`).join("");
  return `<table class="results"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

async function exportResults(format) {
  const data = state.image ? state.last : await api(`/v1/search?${qs(withUser())}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...searchRequest(500), facets: [] }) });
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
    <table class="annotations"><thead><tr><th>name</th><th>value</th><th>confidence</th><th>model</th><th>time</th></tr></thead><tbody>${annotations || `<tr><td colspan="5">None</td></tr>`}</tbody></table>
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

// ---------- feed ----------
async function renderFeed(name) {
  if (!name) name = user();
  if (!name) { main.innerHTML = `<h1>Your feed</h1><p>Enter your username in <label for="username">“Viewing as”</label> above to see recommendations made from what you posted.</p>`; return; }
  main.innerHTML = `<p>Loading the feed for ${esc(name)}…</p>`;
  let d;
  try { d = await api(`/v1/users/${encodeURIComponent(name)}/feed?${qs({ k: 8 })}`); }
  catch (err) { main.innerHTML = `<p class="error" role="alert">${esc(err.message)}</p>`; return; }
  const item = (i, pick) => `<article class="card" data-id="${esc(i.id)}"><a class="hit-link" href="${assetUrl(i.id)}" data-link><div class="media">
      ${i.thumbnail ? `<img loading="lazy" alt="" src="${esc(i.thumbnail)}">` : `<span class="texticon" aria-hidden="true">¶</span>`}</div>
      <div class="body"><div class="title">${esc(i.title || i.id)}</div><div class="seed">${esc(i.why)}</div></div></a>
      <div class="body">${pick ? `<button class="secondary" data-like="${esc(i.id)}">I like this</button>` : `<button class="secondary" data-dismiss="${esc(i.id)}">Not interested</button>`}</div></article>`;
  const section = (title, items, pick) => items && items.length ? `<section class="feed-section"><h2>${title}</h2><div class="grid">${items.map(i => item(i, pick)).join("")}</div></section>` : "";
  const parts = [];
  if (d.cold_start) {
    parts.push(`<h1>Welcome, ${esc(name)}</h1><p>You have not posted yet. Pick a few things you like and the feed will follow them.</p>`);
    parts.push(section("Pictures", d.image && d.image.image, true), section("Texts", d.text && d.text.text, true));
  } else {
    parts.push(`<h1>For ${esc(name)}</h1><p class="toolbar">${Object.entries(d.clusters).map(([m, c]) => `${c.posts} ${m} posts in ${c.clusters} group${c.clusters === 1 ? "" : "s"}`).join(" · ")} · <button class="link" id="refresh-feed">More</button></p>`);
    if (d.image) parts.push(section("Pictures like yours", d.image.image), section("Texts about your pictures", d.image.text));
    if (d.text) parts.push(section("Texts like yours", d.text.text), section("Pictures about your texts", d.text.image));
  }
  main.innerHTML = parts.join("") || "<p>Nothing to recommend yet.</p>";
  main.dataset.feedUser = name;
}

// ---------- routing and events ----------
function syncUrl() {
  if (location.pathname !== "/") return;
  const params = { q: state.q, tab: state.tab === "all" ? "" : state.tab };
  for (const [f, vs] of Object.entries(state.selected)) if (vs.length) params[`f.${f}`] = vs;
  history.replaceState(null, "", "/" + (qs(params) ? "?" + qs(params) : ""));
}

function route() {
  const path = decodeURIComponent(location.pathname);
  if (path.startsWith("/assets/")) return renderAsset(path.slice(8));
  if (path.startsWith("/feed")) return renderFeed(path.slice(6));
  const p = new URLSearchParams(location.search);
  state.q = p.get("q") || "";
  state.tab = p.get("tab") || "all";
  state.selected = {};
  for (const [k, v] of p.entries()) if (k.startsWith("f.")) (state.selected[k.slice(2)] ||= []).push(v);
  $("#q").value = state.q;
  return runSearch();
}

function navigate(href) { history.pushState(null, "", href); route(); }

document.addEventListener("click", e => {
  const link = e.target.closest("a[data-link]");
  if (link && !e.ctrlKey && !e.metaKey && link.origin === location.origin) {
    e.preventDefault();
    if (link.id === "feed-link") return navigate("/feed/" + encodeURIComponent(user()));
    return navigate(link.getAttribute("href"));
  }
  const t = e.target;
  if (t.matches(".example")) { $("#q").value = t.textContent; state.q = t.textContent; setImage(null); if (location.pathname !== "/") history.pushState(null, "", "/"); runSearch(); }
  else if (t.dataset.tab) { state.tab = t.dataset.tab; runSearch(); }
  else if (t.id === "view-toggle") { state.view = state.view === "grid" ? "table" : "grid"; renderSearch(state.last); }
  else if (t.dataset.sort) { const k = t.dataset.sort; state.sort = state.sort && state.sort[0] === k ? [k, -state.sort[1]] : [k, 1]; renderSearch(state.last); }
  else if (t.dataset.export) exportResults(t.dataset.export);
  else if (t.id === "next") { state.page += 1; runSearch({ resetPages: false }); }
  else if (t.id === "prev") { state.page = Math.max(0, state.page - 1); runSearch({ resetPages: false }); }
  else if (t.id === "clear-image") { setImage(null); runSearch(); }
  else if (t.dataset.seek) { const v = $("video", main); if (v) { v.currentTime = parseFloat(t.dataset.seek); v.play(); } }
  else if (t.id === "delete-asset") {
    if (confirm("Delete this asset from every store?")) api(`${location.pathname.replace("/assets/", "/v1/assets/")}?${qs(withUser())}`, { method: "DELETE" })
      .then(() => navigate("/")).catch(err => alert(err.message));
  }
  else if (t.dataset.dismiss) api(`/v1/users/${encodeURIComponent(main.dataset.feedUser)}/dismissed`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ids: [t.dataset.dismiss] }) })
    .then(() => t.closest(".card").remove());
  else if (t.dataset.like) api(`/v1/users/${encodeURIComponent(main.dataset.feedUser)}/interests`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ids: [t.dataset.like] }) })
    .then(() => renderFeed(main.dataset.feedUser));
  else if (t.id === "refresh-feed") renderFeed(main.dataset.feedUser);
});

document.addEventListener("change", e => {
  const t = e.target;
  if (t.dataset.facet) {
    const list = state.selected[t.dataset.facet] ||= [];
    if (t.checked) list.push(t.value); else list.splice(list.indexOf(t.value), 1);
    runSearch();
  } else if (t.id === "why-toggle") { state.why = t.checked; renderSearch(state.last); }
  else if (t.id === "image-input" && t.files.length) { setImage(t.files[0]); if (location.pathname !== "/") history.pushState(null, "", "/"); runSearch(); t.value = ""; }
  else if (t.id === "username" && t.value.trim() !== (localStorage.getItem("mediasearch-user") || "")) {
    localStorage.setItem("mediasearch-user", t.value.trim());
    route();
  }
});

document.addEventListener("submit", e => {
  if (e.target.id === "search-form") {
    e.preventDefault();
    state.q = $("#q").value.trim();
    if (location.pathname !== "/") history.pushState(null, "", "/");
    runSearch();
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
  if (e.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) { e.preventDefault(); $("#q").focus(); }
});

// Drag and drop an image anywhere to search with it.
let dragDepth = 0;
document.addEventListener("dragenter", e => { if ([...e.dataTransfer.items].some(i => i.kind === "file")) { dragDepth++; $("#drop-overlay").hidden = false; } });
document.addEventListener("dragleave", () => { if (--dragDepth <= 0) { dragDepth = 0; $("#drop-overlay").hidden = true; } });
document.addEventListener("dragover", e => e.preventDefault());
document.addEventListener("drop", e => {
  e.preventDefault(); dragDepth = 0; $("#drop-overlay").hidden = true;
  const file = [...e.dataTransfer.files].find(f => f.type.startsWith("image/") || f.type.startsWith("video/"));
  if (file) { setImage(file); if (location.pathname !== "/") history.pushState(null, "", "/"); runSearch(); }
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
