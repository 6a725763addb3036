"""Chinese text for search: jieba tokens, item texts, and the domain vocabulary.

The jieba dictionary is extended with the catalogue's own item, parent-item,
department and alias names, so "居民身份证办理" stays one token (and its
parts still come out through ``cut_for_search``).

    >>> v = Vocabulary.load()
    >>> "最低生活保障" in v.expand("我想申请低保")
    True
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import jieba

from store.areas import department_local
from wenban.config import DATA_DIR

jieba.setLogLevel(logging.WARNING)

# Words that say nothing about which item is meant; they only add noise to BM25.
STOPWORDS = set("""
的 了 吗 呢 吧 啊 呀 么 嘛 我 你 他 她 它 我们 你们 请问 想 要 需要 怎么 怎样 如何 什么 哪里 哪儿
去 在 是 有 没有 可以 能 能不能 可不可以 应该 该 找 问 问下 一下 下 个 一个 和 与 或 及 给 把 被 都
还 就 也 又 这 那 这个 那个 哪个 谁 多少 几 办 办理 手续 流程 需要 材料 带 啥 咋 咋办 怎么办 时候
""".split()) | set("，。？！、；：“”‘’（）()《》【】 ,.?!;:'\"-—…~～/\\")

_PUNCT = re.compile(r"[\s，。？！、；：“”‘’（）()《》【】,.?!;:'\"\-—…~～/\\·]+")


def item_text(item: dict[str, Any], with_department: bool = True,
              area_names: dict[str, str] | None = None) -> str:
    """What a citizen might recognise an item by: its name, parent item, aliases
    and department. One line, passed to the embedder as a passage. The department
    is written without its own area's name ("市公安局" for 广州市公安局), so the same
    item implemented in every city is one text, embedded once."""
    parts = [item["name"]]
    if item.get("parent_name") and item["parent_name"] != item["name"]:
        parts.append(item["parent_name"])
    if item.get("aliases"):
        parts.append("、".join(item["aliases"]))
    if with_department and item.get("department"):
        parts.append(department_local(item["department"], item.get("area_code"), area_names))
    return "；".join(parts)


# What an item name says is being done. Variants of one item differ mostly here
# (新办 / 变更 / 注销 / 补办 …); the vocabulary turns "丢了" into "遗失 补办 …",
# so the same words find the action in an expanded question too.
ACTIONS: dict[str, tuple[str, ...]] = {
    "lost": ("补办", "补发", "补领", "遗失", "挂失", "补证", "丢失"),
    "cancel": ("注销", "终止", "歇业", "撤销"),
    # a pause and its end are items of their own (烟草专卖零售许可证停业 / 恢复营业)
    "suspend": ("停业", "暂停"),
    "resume": ("恢复", "复业"),
    "renew": ("延续", "换发", "换证", "期满", "延期", "续期", "换领"),
    "change": ("变更", "更正", "改建", "扩建"),
    "query": ("查询", "进度"),
    "consult": ("咨询", "指引"),
    # moving a record between places: in and out are different items (残疾人证迁入 / 迁出)
    "move_in": ("迁入", "转入", "调入"),
    "move_out": ("迁出", "转出", "调出"),
    "unlock": ("解挂", "解冻"),
    # the first grant: what a question that names no action wants anyway, so it counts
    # only against a question that asks for another action (``action_fit``)
    "new": ("设立", "新办", "初次", "首次", "核发", "新设"),
}
# How citizens say they want these done, in their own words (question side only:
# item names use the official words above). General usage, not any item's name.
ASKED: dict[str, re.Pattern[str]] = {
    "change": re.compile(r"(要|想|需要|得|咋个?|怎么)改|改(一下|个|成|了|掉)|(变|换|改)了|换(成|人)|搬了(地方|家)|"
                         r"(名称|名字|地址|法人|负责人|股东|经营范围|信息)[^，。,]{0,4}(变|换|改)"),
    # a worn document is replaced by a new one of the same (换发), not changed
    "renew": re.compile(r"满期|到期|快过期|要过期|接着用|继续用|续(一下|期|签|上)|延长|换(个|张|本)?新(的|证)|(用)?旧了|磨损|看不清"),
    # out to elsewhere; "迁到广州" is a move in where the catalogue is, so no place names
    "move_out": re.compile(r"(转|迁|调)(到|去|往)?(外省|外地|外市|外县|省外|市外|县外|别的|其他|另一?个?)|(转|迁|调)(走|出去)"),
    "move_in": re.compile(r"(转|迁|调)回|(转|迁|调)(进来|过来)|从外(省|地|市|县)(转|迁|调)"),
    # (恢复 and 暂停 themselves are ACTIONS words, found in the question by ``actions``)
    "resume": re.compile(r"重新(开|营业|开业|开门)"),
    "suspend": re.compile(r"暂时(不|停)|停[一两三几半\d]+个?(月|年|天)"),
    # "批了没" asks where an application stands; "要办吗" asks whether to apply, not this
    "query": re.compile(r"查(一)?下|查查|查一查|想查|(批|办|好|下来)了(没|没有|吗)|(批|办|好)(咗)?未|办到哪|到哪一步"),
}

# Who an item is for, when its name says so, against who the question speaks as.
# A citizen asking about 医保参保信息 is not a 参保单位; someone who wants a
# notarisation is not applying for the notary's own 执业许可.
ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # role: (words in an item name, words in a question that claim the role)
    "organisation": (("单位", "机关事业"),
                     ("单位", "公司", "企业", "机关", "事业", "厂", "机构", "用人", "员工", "职工", "招")),
    "professional": (("执业许可", "执业证", "执业变更", "执业注销", "免职", "执业机构"),
                     ("执业", "律师证", "当律师", "做律师", "公证员", "医师", "职业资格")),
    # Variants for a particular group of applicants (驾驶证初次申领(外国人…)): most
    # citizens are none of these, so they follow the everyday variant unless asked.
    "group": (("外国人", "外籍", "境外人员", "港澳", "香港", "澳门", "台湾", "台胞", "华侨", "归侨", "侨眷",
               "军人", "军队", "驻外", "无国籍"),
              ("外国", "外籍", "老外", "国外", "境外", "港澳", "香港", "澳门", "台湾", "台胞", "侨", "军人",
               "军队", "部队", "当兵", "转业", "复员", "驻外", "无国籍")),
}


ACTION_WORDS = {w for words in ACTIONS.values() for w in words}


def actions(text: str) -> set[str]:
    """The kinds of action ``text`` names: {"lost", "cancel", …}; empty for a plain "do it"."""
    return {kind for kind, words in ACTIONS.items() if any(w in text for w in words)}


def asked_actions(question: str, matches: list[tuple[str, list[str]]]) -> set[str]:
    """The actions a question asks for: from its own words and from the action
    words the vocabulary gives for them ("丢了" → 遗失 补办), not from catalogue
    names it expanded to ("社保卡坏" → "社会保障卡补领、换领、换发" asks for nothing).

        >>> sorted(asked_actions("身份证丢了", [("丢了", ["遗失", "补办"])]))
        ['lost']
        >>> asked_actions("社保卡坏了", [("社保卡坏", ["社会保障卡补领、换领、换发"])])
        set()
    """
    said = [t for _, terms in matches for t in terms if t in ACTION_WORDS]
    kinds = actions(" ".join([question, *said])) | {kind for kind, how in ASKED.items() if how.search(question)}
    if "resume" in kinds:  # "停业了几个月，想重新开门": the pause is behind, its end is asked
        kinds.discard("suspend")
    return kinds


def action_fit(has: set[str], wanted: set[str]) -> int:
    """+1 when an item does what the question asks, -1 when it does something else,
    0 when neither says. A first grant (``new``) is what a question naming no action
    wants anyway, so it counts only against a question asking for another action; and
    beside another action it is that action's (首次办理…进度查询 is a progress query).

        >>> action_fit({"change"}, {"change"}), action_fit({"change"}, set()), action_fit({"new"}, set())
        (1, -1, 0)
        >>> action_fit({"new"}, {"renew"}), action_fit({"new", "query"}, {"new"})
        (-1, -1)
    """
    if not wanted or len(has) > 1:
        has = has - {"new"}
    if not has:
        return 0
    if has & {"query", "consult"} and not wanted & {"query", "consult"}:
        return -1  # a progress query (换发普通护照办证进度查询) does not do what it names
    return 1 if has & wanted else -1


def roles(name: str) -> set[str]:
    """The roles an item name is for ({"organisation"}, {"professional"}); empty for anyone."""
    return {r for r, (marks, _) in ROLES.items() if any(m in name for m in marks)}


def claimed_roles(question: str) -> set[str]:
    """The roles a question speaks as ("我们单位…" → {"organisation"})."""
    return {r for r, (_, words) in ROLES.items() if any(w in question for w in words)}


@lru_cache(maxsize=1 << 16)  # item names recur question after question
def char_pairs(text: str) -> frozenset[str]:
    """Adjacent character pairs, not across punctuation or brackets.

        >>> sorted(char_pairs("低保（城市）"))
        ['低保', '城市']
    """
    return frozenset(c[i:i + 2] for c in _PUNCT.split(text) if c for i in range(len(c) - 1))


def share_in(pairs: frozenset[str], text: str) -> float:
    """The share of ``pairs`` found in ``text``; 0 for no pairs."""
    return sum(p in text for p in pairs) / len(pairs) if pairs else 0.0


DESCRIPTIONS_PATH = DATA_DIR / "descriptions.tsv"


def tab_rows(path: Path) -> Iterable[tuple[int, str, str, str]]:
    """(line number, left, TAB or "", right) of each line of a data file that is
    neither blank nor a ``#`` comment: the vocabulary, the descriptions, the everyday
    messages of ``assistant/offtopic.py``."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            yield (n, *line.partition("\t"))


