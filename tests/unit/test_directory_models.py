"""What the directory accepts, and the words it understands."""

from __future__ import annotations

import pytest

from asterisk_rec.directory import models
from asterisk_rec.directory.models import ArchiveFormat, DeviceKind, FailMode, RecordingMode
from asterisk_rec.errors import InvalidInput


@pytest.mark.parametrize(("text", "mode"), [("always", RecordingMode.ALWAYS), ("on demand", RecordingMode.ON_DEMAND),
                                            ("On-Demand", RecordingMode.ON_DEMAND), ("off", RecordingMode.OFF)])
def test_recording_mode_words(text: str, mode: RecordingMode) -> None:
    """The portal's words and their variants map to the modes."""
    assert models.recording_mode(text) is mode


def test_e164_numbers_are_normalised_and_checked() -> None:
    """Spaces and dashes go; a national number is refused."""
    assert models.e164("+31 6-1234 5678") == "+31612345678"
    with pytest.raises(InvalidInput, match=r"E\.164"):
        models.e164("0612345678")
    with pytest.raises(InvalidInput):
        models.e164("+0123456789")


@pytest.mark.parametrize("bad", ["1", "12a", "12345678901", ""])
def test_extensions_are_digits(bad: str) -> None:
    """Extensions are 2 to 10 digits."""
    with pytest.raises(InvalidInput, match="extension"):
        models.extension(bad)


def test_other_fields() -> None:
    """Endpoints, e-mail, languages, time zones, kinds and fail modes are checked."""
    assert models.endpoint("alice-desk_1.x") == "alice-desk_1.x"
    for check, bad in [(models.endpoint, "alice desk"), (models.email, "nope"), (models.language, "de"),
                       (models.time_zone, "Nowhere/City"), (models.device_kind, "fax"), (models.fail_mode, "maybe"),
                       (models.name, "  ")]:
        with pytest.raises(InvalidInput):
            check(bad)
    assert models.device_kind("Mobile") is DeviceKind.MOBILE
    assert models.fail_mode("closed") is FailMode.CLOSED
    assert models.email(None) is None


def test_feature_codes_and_archive_formats() -> None:
    """A feature code is 1 to 8 DTMF keys (letters upper-cased); an archive format one of four."""
    assert models.feature_code(" *1 ") == "*1"
    assert models.feature_code("#9a") == "#9A"
    for bad in ("", "*1x", "123456789", "* 1"):
        with pytest.raises(InvalidInput, match="feature code"):
            models.feature_code(bad)
    assert models.archive_format("FLAC") is ArchiveFormat.FLAC
    with pytest.raises(InvalidInput, match="archive format"):
        models.archive_format("ogg")
