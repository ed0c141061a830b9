"""The HTML report in a real headless browser: a lab scan's records rendered by `render_html`,
opened from a file in Chromium (the system's package, driven by Playwright).

Checked as a person would use it: one table row per host, bars in both charts, typing a filter
hides the other rows, clicking a column header sorts, the page loads nothing from anywhere, and
it stays readable without its script. Hostile host names and details are shown as text, and the
Content-Security-Policy's negative twin shows that an injected inline script would not run.
Screenshots go into the test's tmp dir.

Chromium: `apt-get install -y chromium`. Without it (or without Playwright) the tests skip with
the reason, except under CI (`CI` set), where a missing browser is a failed setup step.
"""

from __future__ import annotations

import copy
import io
import os
import re
import shutil
from collections.abc import Iterator
from operator import sub
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from hsts_coverage.report.html import render_html
from tests.helpers import LabInfo, hsts_coverage, lab_options, scan_names

pytestmark = pytest.mark.e2e

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:
    if os.environ.get("CI"):  # CI installs it: a missing one is a broken setup, not a skip
        raise
    pytest.skip("Playwright is not installed (pip install playwright)", allow_module_level=True)

# The browser runs in a closed network: no first-run UI, no background or update traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE_HOST = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">.evil.test'
HOSTILE_DETAIL = '</td></tr><script>window.pwned = 3</script><b onclick="x">cert_expired</b>'

Records = list[dict[str, Any]]


def chromium() -> str:
    path = os.environ.get("CHROMIUM") or next(
        (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), ""
    )
    if path:
        return path
    reason = "Chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def records(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Records:
    tmp = tmp_path_factory.mktemp("html-scan")
    run = hsts_coverage(["scan", lab.domain, *lab_options(lab), "--no-progress"], tmp)
    assert run.code == 1, run.stderr
    return run.records


class Opened:
    """A rendered report open in a browser tab, with what the tab asked for and reported."""

    def __init__(self, browser: Browser, page_html: str, path: Path, *, script: bool = True):
        path.write_text(page_html, encoding="utf-8")
        self.requests: list[str] = []
        self.console: list[str] = []
        context = browser.new_context(
            viewport={"width": 1400, "height": 900}, java_script_enabled=script
        )
        self.page: Page = context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))
        self.page.goto(path.as_uri())

    def rows(self, *, visible: bool = False) -> list[dict[str, str]]:
        """The host table's rows, in order: host, status, search text, sort keys."""
        selector = "div.hosts tbody tr" + (":visible" if visible else "")
        rows: list[dict[str, str]] = self.page.eval_on_selector_all(
            selector,
            """rows => rows.map(r => ({
                host: r.cells[0].querySelector("code").textContent,
                status: r.dataset.status,
                search: r.dataset.search,
                expires: r.cells[4].dataset.sort,
            }))""",
        )
        return rows

    def shown(self) -> str:
        return str(self.page.text_content("div.hosts output"))

    def close(self) -> None:
        self.page.context.close()


@pytest.fixture
def opened(browser: Browser, records: Records, tmp_path: Path) -> Iterator[Opened]:
    tab = Opened(browser, render_html(records), tmp_path / "report.html")
    yield tab
    tab.page.screenshot(path=tmp_path / "report.png", full_page=True)
    tab.close()


def hosts_of(records: Records) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == "host"]


def test_the_table_has_one_row_per_host(opened: Opened, records: Records) -> None:
    rows = opened.rows()
    assert sorted(r["host"] for r in rows) == sorted(h["host"] for h in hosts_of(records))
    assert len(rows) == len(opened.rows(visible=True)) == len(hosts_of(records))
    assert opened.shown() == f"{len(rows)} of {len(rows)} hosts"
    assert rows[0]["status"] == "breaks"  # worst first


def bars(page: Page, chart: str) -> dict[str, float]:
    """label -> drawn width of every bar of one chart."""
    found: dict[str, float] = page.eval_on_selector_all(
        f'svg[aria-label="{chart}"] g.bar',
        """bars => Object.fromEntries(bars.map(
            g => [g.dataset.label, g.querySelector("rect").getBBox().width]))""",
    )
    return found


