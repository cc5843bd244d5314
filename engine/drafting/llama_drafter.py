"""Drafts with a local GGUF model through llama-cpp-python, reusing the cached prompt prefix across tickets."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.drafting.drafter import DrafterUnavailable, DraftResult, TokenCallback, make_result
from engine.drafting.grounding import greeting, ground_draft
from engine.drafting.prompt import MAX_NOTES, PREFIX, build_prompt
from engine.drafting.relevance import SentenceRanker
from engine.drafting.sources import Source
from engine.drafting.text import strip_citations
from engine.nlp.embedder import Embedder

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
# Greedy decoding: the same ticket gives the same draft, and the model copies its notes faithfully.
GENERATION: dict[str, Any] = {"temperature": 0.0, "repeat_penalty": 1.0, "stop": ["\n\n", "Customer:", "Notes:"]}
MAX_LINES = MAX_NOTES + 1


class LlamaDrafter:
    """A llama.cpp model behind a lock; the fixed prompt prefix stays in its KV cache between drafts."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_threads: int = 2,
        n_ctx: int = 2048,
        max_tokens: int = 160,
        embedder: Embedder | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.model_name = self.model_path.stem
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self._embedder = embedder
        self._ranker = SentenceRanker(embedder)
        self._llm: Any = None
        self._template: ChatTemplate | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the GGUF and evaluate the shared prompt prefix; DrafterUnavailable with a one-line reason if not."""
        with self._lock:
            if self._llm is None:
                self._llm, self._template = open_gguf(self.model_path, n_threads=self.n_threads, n_ctx=self.n_ctx)
                prefix = self._tokens(self._template.render(list(PREFIX), generation_prompt=False))
                self._llm.eval(prefix)
                log.info("drafting model %s loaded; %d prefix tokens cached", self.model_name, len(prefix))

    def prompt_tokens(
        self,
        *,
        customer_message: str,
        sources: Sequence[Source],
        conversation: Sequence[tuple[str, str]] = (),
        earlier_tickets: Sequence[str] = (),
    ) -> list[int]:
        """The exact tokens the model is given for a ticket (the bench feeds them to plain llama-cpp-python)."""
        self.load()
        prompt = build_prompt(
            customer_message=customer_message,
            sources=sources,
            conversation=conversation,
            earlier_tickets=earlier_tickets,
            ranker=self._ranker,
            count_tokens=self._count_tokens,
        )
        return self._tokens(self._template_or_fail().render(prompt.messages))

    def draft(
        self,
        *,
        customer_message: str,
        sources: list[Source],
        conversation: Sequence[tuple[str, str]] = (),
        earlier_tickets: Sequence[str] = (),
        customer_name: str | None = None,
        on_token: TokenCallback | None = None,
    ) -> DraftResult:
        """Draft a reply grounded in the sources, streaming the model's text to on_token as it is generated."""
        self.load()
        started = time.perf_counter()
        prompt = build_prompt(
            customer_message=customer_message,
            sources=sources,
            conversation=conversation,
            earlier_tickets=earlier_tickets,
            ranker=self._ranker,
            count_tokens=self._count_tokens,
        )
        if on_token is not None:
            on_token(f"{greeting(customer_name)}\n\n")
        with self._lock:
            tokens = self._tokens(self._template_or_fail().render(prompt.messages))
            cached = self._cached_prefix(tokens)
            raw, (first_token, last_token), finish = self._generate(tokens, on_token)
            completion_tokens = max(self._llm.n_tokens - len(tokens), 0)
        grounded = ground_draft(
            raw,
            sources=sources,
            notes=prompt.notes,
            customer_name=customer_name,
            truncated=finish != "stop",
            embedder=self._embedder,
        )
        result = make_result(
            grounded,
            sources=list(sources),
            model=self.model_name,
            raw_text=raw,
            prompt_tokens=len(tokens),
            completion_tokens=completion_tokens,
            started=started,
            first_token=first_token,
            last_token=last_token,
            cached_prompt_tokens=cached,
        )
        log.debug("draft: %d prompt tokens (%d cached), ttft %.0f ms", len(tokens), cached, result.ttft_ms)
        return result

    def _generate(
        self, tokens: list[int], on_token: TokenCallback | None
    ) -> tuple[str, tuple[float | None, float | None], str]:
        """Stream a completion; stop early when the model starts repeating or runs past its notes.

        Returns the text, the times of the first and last token, and why it stopped."""
        text = ""
        first_token: float | None = None
        last_token: float | None = None
        finish = "length"
        room = self.n_ctx - len(tokens)
        if room <= 0:  # the parts' budgets keep prompts far below this; a tiny configured context could still hit it
            raise DrafterUnavailable(f"the prompt has {len(tokens)} tokens, over the model's context of {self.n_ctx}")
        max_tokens = min(self.max_tokens, room)
        stream = self._llm.create_completion(tokens, max_tokens=max_tokens, stream=True, **GENERATION)
        for chunk in stream:
            choice = chunk["choices"][0]
            piece = choice["text"]
            last_token = time.perf_counter()
            if piece and first_token is None:
                first_token = last_token
            text += piece
            if piece and on_token is not None:
                on_token(piece)
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
            if _looping(text):
                stream.close()
                finish = "stop"
                break
        return text, (first_token, last_token), finish

    def _template_or_fail(self) -> ChatTemplate:
        if self._template is None:
            raise DrafterUnavailable("drafting model is not loaded")
        return self._template

    def _cached_prefix(self, tokens: list[int]) -> int:
        from llama_cpp import Llama

        return int(Llama.longest_token_prefix(self._llm.input_ids[: self._llm.n_tokens].tolist(), tokens))

    def _count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _tokens(self, text: str) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))


