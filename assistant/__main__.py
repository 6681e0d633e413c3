"""Command line: ``python -m assistant ask|chat|index|audit``.

Output is for people (``--json`` for programs). Errors print one clear line and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from .errors import AssistantError
from .models import Answer
from .settings import Settings, apply_library_defaults, describe, load_settings


def _print_answer(answer: Answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.model_dump(), indent=2, ensure_ascii=False))
        return
    print(answer.text)
    written = f" · summary written by model {answer.generated.model}" if answer.generated else ""
    print(f"\n[monograph version {answer.corpus_version[:12]}{written} · answer {answer.id}]")


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant import Assistant

    bot = Assistant.from_settings(settings)
    _print_answer(bot.ask(args.question, channel="cli"), args.json)
    return 0


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """A terminal chat that keeps the conversation for follow-up questions."""
    from .assistant import Assistant
    from .errors import InvalidQuestion

    bot = Assistant.from_settings(settings, progress=True)
    print("Besponsa precautions assistant. Supports, and does not replace, clinical judgement.")
    print("Ask a question (empty line or Ctrl-D to quit).")
    history: list[dict[str, str]] = []
    while True:
        try:
            question = input("\n> ")
        except EOFError:
            return 0
        if not question.strip():
            return 0
        try:
            answer = bot.ask(question, history=history, channel="cli")
        except InvalidQuestion as exc:
            print(exc)
            continue
        print(answer.text)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


def _cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from .corpus import load_corpus
    from .embedding import load_embeddings
    from .index import VectorIndex

    corpus = load_corpus(settings.corpus_dir)
    index = VectorIndex.open(
        settings, corpus, load_embeddings(settings), progress=True, rebuild=not args.if_needed
    )
    state = "built" if index.rebuilt else "reused (corpus and model unchanged)"
    print(f"index {state}: {len(corpus.passages)} passages, corpus version {corpus.version[:12]}")
    return 0


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from .audit import AuditStore

    if not args.csv:
        raise ValueError("give --csv FILE to export, or 'audit show ANSWER_ID' to replay one answer")
    since = datetime.fromisoformat(args.since) if args.since else None
    store = AuditStore.from_settings(settings)
    count = store.export_csv(Path(args.csv), since=since, table=args.table, user=args.user)
    print(f"wrote {count} {args.table} rows to {args.csv}")
    return 0


def _cmd_audit_show(args: argparse.Namespace, settings: Settings) -> int:
    """The answer as it was shown, what was withheld for privacy, and whether its hash matches.

    Exit 0 when the hash matches or cannot be recomputed (parts withheld), 1 when it does not match."""
    from .audit import AuditStore, UnknownAnswer

    try:
        replay = AuditStore.from_settings(settings).replay(args.answer_id)
    except UnknownAnswer as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    row = replay.row
    writer = f"language model {row['model']}" if row["generator"] == "llm" else row["generator"]
    rules = json.loads(str(row["rules"])) if row["rules"] else None
    order = (
        ", ".join(f"{i} ({a}, {r})" for i, a, r in rules) or "none" if rules is not None else row["rule_ids"]
    )
    print(f"answer {row['answer_id']} · {row['time']} · channel {row['channel']}")
    print(f"asked by: {row['user'] or 'not known'}")
    print(
        f"corpus version: {row['corpus_version']} · rules version: {row['rules_version'] or 'not recorded'}"
    )
    print(f"text written by: {writer or 'not recorded'}")
    print(f"rules, in display order: {order}")
    print(f"quote offsets: {row['quotes']}")
    print()
    if replay.text is None:
        print(
            "(this row was recorded before the audit kept the shown text: only the rules and offsets above)"
        )
        return 0
    print(replay.text)
    print()
    if replay.withheld:
        print("withheld for privacy (ASSISTANT_STORE_QUESTION_TEXT is off): " + "; ".join(replay.withheld))
        if row["generated_sha256"]:
            print(f"SHA-256 of the language model's text: {row['generated_sha256']}")
        print(f"SHA-256 of the shown text: {row['shown_sha256']} (not recomputable: parts withheld)")
        return 0
    if replay.hash_matches:
        print(f"SHA-256 of the shown text: {row['shown_sha256']} (matches)")
        return 0
    print(f"SHA-256 of the shown text: {row['shown_sha256']} DOES NOT MATCH the stored text")
    return 1


def _cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    """The effective settings and where each came from; secrets masked."""
    import os

    rows = describe(settings, dict(os.environ))
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        print(f"{name:<{width}}  {value or '(unset)'}  [{source}]")
    return 0


def main(argv: list[str] | None = None) -> int:
    apply_library_defaults()
    parser = argparse.ArgumentParser(prog="python -m assistant", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(run=_cmd_ask)
    chat = commands.add_parser("chat", help="interactive chat in the terminal")
    chat.set_defaults(run=_cmd_chat)
    index = commands.add_parser("index", help="rebuild the index from the corpus")
    index.add_argument("--if-needed", action="store_true", help="reuse the index when it is current")
    index.set_defaults(run=_cmd_index)
    audit = commands.add_parser("audit", help="export the audit trail as CSV, or replay one answer")
    audit.add_argument("--since", help="ISO date or time, UTC (e.g. 2026-11-01)")
    audit.add_argument("--csv", help="file to write")
    audit.add_argument("--table", choices=["answers", "feedback"], default="answers")
    audit.add_argument("--user", help="only the rows of this user (from the sign-on header)")
    audit.set_defaults(run=_cmd_audit)
    replay = audit.add_subparsers(dest="audit_command").add_parser(
        "show", help="print an answer as it was shown and check its hash"
    )
    replay.add_argument("answer_id")
    replay.set_defaults(run=_cmd_audit_show)
    shown = commands.add_parser("settings", help="print the effective settings (secrets masked)")
    shown.set_defaults(run=_cmd_settings)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args, load_settings()))
    except (AssistantError, ValueError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
