# Types of the compiled block walk (crawler/_blockwalk.pyx).
from collections.abc import Callable
from re import Pattern
from typing import Any

from lxml.html import HtmlElement

LXML_VERSION: str

class Unsupported(Exception): ...

def configure(drop_tags: frozenset[str], block_tags: frozenset[str], headings: frozenset[str],
              never_furniture: frozenset[str]) -> None: ...
def walk(root: HtmlElement, furniture: bool, Block: type, odd_spaces: Pattern[str], spaces: Pattern[str],
         furniture_names: dict[str, bool], hides: Callable[[HtmlElement, list[Any], list[str]], bool],
         ) -> tuple[list[Any], list[Any]]: ...
