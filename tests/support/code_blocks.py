"""The Python code blocks of a Markdown (MyST) page, as the page shows them.

A block is a fenced block (```` ``` ```` or ``~~~``, any length, indented or not) whose info string is
``python``, ``py`` or ``python3``, or a MyST ``{code-block}``/``{code}``/``{sourcecode}`` directive
in one of those languages (its ``:option:`` lines and ``---`` option block dropped). The bodies of
other directives (``{note}``, ``{tip}``...) are searched too, since MyST renders their content as
Markdown; ``{literalinclude}`` blocks are listed apart (they show files, not text of the page).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_PYTHON = frozenset({"python", "py", "python3"})
_CODE_DIRECTIVES = frozenset({"code-block", "code", "sourcecode"})
_DIRECTIVE = re.compile(r"^\{(?P<name>[\w:-]+)\}[ \t]*(?P<argument>.*)$")
_OPTION = re.compile(r"^:[\w-]+:")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block.

    :param line: the line of its opening fence (1-based).
    :param info: its info string, e.g. ``python`` or ``{literalinclude} ../dags/x.py``.
    :param code: its content, dedented, without directive options.
    """

    line: int
    info: str
    code: str

    @property
    def directive(self) -> str | None:
        """The MyST directive's name, or None for a plain fence."""
        match = _DIRECTIVE.match(self.info)
        return match["name"] if match else None

    @property
    def is_python(self) -> bool:
        """Whether the page shows it as Python code."""
        match = _DIRECTIVE.match(self.info)
        if match is None:
            return self.info.split(maxsplit=1)[0].lower() in _PYTHON if self.info else False
        language = match["argument"].split(maxsplit=1)
        return match["name"] in _CODE_DIRECTIVES and bool(language) and language[0].lower() in _PYTHON


def code_blocks(text: str, *, first_line: int = 1) -> list[CodeBlock]:
    """Every fenced block of ``text`` in page order, those nested in other directives included."""
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening["fence"]
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        body = textwrap.dedent("\n".join(lines[index + 1 : end]))
        block = CodeBlock(line=first_line + index, info=opening["info"], code=body.strip("\n") + "\n")
        if block.directive is not None:
            block = CodeBlock(block.line, block.info, _without_options(body))
        blocks.append(block)
        if block.directive is not None and block.directive not in _CODE_DIRECTIVES | {"literalinclude"}:
            blocks.extend(code_blocks(body, first_line=first_line + index + 1))
        index = end + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def _without_options(code: str) -> str:
    """A directive's body without its leading ``:name: value`` lines or ``---`` option block."""
    lines = code.splitlines()
    if lines and lines[0].strip() == "---" and "---" in (line.strip() for line in lines[1:]):
        lines = lines[[line.strip() for line in lines].index("---", 1) + 1 :]
    while lines and _OPTION.match(lines[0]):
        lines = lines[1:]
    return "\n".join(lines).strip("\n") + "\n"
