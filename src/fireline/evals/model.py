"""An eval case as exported: the bad call it came from, and what a good answer must satisfy.

>>> case = EvalCase(id="i1-c1", incident_id=1, feature="bot", input="hi",
...                 assertions=[Assertion(kind="not_empty")])
>>> case.judge.verdict is None
True
>>> EvalCase.model_validate_json(case.model_dump_json()) == case
True
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The code-based checks a replayed answer is held to.
AssertionKind = Literal[
    "not_contains",
    "no_pii",
    "no_refusal",
    "cites_only_retrieved",
    "max_cost_usd",
    "max_output_tokens",
    "max_latency_ms",
    "no_error",
    "not_empty",
]


class Assertion(BaseModel):
    """One check: `kind`, and its `value` (the pattern, the limit) where it has one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: AssertionKind
    value: str | float | list[str] | None = None
    #: Why the check is there: which failure it guards against.
    reason: str = ""


class Judgement(BaseModel):
    """A slot for model-based or human judgement: a rubric and, once judged, a verdict."""

    model_config = ConfigDict(extra="forbid")

    rubric: str = ""
    verdict: bool | None = None
    note: str = ""


class Context(BaseModel):
    """What the original call ran with."""

    model_config = ConfigDict(extra="forbid")

    retrieved_doc_ids: list[str] = Field(default_factory=list)
    tenant: str | None = None
    model: str | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    index_version: str | None = None


class EvalCase(BaseModel):
    """A regression case from an incident's affected call."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    incident_id: int
    feature: str
    input: str
    messages: list[dict[str, Any]] | None = None
    #: The answer the incident produced (what must not happen again).
    bad_output: str | None = None
    call_id: str | None = None
    signal: str = ""
    context: Context = Field(default_factory=Context)
    assertions: list[Assertion] = Field(default_factory=list)
    judge: Judgement = Field(default_factory=Judgement)
    #: How many affected calls had this input (duplicates dropped) and this case's cluster.
    duplicates: int = 1
    cluster_size: int = 1
