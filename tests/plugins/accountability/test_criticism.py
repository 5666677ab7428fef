"""通报批评 (accountability-criticism): which record, and clear errors naming the field."""

from __future__ import annotations

import pytest

from core import exports
from core.contrib import ExportRequest
from core.errors import Invalid, NotFound
from tests.conftest import seed_units


@pytest.mark.parametrize(("options", "error", "field"), [
    ({"record": "abc"}, Invalid, "record"),
    ({"record": "999"}, NotFound, "record"),
    ({}, NotFound, "period"),
])
async def test_bad_or_missing_record_names_the_field(db, host, options, error, field):
    await seed_units()
    with pytest.raises(error) as info:
        await exports.build_export("accountability-criticism",
                                   ExportRequest(period="2014", options=options))
    assert info.value.field == field
    assert exports.get_exporter("accountability-criticism", host).kind == "document"