def _looping(text: str) -> bool:
    """True once the reply has more complete lines than notes allow, or repeats a line (citations aside)."""
    lines = [" ".join(strip_citations(line).lower().split()) for line in text.split("\n")[:-1]]
    lines = [line for line in lines if line]
    return len(lines) > MAX_LINES or len(lines) != len(set(lines))


class ChatTemplate:
    """The model's own chat template (from the GGUF), rendered with or without the assistant's turn opener."""

    def __init__(self, template: str, *, eos_token: str, bos_token: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._formatters = {
            flag: Jinja2ChatFormatter(template, eos_token, bos_token, add_generation_prompt=flag)
            for flag in (True, False)
        }

    def render(self, messages: Sequence[dict[str, str]], *, generation_prompt: bool = True) -> str:
        """The prompt text for chat messages."""
        chat: list[Any] = list(messages)
        return str(self._formatters[generation_prompt](messages=chat).prompt)


def open_gguf(path: Path, *, n_threads: int, n_ctx: int) -> tuple[Any, ChatTemplate]:
    """Open a GGUF with llama-cpp-python and its own chat template; DrafterUnavailable with a clear message if not."""
    if not path.is_file():
        raise DrafterUnavailable(f"drafting model not found: {path}")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise DrafterUnavailable(f"drafting model {path} cannot be read: {exc.strerror or exc}") from None
    if magic != GGUF_MAGIC:
        raise DrafterUnavailable(f"{path} is not a GGUF model file (it does not start with the GGUF header)")
    try:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import CHATML_CHAT_TEMPLATE
    except ImportError:
        raise DrafterUnavailable("llama-cpp-python is not installed, so drafts cannot be generated") from None
    try:
        llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise DrafterUnavailable(f"llama.cpp could not load {path.name}: {exc}") from None
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        log.warning("%s has no chat template; using ChatML", path.name)
    chat = ChatTemplate(
        template or CHATML_CHAT_TEMPLATE,
        eos_token=_token_text(llm, llm.token_eos()),
        bos_token=_token_text(llm, llm.token_bos()),
    )
    return llm, chat


def _token_text(llm: Any, token: int) -> str:
    return llm.detokenize([token], special=True).decode("utf-8", errors="ignore") if token >= 0 else ""