def load_descriptions(path: Path | None = None) -> dict[str, str]:
    """Item name → what the item is for in everyday words, from
    ``data/descriptions.tsv`` (``name<TAB>description``; ``#`` comments). An item
    the file does not describe (a hall's own) is searched by its name alone.

    >>> "砍树" in load_descriptions()["林木采伐许可证核发"]   # doctest: +SKIP
    True
    """
    path = path or DESCRIPTIONS_PATH
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    for n, name, sep, text in tab_rows(path):
        if not sep or not name.strip() or not text.strip():
            raise ValueError(f"{path}:{n}: expected 'item name<TAB>description'")
        out[name.strip()] = text.strip()
    return out


def description_text(item: dict[str, Any], descriptions: dict[str, str]) -> str:
    """The text of an item's description view: its everyday description alone (the
    name has a view of its own; tuning sets, weight 1 and 3: the description alone
    resolved as many as name + description, with fewer clarifying questions), or
    the name when none is written."""
    return descriptions.get(item["name"]) or item["name"]


def keyword_text(item: dict[str, Any]) -> str:
    """What BM25 indexes: the names only. Department and type words ("区行政审批局",
    "行政许可") recur across hundreds of items and only add noise to keyword scores."""
    parts = [item["name"], item.get("parent_name") or "", "、".join(item.get("aliases") or [])]
    return "；".join(p for p in parts if p)


