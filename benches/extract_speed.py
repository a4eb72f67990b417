#!/usr/bin/env python3
"""Extraction speed and peak memory, ours and Python trafilatura's, in one run (issue 17, point 5).

    python3 benches/extract_speed.py            # needs ../shared/data, pip install trafilatura lxml_html_clean
    python3 benches/extract_speed.py --cli      # time the release binary instead of `cargo bench`

1. `cargo bench --bench extract` (release, one thread, in process: hostile pages, then every engine
   over both page sets), then `benches/extract_peer.py` (Python trafilatura, in process, same pages and
   passes), one after the other in this process, and the ratio of `auto`'s pages/s to trafilatura's.
   `WIREWATCH_BENCH_ENGINES=auto,ours` limits the engines cargo bench measures. With --cli, the release
   binary is timed instead: `wirewatch extract --engine E --dir DIR` over a whole set, wall time of the
   command (process start, reading and un-gzipping, JSON out included, so it counts against us), median
   of three passes for auto and ours, one for the libraries alone.
2. Peak memory per page: `/usr/bin/time -v` maximum RSS of `wirewatch extract --engine auto` on single
   pages (the three largest of each set, and a generated page of 8 MiB, the default `max_page_body`,
   the largest page the daemon fetches), and of one process over a whole set (memory is released
   between pages, so the peak is that of the largest page).
"""
import gzip, os, re, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "../shared/data"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = TARGET / "release/wirewatch"


def run(cmd, **kw):
    print("$", " ".join(str(c) for c in cmd), flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    sys.stdout.write(out.stdout)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-3000:])
        sys.exit(f"failed: {cmd}")
    return out


def max_rss_kib(args):
    out = subprocess.run(["/usr/bin/time", "-v", str(BIN), "extract", "--engine", "auto", *args],
                         capture_output=True, text=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    return int(m.group(1)) if m else None


def cli_bench():
    """`cargo bench`'s lines, from the release binary run over each set."""
    import statistics, time
    lines = []
    for name in ("extraction", "extraction-snippets"):
        pages = DATA / name / "html"
        n = len([p for p in pages.iterdir() if p.name.endswith(".html.gz")])
        for label, engine, passes in (("auto", "auto", 3), ("ours", "ours", 3),
                                      ("trafilatura crate", "trafilatura", 1), ("dom_smoothie", "readability", 1)):
            rates = []
            for _ in range(passes):
                t = time.perf_counter()
                subprocess.run([str(BIN), "extract", "--engine", engine, "--dir", str(pages)],
                               stdout=subprocess.DEVNULL, check=True)
                rates.append(n / (time.perf_counter() - t))
            line = (f"extract {name} [{label}]: {n} pages, whole command: median {statistics.median(rates):.1f} "
                    f"pages/s (runs: {', '.join(f'{r:.1f}' for r in rates)})")
            print(line, flush=True)
            lines.append(line)
    return "\n".join(lines)


def main():
    if "--cli" in sys.argv:
        bench = cli_bench()
    else:
        bench = run(["cargo", "bench", "--bench", "extract"], cwd=ROOT).stdout
    peer = run([sys.executable, str(ROOT / "benches/extract_peer.py")], cwd=ROOT).stdout
    print("\n== ratio: pages/s of ours (auto) / Python trafilatura, same run")
    for ours_set, peer_set in (("extraction", "extraction"), ("extraction-snippets", "extraction-snippets")):
        ours = {m.group(1): float(m.group(2)) for m in re.finditer(
            rf"extract {re.escape(ours_set)} \[([^\]]+)\]: .*? median ([\d.]+) pages/s", bench)}
        theirs = re.search(rf"trafilatura \S+ {re.escape(peer_set)}: .*? median ([\d.]+) pages/s", peer)
        if not theirs:
            continue
        t = float(theirs.group(1))
        for name, rate in ours.items():
            print(f"   {ours_set:20} {name:18} {rate:8.1f} pages/s = {rate / t:5.2f}x trafilatura's {t:.1f}")
    if not BIN.exists():
        run(["cargo", "build", "--release", "--bin", "wirewatch"], cwd=ROOT)
    print("\n== peak memory (maximum RSS) of `wirewatch extract --engine auto`")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("extraction", "extraction-snippets"):
            pages = sorted((DATA / name / "html").iterdir(), key=lambda p: p.stat().st_size, reverse=True)
            for p in pages[:3]:
                size = len(gzip.decompress(p.read_bytes()))
                print(f"   {name}/{p.name} ({size / 1e6:.2f} MB): {max_rss_kib([str(p)]) / 1024:.1f} MiB")
            print(f"   whole {name} in one process ({len(pages)} pages): "
                  f"{max_rss_kib(['--dir', str(DATA / name / 'html')]) / 1024:.1f} MiB")
        big = Path(tmp) / "big.html"
        para = "<p>" + "The ministry said on Friday that the new rules on exports would apply from May. " * 6 + "</p>\n"
        body = para * (8 * 1024 * 1024 // len(para))
        big.write_text(f"<!DOCTYPE html><html><head><title>big</title></head><body><article>{body}</article></body></html>")
        print(f"   generated page, {big.stat().st_size / 1e6:.2f} MB of paragraphs: {max_rss_kib([str(big)]) / 1024:.1f} MiB")
        empty = Path(tmp) / "empty.html"
        empty.write_text("<html><body><p>x</p></body></html>")
        print(f"   a near-empty page (the process's own footprint): {max_rss_kib([str(empty)]) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
