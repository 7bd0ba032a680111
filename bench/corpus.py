"""Synthetic evidence corpora for the benchmark: the same text for this project, Hugo and MkDocs.

N records (N a multiple of 20) = N/20 forces x 2 bodies (police, OPCC) x 10 questions, each record
17-23 paragraphs of about 25 words. The text is drawn from a fixed vocabulary with a fixed seed, so a
corpus is the same on every machine and needs no download. Some paragraphs carry **emphasis**, a link,
a link without an address (``[text](#)``), an acronym from the glossary or a mention of the force's
initiative; some records open with a sub-heading, hold a bulleted list or a joint statement.

    python bench/corpus.py 1000 /tmp/corpus-1000      # writes ours/ hugo/ mkdocs/ below it
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

SUBMISSION = "bench"
# An inquiry's evidence is hundreds of responses, each of a few answers: here one per force, its
# police and OPCC answering the ten questions together (as the Policing in Wales response does for
# four forces). N = 5,000 is 250 submissions of 20 answers, about 400 paragraphs each.
FORCES_PER_SUBMISSION = 1
QUESTIONS = 10
BODY_KINDS = ("police", "opcc")

WORDS = """
the of and to in a for that is on with as by are this be from our have has we it at which their
children young people child criminal exploitation police force forces partners partnership support
services service risk harm safeguarding officers team teams work working approach local national
county lines serious violence violent organised crime prevention early intervention response
responses investigation investigations intelligence data evidence funding resources resource
commissioner office plan strategy strategic direction priority priorities delivery board boards
multi agency agencies referral referrals schools education health youth justice families family
victims victim offenders offender missing episodes training awareness learning review reviews
community communities neighbourhood policing officers staff specialist specialists dedicated
programme programmes project projects operation operations unit units trusted relationships
contextual mapping disruption orders notices vulnerable vulnerability wellbeing trauma informed
practice guidance framework frameworks outcomes monitoring performance quarterly annual report
reports meeting meetings governance oversight scrutiny accountability collaboration regional
across wales welsh government senedd committee inquiry margins exploitation contextual approach
positive futures diversionary activities sport mentoring lived experience outreach workers hub
hubs safeguarding partnerships threshold assessment assessments screening tool tools pathway
pathways between within through during after before since while where when who whose also more
most many several further new existing current recent continued increased improved better
effective consistent shared joint clear specific targeted tailored timely robust proactive
reactive protective factors including identified identify identifying ensure ensures ensuring
develop developed developing deliver delivered delivering provide provided providing continue
""".split()

ACRONYMS = [
    ("CCE", "Child criminal exploitation"), ("CSE", "Child sexual exploitation"),
    ("OPCC", "Office of the Police and Crime Commissioner"), ("MASH", "Multi-agency safeguarding hub"),
    ("ACEs", "Adverse Childhood Experiences"), ("NRM", "National Referral Mechanism"),
    ("VRU", "Violence Reduction Unit"), ("SOC", "Serious and organised crime"),
    ("YJS", "Youth Justice Service"), ("CAWN", "Child abduction warning notice"),
    ("MACE", "Multi-agency child exploitation"), ("HMICFRS", "His Majesty's Inspectorate of Constabulary"),
]
OPERATION_WORDS = ("Falcon", "Harbour", "Lantern", "Beacon", "Compass", "Anchor", "Bridge", "Meadow",
                   "Summit", "Orchard", "Kestrel", "Heron", "Willow", "Granite", "Ember", "Tidal")


@dataclass
class Para:
    id: str
    kind: str
    page: int
    text: str
    page_end: int | None = None
    joint_with: list[str] = field(default_factory=list)
    mentions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Record:
    body: str
    question: str
    paragraphs: list[Para]
    submission: str = SUBMISSION


@dataclass
class Submission:
    id: str
    bodies: list[str]
    intro: list[Para]


@dataclass
class Corpus:
    n: int
    forces: list[tuple[str, str]]  # (id, name)
    bodies: list[tuple[str, str, str, str]]  # (id, name, force, kind)
    questions: list[tuple[str, int, str, str]]  # (id, number, title, text)
    records: list[Record]  # in the submission's order
    entities: list[dict]
    submissions: list[Submission]


def _sentence(rng: random.Random, words: int) -> str:
    picked = [WORDS[min(int(rng.paretovariate(0.9)) - 1, len(WORDS) - 1)] if rng.random() < 0.35
              else rng.choice(WORDS) for _ in range(words)]
    if rng.random() < 0.15:
        picked[rng.randrange(len(picked))] = str(rng.randint(2, 2400))
    picked[0] = picked[0].capitalize()
    return " ".join(picked)


def _text(rng: random.Random, acronym_rate: float = 0.15) -> list[str]:
    """About 25 words in one or two sentences, as a list of words (punctuation attached)."""
    total = rng.randint(20, 30)
    first = rng.randint(8, total - 6) if rng.random() < 0.6 else total
    words = _sentence(rng, first).split(" ")
    words[-1] += "."
    if first < total:
        second = _sentence(rng, total - first).split(" ")
        second[-1] += "."
        words += second
    if rng.random() < acronym_rate:
        words.insert(rng.randrange(1, len(words)), rng.choice(ACRONYMS)[0])
    return words


def generate(n: int, seed: int = 20240601) -> Corpus:
    if n % 20 or n < 20:
        raise SystemExit(f"N must be a positive multiple of 20 (forces x 2 bodies x 10 questions); got {n}")
    rng = random.Random(seed)
    n_forces = n // (len(BODY_KINDS) * QUESTIONS)
    forces = [(f"force-{i:03d}", f"Force {i:03d}") for i in range(1, n_forces + 1)]
    bodies = [(f"{fid}-{kind}", f"{fname} {'Police' if kind == 'police' else 'OPCC'}", fid, kind)
              for fid, fname in forces for kind in BODY_KINDS]
    questions = [(f"question-{q:02d}", q, f"Question {q} " + _sentence(rng, 3),
                  " ".join(_text(rng, 0)).rstrip(".") + "?") for q in range(1, QUESTIONS + 1)]
    operation = {fid: f"Operation {OPERATION_WORDS[i % len(OPERATION_WORDS)]} {i + 1}"
                 for i, (fid, _) in enumerate(forces)}
    entity_sources: dict[str, list[str]] = {fid: [] for fid, _ in forces}

    groups = [forces[i:i + FORCES_PER_SUBMISSION] for i in range(0, len(forces), FORCES_PER_SUBMISSION)]
    submissions: list[Submission] = []
    records: list[Record] = []
    for k, group in enumerate(groups, 1):
        sub_id = SUBMISSION if len(groups) == 1 else f"{SUBMISSION}-{k}"
        intro = [Para(f"{sub_id}-intro-01", "heading", 1, "Introduction:"),
                 Para(f"{sub_id}-intro-02", "prose", 1,
                      "This synthetic response uses the terms " + ", ".join(a for a, _ in ACRONYMS)
                      + " and answers " + str(QUESTIONS) + " questions for every force and OPCC.")]
        group_ids = {fid for fid, _ in group}
        submissions.append(Submission(sub_id, [b[0] for b in bodies if b[2] in group_ids], intro))
        _records(rng, sub_id, group, bodies, questions, operation, entity_sources, records)
    entities = [{"id": f"op-{fid}", "name": operation[fid], "kind": "operation", "forces": [fid],
                 "summary": f"{operation[fid]} is the synthetic initiative of {fname}.",
                 "sources": entity_sources[fid][:3]} for fid, fname in forces]
    return Corpus(n, forces, bodies, questions, records, entities, submissions)


def _records(rng, sub_id, forces, bodies, questions, operation, entity_sources, records) -> None:
    page, on_page = 2, 0
    for qid, qnum, _title, _text_q in questions:
        for fid, fname in forces:
            for bid, bname, _f, kind in (b for b in bodies if b[2] == fid):
                paras: list[Para] = []
                count = rng.randint(17, 23)
                list_at = rng.randrange(3, count - 4) if rng.random() < 0.3 else -1
                for i in range(1, count + 1):
                    pid = f"{bid}-q{qnum}-{i:02d}"
                    if i == 1 and rng.random() < 0.2:
                        paras.append(Para(pid, "heading", page, "**" + _sentence(rng, rng.randint(3, 7)) + "**"))
                        continue
                    words = _text(rng)
                    mentions: list[tuple[str, str]] = []
                    r = rng.random()
                    if r < 0.2:  # emphasis: the body's own name, or a phrase
                        at = rng.randrange(0, len(words) - 2)
                        if rng.random() < 0.5:
                            words.insert(at, f"**{bname}**")
                        else:
                            words[at] = "**" + words[at]
                            words[at + 1] = words[at + 1].rstrip(".") + "**" + ("." if words[at + 1].endswith(".") else "")
                    elif r < 0.3:  # a link with an address
                        at = rng.randrange(1, len(words) - 3)
                        words[at] = "[" + words[at]
                        words[at + 2] = words[at + 2].rstrip(".") + f"](https://example.org/{fid}/{qid}/{i})"
                    elif r < 0.33:  # a link the conversion lost
                        at = rng.randrange(1, len(words) - 3)
                        words[at] = "[" + words[at]
                        words[at + 1] = words[at + 1].rstrip(".") + "](#)"
                    text = " ".join(words)
                    if not text.endswith((".", ")")):
                        text += "."
                    first_police = kind == "police" and qnum == 1 and i == 2
                    if first_police or rng.random() < 0.04:
                        op = operation[fid]
                        text = f"Through {op} " + text[0].lower() + text[1:]
                        mentions.append((f"op-{fid}", op))
                        entity_sources[fid].append(pid)
                    p = Para(pid, "item" if 0 < list_at <= i < list_at + 4 else "prose", page, text, mentions=mentions)
                    if kind == "opcc" and i == 3 and rng.random() < 0.1:
                        p.joint_with = [f"{fid}-police"]
                    on_page += 1
                    if on_page >= 9:
                        on_page = 0
                        if rng.random() < 0.5:
                            p.page_end = page + 1
                        page += 1
                    paras.append(p)
                records.append(Record(bid, qid, paras, sub_id))


# --- this project's YAML ---------------------------------------------------------------------------

def _block(text: str, indent: str) -> str:
    return f"|-\n{indent}  {text}"


def _para_yaml(p: Para) -> str:
    lines = [f"  - id: {p.id}"]
    if p.kind != "prose":
        lines.append(f"    kind: {p.kind}")
    lines.append(f"    page: {p.page}")
    if p.page_end:
        lines.append(f"    page_end: {p.page_end}")
    if p.joint_with:
        lines.append(f"    joint_with: [{', '.join(p.joint_with)}]")
    lines.append("    text: " + _block(p.text, "    "))
    if p.mentions:
        lines.append("    mentions:")
        for ent, words in p.mentions:
            lines.append(f"      - entity: {ent}\n        text: {words}")
    return "\n".join(lines)


def record_yaml(r: Record) -> str:
    return (f"submission: {r.submission}\nbody: {r.body}\nquestion: {r.question}\nparagraphs:\n"
            + "\n".join(_para_yaml(p) for p in r.paragraphs) + "\n")


def write_ours(c: Corpus, root: Path) -> Path:
    content = root / "content"
    (content / "submissions").mkdir(parents=True, exist_ok=True)
    (content / "entities").mkdir(exist_ok=True)
    (content / "site.yaml").write_text(
        f"title: Synthetic evidence ({c.n} records)\nsite_url: https://example.org/bench/\n")
    (content / "forces.yaml").write_text("forces:\n" + "".join(
        f"  - id: {fid}\n    name: {name}\n    name_cy: Heddlu {name[6:]}\n" for fid, name in c.forces))
    (content / "bodies.yaml").write_text("bodies:\n" + "".join(
        f"  - id: {bid}\n    name: {name}\n    force: {fid}\n    kind: {kind}\n" for bid, name, fid, kind in c.bodies))
    (content / "questions.yaml").write_text("questions:\n" + "".join(
        f"  - id: {qid}\n    number: {num}\n    title: {title}\n    text: {_block(text, '    ')}\n"
        for qid, num, title, text in c.questions))
    (content / "glossary.yaml").write_text("acronyms:\n" + "".join(
        f"  - id: {term.lower()}\n    term: {term}\n    expansion: {exp}\n    source: editorial\n"
        for term, exp in ACRONYMS))
    (content / "entities" / "initiatives.yaml").write_text("initiatives:\n" + "".join(
        f"  - id: {e['id']}\n    name: {e['name']}\n    kind: {e['kind']}\n    forces: [{', '.join(e['forces'])}]\n"
        f"    summary: {_block(e['summary'], '    ')}\n    sources: [{', '.join(e['sources'])}]\n"
        for e in c.entities))
    for sub in c.submissions:
        single = len(c.submissions) == 1
        whose, author = ("", "") if single else (f"{sub.id} of ", f" {sub.id}")
        sequence = "".join(f"  - {p.id}\n" for r in c.records if r.submission == sub.id for p in r.paragraphs)
        (content / "submissions" / f"{sub.id}.yaml").write_text(
            f"id: {sub.id}\ntitle: |-\n  Synthetic response to the committee ({whose}{c.n} records)\n"
            f"author: Synthetic Policing{author}\nauthor_cy: Plismona Synthetig\n"
            f"committee: Children, Young People and Education Committee\ninquiry: Synthetic inquiry\nlanguage: en\n"
            f"bodies: [{', '.join(sub.bodies)}]\nquestions: [{', '.join(q[0] for q in c.questions)}]\n"
            "introduction:\n" + "\n".join(_para_yaml(p) for p in sub.intro) + "\nsequence:\n" + sequence)
    for r in c.records:
        path = content / "responses" / r.submission / r.body / f"{r.question}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record_yaml(r))
    return content


def edit_target(c: Corpus, root: Path) -> Path:
    """The record file the one-record-edit measurement changes (one in the middle of the corpus)."""
    r = c.records[len(c.records) // 2]
    return root / "ours" / "content" / "responses" / r.submission / r.body / f"{r.question}.yaml"


# --- Hugo and MkDocs: the same paragraphs as Markdown ---------------------------------------------

def _markdown(r: Record) -> str:
    out: list[str] = []
    prev = None
    for p in r.paragraphs:
        text = p.text
        if p.kind == "heading":
            block = "#### " + text
        elif p.kind == "item":
            block = "- " + text
        else:
            block = text
        if prev == "item" and p.kind == "item":
            out[-1] += "\n" + block
        else:
            out.append(block)
        prev = p.kind
    return "\n\n".join(out) + "\n"


HUGO_LAYOUTS = {
    "_default/baseof.html": """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ .Title }} – {{ .Site.Title }}</title></head>
