"""The page's Jinja2 environment: autoescaped, strict about undefined names, with the
filters that turn stored values into words (money, percent, days, labels)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import jinja2
from fastapi.templating import Jinja2Templates

from serving.web import model_page, views

TEMPLATES = Path(__file__).parent / "templates"


def page_templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=views.money, compact_money=views.compact_money,
                       percent=views.percent, points=views.points, signed=views.signed,
                       label=views.label, owner_label=views.owner_label, day=views.day,
                       quarter_label=views.quarter_label, survey_scale=views.survey_scale,
                       quote=lambda text: quote(str(text), safe=""),
                       figure=model_page.figure, share=model_page.share)
    env.globals.update(UNASSIGNED=views.UNASSIGNED,
                       QUARTER_STATUS_LABELS=views.QUARTER_STATUS_LABELS)
    return Jinja2Templates(env=env)
