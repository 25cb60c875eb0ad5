"""The insights domain's public service API (one import for controllers, pages, the CLI and other code)."""

from insights.services_digests import current_digest, daily_digests, generate_digest, get_digest, latest_digest
from insights.services_insights import (
    InsightFilter,
    access_insight,
    get_insight,
    insights_over_time,
    insights_timeline,
    list_insights,
    triage,
)
from insights.services_llm import LlmPassResult, llm_pass
from insights.services_mining import MineResult, forget_state, mine_workspace

__all__ = ["InsightFilter", "LlmPassResult", "MineResult", "access_insight", "current_digest", "daily_digests",
           "forget_state", "generate_digest", "get_digest", "get_insight", "insights_over_time", "insights_timeline",
           "latest_digest", "list_insights", "llm_pass", "mine_workspace", "triage"]