# What may stand between the parts of a vocabulary word in a question:
# "结婚证弄丢了" holds "结婚证丢" with "弄" in between. Up to three characters,
# no punctuation (a gap across a clause break joins unrelated words).
_GAP = r"[^\s，。？！、；：,.?!;:]{0,3}"


_SPLIT_VERBS = set("砍伐挖采养捕钓烧杀种离结迁盖")  # not 开/建/换/考/交: "开锁店" is no "开店"

# A measure word after a one-character verb marks a verb and its object ("开个店",
# "办个证", "领张卡", "摆个早餐摊"), so any verb may be split there; up to two
# characters of the object's modifier may follow ("开个小店").
_MEASURE = r"(?:了|过)?一?[个家间张本份辆台只头棵块所条处套门]" + _GAP.replace("{0,3}", "{0,2}")


def _loose_pattern(word: str) -> re.Pattern[str] | None:
    """A pattern that finds ``word`` with a short gap at one of its word
    boundaries (jieba's split of the word itself); None when the word cannot be
    split with at least two characters before the gap (a one-character head such
    as "上|户口" would fire on "上海户口"), except a two-character verb + object,
    and a one-character verb followed by a measure word ("开|个|超市")."""
    if len(word) == 2:
        # A verb and its object may be split by a measure word or 了: "砍几棵树",
        # "离了婚", "开个店". Any verb before a measure word; the verbs above before anything.
        alts = [re.escape(word[0]) + _MEASURE + re.escape(word[1])]
        if word[0] in _SPLIT_VERBS:
            alts.append(re.escape(word[0]) + _GAP.replace("{0,3}", "{1,2}") + re.escape(word[1]))
        return re.compile("|".join(alts))
    parts = jieba.lcut(word, HMM=False)
    alts = []
    for i in range(1, len(parts)):
        head, tail = "".join(parts[:i]), "".join(parts[i:])
        if len(head) >= 2:
            alts.append(re.escape(head) + _GAP + re.escape(tail))
        elif i == 1:
            alts.append(re.escape(head) + _MEASURE + re.escape(tail))
    return re.compile("|".join(alts)) if alts else None


