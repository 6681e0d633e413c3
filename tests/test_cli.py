"""The command line shows what the chat and /embed show: the verdict with what it read, and what a partly
covered question leaves uncovered (a real process, the real model)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT
from tests.procs import child_env

pytestmark = pytest.mark.process


def test_chat_shows_reasons_and_not_covered(tmp_path: Path) -> None:
    questions = "\n".join(
        [
            "ALT 6x ULN before C2D8, proceed?",
            "What are the risk factors for SOS, and should we give ursodiol?",
            "",
            "",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "chat"],
        cwd=PROJECT_ROOT,
        env=child_env(data_dir=tmp_path / "data"),
        input=questions,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "Interrupt / hold [rule liver_abnormal]" in out
    assert "- Why: 'alt 6 x uln' read as ALT above the upper limit of normal: 6 x ULN, CTCAE grade 3" in out
    assert "Risk factors include: Receiving hematopoietic stem cell transplantation." in out
    assert "Not covered by the monograph: The monograph does not mention ursodiol." in out
