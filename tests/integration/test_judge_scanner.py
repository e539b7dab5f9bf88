"""The LLM-judge scanner against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from fireline.domain.telemetry import Call, CallStatus
from fireline.scan.base import Hit, Part
from fireline.scan.judge import DEFAULT_PROMPT, JudgePrompt, JudgeScanner, sampled
from tests.conftest import T0
from tests.servers import free_port, serving

KEY = "sk-test-5e3a9c1f"


@dataclass
class FakeJudge:
    """What the fake endpoint answers, and the requests it received."""

    reply: str = '{"score": 0.2}'
    status: int = 200
    delay: float = 0.0
    body: str | None = None  # sent as is instead of a chat completion
    requests: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        """Back to a judge that scores 0.2 at once, with no request received."""
        self.reply, self.status, self.delay, self.body = '{"score": 0.2}', 200, 0.0, None
        self.requests.clear()


def fake_openai(judge: FakeJudge) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> Response:
        judge.requests.append({"headers": dict(request.headers), "json": await request.json()})
        if judge.delay:
            await asyncio.sleep(judge.delay)
        if judge.body is not None:
            return Response(judge.body, media_type="application/json")
        completion = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "fake-judge",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": judge.reply},
                }
            ],
        }
        return JSONResponse(completion, status_code=judge.status)

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeJudge, str]]:
    judge = FakeJudge()
    with serving(fake_openai(judge)) as url:
        yield judge, f"{url}/v1"


@pytest.fixture
def fake(server: tuple[FakeJudge, str]) -> FakeJudge:
    judge = server[0]
    judge.reset()
    return judge


@pytest.fixture
def judge_url(server: tuple[FakeJudge, str], fake: FakeJudge) -> str:
    return server[1]


def call(call_id: str = "c1", **fields: Any) -> Call:
    values: dict[str, Any] = {
        "input_text": "How long do refunds take?",
        "output_text": "Refunds take ten years.",
        **fields,
    }
    return Call(call_id=call_id, time=T0, feature="support-chat", **values)


def judge(url: str, **settings: Any) -> JudgeScanner:
    return JudgeScanner(**{"base_url": url, "api_key": KEY, "sample_rate": 1.0, **settings})


def test_a_low_score_is_a_hit_that_records_the_prompt_version_and_score(
    judge_url: str,
) -> None:
    with judge(judge_url) as scanner:
        hits = scanner.scan(call())
    assert hits == [
        Hit(
            "judge",
            "judge_fail",
            Part.CALL,
            score=0.8,
            detail="prompt=answer_quality@v1 score=0.20",
        )
    ]
    assert (scanner.judged, scanner.errors) == (1, 0)


@pytest.mark.parametrize("reply", ['{"score": 0.5}', '{"score": 0.93}', "1"])
def test_a_score_at_or_above_the_threshold_is_no_hit(
    judge_url: str, fake: FakeJudge, reply: str
) -> None:
    fake.reply = reply
    with judge(judge_url, threshold=0.5) as scanner:
        assert scanner.scan(call()) == []
    assert (scanner.judged, scanner.errors) == (1, 0)


def test_the_request_carries_the_versioned_prompt_and_the_calls_text(
    judge_url: str, fake: FakeJudge
) -> None:
    prompt = JudgePrompt(
        "groundedness",
        "v3",
        'Feature $feature. Q: $input A: $output Reply {"score": x}.',
        system="You grade groundedness.",
    )
    with judge(judge_url, model="grader-7b", prompt=prompt) as scanner:
        [hit] = scanner.scan(call())
    assert hit.detail == "prompt=groundedness@v3 score=0.20"
    [request] = fake.requests
    assert request["json"]["model"] == "grader-7b"
    assert request["json"]["messages"] == [
        {"role": "system", "content": "You grade groundedness."},
        {
            "role": "user",
            "content": "Feature support-chat. Q: How long do refunds take? "
            'A: Refunds take ten years. Reply {"score": x}.',
        },
    ]
    assert request["json"]["temperature"] == 0


def test_the_default_prompt_shows_the_judge_the_question_and_the_answer(
    judge_url: str, fake: FakeJudge
) -> None:
    with judge(judge_url) as scanner:
        scanner.scan(call())
    content = fake.requests[0]["json"]["messages"][1]["content"]
    assert "How long do refunds take?" in content
    assert "Refunds take ten years." in content
    assert '{"score":' in content
    assert DEFAULT_PROMPT.ref == "answer_quality@v1"


def test_long_texts_are_cut_to_bound_the_judges_tokens(judge_url: str, fake: FakeJudge) -> None:
    with judge(judge_url, max_chars=100) as scanner:
        scanner.scan(call(output_text="x" * 5_000))
    content = fake.requests[0]["json"]["messages"][1]["content"]
    assert "x" * 100 in content
    assert "x" * 101 not in content


def test_the_api_key_goes_in_the_authorization_header_and_nowhere_else(
    judge_url: str, fake: FakeJudge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.status = 500
    with judge(judge_url) as scanner:
        scanner.scan(call())
        shown = repr(scanner)
    assert fake.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"
    assert KEY not in str(fake.requests[0]["json"])
    assert KEY not in shown
    assert "api_key='***'" in shown
    assert caplog.records
    assert all(KEY not in record.getMessage() for record in caplog.records)


def test_without_an_api_key_no_authorization_header_is_sent(
    judge_url: str, fake: FakeJudge
) -> None:
    with judge(judge_url, api_key=None) as scanner:
        scanner.scan(call())
        assert "api_key=None" in repr(scanner)
    assert "authorization" not in fake.requests[0]["headers"]


def test_the_sample_is_the_same_every_time_and_grows_with_the_rate(
    judge_url: str, fake: FakeJudge
) -> None:
    ids = [f"call-{i}" for i in range(200)]
    with judge(judge_url, sample_rate=0.25) as scanner:
        first = [i for i in ids if scanner.scan(call(i))]
    with judge(judge_url, sample_rate=0.25) as scanner:
        second = [i for i in ids if scanner.scan(call(i))]
    with judge(judge_url, sample_rate=0.5) as scanner:
        wider = [i for i in ids if scanner.scan(call(i))]
    assert first == second
    assert 30 <= len(first) <= 70
    assert set(first) < set(wider)
    assert len(fake.requests) == len(first) * 2 + len(wider)
    assert first == [i for i in ids if sampled(i, 0.25)]


def test_a_zero_sample_rate_sends_nothing(judge_url: str, fake: FakeJudge) -> None:
    with judge(judge_url, sample_rate=0.0) as scanner:
        assert [scanner.scan(call(f"c{i}")) for i in range(20)] == [[]] * 20
    assert fake.requests == []
    assert (scanner.judged, scanner.errors) == (0, 0)


@pytest.mark.parametrize(
    "reply",
    [
        "I would rather not score this answer.",
        '{"score": 7}',
        '{"score": "bad"}',
        '{"verdict": "fail"}',
        "",
    ],
)
def test_a_reply_without_a_score_in_range_is_no_hit_but_an_error(
    judge_url: str, fake: FakeJudge, reply: str
) -> None:
    fake.reply = reply
    with judge(judge_url) as scanner:
        assert scanner.scan(call()) == []
    assert (scanner.judged, scanner.errors) == (0, 1)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("status", 500),
        ("status", 429),
        ("status", 401),
        ("body", "<html>bad gateway</html>"),
        ("body", '{"choices": []}'),
        ("body", '{"choices": [{"message": {"content": null}}]}'),
    ],
)
def test_a_failing_judge_gives_no_hit_and_counts_an_error(
    judge_url: str, fake: FakeJudge, setting: str, value: object
) -> None:
    setattr(fake, setting, value)
    with judge(judge_url) as scanner:
        assert scanner.scan(call("a")) == []
        assert scanner.scan(call("b")) == []
    assert (scanner.judged, scanner.errors) == (0, 2)


def test_a_judge_slower_than_the_timeout_gives_no_hit_and_counts_an_error(
    judge_url: str, fake: FakeJudge
) -> None:
    fake.delay = 1.0
    with judge(judge_url, timeout=0.2) as scanner:
        assert scanner.scan(call()) == []
    assert (scanner.judged, scanner.errors) == (0, 1)


def test_an_unreachable_judge_gives_no_hit_and_counts_an_error() -> None:
    with judge(f"http://127.0.0.1:{free_port()}/v1", timeout=2.0) as scanner:
        assert scanner.scan(call()) == []
    assert (scanner.judged, scanner.errors) == (0, 1)


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        ('```json\n{"score": 0.1, "reason": "wrong"}\n```', "score=0.10"),
        ("The answer invents a policy. Score: 3/10", "score=0.30"),
        ("Reasons: 1. wrong 2. curt. Verdict: 0.25", "score=0.25"),
        ('{"score": "0.4"}', "score=0.40"),
    ],
)
def test_replies_in_prose_or_fenced_json_are_read(
    judge_url: str, fake: FakeJudge, reply: str, detail: str
) -> None:
    fake.reply = reply
    with judge(judge_url) as scanner:
        [hit] = scanner.scan(call())
    assert hit.detail == f"prompt=answer_quality@v1 {detail}"


def test_a_base_url_with_a_trailing_slash_reaches_the_same_endpoint(
    judge_url: str, fake: FakeJudge
) -> None:
    with judge(f"{judge_url}/") as scanner:
        assert len(scanner.scan(call())) == 1
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "judged",
    [
        call(status=CallStatus.ERROR, output_text=None, error_type="timeout"),
        call(output_text=""),
        call(output_text=None),
    ],
)
def test_failed_calls_and_missing_answers_are_not_judged(
    judge_url: str, fake: FakeJudge, judged: Call
) -> None:
    with judge(judge_url) as scanner:
        assert scanner.scan(judged) == []
    assert fake.requests == []


def test_without_a_base_url_nothing_is_judged() -> None:
    scanner = JudgeScanner(sample_rate=1.0)
    assert scanner.scan(call()) == []
    assert (scanner.judged, scanner.errors) == (0, 0)


def test_a_scanner_with_only_an_endpoint_finds_the_example_failing(judge_url: str) -> None:
    with JudgeScanner(base_url=judge_url) as scanner:
        hits = scanner.scan(JudgeScanner.example())
    assert [hit.kind for hit in hits] == ["judge_fail"]
    assert {hit.part for hit in hits} == {Part.CALL}
    assert JudgeScanner.needs_endpoint


def test_settings_are_kept_under_their_own_names() -> None:
    prompt = JudgePrompt("tone", "v2", "$output")
    scanner = JudgeScanner(
        base_url="http://judge/v1",
        model="m",
        api_key=KEY,
        sample_rate=0.3,
        threshold=0.6,
        timeout=4.0,
        prompt=prompt,
        max_chars=10,
    )
    assert (scanner.base_url, scanner.model, scanner.api_key) == ("http://judge/v1", "m", KEY)
    assert (scanner.sample_rate, scanner.threshold, scanner.timeout) == (0.3, 0.6, 4.0)
    assert (scanner.prompt, scanner.max_chars) == (prompt, 10)