def token_spans(text: str) -> dict[int, int]:
    """jieba's words of ``text`` as {start: length}.

        >>> token_spans("领养老金")
        {0: 1, 1: 3}
    """
    spans, at = {}, 0
    for tok in jieba.lcut(text, HMM=False):
        spans[at] = len(tok)
        at += len(tok)
    return spans


def _starts_token(word: str, text: str, spans: dict[int, int]) -> bool:
    """Whether ``word`` (two characters) occurs in ``text`` inside one jieba word
    ("发票" in "专用发票", "退休" in "提前退休"), or as two one-character words
    ("学|车"), but not across the edge of a longer word: "领养" is in "我想领养个孩子"
    but not in "领养老金" (领|养老金), "民非" not in "农民非常" (农民|非常).
    After a verb that takes an object the object may run on ("挖|沙子" holds "挖沙")."""
    i = text.find(word)
    while i >= 0:
        if i + 1 not in spans or (i in spans and (spans[i + 1] < 2 or word[0] in _SPLIT_VERBS)):
            return True
        i = text.find(word, i + 1)
    return False


@dataclass
class Vocabulary:
    """Everyday words → catalogue words, from ``data/vocabulary.tsv``. A word
    matches as a substring, or with a short gap at a word boundary inside it
    ("结婚证 … 丢" in "结婚证弄丢了")."""

    entries: dict[str, list[str]] = field(default_factory=dict)
    _loose: dict[str, re.Pattern[str] | None] = field(default_factory=dict, repr=False)
    _order: list[str] | None = field(default=None, repr=False)  # the words, longest first

    @classmethod
    def load(cls, path: Path | None = None) -> "Vocabulary":
        path = path or DATA_DIR / "vocabulary.tsv"
        entries: dict[str, list[str]] = {}
        for n, word, sep, terms in tab_rows(path):
            if not sep or not terms.split():
                raise ValueError(f"{path}:{n}: expected 'word<TAB>terms'")
            entries[word.strip()] = terms.split()
        return cls(entries)

    def matches(self, question: str) -> list[tuple[str, list[str]]]:
        """Entries whose word occurs in the question; longest words first, and a
        word inside a longer matched word does not count again."""
        found: list[tuple[str, list[str]]] = []
        spans: dict[int, int] | None = None  # jieba token start → length, when a short word needs it
        if self._order is None or len(self._order) != len(self.entries):
            self._order = sorted(self.entries, key=len, reverse=True)
        chars = set(question)
        for word in self._order:
            # found as it is or loosely, a word's every character is in the question: this
            # skips nearly all of ~2,900 words before any pattern is tried
            if not chars.issuperset(word) or any(word in w for w, _ in found):
                continue
            if word in question and len(word) == 2:
                spans = spans if spans is not None else token_spans(question)
                if not _starts_token(word, question, spans) and not self._loosely_in(word, question):
                    continue
            if word in question or self._loosely_in(word, question):
                found.append((word, self.entries[word]))
        return found

    def _loosely_in(self, word: str, question: str) -> bool:
        if len(word) < 2:
            return False
        if word not in self._loose:
            self._loose[word] = _loose_pattern(word)
        pat = self._loose[word]
        return bool(pat and pat.search(question))

    def with_entries(self, more: dict[str, list[str]]) -> "Vocabulary":
        """A copy with ``more`` entries added (a catalogue's own synonyms, from the
        question library); words already present get the new terms too."""
        merged = {w: list(t) for w, t in self.entries.items()}
        for w, terms in more.items():
            merged[w] = merged.get(w, []) + [t for t in terms if t not in merged.get(w, [])]
        return Vocabulary(merged, dict(self._loose))

    def expand(self, question: str, matches: list[tuple[str, list[str]]] | None = None) -> str:
        """The question with catalogue terms appended (nothing removed); ``matches``:
        ``self.matches(question)`` when the caller has it already."""
        extra: list[str] = []
        for _, terms in (self.matches(question) if matches is None else matches):
            extra += [t for t in terms if t not in question and t not in extra]
        return question if not extra else question + " " + " ".join(extra)

    def words(self) -> set[str]:
        return set(self.entries) | {t for terms in self.entries.values() for t in terms}


