"""How the docs test finds a page's Python blocks (tests/support/code_blocks.py)."""

from __future__ import annotations

from support.code_blocks import code_blocks

PAGE = """\
# A page

```python
print("plain")
```

```bash
echo not python
```

- a list item:

  ~~~py
  print("indented")
  ~~~

```{code-block} python
:caption: a caption
:linenos:
print("directive")
```

````{note}
Inside a note:

```python
print("nested")
```
````

```{literalinclude} ../dags/example.py
:start-after: "[START x]"
```

```{code-block} yaml
key: value
```
"""


def test_python_blocks_are_found_wherever_the_page_shows_them() -> None:
    blocks = code_blocks(PAGE)
    python = [(block.line, block.code) for block in blocks if block.is_python]
    assert python == [
        (3, 'print("plain")\n'),
        (13, 'print("indented")\n'),
        (17, 'print("directive")\n'),
        (26, 'print("nested")\n'),
    ]


def test_other_blocks_are_not_python_and_includes_are_named() -> None:
    blocks = {block.info: block for block in code_blocks(PAGE)}
    assert not blocks["bash"].is_python
    assert not blocks["{code-block} yaml"].is_python
    assert not blocks["{note}"].is_python
    include = blocks["{literalinclude} ../dags/example.py"]
    assert (include.directive, include.is_python) == ("literalinclude", False)


def test_a_longer_fence_holds_a_shorter_one_and_an_unclosed_fence_runs_to_the_end() -> None:
    text = "````python\n```\nprint(1)\n````\n```python\nprint(2)\n"
    assert [block.code for block in code_blocks(text)] == ["```\nprint(1)\n", "print(2)\n"]
