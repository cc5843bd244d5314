"""CareDesk command line: no sub-command starts the app; others train, import, bench and audit."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.config import Settings

cli = typer.Typer(add_completion=False, no_args_is_help=False, help=__doc__)
bench_cli = typer.Typer(help="Benchmarks: progress on stderr, one JSON object as the last stdout line with --json.")
train_cli = typer.Typer(help="Train the app's models and make them active.")
cli.add_typer(bench_cli, name="bench")
cli.add_typer(train_cli, name="train")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last stdout line.")]


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")


@cli.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """Start the CareDesk dashboard on http://127.0.0.1:8080 (demo data on first start)."""
    if ctx.invoked_subcommand is None:
        from ui.app import run_app

        run_app(Settings.load())


@bench_cli.command("intent")
def bench_intent(
    train: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    test: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    oos_label: Annotated[str | None, typer.Option("--oos-label")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Train the intent model from scratch on TRAIN and evaluate it on TEST."""
    from engine.bench.intent import run

    _setup_logging()
    _emit(run(train=train, test=test, oos_label=oos_label), as_json)


@bench_cli.command("sentiment")
def bench_sentiment(
    train: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    test: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Train the sentiment scorer on TRAIN and evaluate it on TEST."""
    from engine.bench.sentiment import run

    _setup_logging()
    _emit(run(train=train, test=test), as_json)


@bench_cli.command("retrieval")
def bench_retrieval(
    docs: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    queries: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Index DOCS with the product's pipeline and score QUERIES against their gold ids."""
    from engine.bench.retrieval import run

    _setup_logging()
    _emit(run(docs=docs, queries=queries), as_json)


@bench_cli.command("ann")
def bench_ann(n: Annotated[int, typer.Option("--n")] = 200_000, as_json: JsonFlag = False) -> None:
    """Similar-ticket search at scale on vectors of real texts."""
    from engine.bench.ann import run

    _setup_logging()
    _emit(run(n=n), as_json)


@bench_cli.command("draft")
def bench_draft(n: Annotated[int, typer.Option("--n")] = 20, as_json: JsonFlag = False) -> None:
    """Draft N demo tickets against the demo knowledge base."""
    from engine.bench.draft import run

    _setup_logging()
    _emit(run(n=n), as_json)


@bench_cli.command("redaction")
def bench_redaction(as_json: JsonFlag = False) -> None:
    """Recall and precision of PII redaction per type on a labelled set built from demo tickets."""
    from engine.bench.redaction import run

    _setup_logging()
    _emit(run(), as_json)


if __name__ in {"__main__", "__mp_main__"}:
    if "pytest" in sys.modules:  # NiceGUI's test plugin runs this file for every UI test
        from ui.app import run_app

        run_app(Settings.load())
    else:
        cli()
