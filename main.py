"""CareDesk command line: no sub-command starts the app; others train, import, bench and audit."""

from __future__ import annotations

import importlib
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
import_cli = typer.Typer(help="Import history into the queue.")
audit_cli = typer.Typer(help="The tamper-evident audit log.")
cli.add_typer(bench_cli, name="bench")
cli.add_typer(train_cli, name="train")
cli.add_typer(import_cli, name="import")
cli.add_typer(audit_cli, name="audit")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last stdout line.")]


def _setup_logging() -> None:
    from engine.privacy.log_redaction import install_log_redaction

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()


def _bench(name: str, as_json: bool, **options: Any) -> None:
    """Run engine.bench.<name>.run(**options) with logging on stderr and print its result."""
    module = importlib.import_module(f"engine.bench.{name}")
    _setup_logging()
    _emit(module.run(**options), as_json)


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
    _bench("intent", as_json, train=train, test=test, oos_label=oos_label)


@bench_cli.command("sentiment")
def bench_sentiment(
    train: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    test: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Train the sentiment scorer on TRAIN and evaluate it on TEST."""
    _bench("sentiment", as_json, train=train, test=test)


@bench_cli.command("retrieval")
def bench_retrieval(
    docs: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    queries: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Index DOCS with the product's pipeline and score QUERIES against their gold ids."""
    _bench("retrieval", as_json, docs=docs, queries=queries)


@bench_cli.command("ann")
def bench_ann(n: Annotated[int, typer.Option("--n")] = 200_000, as_json: JsonFlag = False) -> None:
    """Similar-ticket search at scale on vectors of real texts."""
    _bench("ann", as_json, n=n)


@bench_cli.command("draft")
def bench_draft(n: Annotated[int, typer.Option("--n")] = 20, as_json: JsonFlag = False) -> None:
    """Draft N demo tickets against the demo knowledge base."""
    _bench("draft", as_json, n=n)


@bench_cli.command("drafts")
def bench_drafts(
    history: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="text,reply[,intent] CSV")],
    tickets: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="text[,intent,reply] CSV")],
    kb: Annotated[Path | None, typer.Option("--kb", exists=True, file_okay=False, help="folder of articles")] = None,
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="one JSON line per ticket")] = None,
    no_model: Annotated[bool, typer.Option("--no-model", help="draft without the local Llama model")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Drafts from a team's history, scored against the replies agents really sent."""
    from engine.bench.drafts import BenchInputError

    try:
        _bench("drafts", as_json, history=history, tickets=tickets, kb=kb, out=out, no_model=no_model)
    except BenchInputError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from exc


@bench_cli.command("redaction")
def bench_redaction(
    generator: Annotated[str, typer.Option(help="synthetic (demo tickets) or faker (Faker values, 10 locales)")] = (
        "synthetic"
    ),
    seed: Annotated[int, typer.Option(help="faker: 2 is the held-out seed, 3 the fresh one, 1 the one tuned on")] = 2,
    templates: Annotated[
        str, typer.Option(help="faker: heldout, fresh (a second held-out set) or dev (the templates tuned on)")
    ] = "heldout",
    per_kind: Annotated[int, typer.Option(help="faker: values per kind")] = 400,
    as_json: JsonFlag = False,
) -> None:
    """Recall and precision of PII redaction per type: on demo tickets, or on Faker values in support sentences."""
    if generator == "faker":
        from engine.bench.redaction_faker import TEMPLATES

        if templates not in TEMPLATES:
            raise typer.BadParameter(
                f"unknown template set {templates!r}: {', '.join(TEMPLATES)}", param_hint="--templates"
            )
        _bench("redaction_faker", as_json, seed=seed, templates=templates, per_kind=per_kind)
    elif generator == "synthetic":
        _bench("redaction", as_json)
    else:
        raise typer.BadParameter(f"unknown generator {generator!r}: synthetic or faker", param_hint="--generator")


@bench_cli.command("day")
def bench_day(
    tickets: Annotated[int, typer.Option("--tickets")] = 200,
    flaky_channel: Annotated[float, typer.Option("--flaky-channel", min=0.0, max=0.95)] = 0.0,
    as_json: JsonFlag = False,
) -> None:
    """A support day on real local servers: replies delivered once, answers threaded back, surveys, live KPIs."""
    _bench("day", as_json, tickets=tickets, flaky_channel=flaky_channel)


@bench_cli.command("faults")
def bench_faults(
    runs: Annotated[int, typer.Option("--runs", min=0)] = 5,
    messages: Annotated[int, typer.Option("--messages", min=10)] = 5000,
    as_json: JsonFlag = False,
) -> None:
    """Kill -9 the desk at random moments under load, with a flaky store, a corrupt index, a full disk and poison."""
    _bench("faults", as_json, runs=runs, messages=messages)


@train_cli.command("intent")
def train_intent_command(
    csv: Annotated[Path | None, typer.Option("--csv", exists=True, dir_okay=False, help="text,label CSV")] = None,
) -> None:
    """Retrain the app's intent model from the database (or a CSV) and make it the active version."""
    from engine.app import build_engine
    from engine.components import load_embedder
    from engine.nlp.intent import IntentModelRegistry
    from engine.nlp.labeled_csv import LabeledDataError
    from engine.worker import train_intent

    _setup_logging()
    settings = Settings.load()
    engine = build_engine(settings)
    embedder = load_embedder(settings)
    registry = IntentModelRegistry(settings.models_dir / "intent")
    with typer.progressbar(length=100, label="Training the intent model", file=sys.stderr) as bar:
        shown = [0]

        def show(fraction: float, message: str) -> None:
            bar.update(int(fraction * 100) - shown[0])
            shown[0] = int(fraction * 100)

        try:
            _, version = train_intent(engine.settings, engine.db, embedder, registry, csv=csv, progress=show)
        except LabeledDataError as exc:
            typer.echo(f"Error: {exc}. The active model was not changed.", err=True)
            raise typer.Exit(2) from exc
    typer.echo(f"Trained and activated intent model {version}")


@cli.command("replay")
def replay_command(
    tickets: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    train: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    auto_intents: Annotated[str, typer.Option("--auto-intents")] = "all",
    as_json: JsonFlag = False,
) -> None:
    """Train on TRAIN, push every ticket of TICKETS through ingest, triage and routing (actions in dry run)."""
    _bench("replay", as_json, tickets=tickets, train=train, auto_intents=auto_intents)


@bench_cli.command("learning")
def bench_learning(
    train: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    test: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Start from 10 % of TRAIN, replay the rest with simulated agent corrections, retrain every 500."""
    _bench("learning", as_json, train=train, test=test)


@bench_cli.command("kpi")
def bench_kpi(tickets: Annotated[int, typer.Option("--tickets")] = 100_000, as_json: JsonFlag = False) -> None:
    """Time every dashboard query on a temporary database of N tickets."""
    _bench("kpi", as_json, tickets=tickets)


@bench_cli.command("dashboard")
def bench_dashboard(tickets: Annotated[int, typer.Option("--tickets")] = 100_000, as_json: JsonFlag = False) -> None:
    """Time the dashboard page in headless Chromium, from navigation to every chart drawn, on N tickets."""
    _bench("dashboard", as_json, tickets=tickets)


@bench_cli.command("ingest")
def bench_ingest(tickets: Annotated[int, typer.Option("--tickets")] = 20_000, as_json: JsonFlag = False) -> None:
    """Push N messages (each twice) through the webhook API on loopback and wait for triage."""
    _bench("ingest", as_json, tickets=tickets)


@import_cli.command("tickets")
def import_tickets_command(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Import past tickets from .csv, .jsonl or .mbox; resumable, deduplicated on external id."""
    from engine.app import build_engine
    from engine.ingest.bulk_import import import_tickets
    from engine.ingest.dead_letter_store import IngestError

    _setup_logging()
    engine = build_engine(Settings.load(demo=False))
    with typer.progressbar(length=100, label=f"Importing {file.name}", file=sys.stderr) as bar:
        shown = [0]

        def progress(state) -> None:  # type: ignore[no-untyped-def]
            percent = int(100 * state.done / state.total) if state.total else 100
            bar.update(percent - shown[0])
            shown[0] = percent

        try:
            result = import_tickets(engine, file, progress=progress)
        except IngestError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(2) from exc
    typer.echo(f"{result.imported} imported, {result.duplicates} already there, {result.failed} dead-lettered")


@audit_cli.command("verify")
def audit_verify_command() -> None:
    """Check the hash chain; exit code 1 and the first broken row when it was tampered with."""
    from engine.commands import audit_verify

    ok, message = audit_verify(Settings.load())
    typer.echo(message)
    raise typer.Exit(0 if ok else 1)


@cli.command("erase")
def erase_command(customer: Annotated[int, typer.Option("--customer", help="Customer id")]) -> None:
    """Erase everything held about a customer (right to erasure); prints what was removed."""
    from engine.commands import erase

    try:
        typer.echo(erase(Settings.load(), customer))
    except LookupError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from exc


@cli.command("export")
def export_command(
    customer: Annotated[int, typer.Option("--customer", help="Customer id")],
    out: Annotated[Path | None, typer.Option("--out", help="JSON file to write")] = None,
) -> None:
    """Write everything held about a customer as JSON (right of access)."""
    from engine.commands import export

    try:
        typer.echo(export(Settings.load(), customer, out or Path(f"customer-{customer}.json")))
    except LookupError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from exc


@train_cli.command("rollback")
def train_rollback_command(
    version: Annotated[str | None, typer.Argument(help="e.g. v0003; default: the version active before")] = None,
) -> None:
    """Make an earlier intent model version active again (audited); lists the versions when it cannot."""
    from engine.admin import rollback_intent_model
    from engine.commands import cli_actor, open_engine
    from engine.feedback.rollback import RollbackError

    _setup_logging()
    engine = open_engine(Settings.load())
    try:
        target = rollback_intent_model(engine, version=version, actor=cli_actor())
    except RollbackError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"Intent model {target} is active. A running app picks it up at its next start.")


@cli.command("rotate-key")
def rotate_key_command() -> None:
    """Create a new encryption key and re-encrypt stored data with it (old keys kept for backups)."""
    from engine.commands import rotate_key

    typer.echo(rotate_key(Settings.load()))


# not under "__mp_main__": a spawned child process (the embedding process) imports this file under that name
if __name__ == "__main__":
    if "pytest" in sys.modules:  # NiceGUI's test plugin runs this file for every UI test
        from ui.app import run_app

        run_app(Settings.load())
    else:
        cli()
