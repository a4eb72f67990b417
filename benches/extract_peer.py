"""Python trafilatura over the same pages as benches/extract.rs, in process, same timing scheme
(five passes, median pages/s). Needs `pip install trafilatura`; reads ../shared/data/extraction."""
import gzip, pathlib, statistics, sys, time

import trafilatura

root = pathlib.Path(__file__).resolve().parent.parent / "../shared/data/extraction/html"
if not root.exists():
    print(f"extract_peer: {root} not found; nothing measured")
    sys.exit(0)
pages = []
for p in sorted(root.iterdir()):
    raw = p.read_bytes()
    pages.append(gzip.decompress(raw) if p.name.endswith(".gz") else raw)
rates = []
for _ in range(5):
    t = time.perf_counter()
    for html in pages:
        trafilatura.extract(html.decode("utf-8", "replace"))
    rates.append(len(pages) / (time.perf_counter() - t))
print(f"trafilatura {trafilatura.__version__}: {len(pages)} pages: median {statistics.median(rates):.1f} pages/s (runs: {', '.join(f'{r:.1f}' for r in rates)})")