class Tokenizer:
    """jieba with the catalogue's names as a user dictionary."""

    def __init__(self, user_words: Iterable[str] = (), cache_dir: Path | None = None):
        self._jieba = jieba.Tokenizer()
        if cache_dir:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._jieba.tmp_dir = str(cache_dir)
        self._jieba.initialize()
        for w in sorted(set(user_words)):
            w = _PUNCT.sub("", w)
            if 2 <= len(w) <= 30:
                self._jieba.add_word(w, freq=None)
        self.user_words = set(user_words)

    def tokens(self, text: str) -> list[str]:
        """Search tokens: jieba's search mode, lower-cased, no stopwords or punctuation."""
        out = []
        for tok in self._jieba.cut_for_search(text.lower()):
            tok = tok.strip()
            if tok and tok not in STOPWORDS and not _PUNCT.fullmatch(tok):
                out.append(tok)
        return out


# What a name ends with to say "apply for it": a citizen names the thing ("有没有
# 创业补贴", "无犯罪记录公证"), not the procedure.
_PROCEDURE = re.compile(r"(申请|指引|办理|申领|审批|服务)$")


def name_subject(name: str) -> str:
    """The bare-core name without a closing procedure word:
    "创业补贴申请" → "创业补贴", "无犯罪记录公证指引" → "无犯罪记录公证"."""
    return _PROCEDURE.sub("", name_core(name))


def name_core(name: str) -> str:
    """The name without its bracketed parts: "户口登记（包括注销…）" → "户口登记"."""
    return re.sub(r"[（(][^）)]*[）)]", "", name).strip()


def name_words(items: Iterable[dict[str, Any]], extra: Iterable[str] = ()) -> set[str]:
    """User-dictionary words: item names, their bracket-free cores, parents,
    departments, aliases, plus ``extra`` (the vocabulary's words)."""
    words: set[str] = set(extra)
    for it in items:
        for name in [it["name"], it.get("parent_name"), it.get("department"), *(it.get("aliases") or [])]:
            if not name:
                continue
            words.add(name)
            if name_core(name):
                words.add(name_core(name))
    return words
