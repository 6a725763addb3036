// Quality page (/quality): the latest evaluation in Chinese, the unanswered
// questions per catalogue and the "not helpful" answers, with actions: attach a
// question to an item, add a synonym, mark handled, export CSV, run an evaluation.
"use strict";

const LABELS = {
  "department@1": "首选部门正确率", "item_hit@1": "首选事项正确率", "item_hit@3": "前 3 项含正确事项", "item_hit@5": "前 5 项含正确事项",
  "mrr": "平均倒数排名（MRR）", "clarify_rate": "追问比例", "accuracy_after_clarify": "追问一次后的正确率",
  "not_found_precision": "“未找到”的准确率", "not_found_recall": "范围外问题识别率", "in_scope_wrongly_not_found": "范围内误答“未找到”",
  "latency_ms_p50": "响应时间中位数", "latency_ms_p95": "响应时间 95 分位",
};
const SPLITS = {heldout: "保留集", dev: "开发集", all: "全部"};
const Q = {token: null, tz: "Asia/Shanghai", titles: {}};
const auth = () => ({Authorization: "Bearer " + Q.token});
const num = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%");
function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("zh-CN", {timeZone: Q.tz, hour12: false});
}

async function load(token) {
  Q.token = token;
  let q;
  try { q = await api("/api/v1/admin/quality", {headers: auth()}); }
  catch (e) { $("err").textContent = e.status === 401 ? "管理口令不对" : e.message; return; }
  sessionStorage.setItem("wenban-token", token);
  $("login").hidden = true; $("logout").hidden = false; $("err").textContent = "";
  Q.tz = q.timezone || Q.tz;
  try { (await api("/api/v1/catalogues")).forEach((c) => { Q.titles[c.name] = c.title; }); } catch (e) { /* names only */ }
  render(q);
}

function title(name) { return Q.titles[name] || name; }

function evalSection(ev) {
  let html = `<h2>最近一次评测</h2><div class="actions"><label for="run-cat">目录</label><select id="run-cat"><option value="">全部目录</option>${
    Object.keys(Q.titles).map((n) => `<option value="${esc(n)}">${esc(title(n))}</option>`).join("")}</select>
    <label for="run-split">问题集</label><select id="run-split">${Object.entries(SPLITS).map(([k, v]) => `<option value="${k}">${v}</option>`).join("")}</select>
    <button type="button" id="run-eval">运行评测</button><progress id="run-progress" max="1" value="0" hidden></progress><span id="run-status" role="status">${esc(Q.flash || "")}</span></div>`;
  if (!ev) return html + '<p class="muted">还没有评测结果：点“运行评测”。</p>';
  const reps = ev.reports;
  html += `<p>评测时间：<span id="run-at">${reps.map((r) => `${esc(title(r.catalogue))} ${esc(when(r.run_at))}`).join("；")}</span>（${esc(Q.tz)}）</p>`;
  html += `<table id="metrics"><tr><th>指标</th>${reps.map((r) => `<th>${esc(title(r.catalogue))}（${SPLITS[r.split] || esc(r.split)}）</th>`).join("")}</tr>` +
    Object.entries(LABELS).map(([m, label]) => `<tr><td>${label}</td>${reps.map((r) => `<td class="n">${m.startsWith("latency") ? (r[m] ?? 0).toFixed(1) + " 毫秒" : num(r[m])}</td>`).join("")}</tr>`).join("") +
    `<tr><td>追问回答正确率</td>${reps.map((r) => { const d = (ev.dialogues || []).find((x) => x.catalogue === r.catalogue); return `<td class="n">${num(d && d.follow_up_accuracy)}</td>`; }).join("")}</tr></table>`;
  for (const r of reps) {
    html += `<h3>${esc(title(r.catalogue))}：各部门准确率</h3><div class="bars" role="img" aria-label="${esc(title(r.catalogue))}各部门首选部门正确率">
      <div class="axis"><span>部门</span><span class="scale"><span>0%</span><span>首选部门正确率</span><span>100%</span></span><span>问题数</span></div>` +
      r.departments.map((d) => `<div class="bar-row"><span class="name" title="${esc(d.department)}">${esc(d.department)}</span>
        <span class="bar"><span style="width:${Math.round(d["department@1"] * 100)}%"></span></span><span class="n">${d.questions}</span></div>`).join("") + "</div>" +
      `<table class="dept-table"><tr><th>部门</th><th>问题数</th><th>首选部门正确率</th><th>事项正确率</th><th>答错时去了哪个部门</th></tr>` +
      r.departments.map((d) => `<tr><td>${esc(d.department)}</td><td class="n">${d.questions}</td><td class="n">${num(d["department@1"])}</td><td class="n">${num(d.accuracy)}</td><td>${Object.entries(d.went_to).map(([k, v]) => esc(k) + " ×" + v).join("、")}</td></tr>`).join("") + "</table>";
  }
  return html;
}

