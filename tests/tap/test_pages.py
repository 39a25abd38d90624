"""Page bodies: int64 inlining, plain pages, and values kept encoded up to the output."""

from __future__ import annotations

import io
import json
import random
from contextlib import redirect_stdout
from datetime import datetime, timezone
from typing import Any

import msgspec
from singer_sdk import singerlib as singer

from convex_emulator.formats import ENCODED, dumps, to_wire
from tap_convex.convert import RecordConverter
from tap_convex.output import CheckpointFlushingWriter
from tap_convex.pages import PageValues, deltas_page, prepare_page, snapshot_page


def encoded_page(documents: list[dict[str, Any]]) -> bytes:
    """A ``list_snapshot`` body as the server writes it, in ``convex_encoded_json``."""
    values = [
        {"_component": "", "_table": "t", "_ts": 7, "_id": f"id{i}", **to_wire(doc, ENCODED)}
        for i, doc in enumerate(documents)
    ]
    return dumps({"values": values, "hasMore": False}).encode()


def test_inlined_int64_parse_exactly_and_leave_a_plain_page() -> None:
    extremes = [-(2**63), 2**63 - 1, 0, -1, 2**53 + 1]
    body, plain = prepare_page(encoded_page([{"n": extremes, "m": {"k": 2**62 + 3}}]))
    assert plain is True
    (value,) = msgspec.json.decode(body)["values"]
    assert value["n"] == extremes
    assert value["m"] == {"k": 2**62 + 3}
    assert b"$integer" not in body


def test_inlining_leaves_look_alikes_in_strings_and_other_encodings_to_the_decoder() -> None:
    look_alike = '{"$integer":"AAAAAAAAAAA="}'
    body, plain = prepare_page(encoded_page([{"s": look_alike, "b": b"\x00", "i": 5}]))
    assert plain is False  # $bytes (and the escaped quote in the string) still need a walk
    (value,) = msgspec.json.decode(body)["values"]
    assert value["s"] == look_alike
    assert value["i"] == 5
    assert value["b"] == {"$bytes": "AA=="}


def test_inlined_pages_convert_to_the_same_records_as_walked_ones() -> None:
    rng = random.Random(20261122)
    kinds = [
        lambda: rng.randrange(-(2**63), 2**63),
        lambda: rng.choice([rng.random() * 1e6, -0.0, float("nan"), float("-inf")]),
        lambda: rng.choice(["", "é✓", '"$integer"', '{"$integer":"AAAAAAAAAAA="}']),
        lambda: rng.randbytes(rng.randrange(6)),
        lambda: [rng.randrange(-(2**63), 2**63) for _ in range(rng.randrange(3))],
        lambda: {"n": rng.randrange(2**63), "deep": [{"m": rng.randrange(-5, 5)}]},
        lambda: {"_id": "nested", "_ts": rng.randrange(9)},  # system-like keys, nested
        lambda: rng.choice(['"_id":', '"_x":1']),
        lambda: None,
    ]
    converter = RecordConverter(frozenset({"f"}), [])
    for _ in range(300):
        # "_extra" stands for a system field the tap does not know: it is dropped.
        names = ["a", "b", "c", "f", "_extra"] if rng.random() < 0.2 else ["a", "b", "c", "f"]
        documents = [
            {name: rng.choice(kinds)() for name in rng.sample(names, 3)}
            for _ in range(rng.randrange(1, 5))
        ]
        if rng.random() < 0.5:  # pages of int64 and plain values are converted in place
            documents = [{"a": rng.randrange(2**63), "b": [rng.randrange(9)]}]
        body = encoded_page(documents)
        walked = [converter.document(v, False) for v in msgspec.json.decode(body)["values"]]
        inlined, plain = prepare_page(body)
        fast = [
            converter.document(v, False, plain=plain)
            for v in msgspec.json.decode(inlined)["values"]
        ]
        assert json.dumps(fast, sort_keys=True) == json.dumps(walked, sort_keys=True)
        assert not any("_extra" in record for record in fast)


def test_only_the_wire_system_keys_keep_a_page_plain() -> None:
    assert prepare_page(encoded_page([{"a": 1, "nested": {"_id": "x", "_ts": 2}}]))[1] is True
    assert prepare_page(encoded_page([{"a": 1, "_extra": 2}]))[1] is False
    assert prepare_page(encoded_page([{"a": {"_tsx": 1}}]))[1] is False
    assert prepare_page(encoded_page([{"a": 1.5, "b": float("nan")}]))[1] is False  # $float


# ---- values kept encoded ---------------------------------------------------------------------


def wire_page(values: list[dict[str, Any]], deltas: bool = False) -> bytes:
    """A page body as the server writes it, values given with their system keys."""
    encoded = [{key: to_wire(item, ENCODED) for key, item in v.items()} for v in values]
    position = {"cursor": 9} if deltas else {"snapshot": 9, "cursor": None}
    return dumps({"values": encoded, **position, "hasMore": False}).encode()


def page_values(body: bytes, deltas: bool, keep_encoded: bool = False) -> PageValues:
    """A body decoded as ``document_deltas`` (``deltas``) or ``list_snapshot`` decodes it."""
    if deltas:
        return deltas_page(body, keep_encoded=keep_encoded).values
    return snapshot_page(body, keep_encoded=keep_encoded).values


