// The kiosk (/): ask, clarify, answer, browse without typing; nothing navigates
// the page away. ?catalogue=NAME (or WENBAN_KIOSK_CATALOGUE) locks it to one
// catalogue, ?site=NAME to a site; ?kiosk=1 hides links (the QR code is the way out).
"use strict";

const CHIPS = {
  guangan: ["孩子刚出生怎么上户口", "身份证丢了怎么办", "我想申请低保", "结婚登记", "办狗证", "开个小饭馆要办什么证"],
  guangdong: ["我想考驾照", "去香港旅游要办通行证", "出国要办护照", "退休了怎么申领养老金", "残疾人证怎么申请"],
};
const params = new URLSearchParams(location.search);
const state = {session: null, config: {idle_seconds: 120}, cats: [], lock: null, site: params.get("site"),
  kioskMode: params.get("kiosk") === "1", pendingVote: null, last: null};
let idleTimer = null;

const catalogue = () => $("cat").value;
const desk = () => ((state.cats.find((c) => c.name === catalogue()) || {}).enquiry || {}).desk;

// ---------------------------------------------------------------- idle --
function resetIdle() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(startOver, state.config.idle_seconds * 1000);
}
function startOver() {
  // kiosk privacy: a quiet screen forgets the conversation and returns to its catalogue
  flushVote();
  state.session = null; $("out").innerHTML = ""; $("q").value = ""; $("hint").textContent = "";
  if (state.lock) $("cat").value = state.lock;
  showChips(); window.scrollTo(0, 0);
}
["click", "keydown", "touchstart", "input"].forEach((e) => document.addEventListener(e, resetIdle, {passive: true}));

// Nothing may take the kiosk away from itself: outside links open elsewhere, or not at all.
document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[href]");
  if (!a || a.href.startsWith("tel:")) return;
  if (state.kioskMode || a.target !== "_blank") ev.preventDefault();
});

// ---------------------------------------------------------------- start --
async function start() {
  try { state.config = await api("/api/v1/pages/config"); } catch (e) { /* defaults */ }
  if (state.config.hall_name) $("title").textContent = `${state.config.hall_name} · 您要办什么事？`;
  try { state.cats = await api("/api/v1/catalogues"); } catch (e) { showError(e, start); return; }
  if (!state.cats.length) {
    $("out").innerHTML = `<div class="card" id="no-catalogue"><h2>本机尚未导入事项目录</h2><p>暂时无法查询，请到综合咨询（导办）窗口或拨打 12345 政务服务便民热线。</p></div>`;
    $("q").disabled = true;
    return;
  }
  $("cat").innerHTML = state.cats.map((c) => `<option value="${esc(c.name)}">${esc(c.title)}</option>`).join("");
  const wanted = state.config.kiosk_catalogue || params.get("catalogue");
  if (wanted && state.cats.some((c) => c.name === wanted)) {
    state.lock = wanted;
    $("cat").value = wanted;
    $("cat-box").hidden = true;
  }
  showChips();
  resetIdle();
}

function showChips() {
  const list = CHIPS[catalogue()] || [];
  $("chips").innerHTML = list.map((t) => `<button type="button" class="chip">${esc(t)}</button>`).join("");
  document.querySelectorAll(".chip").forEach((b) => b.addEventListener("click", () => { state.session = null; $("q").value = b.textContent; ask(b.textContent); }));
}

$("cat").addEventListener("change", () => { flushVote(); state.session = null; $("out").innerHTML = ""; showChips(); });
$("ask").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("q").value.trim();
  if (!q) { $("hint").textContent = "请先说出或输入您要办的事"; $("q").focus(); return; }
  ask(q);
});
$("by-dept").addEventListener("click", browseDepartments);
$("by-person").addEventListener("click", () => browseAudience("个人"));
$("by-company").addEventListener("click", () => browseAudience("法人"));

