"""A `Retry-After` date is GMT, whatever form it is written in and the server's zone.

HTTP dates are always GMT (RFC 9110), but two of the forms a peer may send carry no
zone of their own: asctime (`Sun Nov  6 08:49:37 1994`) and a `-0000` offset.
`email.utils` reads those as naive times, which were then taken in the server's own
time zone: on a server in Tokyo, a peer asking to wait an hour was asked again at
once; in New York, it was waited on for the longest wait (60 s) instead."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from blocks._http_errors import parse_retry_after


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/New_York", "UTC"])
@pytest.mark.parametrize(
    "form", ["%a %b %d %H:%M:%S %Y", "%a, %d %b %Y %H:%M:%S -0000", "%a, %d %b %Y %H:%M:%S GMT"]
)
def test_a_date_without_a_zone_is_read_as_gmt(
    monkeypatch: pytest.MonkeyPatch, zone: str, form: str
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        in_an_hour = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        wait = parse_retry_after(in_an_hour.strftime(form))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert wait is not None and 3500 < wait <= 3600
