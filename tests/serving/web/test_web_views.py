"""What the CSM page computes before rendering: filters, wording, reasons by family, chart."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from serving.risk import Bands, Reason
from serving.store.models import HistoryPoint, RankedAccount
from serving.web.charts import history_chart
from serving.web.session import SessionSigner, safe_next
from serving.web.views import (
    UNASSIGNED,
    Filters,
    compact_money,
    export_row,
    family_views,
    label,
    parse_filters,
    percent,
    points,
    spreadsheet_safe,
)


def test_filters_round_trip_through_the_query_string():
    filters, problems = parse_filters("arr_at_risk", "Ana Silva", UNASSIGNED, "high", "90", "3")
    assert problems == []
    assert filters == Filters("arr_at_risk", "Ana Silva", "", "high", 90, 3)
    query = filters.query(None)
    assert (query.csm_owner, query.segment, query.band, query.renewal_within_days,
            query.page, query.per_page) == ("Ana Silva", "", "high", 90, 3, 50)
    assert parse_filters(**{"sort": "arr_at_risk", "owner": "Ana Silva",
                            "segment": UNASSIGNED, "band": "high", "renewal": "90",
                            "page": "3"})[0] == filters
    assert filters.params() == {"sort": "arr_at_risk", "owner": "Ana Silva",
                                "segment": UNASSIGNED, "band": "high", "renewal": "90",
                                "page": "3"}
    assert Filters().url() == "/"
    assert Filters(band="low").url("/export.csv", page=1) == "/export.csv?band=low"
    assert Filters(owner="A & B").url() == "/?owner=A+%26+B"


def test_empty_fields_mean_all():
    filters, problems = parse_filters("", "", "", "", "", "")
    assert problems == [] and filters == Filters() and not filters.narrowed


@pytest.mark.parametrize(("field", "value", "phrase"), [
    ("sort", "name", "sorted by risk instead"),
    ("band", "purple", "no “purple” risk band"),
    ("renewal", "soon", "“soon” was ignored"),
    ("renewal", "-5", "whole number of days"),
    ("renewal", "99999", "from 0 to 3,660"),
    ("page", "0", "first page"),
    ("page", "two", "first page"),
])
def test_unusable_values_are_dropped_and_named(field, value, phrase):
    filters, problems = parse_filters(**{field: value})
    assert filters == Filters()
    assert len(problems) == 1 and phrase in problems[0]


def test_numbers_read_naturally():
    assert compact_money(3_231_456.7) == "3.23M"
    assert compact_money(48_500) == "48.5k"
    assert compact_money(9_999.4) == "9,999"
    assert percent(0.526) == "53%" and percent(0.001) == "<1%" and percent(0) == "0%"
    assert points(0.0833) == "+8.3 pts" and points(-0.002) == "\u22120.2 pts"
    assert points(0.00001) == "±0.0 pts" and points(None) == ""
    assert label("mid_market") == "Mid market" and label("smb") == "SMB" and label("") == "—"


def test_reasons_group_by_family_strongest_first():
    reasons = [Reason("term", "contract", 365, 1.2, "Current term runs 365 days"),
               Reason("seats", "usage", 0.3, 0.4, "Few seats active"),
               Reason("tickets", "support", 9, 0.3, "9 tickets"),
               Reason("minutes", "usage", 41, 0.2, "Short sessions")]
    families = {"contract": 1.5, "usage": 0.8, "support": 0.2, "sentiment": -0.4}
    views = family_views(reasons, families)
    assert [v.family for v in views] == ["contract", "usage", "support", "sentiment"]
    assert [v.strongest for v in views] == [1.2, 0.4, 0.3, 0.0]
    assert [v.rank for v in views] == [0, 1, 2, 4]  # sentiment has no reason: after all
    # A family may add up to more than its shown reasons (many small pushes).
    spread = family_views(reasons[1:], {"contract": 2.0, "usage": 0.5, "support": 0.3})
    assert [v.family for v in spread] == ["contract", "usage", "support"]
    assert spread[0].reasons == [] and spread[0].raises
    assert [r.feature for r in views[1].reasons] == ["seats", "minutes"]
    assert views[0].reasons[0].bar == 100 and views[1].reasons[1].bar == pytest.approx(100 / 6)
    assert views[-1].reasons == [] and not views[-1].raises
    # Diverging bars: raising families grow right of the middle, lowering ones left.
    assert (views[0].bar_x, views[0].bar_width) == (100.0, 100.0)
    sentiment = views[-1]
    assert sentiment.bar_x + sentiment.bar_width == 100.0
    assert sentiment.bar_width == pytest.approx(100 * 0.4 / 1.5)


def test_the_reasons_panel_follows_the_reasons_order_with_context_last():
    """The model's order (most unusual first, context last) decides, not the raw push."""
    reasons = [Reason("seats", "usage", 0.3, 0.4, "Few seats active"),
               Reason("term", "contract", 365, 1.2, "Current term runs 365 days",
                      "commercial_terms", True)]
    views = {v.family: v for v in family_views(reasons, {"contract": 1.2, "usage": 0.4})}
    assert views["usage"].rank < views["contract"].rank
    assert views["contract"].reasons[0].context and views["contract"].reasons[0].bar == 100


