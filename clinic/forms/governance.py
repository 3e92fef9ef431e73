"""The governance page's period: the last 7, 30 or 90 days, or two dates."""

from datetime import date, timedelta

from django import forms
from django.utils import timezone

LAST_DAYS = (7, 30, 90)
DATES = "dates"
LONGEST_DAYS = 731  # two years: longer periods are for manage.py rule_stats


class PeriodForm(forms.Form):
    period = forms.ChoiceField(
        choices=[(str(days), f"Last {days} days") for days in LAST_DAYS]
        + [(DATES, "Between dates")],
        initial="90",
        widget=forms.RadioSelect,
    )
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To (included)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        today = timezone.localdate()
        if data.get("period") != DATES:
            if "period" in data:
                data["until"] = today
                data["since"] = today - timedelta(days=int(data["period"]) - 1)
            return data
        since: date | None = data.get("since")
        until: date | None = data.get("until")
        for name, value in (("since", since), ("until", until)):
            if value is None and name not in self.errors:
                self.add_error(name, "Give a date, or choose one of the last-days periods.")
            elif value is not None and value > today:
                self.add_error(name, "This date is in the future.")
        if since and until and since > until and not self.errors:
            self.add_error("until", "This is before the first date.")
        elif since and until and (until - since).days + 1 > LONGEST_DAYS:
            self.add_error("since", f"Choose {LONGEST_DAYS} days or fewer.")
        return data