def random_value(rng: random.Random, number: int, deltas: bool) -> dict[str, Any]:
    kinds = [
        lambda: rng.randrange(-(2**63), 2**63),
        lambda: rng.choice([rng.random() * 1e6, -0.0, 3.0, 1e-300]),
        lambda: rng.choice(["", "é✓", "line\nbreak", '"quoted"', "back\\slash\\"]),
        lambda: [rng.randrange(-5, 5), "x", None, True],
        lambda: {"n": rng.randrange(2**63), "deep": [{"m": 1.5}], "_id": "nested"},
        lambda: None,
    ]
    value: dict[str, Any] = {"_component": rng.choice(["", "waitlist"]), "_table": "t"}
    value["_ts"] = rng.randrange(1, 2**62)
    if deltas:
        value["_deleted"] = rng.random() < 0.2
    value["_id"] = f"id{number}"
    if not value.get("_deleted"):
        if rng.random() < 0.9:
            fixed = rng.choice([1755799990123.456, 1.0, -86400000.25, 0.0005])
            value["_creationTime"] = rng.choice([fixed, rng.uniform(-1e12, 4e12)])
        for name in rng.sample(["a", "b", "c", "d"], rng.randrange(5)):
            value[name] = rng.choice(kinds)()
    return value


def records_both_ways(body: bytes, deltas: bool) -> tuple[list[bytes], list[bytes]] | None:
    """Records from values kept encoded, and from decoded values (None if not kept)."""
    converter = RecordConverter(frozenset(), ["_id", "_creationTime", "a", "b", "c", "d"])
    kept = page_values(body, deltas, keep_encoded=True)
    if kept.documents is None:
        return None
    decoded = page_values(body, deltas)
    assert decoded.documents is None
    from_encoded = [converter.encoded(head, document) for head, document in kept.documents]
    from_decoded = [
        msgspec.json.encode(converter.document(v, v.get("_deleted") is True, decoded.plain))
        for v in decoded.values
    ]
    return from_encoded, from_decoded


def test_encoded_values_give_the_same_record_bytes_as_decoded_ones() -> None:
    rng = random.Random(20261122)
    kept_pages = 0
    for round_number in range(300):
        deltas = round_number % 2 == 1
        values = [random_value(rng, n, deltas) for n in range(rng.randrange(1, 6))]
        both = records_both_ways(wire_page(values, deltas), deltas)
        if both is not None:
            kept_pages += 1
            assert both[0] == both[1]
    assert kept_pages > 150  # most random pages are plain; the rest are covered below


def test_pages_not_shown_exact_keep_the_decoded_path() -> None:
    live = {"_component": "", "_table": "t", "_ts": 5, "_id": "a", "_creationTime": 1.5}
    nested_creation = {**live, "o": {"_creationTime": 2.5}}
    textual_creation = {**live, "_creationTime": "1.5"}
    deleted_in_snapshot = {**live, "_deleted": False}
    overflowing = {**live, "_creationTime": 1e300}
    with_bytes = {**live, "b": b"\x01"}
    for value in [nested_creation, textual_creation, overflowing, with_bytes]:
        for deltas in (False, True):
            page = page_values(wire_page([live, value], deltas), deltas, keep_encoded=True)
            assert page.documents is None
            assert len(page.values) == 2
    assert page_values(wire_page([live, deleted_in_snapshot]), False, True).documents is None
    assert page_values(wire_page([live, deleted_in_snapshot], True), True, True).documents
    assert page_values(wire_page([live]), False).documents is None  # only when asked


def test_a_kept_page_rewrites_only_creation_time_keys_never_text() -> None:
    value = {"_component": "", "_table": "t", "_ts": 5, "_id": "a", "_creationTime": 1.5}
    value["text"] = 'a "_creationTime":7'  # a quote before "_" in text: not plain
    assert page_values(wire_page([value]), False, keep_encoded=True).documents is None
    value["text"] = 'a_creationTime":7'
    page = page_values(wire_page([value]), False, keep_encoded=True)
    assert page.documents is not None
    ((head, document),) = page.documents
    assert head.creation_time == "1970-01-01T00:00:00.001500+00:00"
    assert msgspec.json.decode(document)["text"] == 'a_creationTime":7'


def test_encoded_records_are_written_as_the_sdk_would_write_them() -> None:
    record = {"_id": "a", "n": 2**63 - 1, "s": "é\n", "_sdc_deleted_at": None}
    extracted = datetime(2026, 11, 22, 4, 5, 6, 789, tzinfo=timezone.utc)
    for version in (None, 1795321660289833586):
        raw = io.BytesIO()
        with redirect_stdout(io.TextIOWrapper(raw, write_through=True)):
            writer = CheckpointFlushingWriter()
            writer.write_records("my_stream", [msgspec.json.encode(record)] * 2, version, extracted)
            writer.write_records("my_stream", [record], version, extracted)
            writer.flush()
            written = raw.getvalue()
        message = singer.RecordMessage(
            stream="my_stream", record=record, version=version, time_extracted=extracted
        )
        expected = writer.format_message(message)
        assert written == expected * 3
        assert json.loads(written.splitlines()[0])["record"] == record
