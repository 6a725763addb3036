// The operator's 派单 view (Ctrl+D): the 诉求's category path, lead and support
// departments, level, confidence, place/time, and a copyable work-order summary;
// the category can be corrected (admin token). Needs the dispatch backend: without
// it the view says so.
"use strict";

function categoryPaths(tree, prefix = []) {
  // accepts a list of paths, or nodes {name, children}
  const out = [];
  for (const node of tree || []) {
    if (Array.isArray(node)) out.push(node);
    else if (typeof node === "string") out.push([...prefix, node]);
    else if (node && node.name) {
      const path = [...prefix, node.name];
      if (node.children && node.children.length) out.push(...categoryPaths(node.children, path));
      else out.push(path);
    }
  }
  return out;
}

async function dispatchView() {
  const my = op.gen, q = $("q").value.trim(), cat = $("cat").value;
  if (!q) return;
  const box = $("dispatch-view");
  box.hidden = false;
  box.innerHTML = "派单分析中…";
  const a = await postJSON("/api/v1/ask", {question: q, catalogue: cat});
  if (my !== op.gen) return;
  if (!a.dispatch) {  // a 诉求 ("complaint"), or a service item that handles one ("both")
    box.innerHTML = `<h3>派单</h3><p>这条来电没有被识别为诉求${a.intent ? `（识别为：${esc(a.intent)}）` : ""}，按办事咨询处理。</p>`;
    return;
  }
  const d = a.dispatch, ex = d.extracted || {};
  box.innerHTML = `<h3>派单</h3>
    <p><b>分类：</b><span id="d-category">${(d.category || []).filter(Boolean).map(esc).join(" › ")}</span></p>
    <p><b>主办：</b>${esc((d.lead || {}).department_full || (d.lead || {}).department)}${d.to_command_centre ? '（置信度不足，转指挥中心）' : ""}<br>
    <b>协办：</b>${(d.support || []).map((s) => esc(s.department_full || s.department)).join("、") || "无"}<br>
    <b>层级：</b>${esc(d.level || "")} · <b>置信度：</b>${d.confidence != null ? Number(d.confidence).toFixed(2) : "—"}<br>
    <b>地点：</b>${esc(ex.place || "未提及")} · <b>时间：</b>${esc(ex.time || "未提及")}</p>
    <p><b>工单摘要</b> <button type="button" id="copy-summary">复制工单</button> <span id="summary-copied" role="status"></span></p>
    <div id="summary">${esc(d.summary || "")}</div>
    <p><label for="fix-category">改为分类</label> <select id="fix-category"></select>
      <label for="fix-token">管理口令</label> <input id="fix-token" type="password" autocomplete="off" size="10">
      <button type="button" id="fix-send">提交更正</button> <span id="fix-result" role="status"></span></p>`;
  $("copy-summary").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(d.summary || ""); $("summary-copied").textContent = "已复制"; }
    catch (e) { $("summary-copied").textContent = "复制失败，请手动选择"; }
  });
  $("fix-token").value = sessionStorage.getItem("wenban-token") || "";
  try {
    const paths = categoryPaths(await api(`/api/v1/dispatch/categories?catalogue=${encodeURIComponent(cat)}`)
      .then((t) => (Array.isArray(t) ? t : t.categories || t.tree || [])));
    $("fix-category").innerHTML = paths.map((p, i) => `<option value="${i}">${esc(p.join(" › "))}</option>`).join("");
    $("fix-send").addEventListener("click", async () => {
      const token = $("fix-token").value.trim();
      sessionStorage.setItem("wenban-token", token);
      try {
        await postJSON("/api/v1/admin/dispatch/corrections", {catalogue: cat, question: q, category: paths[+$("fix-category").value],
          session_id: a.session_id}, {Authorization: "Bearer " + token});
        $("fix-result").textContent = "已记录更正";
      } catch (e) { $("fix-result").textContent = e.message; }
    });
  } catch (e) {
    $("fix-category").disabled = true; $("fix-send").disabled = true;
    $("fix-result").textContent = "分类列表暂不可用";
  }
}
