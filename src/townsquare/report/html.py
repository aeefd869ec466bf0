"""One self-contained HTML report of a run: summary, realism scorecard and figures.

The file loads nothing from anywhere: the style is inline and the figures are PNG
``data:`` URIs, so it can be mailed, archived or opened offline.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

from .. import __version__
from ..metrics.realism import (
    BANDS,
    FACTS,
    NOT_MEASURED,
    Scorecard,
    course,
    measure,
    measure_run,
    scorecard,
)
from ..metrics.reference import SOURCES, default_data_dir, real_network_references
from ..metrics.snapshot import RunSnapshot
from ..store import RunStore
from .course import window_course_figure
from .figures import bot_survival_figure, figure_png, run_figures

FIGURES = {  # name: (title, caption)
    "opinions": (
        "Opinions over time",
        "Opinions are stored only at the last checkpoint, so the first two panels come "
        "from the per-step metrics (citizens only) and the third is the final histogram. "
        "F9 asks for a bimodality coefficient above 0.6 through the second half of the run.",
    ),
    "followers": (
        "Followers are heavy-tailed (F2)",
        "Complementary cumulative distribution of follower counts on log-log axes, against "
        "the degree distributions of real networks. The dashed line is the run's discrete "
        "power-law fit (Clauset, Shalizi &amp; Newman 2009); its exponent is the scorecard's "
        "follower_tail_alpha.",
    ),
    "cascades": (
        "Most posts are never shared (F4)",
        "Cascade sizes of original posts: the post itself plus every repost in its chain. "
        "The stars are the published shares: about 5% of posts are reposted at all and about "
        "0.025% reach 100 or more.",
    ),
    "posting": (
        "Posting is concentrated (F1)",
        "Lorenz curve of original posts per user, silent users included. The further the "
        "curve sags below the diagonal, the more a few users write most of the posts.",
    ),
    "echo": (
        "Echo chambers (F5)",
        "Each dot is a user: its leaning against the mean leaning of the accounts it "
        "follows. In an echo chamber the dots hug the diagonal; in a mixed network they lie "
        "flat around zero.",
    ),
    "course": (
        "Window facts over the run (F1, F3, F4, F6, F7)",
        "Each point measures a window fact on every post written up to that step, against "
        "its real band (shaded); the scorecard reads the last point, the whole run. A fact "
        "that only the first steps made shows as a line that settles early.",
    ),
    "bots": (
        "Bots that live on",
        "Share of socialbots not yet suspended after each step (bots_active_share). The "
        "dashed line is the detector's published rate (moderation.survival after "
        "survival_days): the curve of bots flagged from the first step on; real bots are "
        "flagged only after a few checks, so they outlive it (docs/world.md).",
    ),
}

STYLE = """
:root { --ink:#1d2430; --muted:#5b6472; --line:#e3e6eb; --bg:#f6f7f9; --card:#fff;
        --ok:#1e7d3a; --ok-bg:#e4f4e8; --bad:#b42318; --bad-bg:#fdecea; --na:#6b7280;
        --na-bg:#eef0f3; --accent:#1f5fa8; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1180px; margin:0 auto; padding:28px 24px 48px; }
h1 { font-size:26px; margin:0 0 4px; }
h2 { font-size:20px; margin:36px 0 12px; padding-bottom:6px; border-bottom:2px solid var(--line); }
h3 { font-size:16px; margin:0 0 6px; }
.sub { color:var(--muted); margin:0 0 18px; }
.sub code { font-size:13px; }
.stats { display:grid; grid-template-columns:repeat(auto-fill, minmax(140px, 1fr)); gap:10px; }
.stat { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.stat .v { font-size:20px; font-weight:600; font-variant-numeric:tabular-nums; }
.stat .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
table { border-collapse:collapse; width:100%; background:var(--card); font-size:13.5px;
        border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { padding:7px 10px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { background:#eef1f5; font-weight:600; white-space:nowrap; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.fact { white-space:nowrap; }
td.src { color:var(--muted); font-size:12.5px; }
tr.group-start td { border-top:2px solid #d5dae1; }
code { font-family:ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12.5px; }
.pill { display:inline-block; padding:1px 9px; border-radius:999px; font-size:12px;
        font-weight:600; white-space:nowrap; }
.inside, .reproduced { color:var(--ok); background:var(--ok-bg); }
.outside, .not-reproduced { color:var(--bad); background:var(--bad-bg); }
.na, .not-measured { color:var(--na); background:var(--na-bg); }
.configured { color:#8a6d1a; background:#fbf1d3; }
.facts { list-style:none; padding:0; margin:14px 0 0; display:grid;
         grid-template-columns:repeat(auto-fill, minmax(330px, 1fr)); gap:6px 18px; }
.facts li { display:flex; gap:10px; align-items:baseline; }
.facts .name { flex:1; }
.total { margin-top:14px; font-size:17px; font-weight:600; }
.note { color:var(--muted); font-size:13px; }
figure { margin:0 0 22px; background:var(--card); border:1px solid var(--line);
         border-radius:8px; padding:14px 16px; }
figure img { display:block; max-width:100%; height:auto; margin:8px auto 0; }
figcaption { color:var(--muted); font-size:13.5px; }
.pair { display:grid; grid-template-columns:1fr 1fr; gap:0 18px; }
@media (max-width: 900px) { .pair { grid-template-columns:1fr; } }
details { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:8px 12px; }
details pre { margin:8px 0 0; font-size:12.5px; overflow-x:auto; }
footer { margin-top:40px; color:var(--muted); font-size:12.5px; border-top:1px solid var(--line);
         padding-top:12px; }
footer ul { margin:4px 0 0; padding-left:18px; }
"""


def write_report(
    run_dir: str | Path, out: str | Path | None = None, data_dir: str | Path | None = None
) -> Path:
    """Write a run's report as one self-contained HTML file; returns its path.

    ``out`` defaults to ``RUN_DIR/report.html``. ``data_dir`` holds the real networks
    (default: `default_data_dir`); without it the scorecard shows the published bands only.
    Raises FileNotFoundError when ``run_dir`` is not a run directory with a checkpoint.
    """
    run_dir = Path(run_dir)
    store = RunStore(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run directory not found")
    if not store.config.exists() or not store.has_checkpoint():
        raise FileNotFoundError(
            f"{run_dir}: not a run directory (no config.yaml or checkpoints/latest.json)"
        )
    if data_dir is not None and not Path(data_dir).is_dir():
        raise FileNotFoundError(f"{data_dir}: data folder not found")
    data = Path(data_dir) if data_dir is not None else default_data_dir()
    summary = store.read_summary() if store.summary.exists() else {}
    name = str(summary.get("name") or run_dir.name)

    snap = RunSnapshot.load(run_dir)  # once, for the scorecard and every figure
    measures = measure_run(snap)
    references = real_network_references(data)
    start = RunSnapshot.load_start(run_dir)
    card = scorecard(
        measures,
        run=str(run_dir),
        references=references,
        start=None if start is None else measure(start),
    )
    figures = run_figures(run_dir, data, measures=measures, references=references, snapshot=snap)
    figures["course"] = window_course_figure(course(snap))
    figures["bots"] = bot_survival_figure(snap.metrics, _published_survival(store))
    images = {key: _data_uri(figure_png(fig)) for key, fig in figures.items()}

    page = _page(run_dir, name, summary, card, references, images, store.config.read_text())
    out = Path(out) if out is not None else run_dir / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    # written beside and renamed: a symlink at ``out`` is replaced, not written through
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ------------------------------------------------------------------------ pieces
def _published_survival(store: RunStore) -> tuple[float, float] | None:
    """(share, steps) of the run's activity detector: ``moderation.survival`` of flagged
    accounts left after ``survival_days / step_days`` steps; None when the run has no
    such detector or its config cannot be read (the figure then draws the run only)."""
    from ..config import read_yaml, validate

    try:
        m = validate(read_yaml(store.config), str(store.config)).moderation
    except Exception:
        return None
    if m.detector != "activity":
        return None
    return m.survival, m.survival_days / m.step_days


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    value = float(value)
    if value != value:
        return "n/a"
    if value == int(value) and abs(value) >= 2:  # counts (xmin, largest cascade, nodes)
        return f"{int(value):,}"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def _band(low: float, high: float) -> str:
    if low <= 0:
        return f"≤ {high:.3g}"
    if high >= 1 > low:  # shares and coefficients bounded by 1
        return f"≥ {low:.3g}"
    return f"{low:.3g} – {high:.3g}"


def _pill(cls: str, text: str) -> str:
    return f'<span class="pill {cls}">{_esc(text)}</span>'


def _header(run_dir: Path, name: str, summary: dict, card: Scorecard) -> str:
    steps = summary.get("steps")
    planned = summary.get("steps_planned")
    steps_text = _fmt(steps)
    if planned is not None and steps is not None and planned != steps:
        steps_text = f"{steps:,} / {planned:,}"
    stats = [
        ("users", _fmt(summary.get("users"))),
        ("steps", steps_text),
        ("posts", _fmt(summary.get("posts"))),
        ("replies", _fmt(summary.get("replies"))),
        ("reposts", _fmt(summary.get("reposts"))),
        ("likes", _fmt(summary.get("likes"))),
        ("follows", _fmt(summary.get("follows"))),
        ("unfollows", _fmt(summary.get("unfollows"))),
        ("follow edges", _fmt(summary.get("follow_edges"))),
        ("suspensions", _fmt(summary.get("suspensions"))),
        ("seed", _fmt(summary.get("seed"))),
        ("complete", _fmt(summary.get("complete"))),
        ("facts emerged", f"{card.reproduced} of {card.measured}"),
    ]
    cards = "".join(
        f'<div class="stat"><div class="v">{_esc(v)}</div><div class="k">{_esc(k)}</div></div>'
        for k, v in stats
    )
    roles = summary.get("roles") or {}
    role_text = ", ".join(f"{_fmt(v)} {_esc(k)}s" for k, v in roles.items())
    wall = summary.get("wall_s")
    extra = []
    if role_text:
        extra.append(role_text)
    if wall is not None:
        extra.append(f"simulated in {float(wall):.1f} s")
    if not summary:
        extra.append("no summary.json")
    return (
        f"<h1>townsquare run · {_esc(name)}</h1>"
        f'<p class="sub"><code>{_esc(run_dir)}</code>'
        + ("".join(f" · {e}" for e in extra))
        + f'</p><div class="stats">{cards}</div>'
    )


def _scorecard_html(card: Scorecard, references: dict[str, dict[str, float]]) -> str:
    verdict = {True: ("inside", "inside"), False: ("outside", "outside"), None: ("na", "n/a")}
    rows = []
    last_fact = None
    for row in card.rows:
        cls, text = verdict[row.inside]
        if row.inside and row.configured_by:
            cls, text = "configured", f"set by {row.configured_by}"
        refs = "<br>".join(
            f"{_esc(net)} <b>{_esc(_fmt(v))}</b>" for net, v in row.references.items()
        )
        band = _band(row.low, row.high)
        first = row.fact != last_fact
        last_fact = row.fact
        fact_cell = f"<b>{_esc(row.fact)}</b> {_esc(FACTS[row.fact])}" if first else ""
        rows.append(
            f'<tr class="{"group-start" if first else ""}">'
            f'<td class="fact">{fact_cell}</td>'
            f"<td><code>{_esc(row.metric)}</code></td>"
            f'<td class="num">{_esc(_fmt(row.start))}</td>'
            f'<td class="num"><b>{_esc(_fmt(row.value))}</b></td>'
            f'<td class="num">{_esc(band)}</td>'
            f"<td>{refs or '<span class=note>—</span>'}</td>"
            f'<td class="src">{_esc(row.real)}<br>{_esc(row.source)}</td>'
            f"<td>{_pill(cls, text)}</td></tr>"
        )
    table = (
        "<table><thead><tr><th>fact</th><th>metric</th><th>step 0</th><th>end</th><th>band</th>"
        "<th>real networks</th><th>real value · source</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    facts = []
    labels = {
        "emerged": ("reproduced", "emerged"),
        "configured": ("configured", "configured"),
        "missed": ("not-reproduced", "missed"),
    }
    for fact, status in card.status.items():
        if status is None:
            pill = _pill("not-measured", "not measured")
            why = NOT_MEASURED.get(fact, "no data")
            name = f"{_esc(FACTS[fact])} <span class=note>({_esc(why)})</span>"
        else:
            pill = _pill(*labels[status])
            name = _esc(FACTS[fact])
        facts.append(f'<li><b>{_esc(fact)}</b><span class="name">{name}</span>{pill}</li>')
    not_measurable = len(card.facts) - card.measured
    no_start = all(row.start is None for row in card.rows)
    total = (
        f'<p class="total">{card.reproduced} of {card.measured} measured facts emerged '
        f'<span class="note">({card.inside} inside their bands; configured facts are set '
        "by the scenario or the input data and do not count; F1–F9, "
        f"{not_measurable} not measurable yet"
        + ("; this run kept no step-0 state" if no_start else "")
        + ")</span></p>"
    )
    info_rows = []
    for key, value in card.informational.items():
        refs = ", ".join(
            f"{_esc(net)} <b>{_esc(_fmt(vals[key]))}</b>"
            for net, vals in references.items()
            if key in vals
        )
        info_rows.append(
            f'<tr><td><code>{_esc(key)}</code></td><td class="num"><b>{_esc(_fmt(value))}</b></td>'
            f"<td>{refs or '<span class=note>—</span>'}</td></tr>"
        )
    info = (
        "<h3 style='margin-top:22px'>Also measured (no band)</h3>"
        "<table><thead><tr><th>metric</th><th>run</th><th>real networks</th></tr></thead>"
        f"<tbody>{''.join(info_rows)}</tbody></table>"
        if info_rows
        else ""
    )
    if references:
        nets = ", ".join(f"{_esc(k)} ({_fmt(v.get('nodes'))} nodes)" for k, v in references.items())
        ref_note = f"Real networks measured by the same code: {nets}."
    else:
        ref_note = "No real-network data found: the scorecard shows the published bands only."
    return (
        '<p class="note">A fact is reproduced when every banded metric lies inside its band. '
        "Bands are the sources' published figures, not targets fitted to townsquare. "
        f"{ref_note}</p>{table}<ul class='facts'>{''.join(facts)}</ul>{total}{info}"
    )


def _figures_html(images: dict[str, str]) -> str:
    def one(key: str) -> str:
        title, caption = FIGURES.get(key, (key, ""))
        return (
            f"<figure><h3>{_esc(title)}</h3><figcaption>{caption}</figcaption>"
            f'<img src="{images[key]}" alt="{_esc(title)}"></figure>'
        )

    parts = []
    keys = [k for k in FIGURES if k in images] + [k for k in images if k not in FIGURES]
    pairs = (("followers", "cascades"), ("posting", "echo"))
    done = set()
    for key in keys:
        if key in done:
            continue
        pair = next((p for p in pairs if key in p and all(k in images for k in p)), None)
        if pair:
            parts.append(f'<div class="pair">{one(pair[0])}{one(pair[1])}</div>')
            done.update(pair)
        else:
            parts.append(one(key))
            done.add(key)
    return "".join(parts)


def _footer(references: dict[str, dict[str, float]]) -> str:
    sources = []
    for band in BANDS:
        if band.source not in sources:
            sources.append(band.source)
    for net in references:
        text = f"{net}: {SOURCES.get(net, '')}"
        if text not in sources:
            sources.append(text)
    sources.append(
        "Power-law fits: Clauset, Shalizi & Newman, SIAM Review 2009; Alstott et al. 2014"
    )
    items = "".join(f"<li>{_esc(s)}</li>" for s in sources)
    return f"<footer>Generated by townsquare {_esc(__version__)}. Sources:<ul>{items}</ul></footer>"


def _page(
    run_dir: Path,
    name: str,
    summary: dict,
    card: Scorecard,
    references: dict[str, dict[str, float]],
    images: dict[str, str],
    config_text: str,
) -> str:
    summary_json = json.dumps(summary, indent=2)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>townsquare · {_esc(name)}</title><style>{STYLE}</style></head>"
        "<body><main>"
        f"{_header(run_dir, name, summary, card)}"
        f"<h2>Realism scorecard</h2>{_scorecard_html(card, references)}"
        f"<h2>Figures</h2>{_figures_html(images)}"
        "<h2>Configuration</h2>"
        f"<details><summary>config.yaml</summary><pre>{_esc(config_text)}</pre></details>"
        f"<details style='margin-top:8px'><summary>summary.json</summary>"
        f"<pre>{_esc(summary_json)}</pre></details>"
        f"{_footer(references)}"
        "</main></body></html>\n"
    )
