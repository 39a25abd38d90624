"""The one place that touches private singer-sdk names.

The SDK's `Target` and `BatchSink` keep hooks this target needs private (message
handlers, the drain loop, STATE output, the per-record metadata and validation steps), and
their bookkeeping in private attributes. Every such use is here, under a public name that
says what it is for, so that an SDK release that renames one breaks this module only. A
public alias of a private hook does what the SDK does unless a subclass overrides it
(calling `super()` to keep the SDK's part).

Checked against singer-sdk 0.54.9, the version `pyproject.toml` pins.
"""

from __future__ import annotations

import time
import typing as t

from singer_sdk import Target
from singer_sdk.sinks import BatchSink

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.sinks import Sink
    from singer_sdk.sinks.core import BaseJSONSchemaValidator


class TargetAdapter(Target):
    """`Target` with its private message handlers, drain loop and sink registry made public.

    The SDK calls the private names; each forwards to its public alias below.
    """

    # Drain timing: the SDK drains every sink (then writes STATE) once the last full drain
    # is older than a private class constant; nothing public sets it or checks it cheaply.

    drain_due_at: float = 0.0
    """When (`time.time()`) a full drain is due; the fast record path compares it inline."""

    def set_drain_interval(self, seconds: float) -> None:
        """Drain every sink, and then write STATE, at least every `seconds`."""
        self._MAX_RECORD_AGE_IN_MINUTES = seconds / 60
        self.drain_due_at = self._last_full_drain_at + seconds

    def _reset_max_record_age(self) -> None:
        """The SDK notes a full drain's time here: the next one is due an interval later."""
        super()._reset_max_record_age()
        self.drain_due_at = self._last_full_drain_at + self._MAX_RECORD_AGE_IN_MINUTES * 60

    def drain_if_due(self) -> None:
        """Drain every sink if the interval has passed since the last full drain.

        The time check is done here first: it costs less than the SDK's property chain.
        """
        if time.time() > self.drain_due_at:
            self._handle_max_record_age()

    # Sink registry: the SDK offers no public view of its sinks.

    @property
    def active_sinks(self) -> dict[str, Sink]:
        """The current sink of each stream (the SDK's own dict: do not modify it)."""
        return self._sinks_active

    @property
    def replaced_sinks(self) -> list[Sink]:
        """Sinks replaced by a new SCHEMA and not drained yet, oldest first."""
        return self._sinks_to_clear

    # Message handlers: the SDK dispatches each message type to a private method.

    def _process_schema_message(self, message_dict: dict[str, t.Any]) -> None:
        self.process_schema_message(message_dict)

    def process_schema_message(self, message_dict: dict[str, t.Any]) -> None:
        """Handle a SCHEMA message (the SDK registers the stream and its sink)."""
        super()._process_schema_message(message_dict)

    def _process_state_message(self, message_dict: dict[str, t.Any]) -> None:
        self.process_state_message(message_dict)

    def process_state_message(self, message_dict: dict[str, t.Any]) -> None:
        """Handle a STATE message (the SDK keeps it for the next drain)."""
        super()._process_state_message(message_dict)

    def _process_activate_version_message(self, message_dict: dict[str, t.Any]) -> None:
        self.process_activate_version_message(message_dict)

    def process_activate_version_message(self, message_dict: dict[str, t.Any]) -> None:
        """Handle an ACTIVATE_VERSION message (the SDK passes it to the stream's sinks)."""
        super()._process_activate_version_message(message_dict)

    def _process_batch_message(self, message_dict: dict[str, t.Any]) -> None:
        self.process_batch_message(message_dict)

    def process_batch_message(self, message_dict: dict[str, t.Any]) -> None:
        """Handle a BATCH message (the SDK hands its files to the stream's sinks)."""
        super()._process_batch_message(message_dict)

    # Draining and STATE: `drain_all` is final and calls these two private steps.

    def _drain_all(self, sink_list: Iterable[Sink], parallelism: int) -> None:
        self.drain_sinks(list(sink_list), parallelism)

    def drain_sinks(self, sinks: list[Sink], parallelism: int) -> None:
        """Commit the batches of `sinks`; `drain_all` writes STATE right after."""
        super()._drain_all(sinks, parallelism)

    def _write_state_message(self, state: dict[str, t.Any]) -> None:
        self.write_state_message(state)

    def write_state_message(self, state: dict[str, t.Any]) -> None:
        """Write STATE to standard output."""
        super()._write_state_message(state)


class SinkAdapter(BatchSink):
    """`BatchSink` with its private per-record steps and batch bookkeeping made public.

    The SDK's record path calls the private names; each forwards to its public alias.
    """

    # Per-record steps, in the order the SDK runs them for a RECORD message.

    def _add_sdc_metadata_to_schema(self) -> None:
        self.add_sdc_metadata_to_schema()

    def add_sdc_metadata_to_schema(self) -> None:
        """Add the `_sdc_*` properties to the schema (run once, by the SDK's constructor)."""
        super()._add_sdc_metadata_to_schema()

    def _add_sdc_metadata_to_record(
        self, record: dict[str, t.Any], message: dict[str, t.Any], context: dict[str, t.Any]
    ) -> None:
        self.add_sdc_metadata_to_record(record, message, context)

    def add_sdc_metadata_to_record(
        self, record: dict[str, t.Any], message: dict[str, t.Any], context: dict[str, t.Any]
    ) -> None:
        """Fill the record's `_sdc_*` properties; the only step that sees the message."""
        super()._add_sdc_metadata_to_record(record, message, context)

    def _validate_and_parse(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        return self.validate_and_parse(record)

    def validate_and_parse(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """Validate the record against its JSON schema, then parse its date-times."""
        return super()._validate_and_parse(record)

    def _singer_validate_message(self, record: dict[str, t.Any]) -> None:
        self.singer_validate_message(record)

    def singer_validate_message(self, record: dict[str, t.Any]) -> None:
        """Check that the record carries every key property."""
        super()._singer_validate_message(record)

    # Bookkeeping the SDK keeps in private attributes.

    @property
    def record_validator(self) -> BaseJSONSchemaValidator | None:
        """The JSON-schema validator, or None when `validate_schema` is off."""
        return self._validator

    @property
    def pending_batch(self) -> dict[str, t.Any] | None:
        """The context of the batch being filled, or None before its first record."""
        return self._pending_batch

    def batch_context(self) -> dict[str, t.Any]:
        """The context of the batch being filled, started (`start_batch`) if need be."""
        return self._get_context({})
