// Operator console (/operator): results and actions always belong to the current
// query. Every edit or catalogue switch starts a new generation; stale replies are
// dropped (and aborted), and Enter / Ctrl+Enter wait for the fresh results.
"use strict";

const op = {gen: 0, rowsGen: -1, rows: [], sel: -1, current: null, timer: null, ctl: null,
  waiters: [], queue: Promise.resolve(), compare: []};

api("/api/v1/catalogues").then((cats) => {
  $("cat").innerHTML = cats.map((c) => `<option value="${esc(c.name)}">${esc(c.title)}</option>`).join("");
  areaChoices();
}).catch((e) => { $("status").textContent = e.message; });

// ------------------------------------------------ area and level filter --
// 地区 takes a configured site's name or any 行政区划代码 (the server resolves both);
// the datalist offers the sites and the areas of the chosen catalogue's items.
let sites = [];
api("/api/v1/sites").then((s) => { sites = s; areaChoices(); }).catch(() => {});

async function areaChoices() {
  const cat = $("cat").value;
  const areas = cat ? await api(`/api/v1/areas?catalogue=${encodeURIComponent(cat)}`).catch(() => []) : [];
  if (cat !== $("cat").value) return;  // switched again meanwhile
  $("areas").innerHTML = sites.map((s) => `<option value="${esc(s.name)}">${esc(`${s.area || s.area_code} · ${s.kind}`)}</option>`).join("") +
    areas.map((a) => `<option value="${esc(a.code)}">${esc(a.name)} · ${esc(a.level)} · ${a.item_count} 项</option>`).join("");
}

function filterQuery() {
  const area = $("area").value.trim(), level = $("level").value;
  return (area ? `&site=${encodeURIComponent(area)}` : "") + (level ? `&level=${encodeURIComponent(level)}` : "");
}

$("area").addEventListener("change", () => {
  // a configured site answers from its own catalogue: follow it
  const site = sites.find((s) => s.name === $("area").value.trim());
  if (site && site.catalogue !== $("cat").value && [...$("cat").options].some((o) => o.value === site.catalogue)) {
    $("cat").value = site.catalogue;
    areaChoices();
  }
  stale(); op.compare = []; renderCompare(); lookup();
});
$("level").addEventListener("change", () => { stale(); lookup(); });

function stale() {
  op.gen += 1;
  op.current = null;
  $("rows").classList.add("stale");
  $("detail").innerHTML = '<span class="muted">检索中…</span>';
  $("dispatch-view").hidden = true;
}
$("q").addEventListener("input", () => { stale(); clearTimeout(op.timer); op.timer = setTimeout(lookup, 150); });
$("cat").addEventListener("change", () => { stale(); op.compare = []; renderCompare(); areaChoices(); lookup(); });

function settle() {
  op.rowsGen = op.gen;
  op.waiters.splice(0).forEach((w) => w());
}

async function lookup() {
  clearTimeout(op.timer); op.timer = null;
  const my = op.gen;
  const q = $("q").value.trim();
  if (op.ctl) op.ctl.abort();
  if (!q) { op.rows = []; op.sel = -1; $("status").textContent = "输入即检索。"; render(); settle(); return; }
  op.ctl = new AbortController();
  try {
    const data = await api(`/api/v1/search?catalogue=${encodeURIComponent($("cat").value)}&q=${encodeURIComponent(q)}${filterQuery()}`, {signal: op.ctl.signal});
    if (my !== op.gen) return;  // a newer keystroke won
    op.rows = data.candidates;
    op.sel = data.in_scope && op.rows.length ? 0 : -1;
    $("status").innerHTML = data.in_scope ? `共 ${op.rows.length} 个候选`
      : '<span class="warn">目录中没有相符事项：请转 12345 分拨或综合窗口。</span>以下只是最接近的事项，未选中任何一项。';
  } catch (e) {
    if (e.name === "AbortError" || my !== op.gen) return;
    op.rows = []; op.sel = -1; $("status").textContent = e.message;
  }
  $("detail").innerHTML = op.sel >= 0 ? "按 Enter 查看详情与口径。" : "";
  render();
  settle();
}

// Resolves once the results on screen belong to the text in the box.
function ready() {
  if (op.rowsGen === op.gen) return Promise.resolve();
  const p = new Promise((resolve) => op.waiters.push(resolve));
  if (op.timer) lookup();  // do not wait out the debounce when the operator has already pressed Enter
  return p;
}

function render() {
  $("rows").classList.remove("stale");
  $("rows").innerHTML = op.rows.map((c, i) => `<tr data-i="${i}" class="${i === op.sel ? "sel" : ""}" aria-selected="${i === op.sel}">
    <td>${i + 1}</td><td>${esc(c.name)}<br><code>${esc(c.code)}</code></td><td>${esc(c.department_full || c.department)}</td>
    <td class="area">${esc(c.area ? c.area.name || c.area.code : "未登记")} · ${esc(c.level || "未登记")}</td><td>${esc(c.type || "")}</td><td>${c.score.toFixed(2)}</td>
    <td><input type="checkbox" class="cmp" aria-label="比较 ${esc(c.name)}" ${op.compare.some((x) => x.code === c.code) ? "checked" : ""}></td></tr>`).join("");
  document.querySelectorAll("#rows tr").forEach((tr) => {
    tr.addEventListener("click", (ev) => {
      const i = +tr.dataset.i;
      if (ev.target.classList.contains("cmp")) { toggleCompare(i); return; }
      op.sel = i; render(); act(open);
    });
  });
}

