// The kiosk's answer card: every field the record has, in plain words; what the
// catalogue lacks is said once, with where to find it. Only what the record holds.
"use strict";

// Power types in everyday words; types a citizen need not hear are not shown.
const TYPE_WORDS = {
  "行政许可": "需要审批", "行政确认": "登记、确认", "行政给付": "补助、待遇发放", "公共服务": "便民服务",
  "行政奖励": "奖励、表彰", "行政裁决": "纠纷裁决", "行政征收": "缴费",
};
const OBJECT_WORDS = {"自然人": "个人"};

function serviceObject(list) {
  if (!list || !list.length) return null;
  const out = [];
  if (list.includes("自然人")) out.push(OBJECT_WORDS["自然人"]);
  if (list.some((x) => x !== "自然人")) out.push("企业和单位");
  return out.join("、");
}

function visitsWords(v) {
  const n = parseInt(v, 10);
  if (Number.isNaN(n)) return String(v);
  if (n === 0) return "不用到现场（全程网上办）";
  if (n === 1) return "最多跑一次";
  return `到现场 ${n} 次`;
}

const yesNo = (v, yes, no) => (v === "是" ? yes : v === "否" ? no : String(v));

// A material with 原件/复印件/份数 where the record has them.
function materialLine(m) {
  const extra = [m.original && "原件", m.copy && "复印件", m.copies && `${m.copies} 份`, m.count && `${m.count} 份`, m.note]
    .filter(Boolean).map(esc).join("，");
  return `<li>${esc(m.name)}${extra ? `<span class="muted">（${extra}）</span>` : ""}</li>`;
}

// The fields a citizen may look for, in the order they look for them.
const FACTS = [
  ["service_object", "办理对象", (it) => serviceObject(it.service_object)],
  ["place", "办理地点", (it) => esc(it.place)],
  ["office_hours", "办公时间", (it) => esc(it.office_hours)],
  ["phone", "咨询电话", (it) => telLinks(it.phone)],
  ["time_limit", "办理时限", (it) => [it.time_limit_promised && "承诺 " + esc(it.time_limit_promised), it.time_limit_legal && "法定 " + esc(it.time_limit_legal)].filter(Boolean).join("；")],
  ["fee", "收费", (it) => esc(it.fee)],
  ["visits", "到现场次数", (it) => esc(visitsWords(it.visits))],
  ["online_booking", "网上预约", (it) => esc(yesNo(it.online_booking, "可以网上预约", "不能网上预约"))],
  ["online", "网上办理", (it) => esc(yesNo(it.online, "可以网上办理", "不能网上办理"))],
  ["platform", "网上办理平台", (it) => esc(it.platform)],
  ["courier", "快递送达", (it) => esc(yesNo(it.courier, "可以快递送达", "不提供快递送达"))],
  ["complaint_phone", "投诉电话", (it) => telLinks(it.complaint_phone)],
];
// What a person would miss, named in the one "not listed" line.
const GAP_NAMES = {materials: "申请材料", conditions: "受理条件", steps: "办理流程", place: "办理地点", office_hours: "办公时间",
  phone: "咨询电话", time_limit: "办理时限", fee: "收费", visits: "到现场次数", complaint_phone: "投诉电话"};

function present(it, key) {
  if (key === "time_limit") return !!(it.time_limit_promised || it.time_limit_legal);
  const v = it[key];
  return Array.isArray(v) ? v.length > 0 : v !== null && v !== undefined && v !== "";
}

function qrBlock(it, main, kioskMode) {
  if (!it.url) return "";
  const link = kioskMode ? "" : `<p class="noprint"><a class="button" id="guide-link" href="${esc(it.url)}" target="_blank" rel="noopener noreferrer">在新窗口打开官方办事指南</a></p>`;
  return `<div class="qr${main ? " main" : ""}"><img alt="官方办事指南二维码，用手机扫码查看" src="/api/v1/qr?data=${encodeURIComponent(it.url)}">
    <div>${main ? "<b>用手机扫码，查看完整办事指南</b>" : "扫码查看官方办事指南"}</div>${link}</div>`;
}

