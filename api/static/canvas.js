// The spatial canvas (issue 18): paint colours, faces or text into the cells of a 3x3 grid, and the
// search box gets the matching tokens of the query language: colour:red@top-left, face@center,
// text@bottom-right (docs/query-language.md). Self-contained: it adds a "Canvas" button to the search
// form and keeps the box and the grid in step; the box stays the one source of the query.
(() => {
  const CELLS = ["top-left", "top-center", "top-right", "middle-left", "center", "middle-right",
                 "bottom-left", "bottom-center", "bottom-right"];
  const COLOURS = { black: "#111", white: "#fff", grey: "#888", red: "#d22", orange: "#f80", brown: "#853",
                    yellow: "#fd0", green: "#2a2", teal: "#1aa", blue: "#24d", purple: "#82c", pink: "#f8c" };
  const OBJECTS = { face: "☺", text: "T" };
  // A canvas token in the box: colour:red@top-left (or color:), or face@center / text@center.
  const TOKEN = /(^|\s)(?:(?:colou?r):([a-z]+)@([a-z-]+)|(face|text)@([a-z-]+))(?=\s|$)/gi;
  const EMPTY = "#fafafa";
  let brush = "red";

  function box() { return document.getElementById("q"); }

  // What the box says is in each cell: cell -> list of colours / objects.
  function painted(query) {
    const cells = {};
    for (const m of query.matchAll(TOKEN)) {
      const what = (m[2] || m[4]).toLowerCase(), cell = (m[3] || m[5]).toLowerCase();
      if (CELLS.includes(cell)) (cells[cell] = cells[cell] || []).push(what);
    }
    return cells;
  }

  function tokenFor(what, cell) { return what in OBJECTS ? `${what}@${cell}` : `colour:${what}@${cell}`; }

  // Paint (or, painting the same thing again, wipe) one cell: the box's token for it is added or removed.
  function paint(cell) {
    const input = box();
    const cells = painted(input.value);
    const has = (cells[cell] || []).includes(brush);
    let query = input.value.replace(TOKEN, (all, lead, c, cc, o, oc) => {
      const what = (c || o).toLowerCase(), where = (cc || oc).toLowerCase();
      const wipe = where === cell && (brush === "eraser" || (has && what === brush));
      return wipe ? lead : all;
    }).replace(/\s+/g, " ").trim();
    if (brush !== "eraser" && !has) query = `${query} ${tokenFor(brush, cell)}`.trim();
    input.value = query;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    draw();
  }

  function draw() {
    const grid = document.getElementById("canvas-grid");
    if (!grid) return;
    const cells = painted(box().value);
    for (const el of grid.querySelectorAll("[data-cell]")) {
      const inside = cells[el.dataset.cell] || [];
      const colours = inside.filter(w => w in COLOURS);
      el.style.background = colours.length ? (colours.length === 1 ? COLOURS[colours[0]]
        : `linear-gradient(135deg, ${COLOURS[colours[0]]} 50%, ${COLOURS[colours[1]]} 50%)`) : EMPTY;
      el.textContent = inside.filter(w => w in OBJECTS).map(w => OBJECTS[w]).join(" ");
      el.setAttribute("aria-label", `${el.dataset.cell}: ${inside.join(", ") || "empty"}`);
      el.setAttribute("aria-pressed", inside.length ? "true" : "false");
    }
    for (const b of document.querySelectorAll("#canvas-palette [data-brush]")) {
      b.setAttribute("aria-pressed", b.dataset.brush === brush ? "true" : "false");
      b.style.outline = b.dataset.brush === brush ? "2px solid #000" : "";
      b.style.outlineOffset = "1px";
    }
  }

  function build() {
    const form = document.getElementById("search-form");
    if (!form || document.getElementById("canvas-toggle")) return;
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.id = "canvas-toggle";
    toggle.className = "button secondary";
    toggle.textContent = "Canvas";
    toggle.title = "Paint colours, faces or text where they should be in the picture";
    toggle.setAttribute("aria-expanded", "false");
    toggle.setAttribute("aria-controls", "canvas-panel");
    form.insertBefore(toggle, form.querySelector("button[type=submit]"));

    const panel = document.createElement("div");
    panel.id = "canvas-panel";
    panel.hidden = true;
    panel.setAttribute("role", "group");
    panel.setAttribute("aria-label", "Spatial canvas");
    panel.style.cssText = "position:absolute;top:100%;right:0;margin-top:4px;z-index:20;background:var(--bg,#fff);border:1px solid #ccc;border-radius:8px;padding:8px;box-shadow:0 4px 16px #0003;display:flex;gap:10px";
    const brushes = [...Object.keys(COLOURS), ...Object.keys(OBJECTS), "eraser"].map(b =>
      `<button type="button" data-brush="${b}" title="${b}" aria-label="${b}" style="width:24px;height:24px;min-width:0;border:1px solid #999;border-radius:4px;padding:0;color:#000;` +
      `background:${COLOURS[b] || "#eee"}">${OBJECTS[b] || (b === "eraser" ? "⌫" : "")}</button>`).join("");
    const cells = CELLS.map(c => `<button type="button" data-cell="${c}" title="${c}" style="width:40px;height:32px;min-width:0;border:1px solid #999;border-radius:0;padding:0;color:#000;background:${EMPTY}"></button>`).join("");
    panel.innerHTML = `<div id="canvas-grid" style="display:grid;grid-template-columns:repeat(3,40px);gap:2px">${cells}</div>` +
      `<div id="canvas-palette" style="display:grid;grid-template-columns:repeat(5,24px);gap:3px;align-content:start">${brushes}</div>`;
    form.style.position = form.style.position || "relative";
    form.appendChild(panel);

    toggle.addEventListener("click", () => {
      panel.hidden = !panel.hidden;
      toggle.setAttribute("aria-expanded", String(!panel.hidden));
      draw();
    });
    panel.addEventListener("click", e => {
      const b = e.target.closest("[data-brush]");
      if (b) { brush = b.dataset.brush; draw(); return; }
      const cell = e.target.closest("[data-cell]");
      if (cell) paint(cell.dataset.cell);
    });
    box().addEventListener("input", draw);
    document.addEventListener("keydown", e => { if (e.key === "Escape" && !panel.hidden) { panel.hidden = true; toggle.setAttribute("aria-expanded", "false"); } });
    draw();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", build);
  else build();
  window.mediasearchCanvas = { paint, painted, redraw: draw };  // app.js redraws after it sets the box
})();
