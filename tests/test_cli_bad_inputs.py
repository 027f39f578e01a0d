"""No traceback reaches a user from any `harness` command on any input (issue 14 item 15): every command
fed a corpus of bad inputs (empty, truncated, random bytes, a flatbuffer of another schema, missing paths,
directories, unknown boards, malformed .repl files, negative counts) ends with a line starting `error:`
and a non-zero exit status.

The commands run in this process through harness.cli.main, the console script's own entry point (the
`harness` executable is nothing but a call to it), with sys.argv set: the same code path, including the
catch-all for unexpected exceptions, without paying a Python start-up per case. An exception escaping
main() fails the test the way it would print a traceback to a user.

Legitimate models of other types (float32, int16x8, uint8 I/O) are not bad inputs: for them each command
must end without a traceback with a sensible outcome, stated per command in VALID_MODEL_OUTCOMES."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from harness import cli, registry

BOARD = "nucleo_f446re"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, str]:
    """name -> path (or name) of one bad input. Nothing here needs a firmware build to be refused."""
    d = tmp_path_factory.mktemp("bad")
    good = registry.resolve("gen_ad_fc_s")[1].read_bytes()
    elf = _small_elf().read_bytes()
    rng = np.random.default_rng(14)
    files = {
        "empty.tflite": b"",
        "truncated.tflite": good[: len(good) // 3],
        "random.tflite": rng.bytes(4096),
        "other_schema.tflite": good[:4] + b"BFBS" + good[8:],          # another flatbuffer file identifier
        "empty.elf": b"",
        "truncated.elf": elf[:3000],
        "header_only.elf": elf[:100],
        "random.elf": rng.bytes(4096),
        "random.repl": rng.bytes(2048),
        "empty.repl": b"",
        "random.csv": rng.bytes(512),
        "random.toml": rng.bytes(512),
    }
    out = {}
    for name, data in files.items():
        (d / name).write_bytes(data)
        out[name] = str(d / name)
    for name in ("dir.tflite", "dir.elf", "dir.repl", "emptydir"):
        (d / name).mkdir()
        out[name] = str(d / name)
    out["missing.tflite"] = str(d / "missing.tflite")
    out["missing.elf"] = str(d / "missing.elf")
    out["missing.repl"] = str(d / "missing.repl")
    out["missing.toml"] = str(d / "missing.toml")
    out["missing.json"] = str(d / "missing.json")
    out["x86.elf"] = sys.executable if open(sys.executable, "rb").read(4) == b"\x7fELF" else out["random.elf"]
    out["good.tflite"] = str(d / "good.tflite")
    (d / "good.tflite").write_bytes(good)
    out["good.elf"] = str(_small_elf())
    return out


def _small_elf():
    from firmware_boot import firmware
    return firmware("cycles_bench")("nucleo_f446re")[1]


BAD_MODELS = ["empty.tflite", "truncated.tflite", "random.tflite", "other_schema.tflite", "missing.tflite",
              "dir.tflite"]
BAD_BOARDS = ["nucleo_x", "missing.repl", "random.repl", "empty.repl", "dir.repl"]
BAD_ELFS = ["missing.elf", "dir.elf", "empty.elf", "truncated.elf", "header_only.elf", "random.elf", "x86.elf"]

CASES = (
    [(f"check-model-{m}", ["check", "-b", BOARD, "-m", "@" + m, "--inputs", "1"]) for m in BAD_MODELS]
    + [(f"profile-model-{m}", ["profile", "-b", BOARD, "-m", "@" + m]) for m in BAD_MODELS]
    + [(f"runtime-model-{m}", ["runtime", "-m", "@" + m, "--inputs", "1"]) for m in BAD_MODELS]
    + [(f"patch-model-{m}", ["patch", "-m", "@" + m]) for m in BAD_MODELS]
    + [(f"patch-board-{b}", ["patch", "-b", "@" + b if "." in b else b, "-m", "@good.tflite"]) for b in BAD_BOARDS]
    + [(f"check-board-{b}", ["check", "-b", "@" + b if "." in b else b, "-m", "@good.tflite"]) for b in BAD_BOARDS]
    + [(f"profile-board-{b}", ["profile", "-b", "@" + b if "." in b else b, "-m", "@good.tflite"]) for b in BAD_BOARDS]
    + [(f"run-board-{b}", ["run", "@good.elf", "-b", "@" + b if "." in b else b]) for b in BAD_BOARDS]
    + [(f"run-elf-{e}", ["run", "@" + e, "-b", BOARD, "--budget", "1000"]) for e in BAD_ELFS]
    + [
        ("check-seed", ["check", "-b", BOARD, "-m", "@good.tflite", "--seed", "-1"]),
        ("check-jobs", ["check", "-b", BOARD, "-m", "@good.tflite", "--jobs", "-3"]),
        ("check-unknown-model", ["check", "-b", BOARD, "-m", "no_such_model"]),
        ("check-report-dir-is-file", ["check", "-b", BOARD, "-m", "@good.tflite", "--report-dir", "@random.csv"]),
        ("profile-seed", ["profile", "-b", BOARD, "-m", "@good.tflite", "--seed", "-1"]),
        ("patch-overhead", ["patch", "-m", "@good.tflite", "--patch-overhead", "-1"]),
        ("fidelity-jobs", ["fidelity", "--jobs", "-3", "--dir", "@emptydir"]),
        ("fidelity-missing-dir", ["fidelity", "--dir", "@missing.toml"]),
        ("fidelity-dir-is-file", ["fidelity", "--dir", "@random.toml"]),
        ("calibrate-missing", ["calibrate", "@missing.json", "--dry-run"]),
        ("calibrate-emptydir", ["calibrate", "@emptydir", "--dry-run"]),
        ("calibrate-random-csv", ["calibrate", "@random.csv", "--dry-run"]),
        ("calibrate-empty-model", ["calibrate", "@empty.tflite", "--dry-run"]),
        ("calibrate-published-missing", ["calibrate", "--published", "@missing.toml", "--dry-run"]),
        ("calibrate-published-random", ["calibrate", "--published", "@random.toml", "--dry-run"]),
        ("calibrate-published-dir", ["calibrate", "--published", "@emptydir", "--dry-run"]),
        ("calibrate-counts-random", ["calibrate", "@emptydir", "--counts", "@random.csv", "--dry-run"]),
        ("calibrate-counts-missing", ["calibrate", "@emptydir", "--counts", "@missing.json", "--dry-run"]),
        ("calibrate-unknown-board", ["calibrate", "@random.csv", "-b", "nucleo_x", "--dry-run"]),
        ("run-until-not-a-regex", ["run", "@good.elf", "-b", BOARD, "--until", "(", "--budget", "1000"]),
        ("run-negative-budget", ["run", "@good.elf", "-b", BOARD, "--budget", "-5"]),
        ("profile-out-is-a-file", ["profile", "-b", BOARD, "-m", "@good.tflite", "--out", "@random.csv"]),
        ("runtime-markdown-is-a-folder", ["runtime", "-m", "@good.tflite", "--inputs", "1", "--markdown", "@emptydir"]),
        ("runtime-no-inputs", ["runtime", "-m", "@good.tflite", "--inputs", "0"]),
        ("bench-kernels-unknown-board", ["bench", "kernels", "-b", "nucleo_x", "-m", "@good.tflite"]),
        ("workload-seed", ["calibration-workload", "@emptydir", "--seed", "-1", "--count", "1"]),
        ("workload-unknown-board", ["calibration-workload", "@emptydir", "-b", "nucleo_x"]),
        ("workload-out-is-file", ["calibration-workload", "@random.csv", "-b", BOARD, "--count", "0",
                                  "--no-microbenchmarks", "--no-emulate"]),
    ]
)


def harness(argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    """Run `harness ARGV` as the console script does; (exit status, stdout + stderr)."""
    monkeypatch.setattr(sys, "argv", ["harness", *argv])
    code = 0
    try:
        cli.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    got = capsys.readouterr()
    return code, got.out + got.err


@pytest.mark.parametrize("args", [a for _, a in CASES], ids=[n for n, _ in CASES])
def test_a_bad_input_is_one_error_line(args, corpus, capsys, monkeypatch):
    argv = [corpus[a[1:]] if a.startswith("@") else a for a in args]
    code, text = harness(argv, capsys, monkeypatch)
    assert "Traceback" not in text, text[-3000:]
    assert code != 0, text[-3000:]
    errors = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert errors, text[-3000:]
    assert "internal:" not in errors[0], errors[0]     # the catch-all is a safety net, not the answer


def test_an_unexpected_exception_is_one_internal_error_line(capsys, monkeypatch):
    """The safety net: a bug in a command prints one line and exits 1; HARNESS_DEBUG=1 shows it whole."""
    def broken() -> None:
        raise RuntimeError("boom\nsecond line")
    monkeypatch.setattr("harness.cli.all_boards", broken)
    monkeypatch.delenv("HARNESS_DEBUG", raising=False)
    code, text = harness(["boards"], capsys, monkeypatch)
    assert code == 1
    assert text.strip().splitlines() == ["error: internal: RuntimeError: boom (rerun with HARNESS_DEBUG=1 for "
                                         "the traceback)"]
    monkeypatch.setenv("HARNESS_DEBUG", "1")
    with pytest.raises(RuntimeError):
        harness(["boards"], capsys, monkeypatch)


@pytest.mark.parametrize("value", ["{tmp}/absent", "{tmp}/a_file", "{tmp}:{tmp}/absent"])
def test_a_harness_models_folder_that_is_not_there_is_named(value, tmp_path, capsys, monkeypatch):
    """Was ignored without a word: `check --task ad` then 'passed' on the generated model alone."""
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("HARNESS_MODELS", value.format(tmp=tmp_path))
    code, text = harness(["models"], capsys, monkeypatch)
    assert code == 1 and "Traceback" not in text
    assert text.startswith("error: $HARNESS_MODELS names"), text
    assert str(tmp_path) in text and "not a folder" in text


@pytest.fixture(scope="module")
def typed_models() -> dict[str, str]:
    """Legitimate models of the other types, hand-built (no TensorFlow run): a float32 ADD, an int16 -> int8
    QUANTIZE (int16 I/O) and a uint8 -> int8 QUANTIZE (uint8 I/O)."""
    from kernels.tflite_synth import Synth

    def one(dtype, **quant):
        s = Synth()
        if dtype is np.float32:
            x = s.tensor([1, 8], np.float32, name="x")
            c = s.tensor([1, 8], np.float32, data=np.ones((1, 8), np.float32), name="c")
            y = s.tensor([1, 8], np.float32, name="y")
            s.op("ADD", [x, c], [y], s.options("AddOptions"))
        else:
            x = s.tensor([1, 8], dtype, name="x", **quant)
            y = s.tensor([1, 8], np.int8, scale=0.05, zero_point=0, name="y")
            s.op("QUANTIZE", [x], [y])
        return str(s.save([x], [y]))
    return {"float32": one(np.float32), "int16": one(np.int16, scale=0.01, zero_point=0),
            "uint8": one(np.uint8, scale=0.05, zero_point=128)}


# Per command, what a legitimate model of another type must give (never a traceback). The runtime runs
# all three (float32 ADD has its kernel, tm_add_f32; int16 and uint8 I/O go through QUANTIZE), so:
# check: exit 0, verdict `pass` (bit-exact with TFLM); profile: exit 0, a table; runtime: exit 0, a row
# (exit 1 would mean a difference from TFLM). A model whose op or type the runtime lacks is `unsupported`
# in check and an `error:` line in profile: tests/test_check_robust.py's RELU model.
VALID_MODEL_OUTCOMES = {
    "float32": {"check": "pass", "profile": "ok", "runtime": "ok"},
    "int16": {"check": "pass", "profile": "ok", "runtime": "ok"},
    "uint8": {"check": "pass", "profile": "ok", "runtime": "ok"},
}


@pytest.mark.parametrize("kind", VALID_MODEL_OUTCOMES)
@pytest.mark.parametrize("command", ["check", "profile", "runtime"])
def test_models_of_other_types_end_sensibly(kind, command, typed_models, capsys, monkeypatch):
    import json
    model = typed_models[kind]
    argv = {"check": ["check", "-b", BOARD, "-m", model, "--inputs", "2", "--json"],
            "profile": ["profile", "-b", BOARD, "-m", model],
            "runtime": ["runtime", "-m", model, "--inputs", "2"]}[command]
    code, text = harness(argv, capsys, monkeypatch)
    assert "Traceback" not in text and "internal:" not in text, text[-3000:]
    want = VALID_MODEL_OUTCOMES[kind][command]
    if command == "check":
        assert code == 0, text[-3000:]
        verdicts = json.loads(text[text.index("["):text.rindex("]") + 1])
        assert [v["status"] for v in verdicts] == [want], verdicts
    else:
        assert code == 0, text[-3000:]
