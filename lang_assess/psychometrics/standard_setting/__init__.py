"""Standard setting: CEFR cut scores on the θ scale from a panel's judgements.

Pure functions, no I/O, no hidden state (see docs/psychometrics/standard_setting.md).

- **Bookmark** (Mitzel, Lewis, Patz & Green, 2001): :func:`ordered_item_booklet` orders
  the items by their RP location (the θ at which a person answers with probability
  ``rp``, 0.67 by default); panellists place one bookmark per cut on the last page a
  minimally competent person at that level would master; :func:`bookmark_cuts` maps the
  bookmarks to θ, aggregates them over the panel and gives the standard error.
- **Modified Angoff** (Angoff, 1971; Kane, 1987), for comparison: :func:`angoff_cuts`
  maps each panellist's expected score of the borderline person to θ through the test
  characteristic curve.
- :func:`cut_provenance`: what to write into the bank config next to the cut values.

All abilities and cuts are in logits on the metric of the item parameters used.

The package: :mod:`.booklet` (RP locations, the ordered item booklet), :mod:`.panel`
(the result, Bookmark, impact), :mod:`.angoff`, :mod:`.provenance` (what goes into the bank config).
"""

from lang_assess.psychometrics.standard_setting.angoff import angoff_cuts
from lang_assess.psychometrics.standard_setting.booklet import (
    RP67,
    ordered_item_booklet,
    rp_locations,
)
from lang_assess.psychometrics.standard_setting.panel import PanelCuts, bookmark_cuts, impact
from lang_assess.psychometrics.standard_setting.provenance import cut_provenance

__all__ = [
    "RP67",
    "PanelCuts",
    "angoff_cuts",
    "bookmark_cuts",
    "cut_provenance",
    "impact",
    "ordered_item_booklet",
    "rp_locations",
]