def test_the_charts_have_a_bar_for_every_status_and_reason(
    opened: Opened, records: Records
) -> None:
    statuses = {h["status"] for h in hosts_of(records)}
    by_status = bars(opened.page, "Hosts by status")
    assert {label for label, width in by_status.items() if width > 0} == statuses
    codes = {r["code"] for h in hosts_of(records) for r in h["reasons"]}
    by_reason = bars(opened.page, "Hosts by reason")
    assert set(by_reason) == codes
    assert all(width > 0 for width in by_reason.values())
    assert opened.page.is_visible('svg[aria-label="Hosts by reason"]')


def test_typing_a_filter_hides_the_other_rows(opened: Opened, records: Records) -> None:
    opened.page.fill("div.hosts input[type=search]", "cert_expired")
    visible = opened.rows(visible=True)
    expired = {h["host"] for h in hosts_of(records) if "cert_expired" in str(h["reasons"])}
    assert {r["host"] for r in visible} == expired
    assert all("cert_expired" in r["search"] for r in visible)
    assert 0 < len(visible) < len(opened.rows())
    assert opened.shown() == f"{len(visible)} of {len(opened.rows())} hosts"


def test_the_status_filter_and_clearing_it(opened: Opened, records: Records) -> None:
    opened.page.select_option("div.hosts select", "ok")
    ok = {h["host"] for h in hosts_of(records) if h["status"] == "ok"}
    assert {r["host"] for r in opened.rows(visible=True)} == ok
    opened.page.select_option("div.hosts select", "")
    opened.page.fill("div.hosts input[type=search]", "")
    assert len(opened.rows(visible=True)) == len(hosts_of(records))


def test_clicking_a_column_header_sorts(opened: Opened) -> None:
    header = opened.page.locator("div.hosts th", has_text="Certificate expires")
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    keys = [r["expires"] for r in opened.rows()]
    days = [int(k) for k in keys if k != ""]
    assert days == sorted(days)
    assert len(days) > 5
    assert keys[len(days) :] == [""] * (len(keys) - len(days))  # hosts without one: last
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert [int(r["expires"]) for r in opened.rows() if r["expires"]] == sorted(days, reverse=True)
    opened.page.locator("div.hosts th button", has_text="Host").click()
    names = [r["host"] for r in opened.rows()]
    assert names == sorted(names)


def test_the_page_loads_nothing_and_obeys_its_policy(opened: Opened) -> None:
    assert opened.requests == [opened.page.url]
    assert opened.console == []
    badge = opened.page.locator("section.domain h2 .verdict")
    assert badge.text_content() == "NOT SAFE"
    colour = badge.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(198, 40, 40)"  # the inline style ran under the CSP hash


def hostile(records: Records) -> Records:
    """A copy of the records with attacker-chosen strings where servers and CT put theirs."""
    copied = copy.deepcopy(records)
    host = next(h for h in hosts_of(copied) if h["host"].startswith("expired."))
    host["host"] = HOSTILE_HOST
    host["reasons"][0]["detail"] = HOSTILE_DETAIL
    host["https"]["certificate"]["subject"] = HOSTILE_DETAIL
    host["https"]["strict_transport_security"] = [HOSTILE_DETAIL]
    summary = next(r for r in copied if r["type"] == "summary")
    summary["why"] = summary["advice"][0] = HOSTILE_DETAIL
    return copied


def test_hostile_strings_are_shown_as_text(
    browser: Browser, records: Records, tmp_path: Path
) -> None:
    page_html = render_html(hostile(records))
    tab = Opened(browser, page_html, tmp_path / "hostile.html")
    page = tab.page
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.evaluate("document.scripts.length") == 1
    assert page.evaluate("document.images.length + document.querySelectorAll('b').length") == 0
    assert HOSTILE_HOST in [r["host"] for r in tab.rows()]
    cell = page.locator("div.hosts tr", has_text=HOSTILE_HOST).locator("td").nth(2)
    assert HOSTILE_DETAIL in str(cell.text_content())
    assert tab.console == []
    page.screenshot(path=tmp_path / "hostile.png", full_page=True)
    tab.close()
    assert "<script>window" not in page_html
    assert "<img" not in page_html


