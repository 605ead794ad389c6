"""Soak: the real daemon against a local site for many crawl cycles; its memory and scheduler lag.

    python -m bench soak [--cycles 1000] [--sources 4] [--every 2]
    python -m bench soak --diff A.tracemalloc B.tracemalloc   (what grew between two snapshots)

Starts `yuqing daemon` as a process (SQLite, a real SMTP server, a local site that publishes a new
article every few seconds, some of them on a watched topic, so every cycle stores, matches and sends
for real), samples the daemon's resident memory (RSS, from /proc; its crawl processes are separate
and come and go) and the scheduler lag from its /metrics, and stops after `--cycles` finished crawls.

The ledger's event window is 3 minutes here (30 days in production): clustering compares each new
post with the posts of that window, so the working set grows until the window is full, then holds.

Goals (issue 6): memory flat after warm-up (no growth trend), RSS <= 300 MB, lag < 1 s. The
baseline is the same run's RSS just after warm-up; the growth is reported as a ratio to it and as a
slope per 100 cycles. Each crawl cycle is a real Scrapy crawl in a process of its own, forked by the
daemon's crawl job server (crawler/job.py): on two shared cores 1,000 cycles took 22 minutes
(0.77 cycles a second; each crawl starting its own Python, before the job server, 0.11 to 0.31).
`YUQING_JOB_SERVER=off` in the environment runs the daemon without the job server. Every 100 cycles
it prints the figures so far (RSS trend, lag), so a run stopped early still says something; CPU
per cycle counts the daemon and all its crawl processes (those the job server forked included).

To see what grows, run it with YUQING_TRACEMALLOC=<folder> in the environment: the daemon then
writes a tracemalloc snapshot there every 50 crawls (see scheduler.py), and `--diff` compares two.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.mail import SmtpServer, free_port  # noqa: E402  (real servers, shared with the tests)
from tests.support.site import LocalSite, html_page  # noqa: E402

RSS_GOAL_MB = 300.0
LAG_GOAL_S = 1.0
TOPICAL = [
    "县委组织部发布干部任前公示，拟提拔人选名单如下",
    "事业单位公开招聘工作人员公告，报名时间为本周",
    "村集体资产处置情况公示，村民对价格有疑问",
]
PLAIN = ["县图书馆周末举办亲子阅读活动", "城区部分路段夜间施工，请绕行", "今年秋粮收购工作顺利推进"]


class GrowingSite:
    """A news list per source; a new article every `period` seconds, every third one on a topic."""

    def __init__(self, sources: int, period: float):
        self.site = LocalSite().start()
        self.sources = sources
        self.period = period
        self.count = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        for s in range(sources):
            self._publish(s)

    def _publish(self, s: int) -> None:
        with self._lock:
            mine = [n for n in range(self.count) if n % self.sources == s][
                -30:
            ]  # the list shows the newest 30
        links = "".join(f'<li><a href="/s{s}/content/{n}.html">第{n}条</a></li>' for n in reversed(mine))
        self.site.add(f"/s{s}/list.html", html_page(f"<html><body><ul>{links}</ul></body></html>"))

    def _add(self) -> None:
        with self._lock:
            n = self.count
            self.count += 1
        s = n % self.sources
        title = (TOPICAL if n % 3 == 0 else PLAIN)[(n // 3) % 3]
        body = "".join(
            f"<p>{title}。第{n}号消息，详情请见正文，相关部门已作说明，欢迎群众监督。</p>" for _ in range(5)
        )
        page = f"<html><head><title>{title}（{n}）</title></head><body><h1>{title}（{n}）</h1><div class='content'>{body}</div></body></html>"
        self.site.add(f"/s{s}/content/{n}.html", html_page(page))
        self._publish(s)

    def run(self) -> None:
        while not self._stop.wait(self.period):
            self._add()

    def start(self) -> GrowingSite:
        threading.Thread(target=self.run, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.site.stop()


def settings_text(
    tmp: Path, site: GrowingSite, smtp_port: int, port: int, every: float, extract_workers: str = "0"
) -> str:
    sources = "".join(
        f"""
  - id: soak-{s}
    kind: news
    start_urls: [{site.site.url(f"/s{s}/list.html")}]
    follow: '/s{s}/content/\\d+\\.html'
    every: {every}s
"""
        for s in range(site.sources)
    )
    return f"""
