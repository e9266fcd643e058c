"""``evalsets.path`` / ``evalsets.split_files``: the one lookup of the bundled sets."""

from __future__ import annotations

import pytest

import evalsets
from harness.errors import DataError


@pytest.mark.parametrize("name", evalsets.SET_NAMES)
def test_path_is_the_sets_folder_holding_its_split_files(name: str) -> None:
    folder = evalsets.path(name)
    assert folder == evalsets.ROOT / name and folder.is_dir()
    assert (folder / "suite.yaml").is_file()
    files = evalsets.split_files(name)
    assert list(files) == ["train", "val", "test"]
    for split, file in files.items():
        assert file == folder / f"{split}.jsonl" and file.is_file(), file


def test_root_is_the_installed_package_folder() -> None:
    assert evalsets.ROOT == evalsets.path("extract").parent
    assert (evalsets.ROOT / "__init__.py").is_file() and (evalsets.ROOT / "extract" / "schema.json").is_file()


@pytest.mark.parametrize("name", ["nope", "Extract", "extract/", "", "generators"])
def test_an_unknown_set_is_a_data_error_listing_the_known_sets(name: str) -> None:
    with pytest.raises(DataError) as raised:
        evalsets.path(name)
    assert repr(name) in raised.value.message
    assert raised.value.hint is not None and all(known in raised.value.hint for known in evalsets.SET_NAMES)
    with pytest.raises(DataError):
        evalsets.split_files(name)
