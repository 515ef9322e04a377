"""events.Kept: forwards every event and keeps the lines a cutover step journals."""

from __future__ import annotations

from vendzz_migrate import events


def test_kept_forwards_everything_and_keeps_notes_and_warnings_up_to_its_limit() -> None:
    seen = events.Collector()
    kept = events.Kept(seen, ("note", "warning"), limit=2)
    assert kept.lines() == {}
    events.debug(kept, "d")
    events.note(kept, "n1")
    events.warning(kept, "w1")
    events.note(kept, "n2")
    assert [e.message for e in seen.events] == ["d", "n1", "w1", "n2"]
    assert kept.lines() == {"said": ["note: n1", "warning: w1"], "said_dropped": 1}
