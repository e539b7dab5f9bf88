"""What AI apps report: calls, user feedback on calls, and changes that were deployed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

AttributeValue = str | int | float | bool


class CallStatus(StrEnum):
    """Whether the AI call returned an answer at all (quality is judged elsewhere)."""

    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True, slots=True, eq=True)
class Call:
    """One recorded AI request; mirrors the OpenTelemetry GenAI semantic conventions.

    `model` is the model that answered (gen_ai.response.model), `request_model` the one asked
    for; `operation` is gen_ai.operation.name (chat, embeddings, execute_tool, ...);
    `session_id` groups the calls of one conversation or agent run.
    """

    call_id: str
    time: datetime
    feature: str
    status: CallStatus = CallStatus.OK
    error_type: str | None = None
    latency_ms: float | None = None
    provider: str | None = None
    model: str | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    index_version: str | None = None
    tenant: str | None = None
    user: str | None = None
    trace_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    input_text: str | None = None
    output_text: str | None = None
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    operation: str | None = None
    request_model: str | None = None
    response_id: str | None = None
    session_id: str | None = None
    span_id: str | None = None
    time_to_first_token_ms: float | None = None
    retrieved_doc_ids: tuple[str, ...] = ()
    cited_doc_ids: tuple[str, ...] = ()
    eval_scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status is CallStatus.ERROR


class FeedbackKind(StrEnum):
    """The user signals fireline understands."""

    THUMBS_UP = "thumbs_up"
    THUMBS_DOWN = "thumbs_down"
    REGENERATE = "regenerate"
    EDIT = "edit"
    REPORT = "report"


@dataclass(frozen=True, slots=True)
class Feedback:
    """A user signal attached to a call."""

    feedback_id: str
    call_id: str
    time: datetime
    kind: FeedbackKind
    feature: str | None = None
    value: float | None = None
    comment: str | None = None


class ChangeKind(StrEnum):
    """The kinds of deploy that can explain an incident."""

    MODEL = "model"
    PROMPT = "prompt"
    INDEX = "index"
    FLAG = "flag"
    CONFIG = "config"
    PROVIDER_STATUS = "provider_status"


@dataclass(frozen=True, slots=True)
class Change:
    """Something deployed (or changed upstream) at a known time."""

    change_id: str
    time: datetime
    kind: ChangeKind
    version: str
    feature: str | None = None
    previous_version: str | None = None
    author: str | None = None
    description: str | None = None
