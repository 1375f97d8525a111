"""Compare the maintained Python CEL packages on correctness and speed.

Run: .venv/bin/python bench/bench_cel.py          (about 10 s on 2 cores)

Candidates (each is skipped, with the reason, if it is not installed):
  common-expression-language  import cel              Rust `cel` crate bindings (our choice)
  cel-python                  import celpy            pure Python (lark parser); both runners
  cel-expr-python             from cel_expr_python import cel   Google's C++ runtime

Speed: compile time per expression, and evaluation time per call with a fresh
context per evaluation, as journeyflow's engine does (variables and the date
helpers bound to this evaluation's `now` and zone). Each number is the best
of 20 round-robin batches (process CPU time); the ratio is against the fastest
package in the same column, measured in this run.

Correctness: 48 cases from the CEL language definition that matter to
journey guards, plus 4 extension names (informational); "error" means the
expression must fail (raise, or return an error value), not produce a value.
See docs/cel.md for the write-up and the choice.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import importlib.metadata
import itertools
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from journeyflow.definition.cel import helpers

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")
ERROR = object()  # expected outcome: the evaluation must fail


def _repr(value: Any) -> str:
    if value is ERROR:
        return "an error"
    if callable(value):
        return (value.__doc__ or value.__name__).strip()
    return repr(value)


# --- the data an expression sees -------------------------------------------------

NOW = dt.datetime(2024, 7, 1, 10, 0, tzinfo=UTC)  # a Monday, 12:00 in Paris


def customer() -> dict[str, Any]:
    return {
        "id": "c-1042",
        "email": "ada@example.com",
        "first_name": "Ada",
        "nickname": None,
        "age": 30,
        "country": "FR",
        "timezone": "Europe/Paris",
        "birthday": "1990-07-15",
        "signed_up_at": "2024-01-01T11:00:00Z",  # traits arrive as JSON: ISO strings
        "orders_count": 7,
        "lifetime_value": 1234.5,
        "segments": ["new", "vip", "champions"],
        "marketing_opt_in": True,
    }


def event() -> dict[str, Any]:
    return {
        "name": "order_placed",
        "occurred_at": "2024-07-01T09:58:00Z",
        "properties": {
            "order_id": "o-77",
            "total": 120,
            "currency": "EUR",
            "items": [{"sku": "A1", "qty": 2}, {"sku": "B7", "qty": 1}],
        },
    }


def double_it(n: Any) -> int:
    return int(n) * 2


def functions_for(now: dt.datetime, tz: Any) -> dict[str, Callable[..., Any]]:
    """What one evaluation gets: journeyflow's helpers bound to now/zone, plus a test function."""
    return {**helpers(now, tz), "double_it": double_it}


# (name, [parameter kinds...] per overload, return kind); "t" = timestamp or string
FUNCTION_SIGNATURES: dict[str, tuple[list[str], str]] = {
    "month_start": (["t"], "timestamp"),
    "month_end": (["t"], "timestamp"),
    "next_anniversary": (["t"], "timestamp"),
    "days_between": (["t", "t"], "int"),
    "local_time": (["t", "string"], "timestamp"),
    "days": (["int"], "duration"),
    "double_it": (["int"], "int"),
}

# --- adapters: one per package (and runner) -----------------------------------------


class Unavailable(Exception):
    pass


class NotSupported(Exception):
    pass


@dataclass
class Adapter:
    name: str
    dist: str
    note: str = ""
    version: str = ""
    error: str = ""
    speed_only: bool = False  # a variant measured for speed, not a separate package

    def compile(self, source: str) -> Any:  # raises on a compile-time error
        raise NotImplementedError

    def evaluate(
        self,
        program: Any,
        variables: Mapping[str, Any],
        functions: Mapping[str, Callable[..., Any]],
    ) -> Any:  # raises on error
        raise NotImplementedError

    def unknown_names(self, source: str, known_vars: set[str], known_fns: set[str]) -> set[str]:
        """Names the expression uses that are neither known variables nor functions,
        found before evaluating it."""
        raise NotSupported


