"""One way to validate settings (``genplay/settings.py``): field rules, the messages they give, and a
check on the source that every config in the package validates through them."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import pytest
from test_architecture import MODULES

from genplay.errors import GenplayError
from genplay.settings import (
    DISCOUNT,
    STEP_SIZE,
    ConfigError,
    Device,
    Int,
    Layers,
    OneOf,
    Real,
    check_fields,
    flag_label,
)


@dataclass(frozen=True)
class Example:
    n: int = 4
    lr: float = 1e-3
    gamma: float = 0.99
    kind: str = "a"
    hidden: tuple[int, ...] = (8,)
    device: str = "cpu"
    flag: bool = True
    name: str = "x"

    def __post_init__(self) -> None:
        rules = {"n": Int(1, 10), "lr": STEP_SIZE, "gamma": DISCOUNT, "kind": OneOf(("a", "b"))}
        check_fields(self, {**rules, "hidden": Layers(), "device": Device()})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n": 0}, "Example.n: expected an integer >= 1, got 0"),
        ({"n": 11}, "Example.n: expected an integer <= 10 (the limit for a 2-core, 24 GB machine), got 11"),
        ({"n": True}, "Example.n: expected an integer, got True"),
        ({"n": 2.5}, "Example.n: expected an integer, got 2.5"),
        ({"lr": 1e30}, "Example.lr: expected a finite number in (0, 1], got 1e+30"),
        ({"lr": float("nan")}, "Example.lr: expected a finite number in (0, 1], got nan"),
        ({"lr": "abc"}, "Example.lr: expected a number, got 'abc'"),
        ({"gamma": 0.0}, "Example.gamma: expected a finite number in (0, 1], got 0.0"),
        ({"kind": "c"}, "Example.kind: expected one of a, b, got 'c'"),
        ({"hidden": (0,)}, "Example.hidden: expected at most 16 layer widths"),
        ({"hidden": (4,) * 17}, "Example.hidden: expected at most 16 layer widths"),
        ({"device": "tpu"}, "Example.device: expected auto, cpu, cuda, cuda:N or mps, got 'tpu'"),
        ({"flag": 1}, "Example.flag: expected true or false, got 1"),
        ({"name": 3}, "Example.name: expected a string, got 3"),
    ],
)
def test_a_bad_field_is_one_error_naming_it(change, message):
    with pytest.raises(ConfigError) as info:
        Example(**change)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, GenplayError) and isinstance(info.value, ValueError)  # CLIs catch either


def test_good_values_pass_and_int_floats_count_as_ints():
    Example(n=10.0, lr=1, gamma=1.0, kind="b", hidden=(), device="auto")  # type: ignore[arg-type]


def test_labels_name_the_flag_when_asked():
    @dataclass(frozen=True)
    class Flags:
        batch_size: int = 1

        def __post_init__(self) -> None:
            check_fields(self, {"batch_size": Int(1)}, flag_label)

    with pytest.raises(ConfigError, match=r"^--batch-size: expected an integer >= 1, got 0$"):
        Flags(batch_size=0)


def test_a_rule_for_a_field_that_does_not_exist_is_a_bug():
    @dataclass(frozen=True)
    class Renamed:
        steps: int = 1

        def __post_init__(self) -> None:
            check_fields(self, {"step": Int(1)})

    with pytest.raises(TypeError, match=r"rules for unknown fields \['step'\]"):
        Renamed()


def test_real_bounds_open_and_closed():
    Real(0.0, 1.0).check("x", 0.0)
    with pytest.raises(ConfigError, match=r"x: expected a finite number in \[0, 1\), got 1.0"):
        Real(0.0, 1.0, high_open=True).check("x", 1.0)
    with pytest.raises(ConfigError, match=r"x: expected a finite number in \(-inf, inf\), got inf"):
        Real().check("x", float("inf"))


def _hand_checked_configs() -> list[str]:
    """Frozen dataclasses whose ``__post_init__`` raises by hand instead of calling ``check_fields``
    (a subclass that calls ``super().__post_init__()`` inherits its parent's rules)."""
    wrong = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__post_init__"), None)
            if init is None:
                continue
            source = ast.unparse(init)
            raises_by_hand = any(isinstance(n, ast.Raise) for n in ast.walk(init))
            if raises_by_hand and "check_fields" not in source and "super().__post_init__" not in source:
                wrong.append(f"{module}.{node.name}")
    return sorted(wrong)


# Dataclasses whose checks are not field ranges: an env id and its wrappers (envs.factory), and the
# ladder's game counts (array shapes and index bounds, evaluation.ladder). Anything else raising by hand
# in __post_init__ is a second dialect.
NOT_FIELD_RANGES = {"genplay.envs.factory.EnvFactory", "genplay.gail.evaluation.ladder.Games"}


def test_every_config_validates_through_the_field_rules():
    assert sorted(set(_hand_checked_configs()) - NOT_FIELD_RANGES) == []


def test_annotations_as_types_are_checked_too():
    """Without ``from __future__ import annotations`` a field's type is the class, not its name."""
    import dataclasses

    Plain = dataclasses.make_dataclass("Plain", [("on", bool, True), ("n", int, 1)], frozen=True)
    with pytest.raises(ConfigError, match=r"Plain.on: expected true or false, got 1"):
        check_fields(Plain(on=1), {})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"Plain.n: expected an integer, got 'x'"):
        check_fields(Plain(n="x"), {})  # type: ignore[arg-type]