<body><header><a href="{{ "/" | relURL }}">{{ .Site.Title }}</a></header>
<main>{{ block "main" . }}{{ end }}</main></body></html>
""",
    "_default/single.html": """{{ define "main" }}<h1>{{ .Title }}</h1>
<p>{{ range .Params.forces }}<a href="{{ "/forces/" | relURL }}{{ . | urlize }}/">{{ . }}</a>{{ end }} ·
{{ range .Params.questions }}<a href="{{ "/questions/" | relURL }}{{ . | urlize }}/">{{ . }}</a>{{ end }}</p>
<div class="answer">{{ .Content }}</div>{{ end }}
""",
    "_default/list.html": """{{ define "main" }}<h1>{{ .Title }}</h1>
{{ range .Pages }}<section><h2><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2>{{ .Content }}</section>
{{ end }}{{ end }}
""",
    "_default/terms.html": """{{ define "main" }}<h1>{{ .Title }}</h1>
<ul>{{ range .Data.Terms.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a></li>{{ end }}</ul>{{ end }}
""",
    "_default/term.html": """{{ define "main" }}<h1>{{ .Title }}</h1>
<ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> ({{ .Params.paragraphs }} paragraphs)</li>
{{ end }}</ul>{{ end }}
""",
    "index.html": """{{ define "main" }}<h1>{{ .Site.Title }}</h1>
<ul>{{ range .Site.Sections }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>
<ul>{{ range .Site.Taxonomies.questions.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a></li>{{ end }}</ul>
<ul>{{ range .Site.Taxonomies.forces.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a></li>{{ end }}</ul>{{ end }}
""",
}


def write_hugo(c: Corpus, root: Path) -> Path:
    """Record pages; one page per force and per question (taxonomies) listing their records, as ours
    do when the answers are too many to show in full (every size of this corpus); and one section
    per submission, its page holding every record of it (like the full-response page)."""
    site = root / "hugo"
    (site / "content").mkdir(parents=True, exist_ok=True)
    (site / "config.toml").write_text(
        'baseURL = "https://example.org/bench/"\nlanguageCode = "en"\n'
        f'title = "Synthetic evidence ({c.n} records)"\ndisableKinds = ["RSS"]\n'
        '[taxonomies]\n  force = "forces"\n  question = "questions"\n'
        '[markup.goldmark.renderer]\n  unsafe = false\n')
    for rel, text in HUGO_LAYOUTS.items():
        (site / "layouts" / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / "layouts" / rel).write_text(text)
    (site / "content" / "_index.md").write_text("---\ntitle: Home\n---\n")
    for sub in c.submissions:
        (site / "content" / sub.id).mkdir(parents=True, exist_ok=True)
        (site / "content" / sub.id / "_index.md").write_text(
            f"---\ntitle: The full response {sub.id}\n---\n" + "\n\n".join(p.text for p in sub.intro) + "\n")
    bodies = {b[0]: b for b in c.bodies}
    qtitle = {q[0]: q[2] for q in c.questions}
    for w, r in enumerate(c.records, 1):
        b = bodies[r.body]
        front = {"title": f"{b[1]}: {qtitle[r.question]}", "weight": w, "forces": [b[2]],
                 "questions": [r.question], "paragraphs": len(r.paragraphs)}
        (site / "content" / r.submission / f"{r.body}-{r.question}.md").write_text(
            "---\n" + json.dumps(front) + "\n---\n" + _markdown(r))
    return site


def write_mkdocs(c: Corpus, root: Path) -> Path:
    """One page per record; an explicit short nav (Material would otherwise list every page on every
    page); plugins off (no search index, as our page-generation timing has none)."""
    site = root / "mkdocs"
    (site / "docs" / "records").mkdir(parents=True, exist_ok=True)
    (site / "mkdocs.yml").write_text(
        f"site_name: Synthetic evidence ({c.n} records)\nsite_url: https://example.org/bench/\n"
        "theme:\n  name: material\nplugins: []\nnav:\n  - Home: index.md\n")
    (site / "docs" / "index.md").write_text("# Synthetic evidence\n\n" + "\n\n".join(p.text for p in c.submissions[0].intro) + "\n")
    bodies = {b[0]: b for b in c.bodies}
    qtitle = {q[0]: q[2] for q in c.questions}
    for r in c.records:
        (site / "docs" / "records" / f"{r.body}-{r.question}.md").write_text(
            f"# {bodies[r.body][1]}: {qtitle[r.question]}\n\n" + _markdown(r))
    return site


def write_all(n: int, root: Path, seed: int = 20240601) -> Corpus:
    c = generate(n, seed)
    write_ours(c, root / "ours")
    write_hugo(c, root)
    write_mkdocs(c, root)
    return c


if __name__ == "__main__":
    n, where = int(sys.argv[1]), Path(sys.argv[2])
    corpus = write_all(n, where)
    print(f"{len(corpus.records)} records, {sum(len(r.paragraphs) for r in corpus.records)} paragraphs in {where}")
