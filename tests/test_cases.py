"""cases.csv: documented dtypes, round trip, clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from strokeseg.cases import canonical_vendor, read_cases, write_cases
from strokeseg.errors import InputDataError, OutputExistsError


@pytest.mark.parametrize(("manufacturer", "vendor"), [
    ("SIEMENS", "Siemens"), ("Siemens Healthineers", "Siemens"), ("GE MEDICAL SYSTEMS", "GE"), ("GE", "GE"),
    ("Philips Medical Systems", "Philips"), ("Philips", "Philips"), ("TOSHIBA_MEC", "Canon"),
    ("Acme MRI", "Acme MRI"), ("", None), (None, None),
])
def test_canonical_vendor(manufacturer: str | None, vendor: str | None) -> None:
    assert canonical_vendor(manufacturer) == vendor


def test_round_trip_keeps_types_and_extra_columns(tmp_path: Path) -> None:
    table = pd.DataFrame({"scanner_model": ["Prisma", "Signa"], "case_id": ["a", "b"], "vendor": ["Siemens", "GE"],
                          "chronic_infarct": [True, None], "lesion_volume_ml": [1.5, None], "n_lesions": [2, 0]})
    path = write_cases(table, tmp_path / "cases.csv")
    assert path.read_text().splitlines()[0] == "case_id,vendor,chronic_infarct,lesion_volume_ml,n_lesions,scanner_model"
    back = read_cases(path)
    assert back["chronic_infarct"].tolist()[0] is True
    assert pd.isna(back["chronic_infarct"].tolist()[1])
    assert str(back["n_lesions"].dtype) == "Int64"
    assert back["lesion_volume_ml"].tolist()[0] == 1.5
    with pytest.raises(OutputExistsError):
        write_cases(table, path)


def test_yes_no_text_is_written_as_its_meaning_and_nonsense_is_refused(tmp_path: Path) -> None:
    table = pd.DataFrame({"case_id": ["a", "b", "c"], "chronic_infarct": ["no", "Yes", None]})
    back = read_cases(write_cases(table, tmp_path / "cases.csv"))
    assert back["chronic_infarct"].tolist()[:2] == [False, True]
    with pytest.raises(InputDataError, match="chronic_infarct 'maybe' is not yes/no"):
        write_cases(pd.DataFrame({"case_id": ["a"], "chronic_infarct": ["maybe"]}), tmp_path / "other.csv")


def test_duplicate_case_ids_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("case_id,site\na,x\na,y\n")
    with pytest.raises(InputDataError, match="repeats case_id a"):
        read_cases(path)


def test_bad_numeric_column_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("case_id,onset_to_imaging_h\na,two hours\n")
    with pytest.raises(InputDataError, match="onset_to_imaging_h"):
        read_cases(path)
