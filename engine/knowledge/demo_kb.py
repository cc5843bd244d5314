"""The demo knowledge base: the ABCD clothing-store policy manual, one guidance document (procedure) per subflow."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from engine.knowledge.documents import GUIDANCE, DocumentSpec

log = logging.getLogger(__name__)


def abcd_documents(folder: Path) -> list[DocumentSpec]:
    """One Markdown document per subflow of `folder`/guidelines.json, with its required actions from kb.json."""
    guidelines: dict[str, Any] = json.loads((folder / "guidelines.json").read_text(encoding="utf-8"))
    sequences = _action_sequences(folder / "kb.json", guidelines)
    documents = []
    for flow, flow_data in guidelines.items():
        for subflow, subflow_data in flow_data["subflows"].items():
            text = _article(flow, flow_data.get("description", ""), subflow, subflow_data, sequences.get(subflow, []))
            documents.append(
                DocumentSpec(
                    key=f"abcd/{flow}/{subflow}",
                    title=subflow,
                    text=text,
                    source=f"{folder.name}/guidelines.json",
                    kind=GUIDANCE,
                )
            )
    return documents


def _action_sequences(kb_file: Path, guidelines: dict[str, Any]) -> dict[str, list[str]]:
    """Subflow name -> required action names; kb.json lists subflows flow by flow, flows in alphabetical order."""
    if not kb_file.is_file():
        return {}
    sequences: dict[str, list[str]] = json.loads(kb_file.read_text(encoding="utf-8"))
    subflows = [subflow for flow in sorted(guidelines) for subflow in guidelines[flow]["subflows"]]
    if len(subflows) != len(sequences):
        log.warning(
            "kb.json has %d subflows, guidelines.json %d: leaving out action sequences", len(sequences), len(subflows)
        )
        return {}
    return dict(zip(subflows, sequences.values(), strict=True))


def _article(flow: str, description: str, subflow: str, data: dict[str, Any], sequence: list[str]) -> str:
    """Steps first (opening with the flow and the manual's instruction), then the policy details they refer to."""
    instructions = [" ".join(line.split()) for line in data.get("instructions", []) if line.strip()]
    actions = data.get("actions", [])
    policies = [action for action in actions if action.get("type") == "faq/policy"]
    intro = f"{flow} ({description})." if description else f"{flow}."
    parts = [f"# {subflow}", "## Steps", " ".join([intro, *instructions[:1]])]
    for number, action in enumerate(actions, start=1):
        is_policy = action.get("type") == "faq/policy"
        parts.append(
            f"{number}. " + _block(action, details=not is_policy) + (" (see Policy below)" if is_policy else "")
        )
    parts.extend(instructions[1:])
    if sequence:
        parts.append("Required actions: " + " → ".join(name.replace("-", " ").capitalize() for name in sequence) + ".")
    if policies:
        parts.append("## Policy")
        parts.extend(_block(action, details=True) for action in policies)
    return "\n\n".join(parts) + "\n"


def _block(action: dict[str, Any], *, details: bool) -> str:
    """One action as '**Button**: text', with its details as a bullet list when asked."""
    button = action.get("button", "")
    label = "Tell the customer" if action.get("type") == "communication" or button in {"", "N/A"} else button
    text = _clean(action.get("text", ""))
    head = f"**{label}**" if text in {"", "Communication"} else f"**{label}**: {text}"
    lines = [f"- {_clean(line)}" for line in action.get("subtext", [])] if details else []
    return "\n".join([head, *lines])


def _clean(line: str) -> str:
    """Collapse whitespace and the manual's '> ... <or> ...' notation into plain prose."""
    line = re.sub(r":\s*>\s*", ": ", " ".join(line.split()))
    return line.replace(" <or> ", "; or ").strip()