// ---------------------------------------------------------------- show --
function put(html) {
  flushVote();
  $("out").innerHTML = html;
  // the answer may be below the fold on a phone: bring it into view
  const first = $("out").firstElementChild;
  if (first && first.scrollIntoView) first.scrollIntoView({behavior: "smooth", block: "start"});
}

function showError(e, retry) {
  put(`<div class="card error" id="error"><h2>${esc(e.message || "出了点问题")}</h2>
    <p>如果一直不行，请到综合咨询（导办）窗口或拨打 12345 政务服务便民热线。</p>
    ${retry ? `<button type="button" class="primary" id="retry">重试</button>` : ""}</div>`);
  if (retry) $("retry").addEventListener("click", retry);
}

async function ask(question) {
  $("hint").textContent = "";
  const body = {question, catalogue: catalogue()};
  if (state.session) body.session_id = state.session;
  if (state.site) body.site = state.site;
  let a;
  try {
    a = await postJSON("/api/v1/ask", body);
  } catch (e) {
    if (e.status >= 400 && e.status < 500) { $("hint").textContent = e.message; return; }
    showError(e, () => ask(question));
    return;
  }
  state.session = a.session_id;
  show(a);
}

function optionButtons(list, cls) {
  return list.map((o, i) => `<button type="button" class="option ${cls}" data-i="${i}">${esc(o.label || o.name)} <span class="muted">· ${esc(o.department_full || o.department || "")}</span></button>`).join("");
}

function show(a) {
  if (a.status === "dispatch") { put(dispatchCard(a, desk())); return; }
  if (a.status === "clarify") {
    put(`<div class="card" id="clarify"><h2>${esc(a.clarify.prompt)}</h2>${optionButtons(a.clarify.options, "pick")}
      <button type="button" class="option none" id="none-of-these">都不是</button></div>`);
    document.querySelectorAll(".pick").forEach((b) => b.addEventListener("click", () => ask(String(+b.dataset.i + 1))));
    $("none-of-these").addEventListener("click", () => ask("都不是"));
    return;
  }
  if (a.status === "not_found") {
    const nf = a.not_found;
    const dym = nf.did_you_mean || [];
    put(`<div class="card" id="notfound"><h2>${esc(nf.message)}</h2>
      ${nf.where_to_go && nf.where_to_go.length ? `<p>请咨询：<b>${nf.where_to_go.map(esc).join("</b>，或 <b>")}</b></p>` : ""}
      ${dym.length ? "<p>您是不是要找：</p>" + optionButtons(dym, "dym") : ""}
      <p>也可以换个说法再问，或者不用打字：</p>
      <button type="button" class="option none" id="nf-browse">按部门找</button></div>`);
    document.querySelectorAll(".dym").forEach((b) => b.addEventListener("click", () => openItem(dym[+b.dataset.i].code)));
    $("nf-browse").addEventListener("click", browseDepartments);
    return;
  }
  const lead = a.status === "follow_up"
    ? `<div class="card" id="followup"><p class="muted">${esc(a.item.name)}</p><h2>${esc(a.follow_up.text)}</h2></div>` : "";
  put(lead + answerCard(a.item, {kioskMode: state.kioskMode, desk: desk()}) + alsoRaise(a) + alternatives(a));
  wire(a.item, a.question);
}

// "您是不是要办": the answer's alternatives, else the next distinct candidates.
function alternatives(a) {
  const seen = new Set([a.item.code, a.item.name]);
  const list = (a.alternatives || a.candidates || []).filter((c) => {
    if (seen.has(c.code) || seen.has(c.name)) return false;
    seen.add(c.code); seen.add(c.name); return true;
  }).slice(0, 3);
  // candidates carry no area: they share the answered item's catalogue, so its area names their district
  list.forEach((c) => { if (!c.department_full) c.department_full = departmentFull({department: c.department, area: a.item.area}); });
  state.alts = list;
  if (!list.length || a.status === "follow_up") return "";
  return `<div class="card alts" id="alternatives"><h3>您是不是要办</h3>${optionButtons(list, "alt")}</div>`;
}