function render(q) {
  Q.data = q;
  let html = evalSection(q.eval);
  const byCat = {};
  q.unanswered.forEach((u, i) => { (byCat[u.catalogue] = byCat[u.catalogue] || []).push([u, i]); });
  html += `<h2>未能答复的问题（${q.unanswered.length}）</h2><div class="actions"><button type="button" class="export" data-kind="unanswered">导出 CSV</button></div>`;
  if (!q.unanswered.length) html += '<p class="muted">没有待处理的问题。</p>';
  for (const [cat, list] of Object.entries(byCat)) {
    html += `<h3 class="un-cat" data-catalogue="${esc(cat)}">${esc(title(cat))}（${list.length}）</h3><table class="unanswered" data-catalogue="${esc(cat)}">
      <tr><th>问题（已脱敏）</th><th>情况</th><th>次数</th><th>最接近的事项</th><th>同类问题</th><th>最近一次</th><th>处理</th></tr>` +
      list.map(([u, i]) => `<tr data-i="${i}"><td>${esc(u.question)}</td><td>${u.kind === "not_found" ? "未找到" : "追问后未答"}</td><td class="n">${u.count}</td>
        <td>${esc(u.near_item ? u.near_item.name : "")}</td><td class="n">${u.similar}</td><td>${esc(when(u.at))}</td>
        <td><button type="button" class="handle" data-i="${i}">标为已处理</button> <button type="button" class="attach" data-i="${i}">关联事项</button>
        <button type="button" class="synonym" data-i="${i}">加同义词</button><div class="row-form"></div></td></tr>`).join("") + "</table>";
  }
  // the compatibility id: the first catalogue's table
  html = html.replace('<table class="unanswered"', '<table id="unanswered" class="unanswered"');
  html += `<h2>群众标记“没帮助”的答复（${q.not_helpful.length}）</h2><div class="actions"><button type="button" class="export" data-kind="feedback">导出 CSV</button></div>
    <table id="unhelpful"><tr><th>问题</th><th>答复的事项</th><th>目录</th><th>意见</th><th>时间</th><th>处理</th></tr>` +
    q.not_helpful.map((x, i) => `<tr><td>${esc(x.question || "（未记录）")}</td><td>${esc(x.item_name || x.answer_code)}<br><span class="muted">${esc(x.department || "")}</span></td>
      <td>${esc(title(x.catalogue))}</td><td>${esc(x.comment || "")}</td><td>${esc(when(x.at))}</td>
      <td><button type="button" class="handle-fb" data-i="${i}">标为已处理</button></td></tr>`).join("") + "</table>";
  $("out").innerHTML = html;
  wire(q);
}

function wire(q) {
  $("run-eval").addEventListener("click", runEval);
  document.querySelectorAll(".export").forEach((b) => b.addEventListener("click", () => exportCsv(b.dataset.kind)));
  document.querySelectorAll(".handle").forEach((b) => b.addEventListener("click", () => handled("unanswered", q.unanswered[+b.dataset.i].ids, b)));
  document.querySelectorAll(".handle-fb").forEach((b) => b.addEventListener("click", () => handled("feedback", [q.not_helpful[+b.dataset.i].id], b)));
  document.querySelectorAll(".attach").forEach((b) => b.addEventListener("click", () => attachForm(q.unanswered[+b.dataset.i], b)));
  document.querySelectorAll(".synonym").forEach((b) => b.addEventListener("click", () => synonymForm(q.unanswered[+b.dataset.i], b)));
}

