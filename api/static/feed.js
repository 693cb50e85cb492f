// mediasearch web page: the feed (/feed/USER). Loaded before app.js, whose helpers ($, main, esc, api, qs,
// user, assetUrl) it uses only when called; app.js's router calls renderFeed(name).
// The state is on the server (likes, dismissals, what was shown, the view last shown): a reload asks for
// the same view again (resume), "More" for a new page. The URL keeps the user and the picker's variant.
"use strict";

const FEED_K = 8;
const feedView = { name: "", data: null, undo: null, toastTimer: null };

function feedUrl(name) { return `/v1/users/${encodeURIComponent(name)}`; }
function feedPicks() { return new URLSearchParams(location.search).get("picks"); }

async function renderFeed(name, { resume = true } = {}) {
  if (!name) name = user();
  if (!name) { main.innerHTML = `<h1>Your feed</h1><p>Enter your username in <label for="username">“Viewing as”</label> above to see recommendations made from what you posted.</p>`; return; }
  feedView.name = name;
  if (!main.querySelector(".feed")) main.innerHTML = `<p>Loading the feed for ${esc(name)}…</p>`;
  let d;
  const picks = feedPicks();
  try { d = await api(`${feedUrl(name)}/feed?${qs({ k: FEED_K, resume: resume ? "true" : "", seed: picks })}`); }
  catch (err) { main.innerHTML = `<p class="error" role="alert">${esc(err.message)}</p>`; return; }
  feedView.data = d;
  main.innerHTML = feedHtml(name, d);
  main.dataset.feedUser = name;
}

function feedCard(i, pick) {
  const button = pick
    ? `<button class="${i.liked ? "" : "secondary"}" data-feed-like="${esc(i.id)}" aria-pressed="${i.liked}">${i.liked ? "✓ Liked" : "I like this"}</button>`
    : `<button class="secondary" data-feed-dismiss="${esc(i.id)}" data-title="${esc(i.title || "this item")}">Not interested</button>`;
  return `<article class="card${i.liked ? " liked" : ""}" data-id="${esc(i.id)}"><a class="hit-link" href="${assetUrl(i.id)}" data-link><div class="media">
      ${i.thumbnail ? `<img loading="lazy" alt="" src="${esc(i.thumbnail)}">` : `<span class="texticon" aria-hidden="true">¶</span>`}</div>
      <div class="body"><div class="title">${esc(i.title || "Untitled " + i.media_type)}</div><div class="seed">${esc(i.why)}</div></div></a>
      <div class="body">${button}</div></article>`;
}

function feedSection(title, items) {
  return items && items.length ? `<section class="feed-section"><h2>${title}</h2><div class="grid">${items.map(i => feedCard(i, false)).join("")}</div></section>` : "";
}

function feedPicker(d) {
  const p = d.interests;
  const progress = p && !p.done
    ? `<p class="feed-progress" id="feed-progress" role="status"><progress max="${p.needed_likes}" value="${Math.min(p.liked, p.needed_likes)}" aria-hidden="true"></progress> ${esc(p.hint)}</p>` : "";
  return `<section class="feed-picker" aria-labelledby="feed-picker-title">
    <h2 id="feed-picker-title">${d.cold_start ? "Pick what you like" : "Pick more things you like"}</h2>${progress}
    <div class="grid">${d.picker.map(i => feedCard(i, true)).join("")}</div>
    <p><button class="link" id="feed-other-picks" type="button">Show other picks</button></p></section>`;
}

