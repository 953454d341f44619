"""The web GUI on a large archive: per view, first contentful paint, time to the view drawn and
to its first thumbnails, and the filter bar's response, in Debian's Chromium driven by
Playwright, read from the page's own clock (performance.now() and its paint timeline).

  python benchmarks/bench_gui.py                        # 100,000 rows, 5 runs -> docs/benchmarks
  python benchmarks/bench_gui.py --rows 2000 --runs 1 --out /tmp/gui   # a quick look

The archive (benchmarks/gui_archive.py): template files indexed by the archive's own indexer,
their rows copied in bulk to --rows rows, each a hard link in the storage, so the service
(`landrec archive serve --db URL --storage DIR`, the real command) rescans a storage that
holds every file: nothing becomes missing or pending while it is measured (checked after).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from archive_load import free_port
from common import DEFAULT_DATA, REPO, machine_info, write_results
from gui_archive import CLASSES, Built, build

sys.path.insert(0, str(REPO / "tests/archive/gui"))
from helpers import CHROMIUM, launch_chromium, start_service, stop

VIEWPORT = {"width": 1280, "height": 800}
THUMBS = 12  # "the first thumbnails": this many of the grid's first images (those on screen)
RESCAN_S = 3600  # the periodic rescan (default 60 s) kept out of the measured minutes
# The first time the view says it is drawn, marked by the page itself (an init script runs
# before the GUI's own scripts).
MARK_READY = """
new MutationObserver(() => {
  const view = document.getElementById("view");
  if (view && view.dataset.state === "ready" && !performance.getEntriesByName("ready").length)
    performance.mark("ready");
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
"""
# When the first `n` images of the view (those on screen, at most n) are decoded: the page's
# performance.now() at the first animation frame that sees them all complete.
THUMBS_DONE = """(n) => {
  const images = [...document.querySelectorAll("#view img")]
    .filter((img) => img.getBoundingClientRect().top < innerHeight).slice(0, n);
  return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0)
    && [performance.now(), images.length];
}"""
# One filter changed in the bar as a user does (its field set, a `change` event): the time
# until the view is drawn again with the expected total.
FILTER = """async ([name, value, total]) => {
  const view = document.getElementById("view");
  const field = document.getElementById("filters").elements[name];
  const drawn = new Promise((resolve) => {
    const seen = new MutationObserver(() => {
      if (view.dataset.state === "ready" && view.dataset.total === String(total)) {
        seen.disconnect();
        resolve(performance.now());
      }
    });
    seen.observe(view, { attributes: true, attributeFilter: ["data-state", "data-total"] });
  });
  const started = performance.now();
  field.value = value;
  field.dispatchEvent(new Event("change", { bubbles: true }));
  return (await drawn) - started;
}"""
FIGURE_NAMES = {
    "first_contentful_paint_ms": "first contentful paint",
    "view_ready_ms": "view drawn (data-state=ready)",
    "first_images_ms": f"first images on screen (<= {THUMBS}) decoded",
}
FILTERS = {  # label -> (the bar's field, the value set)
    "context (glacier)": ("context", "glacier"),
    "kind (video)": ("kind", "video"),
    "corrected (yes)": ("corrected", "true"),
    "status (failed)": ("status", "failed"),
    "from (2025-01-01)": ("from", "2025-01-01"),
}

MAP_FILTERS = {  # the same bar on the map view: its points (files with a position) redrawn
    "context (glacier)": ("context", "glacier"),
    "kind (video)": ("kind", "video"),
}
WORLD = "-180,-90,180,90"  # what the map asks for: files with a position


def tiny_model(path: Path) -> Path:
    """An exported ONNX classifier of the five classes: the service loads a model, and this
    one is never run (every row is indexed already)."""
    import torch

    from landrec.data.transforms import Preprocessing
    from landrec.engine.checkpoint import CheckpointMeta
    from landrec.engine.onnx import export_module, set_meta
    from landrec.models.factory import ModelConfig

    module = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 5)
    )
    export_module(module, torch.zeros(1, 3, 32, 32), path)
    pre = Preprocessing(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    meta = CheckpointMeta(CLASSES, ModelConfig("mobilenet_v2", 5), pre, "bench", random_init=True)
    set_meta(path, meta)
    return path


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ)


def wait_settled(service: subprocess.Popen[bytes], base: str, log: Path) -> float:
    """Wait until the service answers and its start-up rescan of the storage is over (its
    CPU time still for a second, twice in a row); the seconds it took."""
    started, quiet = time.monotonic(), 0
    while quiet < 2:
        if service.poll() is not None:
            raise RuntimeError(f"the service exited:\n{log.read_text()[-3000:]}")
        if time.monotonic() - started > 900:
            raise RuntimeError(f"the service did not settle:\n{log.read_text()[-3000:]}")
        before = cpu_seconds(service.pid)
        time.sleep(1.0)
        try:
            get(f"{base}/api/health")
        except OSError:
            quiet = 0
            continue
        quiet = quiet + 1 if cpu_seconds(service.pid) - before < 0.05 else 0
    return time.monotonic() - started


def totals(base: str) -> dict[str, int]:
    """What each filter should show (the API's own total), and the unfiltered total."""
    out = {"": get(f"{base}/api/files?page_size=1")["total"]}
    for name, value in FILTERS.values():
        out[f"{name}={value}"] = get(f"{base}/api/files?page_size=1&{name}={value}")["total"]
    placed = f"{base}/api/files?page_size=1&bbox={WORLD}"
    out["map:"] = get(placed)["total"]
    for name, value in MAP_FILTERS.values():
        out[f"map:{name}={value}"] = get(f"{placed}&{name}={value}")["total"]
    return out


def open_view(browser, base: str, target: str):
    """A fresh context (cold cache) showing `target`, once the view is drawn."""
    context = browser.new_context(viewport=VIEWPORT, base_url=base, bypass_csp=True)
    context.set_default_timeout(120_000)
    context.add_init_script(MARK_READY)
    page = context.new_page()
    page.goto(target)
    page.wait_for_selector("#view[data-state=ready]")
    return context, page


def paint_times(page) -> dict[str, float]:
    fcp = "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
    return {
        "first_contentful_paint_ms": page.evaluate(fcp),
        "view_ready_ms": page.evaluate("performance.getEntriesByName('ready')[0].startTime"),
    }


def one_run(browser, base: str, views: dict[str, str], expected: dict[str, int]) -> dict:
    """Each view opened cold; the grid's thumbnails; each filter from the unfiltered grid."""
    out: dict[str, Any] = {}
    for name, target in views.items():
        context, page = open_view(browser, base, target)
        out[name] = paint_times(page)
        if name in ("grid", "detail"):
            done = page.wait_for_function(THUMBS_DONE, arg=THUMBS, polling="raf")
            at, count = done.json_value()
            out[name]["first_images_ms"], out[name]["first_images"] = at, count
        if name == "grid":
            out["filters"] = filter_times(page, expected, FILTERS)
        if name == "map":
            out["map_filters"] = filter_times(page, expected, MAP_FILTERS, "map:")
        context.close()
    return out


def filter_times(
    page, expected: dict[str, int], filters: dict[str, tuple[str, str]], key: str = ""
) -> dict[str, float]:
    """Each filter set from the unfiltered view, then cleared (back to every row); `key`
    prefixes the expected totals' names (the map's count files with a position)."""
    times = {}
    for label, (name, value) in filters.items():
        total = expected[f"{key}{name}={value}"]
        times[label] = page.evaluate(FILTER, [name, value, total])
        times[f"cleared after {label}"] = page.evaluate(FILTER, [name, "", expected[key]])
    return times


def summary(runs: list[dict]) -> dict[str, Any]:
    """Per figure: median, min, max and every run's value (ms)."""
    flat: dict[str, list[float]] = {}
    for run in runs:
        for view, figures in run.items():
            for key, value in figures.items():
                if value is not None and key != "first_images":
                    flat.setdefault(f"{view}: {key}", []).append(float(value))
    return {
        key: {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": v}
        for key, v in flat.items()
    }


def measure(built: Built, model: Path, runs: int, warmup: int, root: Path) -> dict[str, Any]:
    """Serve the archive with the real command, settle, measure `runs` runs after `warmup`,
    check that no row changed status meanwhile."""
    from playwright.sync_api import sync_playwright

    port, log = free_port(), root / "service.log"
    extra = ["--db", built.db_url, "--rescan", str(RESCAN_S)]
    service = start_service(built.storage, model, port, log, extra)
    base = f"http://127.0.0.1:{port}"
    try:
        settle_s = wait_settled(service, base, log)
        before = get(f"{base}/api/stats")["status"]
        expected = totals(base)
        detail = get(f"{base}/api/files?page_size=1&kind=image&page={built.rows // 4}")
        views = {
            "grid": "/#/files",
            "detail": f"/#/file/{detail['items'][0]['id']}",
            "map": "/#/map",
            "stats": "/#/stats",
            "ingest": "/#/ingest",
        }
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for _ in range(warmup):  # the server's and the OS's caches
                one_run(browser, base, views, expected)
            measured = [one_run(browser, base, views, expected) for _ in range(runs)]
            browser.close()
        after = get(f"{base}/api/stats")["status"]
    finally:
        stop(service)
    if before != after:
        raise RuntimeError(f"rows changed status while measured: {before} -> {after}")
    return {"runs": measured, "settle_s": settle_s, "status": after, "totals": expected}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="runs before the measured ones")
    parser.add_argument("--out", type=Path, default=REPO / "docs/benchmarks")
    parser.add_argument("--doc", type=Path, default=REPO / "docs/archive/gui-bench.md")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="real photos to copy")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        built = build(root, args.rows, args.data)
        build_s = time.perf_counter() - started
        found = measure(built, tiny_model(root / "tiny.onnx"), args.runs, args.warmup, root)
    version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True)
    results = {
        "figures_ms": summary(found["runs"]),
        "archive": {"rows": built.rows, "counts": built.counts, "build_s": build_s},
        "archive_steps_s": built.seconds,
        "service_settle_s": found["settle_s"],
        "status_counts": found["status"],
        "filter_totals": found["totals"],
        "first_images_counted": {
            view: [run[view]["first_images"] for run in found["runs"]]
            for view in ("grid", "detail")
        },
        "chromium": version.stdout.strip(),
    }
    settings = {"rows": args.rows, "runs": args.runs, "viewport": VIEWPORT, "thumbs": THUMBS}
    settings["rescan_s"], settings["warmup"] = RESCAN_S, args.warmup
    notes = [
        f"A fresh browser context (no cache) per view and run, after {args.warmup} warm-up run(s).",
        "view_ready_ms: navigation start -> #view[data-state=ready]; first_images_ms: -> the "
        "first images on screen (at most 12) complete with naturalWidth > 0.",
        "filters: the field set + change event -> #view ready with the API's total (on the "
        "map: of the files with a position).",
    ]
    path = write_results("bench_gui", args.out, machine_info(), settings, results, notes)
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(report(json.loads(path.read_text())))
    print(f"wrote {args.doc}", file=sys.stderr)


