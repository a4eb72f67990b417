#!/usr/bin/env python3
"""Leave-fold-out scores of article extraction on both development sets, for wirewatch's extractors
and for trafilatura (Python), side by side, in one command (issue 17; see docs/EXTRACTION.md).

    cargo build --release
    python3 benches/extract_folds.py                      # development folds 0-3
    python3 benches/extract_folds.py --final              # and the untouched fold 4, and the whole set

Each set (../shared/data/extraction, ScrapingHub, 91 pages; ../shared/data/extraction-snippets, 971
pages) is split by site into 5 folds with ../shared/tools/folds.py. Each system runs once over a set's
page directory (`target/release/wirewatch extract --engine E --dir DIR`; Python trafilatura in
process, standard settings: fast=False, include_comments=False, include_tables=True), and its output
is scored per fold with the shared scorers' own functions (score_extraction.py: mean per-page
P/R over 4-word shingles; score_snippets.py: micro P/R/F1 over snippets). "dev 0-3" pools folds 0-3.
Fold 4 is the untouched fold: it is scored only with --final.

Systems: auto, ours, trafilatura-rs, readability (the engines of `wirewatch extract --engine`) and
trafilatura-py. The last lines list pages where the first system scores below 0.5 and trafilatura-py
above 0.8 (snippet pages: per-page F1 over snippets).
"""
import argparse, gzip, importlib.util, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("WIREWATCH_SHARED", ROOT / "../shared")).resolve()
ENGINES = {"auto": "auto", "ours": "ours", "trafilatura-rs": "trafilatura", "readability": "readability"}
SETS = {
    "extraction": ("extraction", "score_extraction.py"),
    "snippets": ("extraction-snippets", "score_snippets.py"),
}


def load(name):
    spec = importlib.util.spec_from_file_location(name, SHARED / "tools" / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_system(system, pages, out, binary):
    t0 = time.time()
    if system == "trafilatura-py":
        import trafilatura

        with open(out, "w", encoding="utf-8") as f:
            for p in sorted(pages.iterdir()):
                raw = p.read_bytes()
                if p.name.endswith(".gz"):
                    raw = gzip.decompress(raw)
                text = trafilatura.extract(raw, fast=False, include_comments=False, include_tables=True)
                pid = p.name.removesuffix(".gz").removesuffix(".html")
                f.write(json.dumps({"id": pid, "body": text or ""}, ensure_ascii=False) + "\n")
    else:
        with open(out, "w", encoding="utf-8") as f:
            subprocess.run([binary, "extract", "--engine", ENGINES[system], "--dir", str(pages)],
                           stdout=f, check=True)
    return time.time() - t0


def read_pred(path):
    pred = {}
    for line in open(path, encoding="utf-8"):
        if line.strip():
            j = json.loads(line)
            pred[str(j["id"])] = j.get("body") or ""
    return pred


def ids(path):
    return set(open(path, encoding="utf-8").read().split())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default="auto,ours,trafilatura-rs,readability,trafilatura-py")
    ap.add_argument("--sets", default="extraction,snippets")
    ap.add_argument("--bin", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/wirewatch"))
    ap.add_argument("--out", default="/tmp/wirewatch-folds", help="where predictions and folds are written")
    ap.add_argument("--reuse", action="store_true", help="score predictions already in --out instead of running")
    ap.add_argument("--final", action="store_true", help="also score the untouched fold 4 and the whole set")
    ap.add_argument("--pages", action="store_true", help="print per-page scores of the first system (dev folds only unless --final)")
    a = ap.parse_args()
    if not (SHARED / "tools/folds.py").exists() or not (SHARED / "data").exists():
        sys.exit(f"extract_folds: {SHARED} (../shared with tools/ and data/) is absent; nothing measured. "
                 "Set WIREWATCH_SHARED to its path.")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    systems = a.systems.split(",")
    for s in systems:
        if s not in ENGINES and s != "trafilatura-py":
            sys.exit(f"unknown system {s}")
    for set_name in a.sets.split(","):
        data_dir, scorer_name = SETS[set_name]
        scorer = load(scorer_name)
        folds_dir = out / f"folds-{set_name}"
        subprocess.run([sys.executable, str(SHARED / "tools/folds.py"), set_name, "--k", "5",
                        "--out", str(folds_dir), "--data", str(SHARED / "data")],
                       check=True, stdout=subprocess.DEVNULL)
        folds = [ids(folds_dir / f"fold-{i}.ids") for i in range(5)]
        groups = [(f"fold {i}", folds[i]) for i in range(4)] + [("dev 0-3", set().union(*folds[:4]))]
        if a.final:
            groups += [("fold 4 (untouched)", folds[4]), ("whole set", set().union(*folds))]
        pages = SHARED / "data" / data_dir / "html"
        if set_name == "extraction":
            truth = {k: v.get("articleBody", "") for k, v in
                     json.load(open(SHARED / "data/extraction/ground-truth.json")).items()}
        else:
            truth = {k: v for k, v in json.load(open(SHARED / "data/extraction-snippets/expected.json",
                                                       encoding="utf-8")).items() if v.get("with")}

        def page_score(k, pred):
            if set_name == "extraction":
                tp, fp, fn = scorer.page_counts(truth[k], pred.get(k, ""))
                return 2 * tp / (2 * tp + fp + fn) if tp else 0.0
            tp, fp, fn, _, _, _ = scorer.count_page(truth[k], pred.get(k))
            return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

        def group_score(keep, pred):
            if set_name == "extraction":
                p, r, f1 = scorer.score({k: v for k, v in truth.items() if k in keep}, pred)
                return f"P {p:.4f} R {r:.4f} F1 {f1:.4f}"
            tp = fp = fn = tn = 0
            for k in sorted(truth):
                if k in keep:
                    c = scorer.count_page(truth[k], pred.get(k))
                    tp, fp, fn, tn = tp + c[0], fp + c[1], fn + c[2], tn + c[3]
            p, r, f1, acc = scorer.scores(tp, fp, fn, tn)
            return f"P {p:.4f} R {r:.4f} F1 {f1:.4f}"

        preds = {}
        print(f"== {set_name}: {len(truth)} pages ({pages})")
        for s in systems:
            path = out / f"{s}.{set_name}.jsonl"
            if a.reuse and path.exists():
                secs = None
            else:
                secs = run_system(s, pages, path, a.bin)
            preds[s] = read_pred(path)
            rate = f"  ({len(truth) / secs:.1f} pages/s, whole command)" if secs else ""
            print(f"-- {s}{rate}")
            for label, keep in groups:
                print(f"   {label:20} {len(keep & truth.keys()):4} pages  {group_score(keep, preds[s])}")
        visible = set().union(*(folds if a.final else folds[:4]))
        first = systems[0]
        if a.pages:
            for k in sorted(truth):
                if k in visible:
                    print(f"   page {k} " + " ".join(f"{s}={page_score(k, preds[s]):.3f}" for s in systems))
        if "trafilatura-py" in preds and first != "trafilatura-py":
            bad = [k for k in sorted(truth) if k in visible
                   and page_score(k, preds[first]) < 0.5 and page_score(k, preds["trafilatura-py"]) > 0.8]
            print(f"   {first} < 0.5 where trafilatura-py > 0.8: {len(bad)} page(s)"
                  + (": " + ", ".join(bad) if bad else ""))


if __name__ == "__main__":
    main()