// Actions run one after another, each on fresh results.
function act(fn) { op.queue = op.queue.then(ready).then(fn).catch((e) => { $("status").textContent = e.message; }); }

async function open() {
  if (op.sel < 0) return;
  const my = op.gen, c = op.rows[op.sel];
  const it = await api(`/api/v1/items/${encodeURIComponent(c.code)}?catalogue=${encodeURIComponent($("cat").value)}`);
  if (my !== op.gen) return;
  op.current = {...it, gen: my};
  const mats = it.materials ? `${it.materials.length} 样：` + it.materials.map((m) => esc(m.name)).join("；") : "目录中未登记";
  const line = (label, v) => (v ? `<b>${label}：</b>${esc(v)}<br>` : "");
  $("detail").innerHTML = `<h3>${esc(it.name)}</h3><p><code>${esc(it.code)}</code> · ${esc(it.type || "")} · ${esc(it.department_full || it.department)}</p>
    <p>${line("地点", it.place)}${line("办公时间", it.office_hours)}${line("电话", it.phone)}${line("投诉电话", it.complaint_phone)}
    ${line("时限", it.time_limit_promised || it.time_limit_legal)}${line("收费", it.fee)}<b>材料：</b>${mats}</p>
    ${it.url ? `<p><a href="${esc(it.url)}" target="_blank" rel="noopener noreferrer">官方办事指南（新窗口）</a></p>` : ""}
    <p><b>口径</b> <button id="copy" type="button">复制口径 (Ctrl+Enter)</button> <span id="copied" class="muted" role="status"></span></p>
    <div id="spoken">${esc(it.spoken)}</div>`;
  $("copy").addEventListener("click", () => act(copy));
}

async function copy() {
  if (!op.current || op.current.gen !== op.gen) await open();
  const it = op.current;
  if (!it || it.gen !== op.gen) return;
  try { await navigator.clipboard.writeText(it.spoken); }
  catch (e) {  // clipboard API needs a secure context; fall back to a selection copy
    const t = document.createElement("textarea"); t.value = it.spoken; document.body.appendChild(t); t.select(); document.execCommand("copy"); t.remove();
  }
  $("copied").textContent = "已复制";
}

// ---------------------------------------------------------- compare --
async function toggleCompare(i) {
  const c = op.rows[i];
  const at = op.compare.findIndex((x) => x.code === c.code);
  if (at >= 0) op.compare.splice(at, 1);
  else {
    if (op.compare.length >= 3) op.compare.shift();
    op.compare.push(await api(`/api/v1/items/${encodeURIComponent(c.code)}?catalogue=${encodeURIComponent($("cat").value)}`));
  }
  render(); renderCompare();
}

function renderCompare() {
  const list = op.compare;
  $("compare").hidden = !list.length;
  if (!list.length) { $("compare").innerHTML = ""; return; }
  const ROWS = [["部门", (it) => it.department_full || it.department], ["类型", (it) => it.type], ["办理对象", (it) => (it.service_object || []).join("、")],
    ["地点", (it) => it.place], ["时限", (it) => it.time_limit_promised || it.time_limit_legal], ["收费", (it) => it.fee],
    ["材料", (it) => (it.materials ? `${it.materials.length} 样：` + it.materials.map((m) => m.name).join("；") : "")],
    ["电话", (it) => it.phone], ["编码", (it) => it.code]];
  $("compare").innerHTML = `<h3>比较 ${list.length} 项 <button type="button" id="clear-compare">清空比较</button></h3>
    <table id="compare-table"><tr><th></th>${list.map((it) => `<th>${esc(it.name)}</th>`).join("")}</tr>` +
    ROWS.map(([label, f]) => `<tr><th>${label}</th>${list.map((it) => `<td>${esc(f(it) || "目录中未登记")}</td>`).join("")}</tr>`).join("") + "</table>";
  $("clear-compare").addEventListener("click", () => { op.compare = []; render(); renderCompare(); });
}

// --------------------------------------------------------- keyboard --
document.addEventListener("keydown", (e) => {
  if (e.altKey && /^[1-9]$/.test(e.key)) {
    const opt = $("cat").options[+e.key - 1];
    if (opt) { $("cat").value = opt.value; $("cat").dispatchEvent(new Event("change")); }
    e.preventDefault();
  } else if (e.key === "ArrowDown" && op.rows.length) { op.sel = Math.min(op.rows.length - 1, op.sel + 1); render(); e.preventDefault(); }
  else if (e.key === "ArrowUp" && op.rows.length) { op.sel = Math.max(0, op.sel - 1); render(); e.preventDefault(); }
  else if (e.key === "Enter" && e.ctrlKey) { act(copy); e.preventDefault(); }
  else if (e.key === "Enter" && e.shiftKey) { act(() => (op.sel >= 0 ? toggleCompare(op.sel) : null)); e.preventDefault(); }
  else if (e.key === "Enter" && e.target.tagName !== "BUTTON") { act(open); e.preventDefault(); }
  else if ((e.key === "d" || e.key === "D") && e.ctrlKey) { act(dispatchView); e.preventDefault(); }
  else if (e.key === "Escape") { $("q").value = ""; stale(); lookup(); $("q").focus(); }
});
