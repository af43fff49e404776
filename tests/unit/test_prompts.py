"""Every prompt file renders with exactly its placeholders."""

import pytest

import prompts
from prompts import PromptError


@pytest.mark.parametrize("name", prompts.names())
def test_every_prompt_renders(name: str) -> None:
    prompt = prompts.load(name)
    assert prompt.version and prompt.placeholders
    system, user = prompt.render(**dict.fromkeys(prompt.placeholders, "【值】"))
    assert "【值】" in system + user and "{" not in user.replace("{{", "").replace('{"', "")
    with pytest.raises(PromptError, match="missing"):
        prompt.render()
    with pytest.raises(PromptError, match="unused"):
        prompt.render(**dict.fromkeys(prompt.placeholders, "x"), extra="y")


def test_the_known_prompts_exist() -> None:
    assert {"intake.classify", "planner.explain", "chat.answer"} <= set(prompts.names())
    with pytest.raises(PromptError):
        prompts.load("nope")