async function openItem(code) {
  try {
    const it = await api(`/api/v1/items/${encodeURIComponent(code)}?catalogue=${encodeURIComponent(catalogue())}`);
    state.session = null;
    put(answerCard(it, {kioskMode: state.kioskMode, desk: desk()}));
    wire(it, null);
  } catch (e) { showError(e, () => openItem(code)); }
}

function wire(it, question) {
  document.querySelectorAll(".alt").forEach((b) => b.addEventListener("click", () => openItem(state.alts[+b.dataset.i].code)));
  const vote = {session_id: state.session || crypto.randomUUID().replace(/-/g, ""), answer_code: it.code, catalogue: catalogue()};
  if (question) vote.question = question;
  const done = () => { $("helpful").disabled = true; $("unhelpful").disabled = true; };
  $("helpful").addEventListener("click", () => { done(); sendVote({...vote, helpful: true}); });
  $("unhelpful").addEventListener("click", () => {
    done();
    state.pendingVote = {...vote, helpful: false};  // sent with the comment, or when the card goes
    $("comment-box").hidden = false;
    $("comment").focus();
  });
  $("send-comment").addEventListener("click", () => {
    const c = $("comment").value.trim();
    if (state.pendingVote && c) state.pendingVote.comment = c;
    $("comment-box").hidden = true;
    flushVote();
  });
  $("print").addEventListener("click", () => {
    const now = new Date().toLocaleDateString("zh-CN", {year: "numeric", month: "long", day: "numeric"});
    $("print-head").textContent = `${state.config.hall_name || "政务服务大厅"} · 打印日期 ${now}`;
    window.print();
  });
}

function sendVote(v) {
  postJSON("/api/v1/feedback", v)
    .then(() => { if ($("thanks")) $("thanks").textContent = "谢谢您的反馈"; })
    .catch(() => { if ($("thanks")) $("thanks").textContent = "反馈没有送出，请稍后再试"; });
}
function flushVote() {
  if (state.pendingVote) { const v = state.pendingVote; state.pendingVote = null; sendVote(v); }
}

// -------------------------------------------------------------- browse --
async function browseDepartments() {
  try {
    const depts = await api(`/api/v1/catalogues/${encodeURIComponent(catalogue())}/departments`);
    put(`<div class="card list-items" id="departments"><h2>请选择部门</h2>${depts.map((d, i) =>
      `<button type="button" data-i="${i}"><span>${esc(d.name)}</span><span class="muted">${d.item_count} 项</span></button>`).join("")}</div>`);
    document.querySelectorAll("#departments button").forEach((b) => b.addEventListener("click", () => browseItems({department: depts[+b.dataset.i].name}, depts[+b.dataset.i].name)));
  } catch (e) { showError(e, browseDepartments); }
}

async function browseAudience(who) {
  browseItems({audience: who}, who === "个人" ? "个人办事" : "企业和单位办事");
}

async function browseItems(filter, title, page = 1) {
  const qs = new URLSearchParams({catalogue: catalogue(), page: String(page), ...filter});
  try {
    const r = await api(`/api/v1/pages/browse?${qs}`);
    const more = r.total > r.page * r.per_page;
    put(`<div class="card list-items" id="items"><h2>${esc(title)}</h2>
      ${r.total ? `<p class="muted">共 ${r.total} 项，点一项查看</p>` : `<p>${esc(r.message || "这里还没有事项")}</p>`}
      ${r.items.map((it, i) => `<button type="button" data-i="${i}"><span>${esc(it.name)}</span><span class="muted">${esc(it.department)}</span></button>`).join("")}
      ${more ? `<button type="button" id="more" class="primary">下一页</button>` : ""}</div>`);
    document.querySelectorAll("#items button[data-i]").forEach((b) => b.addEventListener("click", () => openItem(r.items[+b.dataset.i].code)));
    if (more) $("more").addEventListener("click", () => browseItems(filter, title, page + 1));
  } catch (e) { showError(e, () => browseItems(filter, title, page)); }
}

start();
