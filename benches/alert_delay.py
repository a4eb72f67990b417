#!/usr/bin/env python3
"""End-to-end alert delay: from the poll that first sees an article in a feed to the webhook call.

Runs the release binary as a daemon against a feed and article pages served on 127.0.0.1 by this
script, with one saved search and a webhook receiver also in this script. Publishes N articles one
at a time; for each, the delay is (webhook received) - (the feed GET that first listed it), so the
poll interval itself is not counted. Everything stays on loopback.

    cargo build --release
    python3 benches/alert_delay.py [--articles 20] [--commit-interval 1s] [--binary target/release/wirewatch]
"""

import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []  # (n, title)
        self.first_listed = {}  # n -> time of the feed GET that first listed it
        self.received = {}  # title -> time of the webhook call


STATE = State()


def feed_xml(base):
    items = "".join(
        f"<item><title>{t}</title><link>{base}/articles/{n}.html</link>"
        f"<description>teaser</description><pubDate>Fri, 27 Nov 2026 08:00:00 GMT</pubDate></item>"
        for n, t in STATE.items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Delay</title>'
        f"<link>{base}/</link><description>d</description>{items}</channel></rss>"
    )


def page(n, title):
    para = (
        "Prosecutors said the ring smuggled quokkagpu accelerators through a regional hub, "
        "declaring them as network gear, and more charges could follow as the inquiry widens."
    )
    return (
        f'<!doctype html><html lang="en"><head><title>{title}</title>'
        f'<meta property="og:title" content="{title}"></head><body><article><h1>{title}</h1>'
        f"<p>{para}</p><p>{para}</p><p>Story {n}.</p></article></body></html>"
    )


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        base = f"http://127.0.0.1:{self.server.server_port}"
        if self.path == "/feed.xml":
            now = time.monotonic()
            with STATE.lock:
                for n, _ in STATE.items:
                    STATE.first_listed.setdefault(n, now)
                body = feed_xml(base).encode()
            ctype = "application/rss+xml"
        elif self.path.startswith("/articles/"):
            n = int(self.path.split("/")[-1].split(".")[0])
            with STATE.lock:
                title = dict(STATE.items).get(n)
            if title is None:
                self.send_response(404)
                self.end_headers()
                return
            body = page(n, title).encode()
            ctype = "text/html; charset=utf-8"
        elif self.path == "/robots.txt":
            body, ctype = b"User-agent: *\n", "text/plain"
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        payload = json.loads(self.rfile.read(length) or b"{}")
        now = time.monotonic()
        title = payload.get("article", {}).get("title")
        with STATE.lock:
            STATE.received.setdefault(title, now)
        self.send_response(200)
        self.end_headers()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=20)
    ap.add_argument("--commit-interval", default="1s")
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/wirewatch"))
    args = ap.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "wirewatch.toml")
        with open(config, "w") as f:
            f.write(
                f"""[daemon]
data_dir = "{tmp}/data"
listen = "127.0.0.1:0"
commit_interval = "{args.commit_interval}"
shutdown_grace = "2s"

[fetch]
per_host_interval = "0s"
allow_private_addresses = true

[analysis]
topics = "{ROOT}/config/topics.toml"
gazetteer = "{ROOT}/config/gazetteer.tsv"

[[source]]
name = "Delay"
kind = "feed"
url = "{base}/feed.xml"
interval = "1s"

[[channel]]
name = "hook"
kind = "webhook"
url = "{base}/hook"

[[alert]]
name = "quokka"
query = "quokkagpu"
channels = ["hook"]
"""
            )
        daemon = subprocess.Popen(
            [args.binary, "run", "--config", config],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)
            for n in range(1, args.articles + 1):
                title = f"Quokkagpu case {n}"
                with STATE.lock:
                    STATE.items.append((n, title))
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    with STATE.lock:
                        if title in STATE.received:
                            break
                    time.sleep(0.005)
                else:
                    sys.exit(f"no webhook for article {n} within 60 s")
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    delays = []
    for n, title in STATE.items:
        delays.append((STATE.received[title] - STATE.first_listed[n]) * 1000)
    delays.sort()
    p90 = delays[max(0, int(len(delays) * 0.9) - 1)]
    print(
        f"alert delay after the poll that listed the article (commit_interval {args.commit_interval}, "
        f"{len(delays)} articles): median {statistics.median(delays):.0f} ms, "
        f"p90 {p90:.0f} ms, max {delays[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
