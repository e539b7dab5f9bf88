"""The configuration examples in the user guides are valid configuration."""

import re
from pathlib import Path

import pytest

from fireline.config import parse_config

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = ["scanners.md", "response.md", "configuration.md", "containment.md"]


def yaml_blocks(name: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", (DOCS / name).read_text(), flags=re.S)


@pytest.mark.parametrize("guide", GUIDES)
def test_every_yaml_example_of_the_guide_is_accepted_by_the_config_parser(guide: str) -> None:
    blocks = yaml_blocks(guide)

    assert blocks, f"{guide} has no YAML example"
    for block in blocks:
        parse_config(block, source=guide)