async function handled(kind, ids, button) {
  try {
    await postJSON("/api/v1/admin/quality/handled", {kind, ids, handled: true}, auth());
    button.closest("tr").classList.add("handled");
    button.disabled = true; button.textContent = "已处理";
  } catch (e) { button.textContent = e.message; }
}

function formIn(button, html) {
  const box = button.closest("td").querySelector(".row-form") || button.closest("td");
  box.innerHTML = `<div class="form-inline">${html}<span class="form-result" role="status"></span></div>`;
  return box;
}

function attachForm(u, button) {
  const near = u.near_item || {};
  const box = formIn(button, `<label>事项编码 <input class="f-code" size="24" value="${esc(near.code || "")}"></label>
    <label><input type="checkbox" class="f-oos"> 不属于办事范围</label><button type="button" class="f-send">保存</button>`);
  box.querySelector(".f-send").addEventListener("click", async () => {
    const oos = box.querySelector(".f-oos").checked;
    const code = box.querySelector(".f-code").value.trim() || null;
    try {
      await postJSON("/api/v1/admin/library/questions", {catalogue: u.catalogue, question: u.question, code: oos ? null : code,
        out_of_scope: oos, unanswered_id: u.ids[0]}, auth());
      box.querySelector(".form-result").textContent = "已保存，下一个问题起生效";
    } catch (e) { box.querySelector(".form-result").textContent = e.status === 404 ? "问题库功能尚未开启" : e.message; }
  });
}

function synonymForm(u, button) {
  const box = formIn(button, `<label>群众说法 <input class="f-every" size="10"></label><label>目录用语 <input class="f-off" size="10"></label>
    <button type="button" class="f-send">保存</button>`);
  box.querySelector(".f-send").addEventListener("click", async () => {
    try {
      await postJSON("/api/v1/admin/library/synonyms", {catalogue: u.catalogue, everyday: box.querySelector(".f-every").value.trim(),
        official: box.querySelector(".f-off").value.trim()}, auth());
      box.querySelector(".form-result").textContent = "已保存";
    } catch (e) { box.querySelector(".form-result").textContent = e.status === 404 ? "同义词功能尚未开启" : e.message; }
  });
}

async function exportCsv(kind) {
  const r = await fetch(`/api/v1/admin/quality/export?kind=${kind}`, {headers: auth()});
  if (!r.ok) return;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await r.blob());
  a.download = `wenban-${kind}.csv`;
  document.body.appendChild(a); a.click(); a.remove();
}

async function runEval() {
  const body = {split: $("run-split").value};
  if ($("run-cat").value) body.catalogue = $("run-cat").value;
  $("run-eval").disabled = true;
  try { await postJSON("/api/v1/admin/evaluations", body, auth()); }
  catch (e) { $("run-status").textContent = e.message; $("run-eval").disabled = false; return; }
  $("run-progress").hidden = false;
  const tick = async () => {
    const p = await api("/api/v1/admin/evaluations", {headers: auth()});
    $("run-progress").max = p.total || 1; $("run-progress").value = p.done;
    $("run-status").textContent = p.state === "running" ? `正在评测 ${title(p.catalogue || "")}：${p.done} / ${p.total || "?"}`
      : p.state === "done" ? "评测完成" : `评测失败：${p.error || ""}`;
    if (p.state === "running") setTimeout(tick, 1000);
    else if (p.state === "done") { Q.flash = "评测完成"; load(Q.token); }
    else $("run-eval").disabled = false;
  };
  tick();
}

$("login").addEventListener("submit", (e) => { e.preventDefault(); load($("token").value); });
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem("wenban-token");
  Q.token = null; $("out").innerHTML = ""; $("login").hidden = false; $("logout").hidden = true; $("token").value = "";
});
const saved = sessionStorage.getItem("wenban-token");
if (saved) load(saved);
