import datetime

from django.template import Context, Template
from django.utils import timezone, translation


def test_dates_and_times_read_the_same_everywhere_in_iso_order():
    moment = timezone.make_aware(datetime.datetime(2026, 3, 4, 14, 5))
    with translation.override("en-gb"):
        rendered = Template("{{ day|date }} · {{ moment|date:'DATETIME_FORMAT' }}").render(
            Context({"day": datetime.date(2026, 3, 4), "moment": moment})
        )
    # 4 March, not 3 April: no day/month ambiguity on a ward.
    assert rendered == "2026-03-04 · 2026-03-04 14:05"