# journeyflow.definition.cel drops names bound by comprehension macros the same way
_BOUND = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")


class RustCel(Adapter):
    """common-expression-language: `import cel`."""

    def __init__(self, referenced_only: bool = False) -> None:
        name = "common-expression-language"
        super().__init__(
            name + (" (referenced vars only)" if referenced_only else ""),
            name,
            "Rust `cel` crate (PyO3)",
        )
        import cel

        self.cel = cel
        self.referenced_only = referenced_only
        self.speed_only = referenced_only

    def compile(self, source: str) -> Any:
        program = self.cel.compile(source)
        if self.referenced_only:
            return program, frozenset(program.references()["variables"])
        return program

    def evaluate(self, program, variables, functions):
        if self.referenced_only:
            # a variant: convert only the variables the expression names
            program, names = program
            variables = {k: v for k, v in variables.items() if k in names}
        # what journeyflow.definition.cel.Scope.context() builds
        context = self.cel.Context(variables=dict(variables), functions=dict(functions))
        return program.execute(context)

    def unknown_names(self, source, known_vars, known_fns):
        refs = self.cel.compile(source).references()
        # references() also lists macro-bound names (the `s` in exists(s, ...))
        variables = set(refs["variables"]) - set(_BOUND.findall(source))
        fns = {f for f in refs["functions"] if f[:1].isalpha()}
        return (variables - known_vars) | (fns - known_fns)


_CURRENT_FUNCTIONS: contextvars.ContextVar[Mapping[str, Callable[..., Any]]] = (
    contextvars.ContextVar("cel_bench_functions")
)


def _trampoline(name: str, wrap: Callable[[Any], Any] = lambda v: v) -> Callable[..., Any]:
    """Packages that bind functions once (at program or environment creation) call
    this, which dispatches to the implementation bound for the current evaluation."""

    def call(*args: Any) -> Any:
        return wrap(_CURRENT_FUNCTIONS.get()[name](*args))

    call.__name__ = name
    return call


class CelPy(Adapter):
    """cel-python: `import celpy` (InterpretedRunner or CompiledRunner)."""

    def __init__(self, compiled: bool = False) -> None:
        runner = "CompiledRunner" if compiled else "InterpretedRunner"
        super().__init__(
            f"cel-python ({'compiled' if compiled else 'interpreted'})",
            "cel-python",
            f"pure Python, lark parser, {runner}",
        )
        import logging

        import celpy
        from celpy import celtypes

        logging.getLogger("celpy").setLevel(logging.CRITICAL)  # it logs every error
        self.celpy, self.celtypes = celpy, celtypes
        if compiled:
            # celpy keeps ONE lark parser per process (CELParser.CEL_PARSER), built with
            # the tree class of the first Environment; a CompiledRunner needs
            # TranspilerTree nodes, so rebuild it (the interpreter accepts those too).
            celpy.celparser.CELParser.CEL_PARSER = None
        self.env = celpy.Environment(runner_class=celpy.CompiledRunner if compiled else None)
        self.functions = {n: _trampoline(n, celpy.json_to_cel) for n in FUNCTION_SIGNATURES}

    def compile(self, source):
        return self.env.program(self.env.compile(source), functions=self.functions)

    def evaluate(self, program, variables, functions):
        activation = {k: self.celpy.json_to_cel(v) for k, v in variables.items()}
        token = _CURRENT_FUNCTIONS.set(functions)
        try:
            result = program.evaluate(activation)
        finally:
            _CURRENT_FUNCTIONS.reset(token)
        if isinstance(result, self.celpy.CELEvalError):
            raise result
        return self._plain(result)

    def _plain(self, v: Any) -> Any:
        t = self.celtypes
        if isinstance(v, t.BoolType):
            return bool(v)
        if isinstance(v, (t.IntType, t.UintType)):
            return int(v)
        if isinstance(v, t.DoubleType):
            return float(v)
        if isinstance(v, t.StringType):
            return str(v)
        if isinstance(v, t.TimestampType):
            return dt.datetime.fromtimestamp(v.timestamp(), v.tzinfo)
        if isinstance(v, t.DurationType):
            return dt.timedelta(seconds=v.total_seconds())
        if isinstance(v, list):
            return [self._plain(x) for x in v]
        if isinstance(v, dict):
            return {self._plain(k): self._plain(x) for k, x in v.items()}
        return v

    def unknown_names(self, source, known_vars, known_fns):
        # no API: walk the lark parse tree (ident = variable; ident_arg /
        # member_dot_arg = function or method call)
        tree = self.env.compile(source)
        variables: set[str] = set()
        fns: set[str] = set()
        bound: set[str] = set()
        for node in tree.iter_subtrees():
            if node.data == "ident":
                variables.add(str(node.children[0]))
            elif node.data == "ident_arg":
                fns.add(str(node.children[0]))
            elif node.data == "member_dot_arg":
                method = str(node.children[1])
                fns.add(method)
                if method in _MACROS:  # the macro's first argument is a bound name
                    first = node.children[2].children[0]
                    bound.update(
                        str(t.children[0]) for t in first.iter_subtrees() if t.data == "ident"
                    )
        return (variables - bound - known_vars) | (fns - known_fns - _CEL_BUILTINS - _MACROS)