def _point(day: dt.date, probability: float, run_id: int) -> HistoryPoint:
    return HistoryPoint(run_id, day, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), probability,
                        Bands().band(probability), "1")


def test_the_history_chart_puts_runs_on_a_time_axis():
    history = [_point(dt.date(2026, 1, 1), 0.52, 3), _point(dt.date(2025, 12, 1), 0.44, 2),
               _point(dt.date(2025, 10, 1), 0.10, 1)]  # newest first, as the store gives
    chart = history_chart(history, Bands())
    xs = [p.x for p in chart.points]
    assert [p.as_of for p in chart.points] == sorted(h.as_of for h in history)
    assert xs[0] == chart.left and xs[-1] == chart.right
    # October → December is twice December → January: the gaps say so.
    assert (xs[1] - xs[0]) == pytest.approx(2 * (xs[2] - xs[1]), rel=0.05)
    assert chart.y_ticks[-1][1] == "60%" and chart.y_ticks[0] == (chart.bottom, "0%")
    ys = {round(p.probability, 2): p.y for p in chart.points}
    assert ys[0.52] < ys[0.44] < ys[0.10] <= chart.bottom
    assert [z.band for z in chart.zones] == ["high", "medium", "low"]
    assert sum(z.height for z in chart.zones) == pytest.approx(chart.bottom - chart.top)
    assert chart.x_labels[0][2] == "start" and chart.x_labels[-1][2] == "end"


def test_a_single_run_is_one_centred_point():
    chart = history_chart([_point(dt.date(2026, 1, 1), 0.9, 1)], Bands())
    assert len(chart.points) == 1
    assert chart.points[0].x == (chart.left + chart.right) // 2
    assert chart.y_ticks[-1][1] == "100%" and chart.points[0].y > chart.top


def test_export_cells_keep_full_precision_and_defuse_formulas():
    item = RankedAccount("A1", "=HYPERLINK(\"x\")", "smb", "@ana", 1234.5,
                         dt.date(2026, 3, 1), 0.123456789012345, "low", 152.4, None, None,
                         None, None)
    row = export_row(item)
    assert row == ["A1", "'=HYPERLINK(\"x\")", "'@ana", "smb", 1234.5, "2026-03-01",
                   0.123456789012345, "low", 152.4, "", ""]
    assert spreadsheet_safe("Acme") == "Acme" and spreadsheet_safe("-1") == "'-1"


def test_session_tokens_and_redirect_targets():
    from serving.auth import KeyRing, Principal, Role

    ring = KeyRing.from_keys("viewer:viewer-key-0123456789abcdef,"
                             "scorer:scorer-key-0123456789abcdef")
    viewer_id = next(i for r, i in ring.key_ids if r is Role.viewer)
    signer = SessionSigner()
    token = signer.issue(Principal(Role.viewer, viewer_id))
    assert "viewer-key" not in token
    session = signer.read(token, ring)
    assert session is not None and session.role is Role.viewer
    with pytest.raises(ValueError, match="scorer"):
        signer.issue(Principal(Role.scorer, "abc"))
    signer.end(token)
    assert signer.read(token, ring) is None
    assert safe_next("/accounts/A1?back=%2F") == "/accounts/A1?back=%2F"
    for outside in (None, "", "https://x.example/", "//x.example", "/\\x.example", "x"):
        assert safe_next(outside) == "/"


def test_usage_trend_averages_a_third_of_the_weeks_at_each_end():
    import datetime as dt

    from features.point_in_time.evidence import UsageWeek
    from serving.web.charts import usage_trend
    from serving.web.views import quarter_label

    start = dt.date(2025, 10, 6)
    users = [10, 10, 10, 10, 8, 8, 8, 8, 5, 5, 5, 5]
    weeks = [UsageWeek(start + dt.timedelta(weeks=i), n, 2.0 * n, 9.0 * n)
             for i, n in enumerate(users)]
    trend = usage_trend(weeks, width=240, height=50)
    assert (trend.measure, trend.span, trend.first, trend.last) == ("active users", 4, 10, 5)
    assert trend.change == -50.0
    assert [b.height for b in trend.bars][:5] == [50.0, 50.0, 50.0, 50.0, 40.0]
    assert trend.bars[1].x == 21.0  # 240 / 12 = 20 per week, 1 apart
    no_users = usage_trend([UsageWeek(start, None, 3.0, 4.0), UsageWeek(start, None, 0.0, 0.0)])
    assert (no_users.measure, no_users.first, no_users.last, no_users.change) == (
        "logins", 3.0, 0.0, -100.0)
    assert quarter_label(dt.date(2025, 10, 1)) == "Q4 2025"
    assert quarter_label(dt.date(2026, 1, 1)) == "Q1 2026"


def test_a_long_history_labels_a_few_dates_and_names_the_year_when_it_changes():
    months = [dt.date(2025, m, 1) for m in range(7, 13)] + [dt.date(2026, 1, 1)]
    chart = history_chart([_point(day, 0.2, i) for i, day in enumerate(months)], Bands())
    assert [text for _, text, _ in chart.x_labels] == ["Jul 2025", "Sep", "Nov", "Jan 2026"]
    xs = [x for x, _, _ in chart.x_labels]
    assert min(b - a for a, b in itertools.pairwise(xs)) > (chart.right - chart.left) / 4