def report(record: dict[str, Any]) -> str:
    """docs/archive/gui-bench.md: the command, the machine, the archive, the figures."""
    results, machine = record["results"], record["machine"]
    archive, counts = results["archive"], results["archive"]["counts"]
    load = ", ".join(f"{x:.1f}" for x in machine["load_average_at_start"] or [])
    lines = [
        "# The GUI on a large archive: paint, thumbnails, filters",
        "",
        f"`{record['command']}` ({record['date']}), {results['chromium']}, {VIEWPORT['width']}x"
        f"{VIEWPORT['height']}; CPU: {machine['cpu_model']}, {machine['cpus_usable']} cores "
        f"usable, load average at the start {load} (a shared machine: figures vary between "
        "runs).",
        "",
        f"The archive: {archive['rows']:,} rows ({counts.get('indexed', 0):,} indexed, "
        f"{counts.get('failed', 0)} failed, {counts.get('unsupported', 0)} unsupported; "
        f"{counts['video']:,} videos, {counts['gps']:,} with GPS, {counts['corrected']:,} "
        f"corrected; taken 2019-2025), built in {archive['build_s']:.1f} s by "
        "`benchmarks/gui_archive.py`: five real photos, a generated H.264 video, a truncated "
        "JPEG and a text file indexed by the archive's own scan (their WebP thumbnails, "
        "metadata, renditions), their rows copied in bulk (SQLAlchemy core inserts into a "
        "database made by the archive's migrations) with their own paths, dates, places, "
        "cameras, contexts and confidences; every row's file is a hard link to its template "
        "in the storage.",
        "",
        "Served by the real command, `landrec archive serve --storage DIR --db URL --rescan "
        f"{RESCAN_S}`: its start-up rescan finds every file in place (same size and mtime), so "
        "no row becomes pending or missing; measured once that rescan is over (the service's "
        f"CPU idle; {results['service_settle_s']:.0f} s after start), the periodic rescan set "
        "beyond the measured minutes; the rows' statuses read before and after are the same "
        f"({results['status_counts']}).",
        "",
        f"Each figure: the median of {record['settings']['runs']} runs (after "
        f"{record['settings']['warmup']} warm-up run), min-max beside it; each view opened "
        "in a fresh browser context (no cache); times from the page's own clock (ms since "
        "navigation start).",
        "",
        "| view | figure | median ms | min-max ms |",
        "|---|---|---|---|",
    ]
    for key, value in results["figures_ms"].items():
        view, figure = key.split(": ", 1)
        view = {"filters": "grid, filter bar", "map_filters": "map, filter bar"}.get(view, view)
        shown = FIGURE_NAMES.get(figure, f"filter: {figure}")
        lines.append(
            f"| {view} | {shown} | {value['median']:.0f} | {value['min']:.0f}-{value['max']:.0f} |"
        )
    counted = ", ".join(f"{v}: {max(n)}" for v, n in results["first_images_counted"].items())
    lines += ["", *(f"- {note}" for note in record["notes"]), f"- Images counted: {counted}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
