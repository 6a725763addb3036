// Shared by the pages: element lookup, escaping, and a fetch that turns every
// failure into a message a person can read (Chinese first, no stack traces).
"use strict";

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

// The Chinese half of a bilingual "中文 / English" detail.
function zhOnly(detail) {
  if (Array.isArray(detail)) return "输入有误，请检查后重试";
  const s = String(detail ?? "");
  const i = s.indexOf(" / ");
  return i > 0 ? s.slice(0, i) : s;
}

// fetch JSON; throws ApiError with a Chinese message (status 0 = network down).
async function api(url, options = {}) {
  let r;
  try {
    r = await fetch(url, options);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError("网络连接中断，请稍后再试", 0);
  }
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    if (r.status >= 500) throw new ApiError("系统暂时忙，请稍后再试", r.status);
    throw new ApiError(zhOnly(data && data.detail) || "请求未能完成", r.status);
  }
  return data;
}

function postJSON(url, body, headers = {}) {
  return api(url, {method: "POST", headers: {"Content-Type": "application/json", ...headers}, body: JSON.stringify(body)});
}

// "0759-1234567、020-1234" → tel: links around each number, the rest escaped.
function telLinks(text) {
  return String(text).split(/([0-9][0-9\-]{5,}[0-9])/).map((part, i) =>
    i % 2 ? `<a class="tel" href="tel:${esc(part.replace(/-/g, ""))}">${esc(part)}</a>` : esc(part)).join("");
}

// The department with its area: the record's department_full when present, else
// built from the catalogue's area for names like "区公安分局" in "…广安区".
function departmentFull(it) {
  if (it.department_full) return it.department_full;
  const dept = it.department || "";
  const m = /([^省市州盟]{1,8}?)([区县市旗])$/.exec(it.area || "");
  if (m && dept.startsWith(m[2]) && !dept.startsWith(m[1])) return m[1] + dept;
  return dept;
}
