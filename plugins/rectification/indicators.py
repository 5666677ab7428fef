"""The rectification figures a ranking scheme may weigh, per unit and period."""

from __future__ import annotations

from core.contrib import IndicatorSource
from plugins.rectification import queries as q


def sources() -> list[IndicatorSource]:
    return [
        IndicatorSource("rectification.on_time_rate", "按期整改率", "%", q.on_time_rate),
        IndicatorSource("rectification.overdue_count", "超期整改件数", "件", q.overdue_count,
                        higher_is_better=False),
        IndicatorSource("rectification.avg_days_to_close", "平均办结工作日", "工作日",
                        q.avg_days_to_close, higher_is_better=False),
        IndicatorSource("rectification.avg_satisfaction", "平均满意度", "分", q.avg_satisfaction),
    ]
