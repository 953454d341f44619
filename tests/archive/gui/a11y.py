"""An accessibility check of the page a Playwright tab shows: axe-core (vendored in
vendor/axe-core/, injected into the page, which needs a context made with bypass_csp=True)
run over the whole document; what it finds of impact serious or critical."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")  # the impacts a view must have none of
# WCAG 2.x A and AA rules plus axe's best practices (landmarks, one h1, region...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


@dataclass(frozen=True)
class Violation:
    """One axe rule the page breaks: its id, impact, help text and the nodes (CSS targets)."""

    id: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:5]) + (" ..." if len(self.targets) > 5 else "")
        return f"{self.id} ({self.impact}, {len(self.targets)}x): {self.help} [{shown}]"


def violations(page, impacts: tuple[str, ...] = BLOCKING) -> list[Violation]:
    """The axe violations of the page as it is now whose impact is one of `impacts`."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(RUN, TAGS)
    return [
        Violation(v["id"], v["impact"], v["help"], tuple(v["targets"]))
        for v in found
        if v["impact"] in impacts
    ]


def sideways_overflow(page) -> int:
    """How many CSS pixels the page scrolls sideways (0: it fits its viewport's width)."""
    return int(page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth"))
