"""One image end to end into a Report (``analyze``), and the Report out as JSON, tables, summaries and figures.

The figure, the summaries and the tables are imported where they are used (matplotlib is slow to import).
"""

from .analysis import Report, analyze, analyze_stages

__all__ = ["Report", "analyze", "analyze_stages"]