database: sqlite:///{tmp / "soak.db"}
allow_networks: [127.0.0.0/8]
smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: yuqing@example.org}}
# extract_workers: each cycle reads one or two tiny articles; a pool of spawned readers per crawl
# would cost more CPU than the reading (bench/crawl.py measures the pool on real pages).
crawl: {{contact: https://example.org/yuqing-soak, delay: 0.01s, parallel_sources: 2, extract_workers: {extract_workers}}}
daemon: {{listen: "127.0.0.1:{port}", jitter: 1s, stop_timeout: 20s, misfire_grace: 30s}}
# New posts are compared with the stories of the last `event_window` (30 days in production, so the
# daemon's working set grows for a month, then holds); a short window reaches that steady state
# within the soak, so what is measured after warm-up is the daemon's own behaviour, not the month.
ledger: {{event_window: 3m}}
units:
  - id: zzb
    name: 县委组织部
    emails: [zzb@example.org]
    topics: [cadre_appointment, public_recruitment, collective_assets]
    digest: "*/2 * * * *"
    urgent_severity: medium
sources:{sources}"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of the process itself and of its work processes: its finished
    children (crawl processes, once reaped) plus its living ones with what they reaped (the crawl
    job server and the crawls it forked), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = _stat(pid)
    own = (int(fields[11]) + int(fields[12])) / tick
    children = (int(fields[13]) + int(fields[14])) / tick
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            f = _stat(int(entry.name))
            if int(f[1]) == pid:
                children += sum(int(x) for x in f[11:15]) / tick
        except (OSError, ValueError, IndexError):
            continue
    return own, children


def job_server_rss(pid: int) -> float:
    """RSS of the daemon's crawl job server (its child `crawler.job --serve`), 0 when there is none."""
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if int(_stat(int(entry.name))[1]) == pid and b"--serve" in (entry / "cmdline").read_bytes():
                return rss_mb(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return 0.0


def scrape(port: int) -> dict[str, float]:
    """The daemon's /metrics as {sample name with labels: value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def cycles_done(metrics: dict[str, float]) -> int:
    return int(sum(v for k, v in metrics.items() if k.startswith("yuqing_crawls_total{")))


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 when there are too few distinct points)."""
    if len(set(xs)) < 2:
        return 0.0
    return statistics.linear_regression(xs, ys).slope


def trend(samples: list[tuple[float, int, float, float]]) -> tuple[float, float, float]:
    """RSS after warm-up, at the end (means of the first and last thirds of the samples after the
    first fifth) and the least-squares slope per 100 cycles after warm-up."""
    warm = max(1, len(samples) // 5)  # the first fifth: imports, caches, the first posts
    steady = samples[warm:] or samples
    xs = [float(c) for _, c, _, _ in steady]
    ys = [r for _, _, r, _ in steady]
    base = statistics.mean(ys[: max(1, len(ys) // 3)])
    end = statistics.mean(ys[-max(1, len(ys) // 3) :])
    return base, end, slope(xs, ys) * 100


def interim(samples: list[tuple[float, int, float, float]], metrics: dict[str, float]) -> str:
    """One line of the figures so far (printed every 100 cycles)."""
    base, end, per100 = trend(samples)
    count = metrics.get("yuqing_scheduler_lag_count", 0.0)
    over = count - metrics.get('yuqing_scheduler_lag_bucket{le="1.0"}', 0.0)
    mean = metrics.get("yuqing_scheduler_lag_sum", 0.0) / count if count else 0.0
    peak = max(r for _, _, r, _ in samples)
    return (
        f"-- so far: {samples[-1][1]} cycles in {samples[-1][0]:.0f}s; rss after warm-up {base:.1f} MB, "
        f"latest {end:.1f} MB, peak {peak:.1f} MB, trend {per100:+.2f} MB per 100 cycles; lag mean "
        f"{mean * 1000:.1f} ms, largest sampled {max(x[3] for x in samples) * 1000:.1f} ms, "
        f"{int(over)} of {int(count)} starts over 1 s"
    )


def diff(before: str, after: str, top: int = 25) -> int:
    """Print what grew most between two tracemalloc snapshots the daemon wrote."""
    import tracemalloc

    old = tracemalloc.Snapshot.load(before)
    new = tracemalloc.Snapshot.load(after)
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    ]
    old, new = old.filter_traces(ignore), new.filter_traces(ignore)
    total = sum(s.size for s in new.statistics("filename")) - sum(s.size for s in old.statistics("filename"))
    print(f"traced Python memory: {total / 1024:+.1f} KiB between {before} and {after}")
    for stat in new.compare_to(old, "traceback")[:top]:
        print(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
        for line in stat.traceback.format(limit=6):
            print("    " + line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cycles", type=int, default=1000, help="finished crawl cycles to run (default 1000)"
    )
    parser.add_argument("--sources", type=int, default=4, help="sources the daemon crawls (default 4)")
    parser.add_argument(
        "--every", type=float, default=2.0, help="each source's interval in seconds (default 2)"
    )
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument(
        "--extract-workers",
        default="0",
        help="crawl.extract_workers of the soak's settings (default 0: inline; 'auto' as in production)",
    )
    parser.add_argument(
        "--diff", nargs=2, metavar="SNAPSHOT", help="compare two tracemalloc snapshots and stop"
    )
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    if args.diff:
        return diff(*args.diff)

    # `kill` (SIGTERM) of the bench ends it as Ctrl-C does: the daemon and the servers are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    tmp = Path(tempfile.mkdtemp(prefix="yuqing-soak-"))
    site = GrowingSite(args.sources, period=3.0).start()
    smtp = SmtpServer().start()
    port = free_port()
    settings = tmp / "settings.yaml"
    settings.write_text(
        settings_text(tmp, site, smtp.port, port, args.every, args.extract_workers), encoding="utf-8"
    )
    log = (tmp / "daemon.log").open("wb")
    yuqing = str(ROOT / ".venv" / "bin" / "yuqing")
    # As deploy/yuqing.service runs it: fewer glibc malloc arenas for a threaded process.
    env = {**os.environ, "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}
    daemon = subprocess.Popen(
        [yuqing, "--config", str(settings), "daemon"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )
    print(
        f"soak: {args.cycles} crawl cycles, {args.sources} sources every {args.every:g}s; daemon pid {daemon.pid}, files in {tmp}"
    )
    print(f"{'elapsed':>8} {'cycles':>7} {'rss MB':>7} {'lag s':>6} {'posts':>6} {'sent':>5}")
    samples: list[tuple[float, int, float, float]] = []  # elapsed, cycles, rss, lag
    next_report = 100
    cpu = (0.0, 0.0)
    server_rss = 0.0
    started = time.monotonic()
    code = 0
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                metrics = scrape(port)
                break
            except OSError:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    print("soak: the daemon did not start; see", tmp / "daemon.log")
                    return 1
                time.sleep(0.5)
        try:
            while True:
                time.sleep(args.sample)
                if daemon.poll() is not None:
                    print("soak: the daemon exited unexpectedly; see", tmp / "daemon.log")
                    return 1
                metrics = scrape(port)
                done = cycles_done(metrics)
                lag = metrics.get("yuqing_scheduler_lag_seconds", 0.0)
                elapsed = time.monotonic() - started
                samples.append((elapsed, done, rss_mb(daemon.pid), lag))
                cpu = cpu_seconds(daemon.pid)
                server_rss = max(server_rss, job_server_rss(daemon.pid))
                print(
                    f"{elapsed:8.0f} {done:7d} {samples[-1][2]:7.1f} {lag:6.3f} "
                    f"{int(metrics.get('yuqing_posts', 0)):6d} {int(metrics.get('yuqing_deliveries_sent_total', 0)):5d}",
                    flush=True,
                )
                if done >= next_report and len(samples) >= 5:
                    print(interim(samples, metrics), flush=True)
                    next_report = (done // 100 + 1) * 100
                if done >= args.cycles:
                    break
        except KeyboardInterrupt:  # stopped early (Ctrl-C, kill): the figures so far
            print("soak: stopped before the planned cycles; the figures below are partial", flush=True)
        lag_count = metrics.get("yuqing_scheduler_lag_count", 0.0)
        lag_mean = metrics.get("yuqing_scheduler_lag_sum", 0.0) / lag_count if lag_count else 0.0
        lag_over = lag_count - metrics.get('yuqing_scheduler_lag_bucket{le="1.0"}', 0.0)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            stop_code = daemon.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            stop_code = -9
        site.stop()
        smtp.stop()
        log.close()

    if not samples:
        print("soak: no sample was taken")
        return 1
    base, end, per100 = trend(samples)
    peak = max(r for _, _, r, _ in samples)
    max_lag = max(lag for *_, lag in samples)
    total_cycles = samples[-1][1]
    print()
    print(
        f"cycles: {total_cycles} in {samples[-1][0]:.0f}s ({total_cycles / samples[-1][0]:.2f}/s); daemon exit on SIGTERM: {stop_code}"
    )
    print(
        f"rss: after warm-up {base:.1f} MB, at the end {end:.1f} MB (ratio {end / base:.3f}), peak {peak:.1f} MB"
    )
    print(f"rss trend after warm-up: {per100:+.2f} MB per 100 cycles")
    if server_rss:
        print(
            f"crawl job server (a process of its own, not in the figures above): peak rss {server_rss:.1f} MB"
        )
    if total_cycles:
        print(
            f"cpu per cycle: {(cpu[0] + cpu[1]) / total_cycles:.2f}s (crawl processes {cpu[1] / total_cycles:.2f}s, "
            f"daemon {cpu[0] / total_cycles:.2f}s); wall per cycle {samples[-1][0] / total_cycles:.2f}s"
        )
    print(
        f"scheduler lag: mean {lag_mean * 1000:.1f} ms over {int(lag_count)} job starts, largest sampled {max_lag * 1000:.1f} ms, {int(lag_over)} starts over 1 s"
    )
    flat = end / base <= 1.05 and per100 < 1.0
    goals = {
        f"rss <= {RSS_GOAL_MB:.0f} MB": peak <= RSS_GOAL_MB,
        "memory flat after warm-up (<= 5% and < 1 MB per 100 cycles)": flat,
        f"lag < {LAG_GOAL_S:.0f} s": lag_over == 0,
        "daemon stopped cleanly": stop_code == 0,
    }
    for goal, met in goals.items():
        print(f"goal {goal}: {'met' if met else 'NOT met'}")
    (tmp / "samples.json").write_text(json.dumps(samples), encoding="utf-8")
    if not all(goals.values()):
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
