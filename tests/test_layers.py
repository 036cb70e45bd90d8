"""The package's layering (CONTRIBUTING.md): nothing imports upward.

Face (``__main__``) -> Recipes -> Loops -> Models -> Ground. Lessons, the modules that
exist to be shown on one page, import only Ground. A module's own ``main()`` (its demo)
may import from any layer. A module is placed by its path;
a new module must be placed here, so the layer it belongs to is a decision, not drift.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "snippets"

FACE, RECIPES, LOOPS, MODELS, GROUND = 4, 3, 2, 1, 0
LESSON = -1  # may import Ground only
LAYERS = {
    "__main__": FACE,
    "bench": RECIPES,
    "applications": RECIPES,
    "finetune": RECIPES,
    "practice": RECIPES,
    "train": LOOPS,
    "distributed": LOOPS,
    "memory": LOOPS,
    "models": MODELS,
    "device": GROUND,
    "data": GROUND,
    "checkpoint": GROUND,
    "lora": GROUND,
    "corpus": GROUND,
    "__init__": GROUND,
    "modules": LESSON,
    "autograd_function": LESSON,
    "linear_math": LESSON,
    "optim": LESSON,
}
NAMES = {
    FACE: "Face",
    RECIPES: "Recipes",
    LOOPS: "Loops",
    MODELS: "Models",
    GROUND: "Ground",
    LESSON: "Lesson",
}


def layer_of(module: str) -> int:
    """Layer of ``snippets.a.b`` (by its first component under the package)."""
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    if head not in LAYERS:
        raise KeyError(f"snippets.{head} has no layer: add it to LAYERS in {__file__}")
    return LAYERS[head]


def is_script_face(node: ast.stmt) -> bool:
    """A top-level ``def main`` or ``if __name__ == "__main__":`` block."""
    if isinstance(node, ast.FunctionDef):
        return node.name == "main"
    return isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)


def snippet_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of each ``snippets`` import, except in the module's script face
    (``main()`` or the ``__main__`` block): its runnable demo may use any layer."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    demo = {id(n) for f in tree.body if is_script_face(f) for n in ast.walk(f)}
    found = []
    for node in ast.walk(tree):
        if id(node) in demo:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.split(".")[0] == "snippets"]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize(
    "path", MODULES, ids=[p.relative_to(ROOT).as_posix() for p in MODULES]
)
def test_no_upward_import(path: Path) -> None:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    own = layer_of(name)
    for lineno, target in snippet_imports(path):
        other = layer_of(target)
        if own == LESSON:
            ok = other in (GROUND, LESSON) and target != name
        else:
            ok = other != LESSON and other <= own
        assert ok, (
            f"{path.relative_to(ROOT)}:{lineno}: {NAMES[own]} module imports "
            f"{target} ({NAMES[other]}): see the layering in CONTRIBUTING.md"
        )


def test_layering_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from snippets.train import train\nimport snippets.bench.gpt\n"
        "def main():\n    from snippets.finetune import main\n"
        "if __name__ == '__main__':\n    import snippets.__main__\n"
    )
    assert [layer_of(t) for _, t in snippet_imports(bad)] == [LOOPS, RECIPES]
    with pytest.raises(KeyError, match="snippets.nowhere has no layer"):
        layer_of("snippets.nowhere.x")