def test_an_injected_inline_script_is_blocked_by_the_policy(
    browser: Browser, records: Records, tmp_path: Path
) -> None:
    """The negative twin: were escaping ever to fail, the CSP still refuses the script."""
    injected = render_html(records).replace("<body>", "<body><script>window.pwned = 1</script>")
    tab = Opened(browser, injected, tmp_path / "injected.html")
    assert tab.page.evaluate("typeof window.pwned") == "undefined"
    assert any("Content Security Policy" in line for line in tab.console), tab.console
    assert tab.page.is_visible("div.hosts .tools")  # the page's own script still ran
    tab.close()


def test_without_its_script_the_page_is_a_complete_report(
    browser: Browser, records: Records, tmp_path: Path
) -> None:
    tab = Opened(browser, render_html(records), tmp_path / "static.html", script=False)
    assert len(tab.rows(visible=True)) == len(hosts_of(records))
    assert not tab.page.is_visible("div.hosts .tools")
    tab.page.screenshot(path=tmp_path / "static.png")
    tab.close()


def test_several_domains_get_a_section_each(
    browser: Browser, records: Records, tmp_path: Path
) -> None:
    other = [{**copy.deepcopy(r), "domain": "other.test"} for r in records if r["type"] != "scan"]
    tab = Opened(browser, render_html([*records, *other]), tmp_path / "two.html")
    headings = tab.page.locator("section.domain h2").all_text_contents()
    assert [re.sub(r"\s+", " ", h).strip() for h in headings] == [
        "hsts-lab.test NOT SAFE",
        "other.test NOT SAFE",
    ]
    assert tab.page.locator("div.hosts").count() == 2
    tab.page.locator("div.hosts input[type=search]").first.fill("cert_expired")
    second = tab.page.locator("div.hosts").nth(1).locator("tbody tr:visible").count()
    assert second == len(hosts_of(records))  # each table filters on its own
    tab.close()


# -- the certificate-expiry view and the history page ----------------------------------------------

BREAKS_RED = (0xC6, 0x28, 0x28)
OK_GREEN = (0x2E, 0x7D, 0x32)


def colour_pixels(png: bytes, rgb: tuple[int, int, int]) -> int:
    """How many pixels of a screenshot have (nearly) this colour: proof that it was drawn."""
    colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 24) or []
    return sum(n for n, pixel in colours if max(map(abs, map(sub, pixel, rgb))) <= 8)


def test_the_expiry_view_has_every_certificate_on_one_axis(
    opened: Opened, records: Records
) -> None:
    page = opened.page
    rows = page.eval_on_selector_all(
        'svg[aria-label="Certificate expiry"] g.cert',
        """rows => rows.map(g => ({host: g.dataset.host, band: g.dataset.band,
            days: Number(g.dataset.days), x: g.querySelector("circle").getBBox().x}))""",
    )
    with_certificate = [h for h in hosts_of(records) if (h["https"] or {}).get("certificate")]
    assert sorted(r["host"] for r in rows) == sorted(h["host"] for h in with_certificate)
    expired = {h["host"] for h in with_certificate if h["https"]["certificate"]["days_left"] < 0}
    assert {r["host"] for r in rows[: len(expired)]} == expired  # expired first
    assert {r["band"] for r in rows[: len(expired)]} == {"expired"}
    assert [r["days"] for r in rows] == sorted(r["days"] for r in rows)
    xs = [r["x"] for r in rows]
    assert xs == sorted(xs)  # one axis: later is further right
    marks = page.eval_on_selector_all(
        'svg[aria-label="Certificate expiry"] g.mark',
        "marks => marks.map(g => [g.dataset.days, g.querySelector('line').getBBox().x])",
    )
    assert [days for days, _ in marks] == ["now", "3", "7", "14"]
    assert [x for _, x in marks] == sorted(x for _, x in marks)
    assert any(r["band"] == "3" for r in rows)  # the lab's certificate that expires in 3 days
    shot = page.locator("div.expiry svg").screenshot()
    assert colour_pixels(shot, BREAKS_RED) > 50  # expired dots drawn
    assert colour_pixels(shot, OK_GREEN) > 50


