"""Unit parsers: memory units, legacy ReqMem, TRES GPUs, states, users."""
import pytest

from sb.collect.parse import BadField, gpu_count, req_mem_kib, rss_kib, state_word, to_kib, tres_value, whole
from sb.names import normalize_user

MB = 1024  # KiB per MB


@pytest.mark.parametrize("text, kib", [
    ("", 0),
    ("219459584", 214316),          # --noconvert: bytes (219459584 / 1024 = 214316 exactly)
    ("1023", 1), ("511", 0),        # bytes round to the nearest KiB
    ("2048K", 2048), ("2048k", 2048),
    ("3M", 3 * MB), ("1.5G", 1536 * MB), ("2T", 2 * 1024 * 1024 * MB), ("1P", 1024 ** 4),
    ("0", 0),
])
def test_rss_units_are_powers_of_1024_and_bare_is_bytes(text, kib):
    assert rss_kib(text) == kib


@pytest.mark.parametrize("req_mem, req_tres, cpus, nodes, mb", [
    ("4000Mc", "", 4, 1, 16000),        # legacy per CPU
    ("64Gn", "", 4, 2, 131072),         # legacy per node
    ("500M", "", 8, 3, 500),            # ≥ 21.08: the whole job
    ("2G", "", 1, 1, 2048),
    ("1000", "", 2, 1, 1000),           # bare ReqMem is MB
    ("500M", "billing=1,cpu=1,mem=16000M,node=1", 1, 1, 16000),  # ReqTRES mem wins
    ("4000Mc", "cpu=2,mem=2G", 2, 1, 2048),
    ("", "cpu=2,mem=300", 2, 1, 300),   # bare TRES mem is MB
    ("", "", 2, 1, 0),
    ("0n", "", 2, 1, 0),
])
def test_requested_memory(req_mem, req_tres, cpus, nodes, mb):
    assert req_mem_kib(req_mem, req_tres, cpus, nodes) == mb * MB


@pytest.mark.parametrize("tres, gpus", [
    ("billing=4,cpu=4,mem=16000M,node=1", 0),
    ("billing=8,cpu=8,gres/gpu=2,gres/gpu:a100=2,mem=64G,node=1", 2),   # untyped wins, never both
    ("gres/gpu:a100=1,gres/gpu:v100=2", 3),                              # typed only: summed
    ("gres/gpu=4,gres/gpumem=40G,gres/gpuutil=100", 4),                  # gpumem/gpuutil ignored
    ("gres/gpumem=40G,cpu=2", 0),
    ("gres/gpu:a100=2,gres/gpu=2", 2),                                   # order does not matter
    ("gres/gpu=0", 0),
])
def test_gpu_count(tres, gpus):
    assert gpu_count(tres) == gpus


def test_bad_values_raise_badfield_naming_the_field():
    for call, field in ((lambda: rss_kib("12Q"), "MaxRSS"), (lambda: whole("-3", "ElapsedRaw"), "ElapsedRaw"),
                        (lambda: gpu_count("gres/gpu=two"), "AllocTRES"),
                        (lambda: req_mem_kib("lotsMc", "", 1, 1), "ReqMem"),
                        (lambda: to_kib("nan", "ReqTRES", "M"), "ReqTRES"),
                        (lambda: whole("²", "AllocCPUS"), "AllocCPUS")):
        with pytest.raises(BadField) as caught:
            call()
        assert caught.value.field == field
        assert field in str(caught.value)


@pytest.mark.parametrize("state, word", [("COMPLETED", "COMPLETED"), ("CANCELLED by 1234", "CANCELLED"),
                                         ("out_of_memory", "OUT_OF_MEMORY")])
def test_state_first_word(state, word):
    assert state_word(state) == word


@pytest.mark.parametrize("raw, user", [("alice", "alice"), ("Alice@EXAMPLE.ORG", "alice"), ("BOB", "bob"),
                                       ("svc_batch-01.x", "svc_batch-01.x"), ("_x", "_x")])
def test_users_are_normalized(raw, user):
    assert normalize_user(raw) == user


@pytest.mark.parametrize("raw", ["", "bad/user", "../etc", ".hidden", "-dash", "a b", "ünï", "@realm"])
def test_unsafe_usernames_are_rejected(raw):
    with pytest.raises(BadField):
        normalize_user(raw)


def test_tres_value_finds_the_token():
    assert tres_value("billing=4,cpu=4,mem=16000M,node=1", "mem=") == "16000M"
    assert tres_value("cpu=4", "mem=") is None


def test_no_val_request_means_unknown_not_sixteen_exbibytes():
    assert req_mem_kib("18446744073709551616.00M", "", 4, 1) == 0      # seen on 22.05 when slurmdbd was down
    assert req_mem_kib("18446744073709551616.00Mc", "", 4, 1) == 0
    assert req_mem_kib("1T", "", 1, 1) == 1024 ** 3                      # a real large request still counts
