"""Every validation code is found on the right line; bad bytes never crash the validator."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from harness.data import schema as S
from harness.data.validate import check_example, output_key_style, validate_file

FIXTURE = Path(__file__).parent / "fixtures" / "broken.jsonl"

# (line, code) for every problem planted in fixtures/broken.jsonl; nothing else may be reported.
PLANTED = {
    (2, "invalid_json"), (3, "not_object"), (4, "missing_messages"), (5, "empty_messages"),
    (6, "missing_role"), (7, "missing_content"), (8, "unknown_role"), (9, "empty_content"),
    (10, "system_not_first"), (11, "consecutive_user"), (12, "no_assistant"), (13, "last_not_assistant"),
    (14, "too_long"), (15, "duplicate"), (16, "unknown_key"), (19, "mixed_key_style"), (20, "duplicate_id"),
    (21, "invalid_id"), (21, "invalid_metadata"), (22, "near_duplicate"), (23, "messages_not_list"),
    (24, "message_not_object"), (25, "invalid_content"),
}


def good(i: int = 0, **extra) -> dict:
    return {"id": f"ex-{i}", "messages": [{"role": "user", "content": f"question number {i}"},
                                         {"role": "assistant", "content": f"answer {i}"}], **extra}


def write_lines(path: Path, lines: list) -> Path:
    with open(path, "wb") as handle:
        for line in lines:
            if isinstance(line, bytes):
                handle.write(line + b"\n")
            else:
                handle.write((line if isinstance(line, str) else json.dumps(line)).encode() + b"\n")
    return path


def found(report) -> set[tuple[int, str]]:
    return {(p.line, p.code) for p in report.errors + report.warnings}


def test_every_planted_problem_is_found_on_its_line():
    report = validate_file(FIXTURE, max_tokens=30)
    assert found(report) == PLANTED
    assert report.examples == 25
    error_lines = {line for line, code in PLANTED if S.CODES[code].severity == "error"}
    assert report.valid == 25 - len(error_lines)
    assert report.counts["duplicate"] == 1 and not report.ok


def test_fixture_covers_every_code_except_the_byte_level_ones():
    # decoding-level codes, tested on files of their own (here and in test_reader_unicode.py)
    byte_level = {"line_too_long", "not_utf8", "binary_line", "compressed_file", "utf16_file", "lone_surrogate",
                  "empty_file"}
    assert {code for _, code in PLANTED} | byte_level == set(S.CODES)


def test_messages_say_how_to_fix_and_name_the_earlier_line():
    report = validate_file(FIXTURE, max_tokens=30)
    by_code = {p.code: p.message for p in report.errors + report.warnings}
    assert all("fix:" in message for message in by_code.values())
    assert "line 1" in by_code["duplicate"]
    assert "line 1" in by_code["duplicate_id"]
    assert "line 20" in by_code["near_duplicate"]
    assert "'bot'" in by_code["unknown_role"] or '"bot"' in by_code["unknown_role"]


def test_too_long_only_checked_with_max_tokens():
    assert (14, "too_long") not in found(validate_file(FIXTURE))


def test_valid_file_passes(tmp_path):
    report = validate_file(write_lines(tmp_path / "ok.jsonl", [good(i) for i in range(20)] + [""]))
    assert report.ok and report.examples == 20 and report.valid == 20
    assert report.errors == [] and report.warnings == []


def test_empty_file_is_an_error_on_line_0(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n  \n")
    report = validate_file(path)
    assert found(report) == {(0, "empty_file")} and not report.ok and report.examples == 0


def test_warnings_do_not_fail(tmp_path):
    report = validate_file(write_lines(tmp_path / "w.jsonl", [good(1, extra=1), good(2)]))
    assert report.ok and [w.code for w in report.warnings] == ["unknown_key"]


def test_non_utf8_and_nul_lines_are_errors_not_crashes(tmp_path):
    path = write_lines(tmp_path / "bin.jsonl", [good(1), b"\xff\xfe\x00\x01garbage", b'{"messages": "caf\xe9"}', good(2)])
    report = validate_file(path)
    assert found(report) == {(2, "binary_line"), (3, "not_utf8")}
    assert report.valid == 2


def test_compressed_file_is_one_clear_error(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(gzip.compress(json.dumps(good(1)).encode() * 100))
    report = validate_file(path)
    assert found(report) == {(1, "compressed_file")}
    assert "gzip" in report.errors[0].message


def test_huge_line_is_reported_and_the_rest_still_checked(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "w") as handle:
        handle.write(json.dumps(good(1)) + "\n")
        handle.write('{"messages": [{"role": "user", "content": "' + "x" * (11 * 1024 * 1024) + '"}]}\n')
        handle.write(json.dumps(good(3)) + "\n")
        handle.write("[1]\n")
    report = validate_file(path)  # default limit: 10 MB
    assert found(report) == {(2, "line_too_long"), (4, "not_object")}
    assert "11,534," in report.errors[0].message  # the size of the skipped line


def test_line_limit_is_configurable(tmp_path):
    path = write_lines(tmp_path / "f.jsonl", [good(1), good(2, metadata={"pad": "y" * 500})])
    assert found(validate_file(path, max_line_bytes=200)) == {(2, "line_too_long")}


def test_blank_lines_and_crlf_and_bom_are_fine(tmp_path):
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(good(1)).encode() + b"\r\n\r\n   \n" + json.dumps(good(2)).encode())
    report = validate_file(path)
    assert report.ok and report.examples == 2


def test_duplicates_ignore_whitespace_case_id_and_metadata(tmp_path):
    a = good(1, metadata={"x": 1})
    b = {"id": "other", "messages": [{"role": "user", "content": "  QUESTION   number 1 "},
                                     {"role": "assistant", "content": "Answer 1"}]}
    report = validate_file(write_lines(tmp_path / "d.jsonl", [a, good(2), b]))
    assert found(report) == {(3, "duplicate")}


@pytest.mark.parametrize(
    ("messages", "codes"),
    [
        ([{"role": "system", "content": "s"}, {"role": "system", "content": "t"}, {"role": "user", "content": "u"},
          {"role": "assistant", "content": "a"}], ["system_not_first"]),
        ([{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "v"},
          {"role": "assistant", "content": "b"}], []),
        ([{"role": "system", "content": "s"}], ["no_assistant"]),
        ([{"role": "assistant", "content": "a"}, {"role": "user", "content": "u"}], ["last_not_assistant"]),
        ([{"role": "user", "content": "u"}, {"role": "user", "content": "v"}, {"role": "user", "content": "w"},
          {"role": "assistant", "content": "a"}], ["consecutive_user", "consecutive_user"]),
        ([{"role": "user", "content": None}, {"role": "assistant", "content": "a"}], ["missing_content"]),
    ],
)
def test_turn_order_rules(messages, codes):
    assert [p.code for p in check_example({"messages": messages}, 1)] == codes


def test_output_key_style():
    assert output_key_style('{"first_name": 1, "age": 2}') == ("snake", "first_name")
    assert output_key_style('```json\n{"firstName": 1}\n```')[0] == "camel"
    assert output_key_style('[{"first_name": 1, "lastName": 2}]')[0] == "mixed"
    assert output_key_style('{"name": 1}') == (None, None)
    assert output_key_style("plain text answer") == (None, None)
    assert output_key_style("{not json") == (None, None)


def test_mixed_key_style_warns_on_the_minority_and_on_mixed_outputs(tmp_path):
    def ex(i, answer):
        return {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": answer}]}

    lines = [ex(1, '{"first_name": "a"}'), ex(2, '{"lastName": "b"}'), ex(3, '{"first_name": "c"}'),
             ex(4, '{"first_name": "c", "zipCode": 1}'), ex(5, "no json")]
    report = validate_file(write_lines(tmp_path / "k.jsonl", lines))
    assert found(report) == {(2, "mixed_key_style"), (4, "mixed_key_style")}
    assert report.ok


def test_consistent_key_style_has_no_warning(tmp_path):
    lines = [{"messages": [{"role": "user", "content": f"q{i}"},
                           {"role": "assistant", "content": json.dumps({"full_name": i})}]} for i in range(5)]
    assert validate_file(write_lines(tmp_path / "k.jsonl", lines)).warnings == []


def test_approximate_token_count_is_named(tmp_path):
    report = validate_file(write_lines(tmp_path / "t.jsonl", [good(1)]), max_tokens=3)
    assert found(report) == {(1, "too_long")}
    assert report.token_counter.startswith("approx")


def test_stored_problems_are_capped_but_counts_complete(tmp_path, monkeypatch):
    import harness.data.validate as V

    monkeypatch.setattr(V, "MAX_STORED_ISSUES", 5)
    report = validate_file(write_lines(tmp_path / "many.jsonl", ["[1]"] * 12))
    assert report.counts["not_object"] == 12 and len(report.errors) == 5 and report.truncated
    assert report.error_count == 12


def test_too_long_with_a_real_tokenizer_uses_the_chat_template(tmp_path, chat_tokenizer_dir):
    example = good(1)
    # <|im_start|> user \n question number 1 <|im_end|> \n ... : 2 markers + role + content per message
    n_tokens = (3 + 3) + (3 + 2)
    path = write_lines(tmp_path / "t.jsonl", [example])
    assert validate_file(path, tokenizer=str(chat_tokenizer_dir), max_tokens=n_tokens).ok
    report = validate_file(path, tokenizer=str(chat_tokenizer_dir), max_tokens=n_tokens - 1)
    assert found(report) == {(1, "too_long")}
    assert f"{n_tokens} tokens" in report.errors[0].message and str(chat_tokenizer_dir) in report.token_counter


def test_tokenizer_without_chat_template_counts_contents(tmp_path, chat_tokenizer_dir):
    from harness.data.tokens import HFCounter

    counter = HFCounter(str(chat_tokenizer_dir))
    counter.tokenizer.chat_template = None
    assert counter.count_messages(good(1)["messages"]) == 3 + 2


def test_the_file_is_streamed_not_loaded(tmp_path):
    """Validating a 6 MB file allocates far less than the file: lines are read one at a time."""
    import tracemalloc

    path = tmp_path / "big.jsonl"
    with open(path, "w") as handle:
        for i in range(200):
            handle.write(json.dumps(good(i, metadata={"pad": "z" * 30_000})) + "\n")
    assert path.stat().st_size > 6_000_000
    tracemalloc.start()
    try:
        report = validate_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok and report.examples == 200
    assert peak < 1_500_000, peak


def test_write_valid_refuses_a_hard_link_to_its_input(tmp_path: Path) -> None:
    from harness.data.validate import write_valid
    from harness.errors import HarnessError

    source = tmp_path / "data.jsonl"
    source.write_text(json.dumps({"messages": [{"role": "user", "content": "q"},
                                               {"role": "assistant", "content": "a"}]}) + "\n{broken\n")
    link = tmp_path / "hard.jsonl"
    link.hardlink_to(source)
    report = validate_file(source)
    with pytest.raises(HarnessError, match="would overwrite the input") as info:
        write_valid(source, report, link)
    assert info.value.exit_code == 2
    assert source.read_text().endswith("{broken\n")  # the input keeps its broken line
    assert write_valid(source, report, tmp_path / "clean.jsonl") == 1