// The answer card. ``ctx``: {kioskMode, desk}.
function answerCard(it, ctx) {
  const facts = FACTS.filter(([k]) => present(it, k)).map(([, label, f]) => `<div><dt>${label}</dt><dd>${f(it)}</dd></div>`).join("");
  const type = TYPE_WORDS[it.type];
  const sparse = !["materials", "conditions", "steps", ...FACTS.map((f) => f[0])].some((k) => present(it, k));
  const gaps = Object.keys(GAP_NAMES).filter((k) => !present(it, k)).map((k) => GAP_NAMES[k]);
  const where = [it.url ? "扫描二维码查看官方办事指南" : "", ctx.desk ? `到${esc(ctx.desk)}询问` : "到大厅咨询窗口询问"].filter(Boolean).join("，或");
  let body = "";
  if (sparse) {
    body = `<p class="sparse" id="sparse">目录里只登记了这项业务的名称和办理部门。要带的材料、怎么办理，请${where}。</p>`;
  } else {
    if (it.conditions) body += `<h3>受理条件</h3><p>${esc(it.conditions)}</p>`;
    if (it.materials && it.materials.length) body += `<h3>申请材料（共 ${it.materials.length} 样）</h3><ul class="checklist">${it.materials.map(materialLine).join("")}</ul>`;
    if (it.steps && it.steps.length) body += `<h3>办理流程</h3><p>${it.steps_general ? `<span class="tag">一般流程，各事项可能不同</span><br>` : ""}${it.steps.map(esc).join(" → ")}</p>`;
    if (gaps.length) body += `<p class="gap-note" id="gaps">目录没有登记${gaps.join("、")}。请${where}。</p>`;
  }
  return `<div class="card" id="answer"><div class="grid"><div>
      <h2>${esc(it.name)}</h2>
      ${type ? `<p><span class="tag">${esc(type)}</span></p>` : ""}
      <dl class="facts"><div><dt>办理部门</dt><dd id="dept">${esc(departmentFull(it))}</dd></div>${facts}</dl>
    </div>${qrBlock(it, sparse, ctx.kioskMode)}</div>
    ${body}
    <div class="feedback">
      <button type="button" id="helpful">有帮助</button>
      <button type="button" id="unhelpful">没帮助</button>
      <button type="button" id="print">${it.materials && it.materials.length ? "打印材料清单" : "打印这张卡片"}</button>
    </div>
    <div id="comment-box" hidden><label for="comment">哪里不对？可以不填：</label><textarea id="comment" maxlength="500"></textarea>
      <button type="button" id="send-comment">提交</button></div>
    <p id="thanks" class="muted" role="status"></p></div>`;
}

// A 诉求 (complaint): who handles it, how to raise it, what to have ready.
function dispatchCard(a, desk) {
  const d = a.dispatch || {};
  const lead = d.lead || {};
  const support = (d.support || []).map((s) => esc(s.department_full || s.department)).filter(Boolean);
  const how = (d.how_to_raise && d.how_to_raise.length ? d.how_to_raise.map(esc)
    : ["拨打 12345 政务服务便民热线", desk ? `到${esc(desk)}反映` : "到大厅投诉窗口反映"]);
  const prep = d.prepare && d.prepare.length ? d.prepare.map(esc) : ["发生的时间", "具体地点", "照片或视频（如有）", "您的联系电话"];
  return `<div class="card" id="dispatch"><h2>这是一件需要反映的事，我们帮您找到负责的部门</h2>
    ${lead.department ? `<p class="dispatch-lead">负责处理：<b>${esc(lead.department_full || lead.department)}</b></p>` : ""}
    ${d.to_command_centre ? `<p class="muted">暂时不能确定具体部门，由 12345 热线统一转给负责的部门。</p>` : ""}
    ${support.length ? `<p>协助处理：${support.join("、")}</p>` : ""}
    <h3>怎么反映</h3><ul>${how.map((h) => `<li>${h}</li>`).join("")}</ul>
    <h3>请准备好</h3><ul class="checklist">${prep.map((p) => `<li>${p}</li>`).join("")}</ul></div>`;
}

// A 诉求 that the catalogue also has an item for (intent "both", e.g. 消费纠纷调解):
// the item card is the answer; this says who handles the matter if they want to raise it.
function alsoRaise(a) {
  const d = a.dispatch;
  if (!d || a.status === "follow_up") return "";
  const lead = (d.lead || {}).department_full || (d.lead || {}).department;
  return `<div class="card" id="also-raise"><h3>如果您要反映这个问题</h3>
    ${lead ? `<p>负责处理：<b>${esc(lead)}</b>${d.to_command_centre ? "（由 12345 热线转给负责的部门）" : ""}</p>` : ""}
    ${d.how_to_raise && d.how_to_raise.length ? `<ul>${d.how_to_raise.map((h) => `<li>${esc(h)}</li>`).join("")}</ul>` : ""}</div>`;
}