def test_without_certificates_there_is_no_expiry_chart(
    browser: Browser, records: Records, tmp_path: Path
) -> None:
    """The negative twin: the pixels above come from certificates, not from the page around."""
    bare = copy.deepcopy(records)
    for host in hosts_of(bare):
        if host["https"]:
            host["https"]["certificate"] = None
    tab = Opened(browser, render_html(bare), tmp_path / "bare.html")
    assert tab.page.locator('svg[aria-label="Certificate expiry"]').count() == 0
    assert "No host served a certificate." in str(tab.page.text_content("div.expiry"))
    tab.close()


@pytest.fixture(scope="module")
def history(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Three nightly reports in one folder: SAFE, then expired breaks, then self-signed too."""
    tmp = tmp_path_factory.mktemp("history")
    runs = [("www",), ("www", "expired"), ("www", "expired", "self-signed")]
    folder = tmp / "reports"
    folder.mkdir()
    started = []
    for night, labels in enumerate(runs, 1):
        report = scan_names(lab, tmp, f"night{night}", *labels).rename(
            folder / f"2026-01-0{night}.ndjson"
        )
        started.append(orjson.loads(report.read_bytes().splitlines()[0])["started_at"])
    page = tmp / "history.html"
    run = hsts_coverage(["html", str(folder), "-o", str(page)], tmp)
    assert run.code == 0, run.stderr
    return page, started


def test_the_history_draws_every_run(
    browser: Browser, lab: LabInfo, history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    page_path, started = history
    tab = Opened(browser, page_path.read_text(), tmp_path / "history.html")
    page = tab.page
    section = page.locator("section.history")
    verdicts = section.locator("table.verdicts .verdict").all_text_contents()
    assert verdicts == ["SAFE", "NOT SAFE", "NOT SAFE"]
    columns = page.eval_on_selector_all(
        'svg[aria-label="Hosts per status per run"] g.run',
        """runs => runs.map(g => [g.dataset.run, Object.fromEntries(
            Array.from(g.querySelectorAll("rect")).map(
                r => [r.dataset.status, [Number(r.dataset.count), r.getBBox().height]]))])""",
    )
    assert [run for run, _ in columns] == started
    assert [c["breaks"][0] for _, c in columns] == [0, 1, 2]
    assert [c["ok"][0] for _, c in columns] == [2, 2, 2]  # the apex and www
    unit = columns[2][1]["ok"][1] / 2
    assert columns[2][1]["breaks"][1] == pytest.approx(2 * unit, abs=0.2)  # heights are counts
    broke = dict(
        page.eval_on_selector_all(
            "table.first-broke tbody tr",
            "rows => rows.map(r => [r.dataset.host, r.dataset.firstBroke])",
        )
    )
    assert broke == {f"expired.{lab.domain}": started[1], f"self-signed.{lab.domain}": started[2]}
    shot = page.locator('svg[aria-label="Hosts per status per run"]').screenshot()
    assert colour_pixels(shot, BREAKS_RED) > 100
    assert colour_pixels(shot, OK_GREEN) > 100
    assert page.locator("div.hosts").count() == 1  # the newest run's report below
    assert tab.requests == [page.url]
    assert tab.console == []
    page.screenshot(path=tmp_path / "history.png", full_page=True)
    tab.close()


def test_a_folder_without_reports_is_a_usage_error(tmp_path: Path) -> None:
    run = hsts_coverage(["html", str(tmp_path), "-o", str(tmp_path / "x.html")], tmp_path)
    assert run.code == 2
    assert "no report (*.ndjson) in" in run.stderr