_MACROS = {"has", "all", "exists", "exists_one", "map", "filter"}
_CEL_BUILTINS = {
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "timestamp",
    "duration",
    "dyn",
    "type",
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
}


class GoogleCel(Adapter):
    """cel-expr-python: `from cel_expr_python import cel` (C++ runtime, type-checked)."""

    def __init__(self) -> None:
        super().__init__(
            "cel-expr-python",
            "cel-expr-python",
            "Google's C++ runtime (pybind11); type-checks at compile",
        )
        from cel_expr_python import cel

        self.cel = cel
        T = cel.Type
        kinds = {"t": [T.TIMESTAMP, T.STRING], "string": [T.STRING], "int": [T.INT]}
        returns = {"timestamp": T.TIMESTAMP, "int": T.INT, "duration": T.DURATION}
        decls = []
        for name, (params, ret) in FUNCTION_SIGNATURES.items():
            overloads = []
            # Overloads on `dyn` parameters are accepted but never match at run
            # time ("No matching overloads found"), so declare the concrete ones.
            for combo in itertools.product(*(kinds[p] for p in params)):
                oid = name + "_" + "_".join(p.name().lower() for p in combo)
                overloads.append(
                    cel.Overload(oid, returns[ret], list(combo), impl=_trampoline(name))
                )
            decls.append(cel.FunctionDecl(name, overloads))
        # Functions passed per evaluation (eval(functions=...) / Activation(functions=...))
        # fail with "No overload found in reference resolve step" in 0.1.3, so the
        # implementations are bound here and dispatch per evaluation.
        from cel_expr_python.ext import ext_math, ext_strings

        self.env = cel.NewEnv(
            variables={"customer": T.DYN, "event": T.DYN, "state": T.DYN, "now": T.TIMESTAMP},
            functions=decls,
            # opt-in extensions it ships: lowerAscii/split/trim/..., math.greatest/least/...
            extensions=[ext_strings.ExtStrings(), ext_math.ExtMath()],
        )

    def compile(self, source):
        return self.env.compile(source)

    def evaluate(self, program, variables, functions):
        token = _CURRENT_FUNCTIONS.set(functions)
        try:
            result = program.eval(data=dict(variables))
        finally:
            _CURRENT_FUNCTIONS.reset(token)
        if result.type() == self.cel.Type.ERROR:
            raise RuntimeError(result.value())
        return result.plain_value()

    def unknown_names(self, source, known_vars, known_fns):
        # no reference-listing API; the type checker rejects undeclared names
        try:
            self.env.compile(source)
        except Exception as exc:
            return set(re.findall(r"undeclared reference to '([^']+)'", str(exc)))
        return set()


