"""The llama.cpp build options: chosen from recorded /proc/cpuinfo files, never AMX."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from codeloop.models import llama_build, selfcheck
from codeloop.models.llama_build import build_key, cmake_options, cpu_flags, describe

CPUINFO = Path(__file__).parents[1] / "data" / "cpuinfo"
ROOT = Path(__file__).parents[2]


def options_for(name: str, machine: str = "x86_64") -> list[str]:
    return cmake_options(machine, cpu_flags((CPUINFO / name).read_text()))


def enabled(options: list[str]) -> set[str]:
    return {o[2:-3] for o in options if o.endswith("=ON")}


def test_amx_xeon_gets_avx512_and_never_amx():
    options = options_for("intel_xeon_sapphire_rapids_amx.txt")
    assert options[0] == "-DGGML_NATIVE=OFF"
    assert enabled(options) == {
        "GGML_SSE42", "GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C", "GGML_BMI2",
        "GGML_AVX_VNNI", "GGML_AVX512", "GGML_AVX512_VBMI", "GGML_AVX512_VNNI", "GGML_AVX512_BF16",
    }
    for amx in ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16"):
        assert f"-D{amx}=OFF" in options
    assert describe(options).startswith("x86-64 AVX-512 (")


@pytest.mark.parametrize("name", ["intel_core_i7_8550u_avx2_laptop.txt", "amd_epyc_zen3_vm_avx2.txt"])
def test_avx2_machines_get_avx2_and_every_avx512_option_off(name):
    options = options_for(name)
    assert enabled(options) == {"GGML_SSE42", "GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C", "GGML_BMI2"}
    assert "-DGGML_AVX512=OFF" in options and "-DGGML_AVX_VNNI=OFF" in options
    assert describe(options) == "x86-64 AVX2 (SSE4.2, AVX, FMA, F16C, BMI2)"


def test_a_baseline_cpu_turns_off_what_ggml_would_otherwise_assume():
    # With GGML_NATIVE=OFF ggml enables AVX, AVX2, FMA, F16C and BMI2 by default: they must be off.
    options = options_for("intel_atom_c2750_sse42_baseline.txt")
    assert enabled(options) == {"GGML_SSE42"}
    for option in ("GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C", "GGML_BMI2"):
        assert f"-D{option}=OFF" in options
    assert describe(options) == "x86-64 SSE4.2"


def test_avx512_needs_all_five_subsets_ggml_compiles_with():
    flags = cpu_flags((CPUINFO / "intel_xeon_sapphire_rapids_amx.txt").read_text()) - {"avx512vl"}
    options = cmake_options("x86_64", flags)
    assert "-DGGML_AVX512=OFF" in options
    assert "-DGGML_AVX512_VNNI=ON" in options  # its own flags are still all there


def test_aarch64_server_gets_its_extensions():
    options = options_for("aws_graviton3_neoverse_v1_aarch64.txt", machine="aarch64")
    assert options == ["-DGGML_NATIVE=OFF", "-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod+fp16+i8mm"]
    assert describe(options) == "aarch64 armv8.2-a+dotprod+fp16+i8mm"


def test_aarch64_board_without_extensions_gets_plain_armv8():
    options = options_for("raspberry_pi4_cortex_a72_aarch64.txt", machine="arm64")
    assert options == ["-DGGML_NATIVE=OFF", "-DGGML_CPU_ARM_ARCH=armv8-a"]


def test_an_unknown_machine_is_never_native():
    assert cmake_options("riscv64", set()) == ["-DGGML_NATIVE=OFF"]
    assert describe(["-DGGML_NATIVE=OFF"]) == "generic"


def test_different_options_never_share_a_wheel():
    amx = options_for("intel_xeon_sapphire_rapids_amx.txt")
    laptop = options_for("intel_core_i7_8550u_avx2_laptop.txt")
    epyc = options_for("amd_epyc_zen3_vm_avx2.txt")
    assert build_key(amx) != build_key(laptop)
    assert build_key(laptop) == build_key(epyc)  # the same options build the same wheel


def test_version_matches_the_local_extras_pin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert f"llama-cpp-python=={llama_build.VERSION}" in project["optional-dependencies"]["local"]


class FakeInstall:
    """Stands in for pip: records builds and installs, and 'installs' a library file."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.builds: list[list[str]] = []
        self.installs: list[str] = []
        self.lib = tmp_path / "site" / "llama_cpp" / "lib"
        self.lib.mkdir(parents=True)
        monkeypatch.setenv("CODELOOP_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setattr(llama_build, "marker_path", lambda: tmp_path / "venv-marker.json")
        monkeypatch.setattr(selfcheck, "library_files", lambda: sorted(self.lib.glob("*.so")))
        monkeypatch.setattr(llama_build, "build_wheel", self.build)
        monkeypatch.setattr(llama_build, "_pip", self.pip)

    def build(self, options: list[str], into: Path) -> Path:
        self.builds.append(options)
        into.mkdir(parents=True, exist_ok=True)
        wheel = into / f"llama_cpp_python-{llama_build.VERSION}-cp311-cp311-linux_x86_64.whl"
        wheel.write_text(" ".join(options))
        return wheel

    def pip(self, *args: str) -> None:
        self.installs.append(args[-1])
        (self.lib / "libggml-cpu.so").write_text(Path(args[-1]).read_text())


def test_a_build_is_reused_only_for_the_options_it_was_built_with(tmp_path, monkeypatch):
    fake = FakeInstall(tmp_path, monkeypatch)
    laptop = options_for("intel_core_i7_8550u_avx2_laptop.txt")
    amx = options_for("intel_xeon_sapphire_rapids_amx.txt")
    machine = {"options": laptop}
    monkeypatch.setattr(llama_build, "this_machine_options", lambda: machine["options"])

    assert llama_build.ensure_built(say=lambda _: None)
    assert fake.builds == [laptop] and len(fake.installs) == 1
    assert not llama_build.ensure_built(say=lambda _: None)  # the venv fits
    assert len(fake.installs) == 1

    machine["options"] = amx  # the same venv, copied to another CPU
    llama_build.ensure_built(say=lambda _: None)
    assert fake.builds == [laptop, amx]
    assert (fake.lib / "libggml-cpu.so").read_text() == " ".join(amx)

    machine["options"] = laptop  # and back: the laptop's wheel comes from the cache, no build
    llama_build.ensure_built(say=lambda _: None)
    assert fake.builds == [laptop, amx]
    assert (fake.lib / "libggml-cpu.so").read_text() == " ".join(laptop)


def test_a_library_reinstalled_by_hand_is_not_trusted(tmp_path, monkeypatch):
    fake = FakeInstall(tmp_path, monkeypatch)
    monkeypatch.setattr(llama_build, "this_machine_options", lambda: ["-DGGML_NATIVE=OFF"])
    llama_build.ensure_built(say=lambda _: None)
    (fake.lib / "libggml-cpu.so").write_text("pip's own -march=native build, larger")
    assert llama_build.ensure_built(say=lambda _: None)
    assert len(fake.installs) == 2


def test_force_builds_even_when_cached(tmp_path, monkeypatch):
    fake = FakeInstall(tmp_path, monkeypatch)
    monkeypatch.setattr(llama_build, "this_machine_options", lambda: ["-DGGML_NATIVE=OFF"])
    llama_build.ensure_built(say=lambda _: None)
    llama_build.ensure_built(force=True, say=lambda _: None)
    assert len(fake.builds) == 2
