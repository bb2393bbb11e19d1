"""The documentation stays true to what it documents.

- The per-state tables and Mermaid flowcharts of docs/onboarding.md and docs/subscription-events.md
  are what ``python -m linkflow.docs_tables`` generates from the ASL, and, checked independently
  of the generator, name exactly the ASL's states and draw exactly its transitions.
- Every relative link in README.md, docs/*.md and the Stripe emulator's README resolves to a file
  (and, for ``path#anchor``, to a heading of that file).
- README.md is a front page: at most 250 lines, ``make demo`` and ``make test`` in its first 40.
- docs/benchmarks.md shows bench/results.json as ``bench.report`` renders it; docs/local-stack.md
  names every moto module the local stack imports, and the moto version pyproject.toml pins.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from linkflow import docs_tables

ROOT = Path(__file__).resolve().parents[2]
LINKED_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
                ROOT / "src/linkflow/stripe_emulator/README.md"]
MACHINES = {m.name: m for m in docs_tables.MACHINES}

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


# --- generated tables and flowcharts -------------------------------------------------------------


def test_the_committed_tables_and_flowcharts_are_the_generated_ones():
    stale = docs_tables.stale_pages(ROOT)
    assert not stale, f"run `python -m linkflow.docs_tables`: {stale}"


def _copy_tree(tmp_path: Path) -> Path:
    rels = [rel for machine in docs_tables.MACHINES for rel in (machine.asl, machine.page)]
    for rel in [*rels, "README.md", "template.yaml"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    shutil.copytree(ROOT / "functions" / "shared" / "linkflow_shared", tmp_path / "functions/shared/linkflow_shared")
    return tmp_path


def test_check_exits_1_naming_the_stale_page_and_the_command_repairs_it(tmp_path, capsys):
    root = _copy_tree(tmp_path)
    assert docs_tables.main(["--root", str(root)]) == 0  # current, whatever the checkout's pages say
    assert docs_tables.main(["--check", "--root", str(root)]) == 0
    asl_path = root / MACHINES["subscription-events"].asl
    asl = json.loads(asl_path.read_text())
    asl["States"]["SyncEntitlement"]["TimeoutSeconds"] = 40
    asl_path.write_text(json.dumps(asl))

    assert docs_tables.main(["--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "docs/subscription-events.md" in err and "docs/onboarding.md" not in err

    assert docs_tables.main(["--root", str(root)]) == 0
    assert "| `SyncEntitlement` | Task |" in (root / "docs/subscription-events.md").read_text()
    assert "| 40 s |" in (root / "docs/subscription-events.md").read_text()
    assert docs_tables.main(["--check", "--root", str(root)]) == 0


def test_check_names_a_page_whose_markers_are_gone(tmp_path, capsys):
    root = _copy_tree(tmp_path)
    assert docs_tables.main(["--root", str(root)]) == 0
    page = root / MACHINES["onboarding"].page
    page.write_text(page.read_text().replace("<!-- END states -->", ""))
    assert docs_tables.main(["--check", "--root", str(root)]) == 1
    assert "docs/onboarding.md" in capsys.readouterr().err


def _asl(machine: str) -> dict:
    return json.loads((ROOT / MACHINES[machine].asl).read_text())


def _table_rows(machine: str) -> dict[str, list[str]]:
    text = (ROOT / MACHINES[machine].page).read_text()
    header = re.search(r"^\| state \| type \| what it does \|", text, re.MULTILINE)
    assert header, f"{MACHINES[machine].page} has no per-state table"
    rows: dict[str, list[str]] = {}
    for line in text[header.start():].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows[cells[0].strip("`")] = cells
    return rows


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_the_table_names_exactly_the_states_their_types_timeouts_and_catchers(machine):
    rows, states = _table_rows(machine), _asl(machine)["States"]
    assert list(rows) == list(states)
    for name, state in states.items():
        cells = rows[name]
        assert cells[1] == state["Type"], name
        assert cells[5] == (f"{state['TimeoutSeconds']} s" if "TimeoutSeconds" in state else "—"), name
        caught = set(re.findall(r"`([\w.]+)` → `(\w+)`", cells[4]))
        assert caught == {(e, c["Next"]) for c in state.get("Catch", []) for e in c["ErrorEquals"]}, name


def _asl_edges(definition: dict) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """``(from, to)`` of every transition in the ASL, and of those that come from a Catch."""
    edges, caught = set(), set()
    for name, state in definition["States"].items():
        targets = [state.get("Next"), state.get("Default"), *(r["Next"] for r in state.get("Choices", []))]
        edges |= {(name, t) for t in targets if t}
        caught |= {(name, c["Next"]) for c in state.get("Catch", [])}
    return edges | caught, caught


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_the_flowchart_draws_exactly_the_transitions_of_the_machine(machine):
    text = (ROOT / MACHINES[machine].page).read_text()
    block = re.search(r"```mermaid\n(flowchart[^\n]*\n.*?)```", text, re.DOTALL)
    assert block, f"no Mermaid flowchart in {MACHINES[machine].page}"
    arrow = re.compile(r"^\s*(\w+)\s*(-->|-\.->)\s*(?:\|[^|]*\|)?\s*(\w+)\s*$")
    drawn = [m.groups() for m in map(arrow.match, block.group(1).splitlines()) if m]
    definition = _asl(machine)
    assert ("Start", "-->", definition["StartAt"]) in drawn
    edges, caught = _asl_edges(definition)
    assert {(a, b) for a, _, b in drawn if a != "Start"} == edges
    assert {(a, b) for a, kind, b in drawn if kind == "-.->"} == caught


# --- links -------------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """Every relative link of ``page`` (outside code) whose file, or heading, does not exist."""
    text = INLINE_CODE.sub("", FENCE.sub("", page.read_text()))
    broken = []
    for target in LINK.findall(text):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            shown = resolved.relative_to(root) if resolved.is_relative_to(root) else resolved
            broken.append(f"{target}: no file {shown}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return broken


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert page.is_file()
    assert broken_links(page) == []


def test_the_link_check_catches_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## A heading: with `code` → arrows\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md) [ok](other.md#a-heading-with-code--arrows) [ok](https://x.io/y)\n"
                    "[gone](missing.md) [bad anchor](other.md#nope) [self](#also-nope)\n"
                    "`[in code](ignored.md)`\n\n```\n[in a fence](ignored.md)\n```\n")
    assert broken_links(page, tmp_path) == ["missing.md: no file missing.md",
                                            "other.md#nope: no heading #nope in other.md",
                                            "#also-nope: no heading #also-nope in page.md"]



DOC_REFERENCE = re.compile(r"(?<![\w/.-])((?:docs/[\w.-]+|README)\.md)(?:#([\w-]+))?")
REFERRING = ["template.yaml", "Makefile", "pyproject.toml", "statemachines/*.json", "bench/**/*.py",
             "src/**/*.py", "functions/**/*.py", "tests/**/*.py"]


def test_code_and_template_refer_only_to_docs_that_exist():
    """A comment, docstring, ASL Comment or Output description naming a page (``docs/x.md``,
    ``README.md#heading``) names one that exists, with that heading."""
    broken = []
    for pattern in REFERRING:
        for source in sorted(ROOT.glob(pattern)):
            if source == Path(__file__).resolve():
                continue
            for page, anchor in DOC_REFERENCE.findall(source.read_text(errors="replace")):
                where = source.relative_to(ROOT)
                if not (ROOT / page).is_file():
                    broken.append(f"{where}: {page}")
                elif anchor and anchor not in anchors(ROOT / page):
                    broken.append(f"{where}: {page}#{anchor}")
    assert not broken

# --- the front page ----------------------------------------------------------------------------


def test_the_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; the manual belongs in docs/"
    top = "\n".join(lines[:40])
    assert "make demo" in top and "make test" in top


def test_the_readme_has_the_code_map_and_the_guarantees_table():
    text = (ROOT / "README.md").read_text()
    assert "| invoked by | function folder | step |" in text
    assert "onboarding: `StoreStripeCustomerId` | [functions/store_stripe_customer_id/]" in text
    for name in ("SnapshotCognito", "ReconcileShard"):  # Tasks inside a Parallel branch and a Map processor
        assert f"| reconcile: `{name}` |" in text, f"{name} is a reconcile state, not a trigger"
    template = (ROOT / "template.yaml").read_text()
    triggers = [row for row in text.splitlines() if row.startswith("| Cognito trigger: `")]
    for row in triggers:  # only functions the user pool's LambdaConfig names are Cognito triggers
        function = row.split("`")[1] + "Function"
        assert re.search(rf"(PreSignUp|PostConfirmation|PreTokenGeneration\w*): !GetAtt {function}\.Arn", template), row
    guarantees = text.split("## Guarantees → tests", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in guarantees.splitlines() if line.startswith("| ") and "](tests/" in line]
    assert len(rows) >= 10, "each guarantee points at the tests that hold it"


# --- benchmarks and the local stack ------------------------------------------------------------


def test_the_benchmarks_page_shows_exactly_the_committed_results():
    report = subprocess.run([sys.executable, "-m", "bench.report", "bench/results.json"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    page = (ROOT / "docs/benchmarks.md").read_text()
    block = re.search(r"<!-- BEGIN bench.report -->\n(.*?)<!-- END bench.report -->", page, re.DOTALL)
    assert block, "docs/benchmarks.md has no bench.report block"
    assert block.group(1) == report, "paste `python -m bench.report bench/results.json` into docs/benchmarks.md"
    results = json.loads((ROOT / "bench/results.json").read_text())
    assert results["date"] in page


def test_the_local_stack_page_names_every_moto_module_the_stack_imports_and_the_pinned_version():
    page = (ROOT / "docs/local-stack.md").read_text()
    pin = re.search(r"moto\[[^\]]*\]==([\d.]+)", (ROOT / "pyproject.toml").read_text())
    assert pin and f"moto **{pin.group(1)}**" in page
    imported = set()
    for source in (ROOT / "src/linkflow/local").glob("*.py"):
        imported |= set(re.findall(r"^\s*from (moto[\w.]*) import", source.read_text(), re.MULTILINE))
    assert imported, "the local stack imports no moto module?"
    missing = sorted(module for module in imported if module not in page)
    assert not missing, f"docs/local-stack.md does not name: {missing}"


def test_the_code_map_is_regenerated_from_the_template(tmp_path, capsys):
    root = _copy_tree(tmp_path)
    template = root / "template.yaml"
    template.write_text(template.read_text().replace("functions/write_profile/", "functions/moved_profile/"))
    with pytest.raises(ValueError, match="no step moved_profile"):
        docs_tables.code_map(root)  # a folder whose step does not exist is an error, not a silent row
    template.write_text((ROOT / "template.yaml").read_text())
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("| onboarding: `WriteProfile`", "| onboarding: `Gone`"))
    assert docs_tables.main(["--check", "--root", str(root)]) == 1
    assert "README.md" in capsys.readouterr().err
