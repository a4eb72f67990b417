"""Python trafilatura over the same pages as benches/extract.rs, in process, same timing scheme
(median pages/s of five passes over ../shared/data/extraction, three over extraction-snippets).
Needs `pip install trafilatura lxml_html_clean`."""
import gzip, pathlib, statistics, sys, time

import trafilatura

data = pathlib.Path(__file__).resolve().parent.parent / "../shared/data"
for name, passes in (("extraction", 5), ("extraction-snippets", 3)):
    root = data / name / "html"
    if not root.exists():
        print(f"extract_peer: {root} not found; nothing measured")
        continue
    pages = []
    for p in sorted(root.iterdir()):
        raw = p.read_bytes()
        pages.append(gzip.decompress(raw) if p.name.endswith(".gz") else raw)
    rates = []
    for _ in range(passes):
        t = time.perf_counter()
        for html in pages:
            trafilatura.extract(html.decode("utf-8", "replace"))
        rates.append(len(pages) / (time.perf_counter() - t))
    print(f"trafilatura {trafilatura.__version__} {name}: {len(pages)} pages: median {statistics.median(rates):.1f} pages/s (runs: {', '.join(f'{r:.1f}' for r in rates)})")
