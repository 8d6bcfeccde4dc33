"""AST mutants of one module: each is one small change a test should notice.

Operators: comparison boundaries and negations, arithmetic swaps, int/float
constants +/- 1, True <-> False, min <-> max and floor <-> ceil, a dropped
``raise``, a negated ``if``/``while``/conditional expression, ``and`` <-> ``or``,
a dropped ``not``, and one element removed from a set literal (the allowed
moves of a state machine).

A mutant is named stably by (module, the stripped source line, the change,
its occurrence on that line), never by line number alone, so the list of
equivalent mutants survives edits elsewhere in the file. Docstrings, type
annotations, decorators and f-string messages are not mutated.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

_CMP_SWAPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
}
_BIN_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}
_NAME_SWAPS = {
    "min": "max",
    "max": "min",
    "minimum": "maximum",
    "maximum": "minimum",
    "floor": "ceil",
    "ceil": "floor",
}
_SYMBOL = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}


@dataclass(frozen=True, slots=True)
class Mutant:
    module: str
    index: int  # position in this module's mutant list (this run only)
    lineno: int
    line: str  # the stripped source line: part of the stable key
    change: str
    occurrence: int  # how many earlier mutants share (line, change)
    source: str  # the whole mutated module

    @property
    def key(self) -> str:
        suffix = f" #{self.occurrence + 1}" if self.occurrence else ""
        return f"{self.module} | {self.line} | {self.change}{suffix}"


def _skipped_ids(tree: ast.Module) -> set[int]:
    """Nodes never mutated: docstrings, annotations, decorators, f-strings, ``__all__``."""
    skip: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
            mark(first)
        if isinstance(node, ast.AnnAssign | ast.arg):
            mark(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            mark(node.returns)
            for d in node.decorator_list:
                mark(d)
        elif isinstance(node, ast.ClassDef):
            for d in node.decorator_list:
                mark(d)
        elif isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        ):
            mark(node)
    return skip


def _scopes_of(tree: ast.Module) -> dict[int, str]:
    """Qualified name of the function or class enclosing each node ("" at module level)."""
    owner: dict[int, str] = {}

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = f"{scope}.{child.name}" if scope else child.name
            owner[id(child)] = inner
            visit(child, inner)

    visit(tree, "")
    return owner


def _in_scope(scope: str, scopes: Sequence[str] | None) -> bool:
    if scopes is None:
        return True
    for s in scopes:
        if s == "<module>" and scope == "":
            return True
        if scope == s or scope.startswith(s + "."):
            return True
    return False


def _points(tree: ast.Module, scopes: Sequence[str] | None) -> list[tuple[ast.AST, str, object]]:
    """Every (node, change description, how to apply it) in a fixed traversal order."""
    skip = _skipped_ids(tree)
    owner = _scopes_of(tree)
    out: list[tuple[ast.AST, str, object]] = []
    for node in ast.walk(tree):
        if id(node) in skip or not _in_scope(owner.get(id(node), ""), scopes):
            continue
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                for new in _CMP_SWAPS.get(type(op), ()):
                    out.append(
                        (node, f"`{_SYMBOL[type(op)]}` -> `{_SYMBOL[new]}`", ("cmp", k, new))
                    )
        elif isinstance(node, ast.BinOp | ast.AugAssign):
            new_op = _BIN_SWAPS.get(type(node.op))
            if new_op is not None:
                sym = _SYMBOL[type(node.op)]
                eq = "=" if isinstance(node, ast.AugAssign) else ""
                out.append((node, f"`{sym}{eq}` -> `{_SYMBOL[new_op]}{eq}`", ("op", new_op)))
        elif isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool):
                out.append((node, f"`{v}` -> `{not v}`", ("const", not v)))
            elif isinstance(v, int | float):
                out.append((node, f"`{v!r}` -> `{v + 1!r}`", ("const", v + 1)))
                out.append((node, f"`{v!r}` -> `{v - 1!r}`", ("const", v - 1)))
        elif isinstance(node, ast.Raise):
            out.append((node, "drop raise", ("raise",)))
        elif isinstance(node, ast.If | ast.While | ast.IfExp):
            out.append((node, "negate condition", ("negate",)))
        elif isinstance(node, ast.BoolOp):
            new_b = ast.Or if isinstance(node.op, ast.And) else ast.And
            desc = "`and` -> `or`" if new_b is ast.Or else "`or` -> `and`"
            out.append((node, desc, ("bool", new_b)))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((node, "drop `not`", ("unnot",)))
        elif isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in _NAME_SWAPS and isinstance(node.ctx, ast.Load):
                out.append((node, f"`{name}` -> `{_NAME_SWAPS[name]}`", ("name",)))
        elif isinstance(node, ast.Set) and len(node.elts) > 1:
            for k, elt in enumerate(node.elts):
                out.append((node, f"drop set element `{ast.unparse(elt)}`", ("setdrop", k)))
    return out


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST, how: object) -> None:
        self.target, self.how = target, how

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        if node is not self.target:
            return node
        how = self.how
        assert isinstance(how, tuple)
        kind = how[0]
        if kind == "cmp":
            assert isinstance(node, ast.Compare)
            node.ops[how[1]] = how[2]()
        elif kind == "op":
            assert isinstance(node, ast.BinOp | ast.AugAssign)
            node.op = how[1]()
        elif kind == "const":
            assert isinstance(node, ast.Constant)
            node.value = how[1]
        elif kind == "raise":
            return ast.copy_location(ast.Pass(), node)
        elif kind == "negate":
            assert isinstance(node, ast.If | ast.While | ast.IfExp)
            node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
        elif kind == "bool":
            assert isinstance(node, ast.BoolOp)
            node.op = how[1]()
        elif kind == "unnot":
            assert isinstance(node, ast.UnaryOp)
            return node.operand
        elif kind == "name":
            if isinstance(node, ast.Name):
                node.id = _NAME_SWAPS[node.id]
            else:
                assert isinstance(node, ast.Attribute)
                node.attr = _NAME_SWAPS[node.attr]
        elif kind == "setdrop":
            assert isinstance(node, ast.Set)
            del node.elts[how[1]]
        return node


def mutants(module: str, source: str, scopes: Sequence[str] | None = None) -> Iterator[Mutant]:
    """Every mutant of ``source`` (restricted to the named functions/classes)."""
    lines = source.splitlines()
    tree = ast.parse(source)
    seen: dict[tuple[str, str], int] = {}
    order = {id(n): k for k, n in enumerate(ast.walk(tree))}
    for index, (node, change, how) in enumerate(_points(tree, scopes)):
        lineno = getattr(node, "lineno", 0)
        line = lines[lineno - 1].strip() if lineno else ""
        occurrence = seen.get((line, change), 0)
        seen[(line, change)] = occurrence + 1
        # Mutate a copy: find the same node in it by its position in the walk.
        fresh = copy.deepcopy(tree)
        target = list(ast.walk(fresh))[order[id(node)]]
        mutated = ast.fix_missing_locations(_Apply(target, how).visit(fresh))
        yield Mutant(module, index, lineno, line, change, occurrence, ast.unparse(mutated))