function feedHtml(name, d) {
  const parts = [];
  if (d.cold_start) parts.push(`<h1>Welcome, ${esc(name)}</h1>`);
  else {
    const summary = d.interests ? `Following the ${d.interests.liked} thing${d.interests.liked === 1 ? "" : "s"} you liked`
      : Object.entries(d.clusters).map(([m, c]) => `${c.posts} ${m === "image" ? "picture" : "text"} post${c.posts === 1 ? "" : "s"} in ${c.clusters || 1} group${c.clusters > 1 ? "s" : ""}`).join(" · ");
    parts.push(`<h1>For ${esc(name)}</h1><p class="toolbar">${summary ? esc(summary) + " · " : ""}<button class="link" id="refresh-feed" type="button">More</button></p>`);
  }
  if (d.notice) parts.push(`<p class="feed-notice" role="status">${esc(d.notice)}</p>`);
  if (d.empty) parts.push(`<p class="feed-empty" id="feed-empty" data-reason="${esc(d.empty.reason)}">${esc(d.empty.message)}</p>`);
  if (d.empty && d.dismissed) parts.push(`<p><button class="secondary" id="feed-restore-all" type="button">Restore the ${d.dismissed} item${d.dismissed === 1 ? "" : "s"} you dismissed</button></p>`);
  if (!d.cold_start) {
    if (d.image) parts.push(feedSection("Pictures like yours", d.image.image), feedSection("Texts about your pictures", d.image.text));
    if (d.text) parts.push(feedSection("Texts like yours", d.text.text), feedSection("Pictures about your texts", d.text.image));
  }
  if (d.picker && d.picker.length) parts.push(feedPicker(d));
  return `<div class="feed">${parts.join("")}</div>`;
}

function feedToast(html) {
  let toast = document.getElementById("feed-toast");
  if (!toast) {
    toast = document.createElement("div");
    toast.id = "feed-toast"; toast.className = "feed-toast"; toast.setAttribute("role", "status"); toast.setAttribute("aria-live", "polite");
    document.body.appendChild(toast);
  }
  clearTimeout(feedView.toastTimer);
  toast.innerHTML = html;
  toast.hidden = !html;
  if (html) feedView.toastTimer = setTimeout(() => { toast.hidden = true; feedView.undo = null; }, 10000);
}

function feedDismiss(button) {
  const card = button.closest(".card");
  const id = button.dataset.feedDismiss;
  api(`${feedUrl(feedView.name)}/dismissed`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ids: [id] }) })
    .then(() => {
      feedView.undo = { id, card, parent: card.parentNode, next: card.nextSibling };
      card.remove();
      feedToast(`Dismissed “${esc(button.dataset.title)}”. <button class="link" id="feed-undo" type="button">Undo</button>`);
      // The last card gone: a new page rather than a blank one (the undo stays offered).
      if (!main.querySelector(".feed .feed-section .card")) renderFeed(feedView.name, { resume: false });
    })
    .catch(err => feedToast(`<span class="error">${esc(err.message)}</span>`));
}

function feedUndo() {
  const undo = feedView.undo;
  if (!undo) return;
  api(`${feedUrl(feedView.name)}/feed/dismissed/${encodeURIComponent(undo.id)}/undo`, { method: "POST" })
    .then(() => {
      feedView.undo = null;
      feedToast("");
      if (document.body.contains(undo.parent)) undo.parent.insertBefore(undo.card, undo.next && undo.next.parentNode === undo.parent ? undo.next : null);
      else renderFeed(feedView.name, { resume: true });
    })
    .catch(err => feedToast(`<span class="error">${esc(err.message)}</span>`));
}

function feedLike(button) {
  const id = button.dataset.feedLike;
  const liked = button.getAttribute("aria-pressed") === "true";
  const done = liked
    ? api(`${feedUrl(feedView.name)}/interests/${encodeURIComponent(id)}`, { method: "DELETE" })
    : api(`${feedUrl(feedView.name)}/interests`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ids: [id] }) });
  // After a like on an empty feed, a new page follows it; on the picker, the picker comes back with progress.
  done.then(() => renderFeed(feedView.name, { resume: !(feedView.data && feedView.data.empty && !feedView.data.cold_start) }))
    .catch(err => feedToast(`<span class="error">${esc(err.message)}</span>`));
}

document.addEventListener("click", e => {
  const t = e.target.closest("button");
  if (!t || !feedView.name) return;
  if (t.dataset.feedDismiss) feedDismiss(t);
  else if (t.dataset.feedLike) feedLike(t);
  else if (t.id === "feed-undo") feedUndo();
  else if (t.id === "refresh-feed") renderFeed(feedView.name, { resume: false });
  else if (t.id === "feed-other-picks") {
    history.replaceState(null, "", `${location.pathname}?picks=${(parseInt(feedPicks() || "0", 10) + 1) % 1000}`);
    renderFeed(feedView.name);
  } else if (t.id === "feed-restore-all") {
    api(`${feedUrl(feedView.name)}/dismissed`, { method: "DELETE" }).then(() => renderFeed(feedView.name, { resume: false }));
  }
});
