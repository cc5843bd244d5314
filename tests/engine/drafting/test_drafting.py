"""Drafting: citation check, fallback, prompt layout, model loading errors, and a real draft from the bundled GGUF."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.drafting.citations import check_citations
from engine.drafting.drafter import DrafterUnavailable, FakeDrafter
from engine.drafting.grounding import attach_missing_citations
from engine.drafting.llama_drafter import LlamaDrafter
from engine.drafting.prompt import PREFIX, build_prompt
from engine.drafting.sources import Source
from engine.nlp.embedder import HashingEmbedder

RETURNS = (
    "Items can be returned within 30 days of delivery. The customer pays return shipping unless the item is "
    "damaged. Refunds go back to the original payment method."
)
PASSWORD = "Send the customer a password reset link to the email on file. The link expires after 24 hours."


def _sources() -> list[Source]:
    return [
        Source(n=1, chunk_id=11, document_key="kb/returns", title="Returns", heading="Policy", text=RETURNS, score=0.9),
        Source(n=2, chunk_id=12, document_key="kb/login", title="Login", heading="Reset", text=PASSWORD, score=0.4),
    ]


def test_citation_to_a_source_that_was_not_retrieved_is_flagged_and_removed() -> None:
    report = check_citations(
        "You can return items within 30 days of delivery [1]. Refunds are instant [7].", _sources()
    )
    assert report.invalid_citations == [7]
    assert "[7]" not in report.text
    assert report.citation_valid_rate == 0.5
    assert report.sentences[0].cited == [1] and report.sentences[0].supported


def test_sentence_its_source_does_not_back_is_marked_unsupported() -> None:
    report = check_citations(
        "Thank you for reaching out. You can return items within 30 days of delivery [1]. "
        "We will also send you a free laptop as a gift [1].",
        _sources(),
    )
    courtesy, backed, invented = report.sentences
    assert courtesy.courtesy and backed.supported and not invented.supported
    assert report.highlighted == [invented.sentence]
    assert report.supported_rate == 0.5


def test_invented_number_is_unsupported_even_when_the_words_match() -> None:
    report = check_citations("Items can be returned within 90 days of delivery [1].", _sources())
    assert not report.sentences[0].supported


def test_claim_citing_the_wrong_source_is_unsupported() -> None:
    report = check_citations("Items can be returned within 30 days of delivery [2].", _sources())
    assert not report.sentences[0].supported


def test_well_supported_sentence_without_marker_gets_its_source() -> None:
    body = attach_missing_citations("We will send a password reset link to the email on file.", _sources())
    assert body.endswith("[2].")


def test_fake_drafter_cites_source_one_and_streams_tokens() -> None:
    pieces: list[str] = []
    result = FakeDrafter().draft(
        customer_message="can I return my shoes?", sources=_sources(), customer_name="Ana Lopez", on_token=pieces.append
    )
    assert not result.is_fallback
    assert result.text.startswith("Hi Ana,")
    assert "[1]" in result.text and result.cited == [1]
    assert pieces and "".join(pieces).endswith("[1]")


def test_garbage_model_output_falls_back_to_quoting_the_best_source() -> None:
    result = FakeDrafter(reply="Banana castle sky rocket purple elephant dancing.").draft(
        customer_message="how long do I have to return an item?", sources=_sources()
    )
    assert result.is_fallback
    assert "quotes the best source" in result.fallback_reason
    assert "returned within 30 days of delivery [1]" in result.text
    assert all(s.supported for s in result.sentence_support)
    assert result.cited and set(result.cited) <= {1, 2}


def test_reply_citing_nothing_falls_back_and_says_why() -> None:
    result = FakeDrafter(reply="Our store opens at nine every morning.").draft(
        customer_message="return policy?", sources=_sources()
    )
    assert result.is_fallback and "cited no retrieved source" in result.fallback_reason


def test_empty_model_output_falls_back_and_says_no_reply_was_available() -> None:
    result = FakeDrafter(reply="").draft(customer_message="who pays return shipping?", sources=_sources())
    assert result.is_fallback and result.fallback_reason.startswith("No model reply was available")
    assert "The customer pays return shipping unless the item is damaged [1]." in result.text


def test_no_sources_gives_a_holding_reply_without_citations() -> None:
    result = FakeDrafter().draft(customer_message="where is my parcel?", sources=[])
    assert result.is_fallback and result.cited == [] and result.highlighted == []


def test_prompt_has_numbered_sources_and_leaves_out_earlier_tickets_unless_given() -> None:
    plain = build_prompt(
        customer_message="Will the refund go back to my original payment method? And send a password reset link",
        sources=_sources(),
    )
    user = plain.messages[-1]["content"]
    assert "[1] Refunds go back to the original payment method." in user
    assert "[2] Send the customer a password reset link to the email on file." in user
    assert "Earlier tickets" not in user and "Conversation so far" not in user
    with_history = build_prompt(
        customer_message="and the refund?",
        sources=_sources(),
        earlier_tickets=["My order 1234 arrived late"],
        conversation=[("customer", "can I return shoes?"), ("agent", "Yes, within 30 days.")],
    )
    user = with_history.messages[-1]["content"]
    assert "Earlier tickets from this customer:\n- My order 1234 arrived late" in user
    assert "Agent: Yes, within 30 days." in user


def test_prompt_prefix_is_identical_for_every_ticket() -> None:
    a = build_prompt(customer_message="return shoes", sources=_sources(), ranker=None)
    b = build_prompt(customer_message="reset my password", sources=_sources()[1:])
    assert a.messages[: len(PREFIX)] == b.messages[: len(PREFIX)] == list(PREFIX)
    assert a.messages[-1] != b.messages[-1]


def test_prompt_shows_only_the_sentences_that_matter() -> None:
    prompt = build_prompt(customer_message="who pays the return shipping?", sources=_sources())
    user = prompt.messages[-1]["content"]
    assert prompt.notes[0].sentence.startswith("The customer pays return shipping")
    assert "password" not in user  # the unrelated source is left out of the prompt


def test_fake_drafter_with_embedder_checks_the_same_way() -> None:
    result = FakeDrafter(embedder=HashingEmbedder()).draft(customer_message="password reset link", sources=_sources())
    assert not result.is_fallback and result.sentence_support


def test_missing_gguf_is_a_clear_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DrafterUnavailable) as error:
        LlamaDrafter(tmp_path / "nope.gguf").load()
    assert "not found" in str(error.value) and "nope.gguf" in str(error.value) and "\n" not in str(error.value)


def test_file_that_is_not_a_gguf_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("this is a text file, not a model")
    with pytest.raises(DrafterUnavailable, match="is not a GGUF model file"):
        LlamaDrafter(fake).load()


def test_truncated_gguf_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(DrafterUnavailable, match=r"could not load broken\.gguf"):
        LlamaDrafter(broken).load()


@pytest.mark.real_models
def test_bundled_model_drafts_with_a_valid_citation_and_reuses_the_prefix() -> None:
    from engine.config import bundled_gguf_path

    drafter = LlamaDrafter(bundled_gguf_path(), max_tokens=80)
    pieces: list[str] = []
    first = drafter.draft(
        customer_message="I want to send back shoes that do not fit, how long do I have?",
        sources=_sources(),
        customer_name="Sam",
        on_token=pieces.append,
    )
    assert len(pieces) > 2
    assert first.cited and set(first.cited) <= {1, 2}
    assert first.model == "SmolLM2-135M-Instruct.Q4_1"
    assert first.prompt_tokens > first.cached_prompt_tokens > 100
    second = drafter.draft(customer_message="My password reset link does not work", sources=_sources())
    assert second.cached_prompt_tokens >= first.cached_prompt_tokens  # the shared prefix stayed in the KV cache
