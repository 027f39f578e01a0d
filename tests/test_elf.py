"""harness/elf.py: an ELF is parsed once per version of the file, and its facts are pyelftools' own."""
import shutil

import pytest
from elftools.elf.elffile import ELFFile

from harness.elf import read_elf
from harness.errors import HarnessError

pytestmark = pytest.mark.emulated      # builds firmware


@pytest.fixture(scope="module")
def two_elfs():
    from harness.pipeline import model_firmware
    from harness.board import load_board
    from harness.zoo_gen import generate
    a = model_firmware(load_board("nucleo_f446re"), generate("ad_fc_s"), "gen_ad_fc_s")[0].elf
    b = model_firmware(load_board("nucleo_f746zg"), generate("ad_fc_s"), "gen_ad_fc_s")[0].elf
    return a, b


def test_facts_are_read_once_per_version_of_the_file(two_elfs, tmp_path):
    a, b = two_elfs
    p = tmp_path / "fw.elf"
    shutil.copy(a, p)
    first = read_elf(p)
    assert read_elf(p) is first                       # unchanged file: the same parse
    shutil.copy(b, p)                                 # rebuilt at the same path: read again
    again = read_elf(p)
    assert again is not first and again.segments != first.segments


def test_facts_match_pyelftools(two_elfs):
    path = two_elfs[0]
    facts = read_elf(path)
    with open(path, "rb") as f:
        elf = ELFFile(f)
        loads = [(s["p_paddr"], s.data()[:s["p_filesz"]]) for s in elf.iter_segments()
                 if s["p_type"] == "PT_LOAD" and s["p_filesz"]]
        names = [s.name for s in elf.iter_sections()]
        syms = [(s.name, s["st_value"], s["st_size"]) for s in elf.get_section_by_name(".symtab").iter_symbols()]
    assert [(s.paddr, s.data) for s in facts.segments] == loads
    assert [s.name for s in facts.sections] == names
    assert [(s.name, s.value, s.size) for s in facts.symbols] == syms
    assert facts.machine == "EM_ARM" and any(s.data for s in facts.sections if s.code)


def test_what_is_no_elf_is_one_line(tmp_path):
    (tmp_path / "x.elf").write_bytes(b"not an elf")
    with pytest.raises(HarnessError, match="not a readable ELF file"):
        read_elf(tmp_path / "x.elf")
    with pytest.raises(HarnessError, match="no ELF file at"):
        read_elf(tmp_path / "missing.elf")