def load_adapters() -> list[Adapter]:
    out: list[Adapter] = []
    factories: list[tuple[str, str, Callable[[], Adapter]]] = [
        ("common-expression-language", "common-expression-language", RustCel),
        (
            "common-expression-language (referenced vars only)",
            "common-expression-language",
            lambda: RustCel(referenced_only=True),
        ),
        ("cel-python (interpreted)", "cel-python", lambda: CelPy(compiled=False)),
        ("cel-python (compiled)", "cel-python", lambda: CelPy(compiled=True)),
        ("cel-expr-python", "cel-expr-python", GoogleCel),
    ]
    for name, dist, make in factories:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            a = Adapter(name, dist, error=f"not installed (pip install {dist})")
            out.append(a)
            continue
        try:
            a = make()
        except Exception as exc:
            a = Adapter(name, dist, error=f"{type(exc).__name__}: {exc}".splitlines()[0])
        a.version = version
        out.append(a)
    return out


# --- correctness ----------------------------------------------------------------------


@dataclass
class Case:
    group: str
    name: str
    source: str
    expected: Any = True  # a value, ERROR, or a predicate (callable) on the result
    data: Callable[[], dict[str, Any]] | None = None  # overrides of the default variables
    core: bool = True  # False: an extension beyond the spec's standard library (informational)
    check: Callable[[Adapter], tuple[bool, str]] | None = None  # a custom test


PLUS_ONE = dt.timezone(dt.timedelta(hours=1))


