"""Conversations: clarify choices, follow-ups about the current item, expiry.

The library keeps each session's state (current item, pending clarify) keyed
by a session id, so the terminal chat and the HTTP API share one code path.

    >>> d = Dialogue(assistant)                              # doctest: +SKIP
    >>> r = d.turn(None, "我想考驾照", "guangdong")            # doctest: +SKIP
    >>> r["status"], r["session_id"]                          # doctest: +SKIP
    ('clarify', '3f…')
    >>> d.turn(r["session_id"], "我是外国人", "guangdong")       # doctest: +SKIP
"""

from __future__ import annotations

import re
from typing import Any

from assistant.answer import Assistant, check_question
from assistant.card import FIELD_LABELS, NOT_IN_CATALOGUE, general_steps_note, material_text
from assistant.clarify import choose
from assistant.privacy import mask
from assistant.sessions import MemorySessions, Session
from store import db as store

# Follow-up intents: which guide fields answer "要带什么材料", "在哪里办" …
# Order matters: the first intent whose words occur wins.
FOLLOW_UPS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("materials", ("materials",), ("材料", "带什么", "带啥", "准备什么", "准备啥", "要什么证件", "什么证件", "资料")),
    ("fee", ("fee",), ("要钱", "收费", "费用", "多少钱", "花钱", "免费", "交钱")),
    ("time", ("time_limit_promised", "time_limit_legal"), ("多久", "多长时间", "几天", "时限", "多少天", "办好", "什么时候能", "多快")),
    ("phone", ("phone", "complaint_phone"), ("咨询电话", "投诉电话", "联系电话", "电话", "联系方式", "怎么联系", "热线")),
    ("online", ("online", "online_booking", "platform"), ("网上", "线上", "网办", "手机上", "不用跑", "网上办")),
    ("place", ("place", "office_hours"), ("在哪", "哪里办", "去哪", "地址", "几楼", "窗口", "地点", "在什么地方", "哪儿")),
    ("conditions", ("conditions",), ("条件", "资格", "符合", "能不能办", "谁可以")),
    ("steps", ("steps",), ("流程", "步骤", "怎么办理", "程序", "手续", "怎么弄", "怎么办")),
    ("department", ("department",), ("哪个部门", "什么部门", "谁管", "哪个单位")),
]
_ALL_WORDS = sorted({w for _, _, ws in FOLLOW_UPS for w in ws}, key=len, reverse=True)  # longest first
# What may stand beside intent words in a follow-up ("那这个要带什么材料呢").
_FOLLOW_FILLER = re.compile(r"[这那个它该此事项业务要需得请问呢吗呀啊吧的了么我都还有和是去能可以些什么啥办理一下，。？！?!,. ]")


# "None of these": the citizen's way out of a clarifying question (or of an
# answer that is not what they meant).
NONE_OF_THESE = ("都不是", "都不对", "以上都不是", "都不是我要的", "没有我要的", "没有我要办的", "都没有")
NONE_MESSAGE = ("抱歉，没能找到您要办的事项。请换一种说法再问一次（比如说说要办什么证、给谁办、遇到了什么情况），"
                "或者按部门浏览全部事项。")

# A reply scoring this much alone is a question of its own ("身份证丢了怎么办" 0.89,
# "护照" 0.94), not a detail of the pending one ("我是外国人" 0.47, "摩托车" 0.40).
REFINE_BELOW = 0.6


def is_none_of_these(text: str) -> bool:
    core = re.sub(r"[，。！？,.!?\s啊呀吧呢哦嗯]", "", text)
    return core in NONE_OF_THESE


def follow_up_intent(text: str, new_topic=lambda rest: len(rest) > 1) -> tuple[str, tuple[str, ...]] | None:
    """(intent, fields) when ``text`` asks about the current item; None when it
    brings a new topic ("那身份证丢了呢" → None: a new search). ``new_topic``
    judges what is left once the intent and filler words are taken out."""
    for intent, fields, words in FOLLOW_UPS:
        if not any(w in text for w in words):
            continue
        rest = text
        for w in _ALL_WORDS:
            rest = rest.replace(w, "")
        rest = _FOLLOW_FILLER.sub("", rest)
        return None if rest and new_topic(rest) else (intent, fields)
    return None


def follow_up_answer(item: dict[str, Any], intent: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """The asked-for field(s) of the current item, or an honest "not registered"
    with the official link."""
    values = {f: item.get(f) for f in fields}
    found = {f: v for f, v in values.items() if v}
    if found:
        parts = []
        for f, v in found.items():
            if f == "materials":
                v = "；".join(material_text(m) for m in v)
            elif f == "steps":
                v = " → ".join(v) + general_steps_note(item)
            parts.append(f"{FIELD_LABELS[f]}：{v}")
        text = "；".join(parts)
    else:
        text = f"{NOT_IN_CATALOGUE}，请以官方办事指南为准" + (f"：{item['url']}" if item.get("url") else "")
    return {"field": intent, "fields": list(fields), "found": bool(found), "text": text,
            "values": values, "url": item.get("url")}


class Dialogue:
    """Sessions over an ``Assistant``. Idle sessions expire (kiosk privacy).

    ``sessions`` says where their state lives: this process's memory by default
    (the terminal chat, the evaluation), or ``StoreSessions`` in the shared store
    for the HTTP API, so that any worker or replica answers any turn.
    """

    def __init__(self, assistant: Assistant, idle_seconds: float = 300, max_sessions: int = 1000,
                 sessions=None):
        self.assistant = assistant
        self.idle_seconds = idle_seconds
        self.sessions = sessions or MemorySessions(idle_seconds, max_sessions)

    # ------------------------------------------------------------ sessions --
    def _expire(self) -> None:
        for sess in self.sessions.expired():
            self._abandon(sess)

    def _abandon(self, sess: Session) -> None:
        if sess.pending:
            self.log(sess.catalogue, "abandoned_clarify", sess.pending_question or "", sess.pending_candidates or [],
                     sess.id)

    def session(self, session_id: str | None, catalogue: str) -> Session:
        try:
            self._expire()
            sess = self.sessions.get(session_id) if session_id else None
        except store.StoreUnavailable:
            sess = None  # the shared store is down: answer this turn as a new conversation
        if sess is None or sess.catalogue != catalogue:
            sess = self.sessions.new(catalogue)
        return sess

    def has(self, session_id: str) -> bool:
        self._expire()
        return self.sessions.get(session_id) is not None

    def end(self, session_id: str) -> None:
        sess = self.sessions.pop(session_id)
        if sess:
            self._abandon(sess)

    # ---------------------------------------------------------------- turns --
    def turn(self, session_id: str | None, text: str, catalogue: str | None,
             site: str | None = None, level: str | None = None) -> dict[str, Any]:
        """One user message → one reply (status answer | clarify | not_found | follow_up).
        ``site``: a configured site or a 行政区划代码; the catalogue defaults to the site's;
        ``level``: 省 | 市 | 县, only items implemented at that level."""
        text = check_question(text)
        if site:
            catalogue = self.assistant.site(site, catalogue).catalogue
        self.assistant.catalogue(catalogue)
        sess = self.session(session_id, catalogue)
        if is_none_of_these(text) and (sess.pending or sess.item_code):
            return self._none_of_these(sess, text)
        if sess.pending:
            picked = choose(text, sess.pending["options"])
            if len(picked) == 1:
                sess.pending = None
                return self._answer_item(sess, picked[0]["code"], text, chosen=picked[0])
            if len(picked) > 1:
                sess.pending = {**sess.pending, "options": picked}
                return self._reply(sess, {"status": "clarify", "question": text, "catalogue": catalogue,
                                          "item": None, "clarify": sess.pending, "candidates": [], "score": None})
            refined, alone = self._refine(sess, text, site, level)
            if refined is not None:
                return refined
            self._abandon(sess)  # a new question instead of a choice
            sess.pending = None
        else:
            alone = None
        if sess.item_code:
            item = self.assistant.card(catalogue, sess.item_code)
            intent = follow_up_intent(text, lambda rest: self._names_other_thing(catalogue, rest, item))
            if intent:
                return self._reply(sess, {"status": "follow_up", "question": text, "catalogue": catalogue,
                                          "item": item, "follow_up": follow_up_answer(item, *intent),
                                          "candidates": [], "score": None})
        answer = alone or self.assistant.ask(text, catalogue, site=site, level=level)
        self._remember(sess, text, answer)
        if answer["status"] == "not_found":  # a routed 诉求 is answered, not unanswered
            self.log(catalogue, "not_found", text, answer["candidates"], sess.id)
        return self._reply(sess, answer)

    @staticmethod
    def _remember(sess: Session, text: str, answer: dict[str, Any], asked: str | None = None) -> None:
        """What the answer leaves open for the next turn: its item (follow-ups) or
        its clarify (``asked``: the question it answered, when not ``text``)."""
        sess.last_question, sess.last_candidates = text, answer["candidates"]
        if answer["status"] == "answer":
            sess.item_code = answer["item"]["code"]
        elif answer["status"] == "clarify":
            sess.pending, sess.pending_question = answer["clarify"], asked or text
            sess.pending_candidates = answer["candidates"]
        else:
            sess.item_code = None

    def _refine(self, sess: Session, text: str, site: str | None,
                level: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """A reply that fits no option may say more about the need ("我是外国人" to
        a question about 驾驶证 variants) or be a new question ("身份证丢了怎么办").
        When it names something item names use but is a weak question on its own
        (score below ``REFINE_BELOW``), the pending question and the reply are
        asked together; if that fits better, it is the answer. Returns (that reply
        or None, the reply's own answer when it was asked, for the turn to reuse)."""
        retriever = self.assistant.retriever(sess.catalogue)
        known = [w for w in retriever.tokenizer.tokens(text) if len(w) >= 2 and w in retriever.keyword_vocab]
        if not sess.pending_question or not known:  # "今天天气怎么样" refines nothing
            return None, None
        alone = self.assistant.ask(text, sess.catalogue, site=site, level=level)
        if alone["score"] >= REFINE_BELOW:
            return None, alone
        asked = f"{sess.pending_question}，{text}"
        answer = self.assistant.ask(asked, sess.catalogue, site=site, level=level)
        if answer["status"] not in ("answer", "clarify") or answer["score"] <= alone["score"]:
            return None, alone
        sess.pending = sess.pending_question = sess.pending_candidates = None
        self._remember(sess, text, answer, asked)
        return self._reply(sess, answer), None

    def _none_of_these(self, sess: Session, text: str) -> dict[str, Any]:
        """"都不是": nothing offered fits. Log the question as unresolved, ask for
        another wording or browsing by department, and forget the offer."""
        question = (sess.pending_question if sess.pending else sess.last_question) or ""
        cands = (sess.pending_candidates if sess.pending else sess.last_candidates) or []
        self.log(sess.catalogue, "none_of_these", question, cands, sess.id)
        sess.pending = sess.pending_question = sess.pending_candidates = None
        sess.item_code = None
        meta = self.assistant.catalogue(sess.catalogue)
        enquiry = meta.get("enquiry") or {}
        return self._reply(sess, {
            "status": "not_found", "question": text, "catalogue": sess.catalogue, "item": None,
            "candidates": [], "score": None, "alternatives": [],
            "not_found": {"reason": "none_of_these", "message": NONE_MESSAGE,
                          "where_to_go": [w for w in (enquiry.get("desk"), enquiry.get("hotline")) if w],
                          "did_you_mean": [], "browse": f"/api/v1/catalogues/{sess.catalogue}/departments"}})

    def _names_other_thing(self, catalogue: str, rest: str, item: dict[str, Any]) -> bool:
        """Does ``rest`` name something the catalogue knows (an item-name word) that
        the current item's name does not? "那护照呢" does; "多久能批下来" does not."""
        retriever = self.assistant.retriever(catalogue)
        words = [w for w in retriever.tokenizer.tokens(rest) if len(w) >= 2 and w in retriever.keyword_vocab]
        return any(w not in item["name"] and w not in (item.get("parent_name") or "") for w in words)

    def _answer_item(self, sess: Session, code: str, text: str, chosen: dict[str, Any]) -> dict[str, Any]:
        sess.item_code = code
        item = self.assistant.card(sess.catalogue, code)
        return self._reply(sess, {"status": "answer", "question": text, "catalogue": sess.catalogue,
                                  "item": item, "chosen": chosen, "candidates": [], "score": None})

    def _reply(self, sess: Session, body: dict[str, Any]) -> dict[str, Any]:
        try:
            self.sessions.save(sess)  # every turn ends here: the state is stored before the reply goes out
        except store.StoreUnavailable:
            pass  # the answer still goes out; the next turn starts afresh
        return {**body, "session_id": sess.id}

    # ------------------------------------------------------------------ log --
    def log(self, catalogue: str, kind: str, question: str, candidates: list[dict[str, Any]],
            session_id: str | None) -> None:
        if not self.assistant.log_unanswered:
            return
        try:
            self._log(catalogue, kind, question, candidates, session_id)
        except store.StoreUnavailable:
            pass  # logging a question never fails its answer

    def _log(self, catalogue: str, kind: str, question: str, candidates: list[dict[str, Any]],
             session_id: str | None) -> None:
        store.log_unanswered(self.assistant.db, catalogue=catalogue, kind=kind, question=mask(question),
                             candidates=[{k: c.get(k) for k in ("code", "name", "department", "score")}
                                         for c in candidates[:5]], session_id=session_id)