def with_customer(**traits: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {"customer": {**customer(), **traits}}


def _roundtrip(result: Any) -> bool:
    """a tz-aware datetime equal to 2024-01-01T13:00+01:00"""
    expected = dt.datetime(2024, 1, 1, 13, 0, tzinfo=PLUS_ONE)
    return isinstance(result, dt.datetime) and result.tzinfo is not None and result == expected


def _static_refs(adapter: Adapter) -> tuple[bool, str]:
    src = (
        'customer.age > 1 && custmer.email != "" && unknown_fn(1) == 2'
        ' && customer.segments.exists(s, s == "vip")'
    )
    found = adapter.unknown_names(
        src, {"customer", "event", "state", "now"}, set(FUNCTION_SIGNATURES)
    )
    # cel-expr-python's checker names the longest candidate (`custmer.email`)
    heads = {name.split(".")[0] for name in found}
    return heads == {"custmer", "unknown_fn"}, f"found {sorted(found)}"


CASES: list[Case] = [
    # numbers: no implicit coercion between int, uint and double
    Case("numbers", "int + uint is an error", "1 + 1u", ERROR),
    Case("numbers", "int + double is an error", "1 + 1.0", ERROR),
    Case("numbers", "int trait + double is an error", "customer.age + 0.5", ERROR),
    Case(
        "numbers",
        "explicit conversions",
        "double(customer.age) + 0.5 == 30.5 && int(2.9) == 2 && uint(5) + 1u == 6u",
    ),
    Case("numbers", "integer division truncates", "-7 / 2 == -3 && -7 % 3 == -1"),
    Case("numbers", "int overflow is an error", "9223372036854775807 + 1", ERROR),
    Case("numbers", "uint underflow is an error", "0u - 1u", ERROR),
    Case("numbers", "numeric equality across types (runtime)", "dyn(1) == 1.0 && dyn(1u) == 1"),
    Case("numbers", "numeric ordering across types (runtime)", "event.properties.total >= 99.5"),
    # strings
    Case(
        "strings",
        "size counts code points",
        'size("héllo") == 5 && size(customer.first_name + "é") == 4',
    ),
    Case(
        "strings",
        "startsWith/endsWith/contains",
        'customer.email.startsWith("ada") && customer.email.endsWith(".com")'
        ' && customer.email.contains("@")',
    ),
    Case("strings", "matches (RE2)", r'customer.email.matches("^[^@]+@example\\.com$")'),
    Case(
        "strings",
        "string()/int()/bool() conversions",
        'string(42) == "42" && int("42") == 42 && bool("true")',
    ),
    Case("strings", "lexicographic order", '"abc" < "abd"'),
    # has() and in
    Case("has/in", "has() on a present key", "has(customer.email)"),
    Case("has/in", "has() on a missing key", "has(customer.phone)", False),
    Case("has/in", "has() on a key whose value is null", "has(customer.nickname)"),
    Case(
        "has/in", "has() through a missing parent is an error", "has(customer.address.city)", ERROR
    ),
    Case(
        "has/in", "in on a list", '"vip" in customer.segments && !("churned" in customer.segments)'
    ),
    Case("has/in", "in on a map (keys)", '"email" in customer && !("phone" in customer)'),
    # errors and their absorption
    Case("errors", "missing key is an error, not false", 'customer.phone == ""', ERROR),
    Case("errors", "missing key by index is an error", 'customer["phone"]', ERROR),
    Case("errors", "int division by zero is an error", "customer.age / 0", ERROR),
    Case("errors", "int modulo by zero is an error", "customer.age % 0", ERROR),
    Case("errors", "double division by zero is +inf", "1.0 / 0.0 > 1e308"),
    Case("errors", "false && error == false", 'false && customer.phone == ""', False),
    Case("errors", "error && false == false (commutative)", 'customer.phone == "" && false', False),
    Case("errors", "true || error == true", 'true || customer.phone == ""'),
    Case("errors", "error || true == true (commutative)", 'customer.phone == "" || true'),
    Case("errors", "error || false stays an error", 'customer.phone == "" || false', ERROR),
    Case(
        "errors",
        "exists() absorbs an error when one element is true",
        "[0, 1].exists(x, 1 / x == 1)",
    ),
    # null
    Case("null", "null trait equals null", "customer.nickname == null"),
    Case("null", "null != other types (no error)", "customer.nickname == 0", False),
    # timestamps and durations
    Case(
        "time",
        "timestamp + duration",
        'timestamp("2024-02-28T12:00:00Z") + duration("24h") == timestamp("2024-02-29T12:00:00Z")',
    ),
    Case(
        "time",
        "timestamp - timestamp = duration",
        'timestamp("2024-03-01T00:00:00Z") - timestamp("2024-02-01T00:00:00Z") == duration("696h")',
    ),
    Case(
        "time",
        "duration comparison",
        'duration("1h30m") == duration("90m") && duration("2h") > duration("119m")',
    ),
    Case(
        "time",
        "datetime (fixed offset) trait keeps the instant",
        'customer.signed_up_at == timestamp("2024-01-01T11:00:00Z")',
        data=with_customer(signed_up_at=dt.datetime(2024, 1, 1, 12, 0, tzinfo=PLUS_ONE)),
    ),
    Case(
        "time",
        "datetime (zoneinfo) trait keeps the instant",
        'customer.signed_up_at == timestamp("2024-01-01T11:00:00Z")',
        data=with_customer(signed_up_at=dt.datetime(2024, 1, 1, 12, 0, tzinfo=PARIS)),
    ),
    Case(
        "time",
        "datetime (zoneinfo) as `now`",
        'now == timestamp("2024-07-01T10:00:00Z")',
        data=lambda: {"now": NOW.astimezone(PARIS)},
    ),
    Case(
        "time",
        "timedelta trait is a duration",
        'customer.trial > duration("1h")',
        data=with_customer(trial=dt.timedelta(days=14)),
    ),
    Case(
        "time",
        "timestamp back to a tz-aware datetime",
        'customer.signed_up_at + duration("1h")',
        _roundtrip,
        data=with_customer(signed_up_at=dt.datetime(2024, 1, 1, 12, 0, tzinfo=PLUS_ONE)),
    ),
    Case(
        "time",
        "now - timestamp(trait string) vs a duration",
        'now - timestamp(customer.signed_up_at) > duration("720h")',
    ),
    Case(
        "time",
        "accessors in UTC",
        "now.getHours() == 10 && now.getDayOfWeek() == 1 && now.getMonth() == 6",
    ),
    Case("time", "accessors with a time zone", 'now.getHours("Europe/Paris") == 12'),
    # custom Python functions
    Case("functions", "custom Python function", "double_it(customer.age) == 60"),
    Case("functions", "journeyflow helper returning a timestamp", "month_end(now) > now"),
    Case(
        "functions",
        "journeyflow helper on an ISO string trait",
        "days_between(customer.birthday, now) > 12000",
    ),
    # static analysis
    Case("static", "list unknown names before evaluating", "", check=_static_refs),
    # cel-go's strings/math extensions: not in the spec's standard library, and
    # journeyflow's STANDARD_FUNCTIONS (definition/cel.py) leaves them out, so a
    # journey using them fails validation with "unknown function"; these cases
    # show which interpreters have them anyway (informational)
    Case(
        "extension", "lowerAscii()", 'customer.email.lowerAscii() == "ada@example.com"', core=False
    ),
    Case("extension", "split()", 'customer.email.split("@")[1] == "example.com"', core=False),
    Case("extension", "trim()", '" a ".trim() == "a"', core=False),
    Case("extension", "max()", "max(1, 2) == 2", core=False),
]


@dataclass
class Outcome:
    ok: bool
    detail: str


def run_case(adapter: Adapter, case: Case) -> Outcome:
    if case.check is not None:
        try:
            ok, detail = case.check(adapter)
        except NotSupported:
            return Outcome(False, "no way to list references")
        except Exception as exc:
            return Outcome(False, f"{type(exc).__name__}: {_first_line(exc)}")
        return Outcome(ok, detail)
    variables = {"customer": customer(), "event": event(), "state": {}, "now": NOW}
    variables.update(case.data() if case.data else {})
    try:
        program = adapter.compile(case.source)
    except Exception as exc:
        got_error, result, how = True, None, f"compile error: {_first_line(exc)}"
    else:
        try:
            result = adapter.evaluate(program, variables, functions_for(NOW, PARIS))
            got_error, how = False, ""
        except Exception as exc:
            got_error, result, how = True, None, f"{type(exc).__name__}: {_first_line(exc)}"
    if case.expected is ERROR:
        return Outcome(got_error, how if got_error else f"expected an error, got {result!r}")
    if got_error:
        return Outcome(False, f"expected {_repr(case.expected)}, got {how}")
    if callable(case.expected):
        return Outcome(bool(case.expected(result)), f"got {result!r}")
    ok = type(result) is type(case.expected) and result == case.expected
    return Outcome(ok, f"expected {case.expected!r}, got {result!r}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:110]


# --- speed --------------------------------------------------------------------------------

BENCH_EXPRESSIONS = {
    "guard": 'event.properties.total >= 100 && customer.email != ""',
    "timestamp": "month_end(now) > now",
    "macro": 'customer.segments.exists(s, s == "champions")',
}


def _batch_size(fn: Callable[[], Any], target: float) -> int:
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target / 4 or n >= 1 << 20:
            return max(1, int(n * target / max(elapsed, 1e-9)))
        n *= 4


def _timed(fn: Callable[[], Any], n: int) -> float:
    # CPU time of this process: time spent preempted by other work does not count
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n


def measure_all(
    adapters: list[Adapter], rounds: int = 20, batch: float = 0.01
) -> dict[str, dict[str, float | str]]:
    """Seconds per call for each adapter and column, or why it could not be measured.

    Batches of ~10 ms (CPU time) run round-robin across the packages, `rounds` times, and the
    best batch counts: on a shared machine, load then hits every package alike.
    """
    out: dict[str, dict[str, float | str]] = {a.name: {} for a in adapters}
    for key, source in BENCH_EXPRESSIONS.items():
        jobs: dict[tuple[str, str], tuple[Callable[[], Any], int]] = {}
        for a in adapters:
            try:
                program = a.compile(source)
            except Exception as exc:
                out[a.name][f"compile {key}"] = out[a.name][f"eval {key}"] = (
                    f"fails: {_first_line(exc)}"
                )
                continue

            def compile_once(a: Adapter = a, source: str = source) -> Any:
                return a.compile(source)

            def one_evaluation(a: Adapter = a, program: Any = program) -> Any:
                # a fresh context each time: new variable bindings, helpers bound to now/zone
                variables = {"customer": CUSTOMER, "event": EVENT, "state": STATE, "now": NOW}
                return a.evaluate(program, variables, functions_for(NOW, PARIS))

            jobs[(a.name, f"compile {key}")] = (compile_once, _batch_size(compile_once, batch))
            try:
                result = one_evaluation()
            except Exception as exc:
                out[a.name][f"eval {key}"] = f"fails: {_first_line(exc)}"
                continue
            if result is not True:
                out[a.name][f"eval {key}"] = f"fails: got {result!r}"
                continue
            jobs[(a.name, f"eval {key}")] = (one_evaluation, _batch_size(one_evaluation, batch))
        best = {job: float("inf") for job in jobs}
        for _ in range(rounds):
            for job, (fn, n) in jobs.items():
                best[job] = min(best[job], _timed(fn, n))
        for (name, col), seconds in best.items():
            out[name][col] = seconds
    return out


CUSTOMER, EVENT, STATE = customer(), event(), {"visits": 3}


def _fmt_time(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:,.1f} µs" if us < 1000 else f"{us / 1000:,.2f} ms"


def print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(
            "| "
            + " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            + " |"
        )


def main() -> int:
    started = time.perf_counter()
    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.platform(terse=True)}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    adapters = load_adapters()
    print()
    for a in adapters:
        if a.speed_only:
            continue
        status = f"UNAVAILABLE: {a.error}" if a.error else a.note
        status = f"version {a.version} — {status}"
        print(f"  {a.name}: {status}")
    usable = [a for a in adapters if not a.error]
    checked = [a for a in usable if not a.speed_only]

    # correctness
    results: dict[str, dict[str, Outcome]] = {}
    for a in checked:
        results[a.name] = {c.name: run_case(a, c) for c in CASES}
    core = [c for c in CASES if c.core]
    ext = [c for c in CASES if not c.core]

    print(
        f"\nCorrectness: {len(core)} cases from the CEL spec (+{len(ext)} strings/math "
        "extension names, informational)\n"
    )
    header = ["case", *[a.name for a in checked]]
    rows = []
    for c in CASES:
        rows.append(
            [
                f"{'' if c.core else '(ext) '}{c.group}: {c.name}",
                *["pass" if results[a.name][c.name].ok else "FAIL" for a in checked],
            ]
        )
    for label, group in (("PASSED (spec cases)", core), ("extension names available", ext)):
        rows.append(
            [
                label,
                *[
                    f"{sum(results[a.name][c.name].ok for c in group)}/{len(group)}"
                    for a in checked
                ],
            ]
        )
    print_table(rows, header)
    for a in checked:
        fails = [c for c in core if not results[a.name][c.name].ok]
        missing_ext = [c.name for c in ext if not results[a.name][c.name].ok]
        if not fails and not missing_ext:
            continue
        print(f"\n{a.name} — what went wrong:")
        for c in fails:
            src = f"  `{c.source}`" if c.source else ""
            print(f"  - {c.group}: {c.name}:{src}\n      {results[a.name][c.name].detail}")
        if missing_ext:
            print(f"  - (ext) not available: {', '.join(missing_ext)}")

    # speed
    print(
        "\nSpeed per call (CPU time): best of 20 round-robin batches of ~10 ms; "
        "(×N) = N times the fastest in the column"
    )
    timings = measure_all(usable)
    columns = [f"{kind} {key}" for kind in ("compile", "eval") for key in BENCH_EXPRESSIONS]
    fastest = {
        col: min(
            (t[col] for t in timings.values() if isinstance(t[col], float)), default=float("nan")
        )
        for col in columns
    }
    rows = []
    notes = []
    for name, t in timings.items():
        cells = []
        for col in columns:
            v = t[col]
            if isinstance(v, float):
                cells.append(f"{_fmt_time(v)} (×{v / fastest[col]:.1f})")
            else:
                cells.append("n/a*")
                notes.append(f"  * {name}, {col}: {v}")
        rows.append([name, *cells])
    print()
    print_table(rows, ["package", *columns])
    for note in notes:
        print(note)
    print("\nExpressions:")
    for key, source in BENCH_EXPRESSIONS.items():
        print(f"  {key:9} {source}")
    print(f"\nTotal run time: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
