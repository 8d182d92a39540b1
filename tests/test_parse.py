"""Unit parsers: memory units, legacy ReqMem, TRES GPUs, states, users."""
import pytest

from sb.collect.parse import (BadField, cpu_time_ms, gpu_count, gpu_util, req_mem_bytes, rss_bytes, state_word,
                              time_limit_s, to_bytes, tres_memory_bytes, tres_value, whole)
from sb.names import normalize_user

MB = 1024 * 1024  # bytes per MB (sacct's M is MiB)


@pytest.mark.parametrize("text, size", [
    ("", 0),
    ("219459584", 219459584),       # --noconvert: bytes
    ("1023", 1023), ("511", 511),   # kept exactly: no rounding to KiB
    ("2048K", 2048 * 1024), ("2048k", 2048 * 1024),
    ("26699.50K", 27340288),        # AveRSS with a fraction: 26699.5 x 1024, exactly
    ("3M", 3 * MB), ("1.5G", 1536 * MB), ("2T", 2 * 1024 * 1024 * MB), ("1P", 1024 ** 5),
    ("0", 0),
])
def test_rss_units_are_powers_of_1024_and_bare_is_bytes(text, size):
    assert rss_bytes(text) == size


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
    assert req_mem_bytes(req_mem, req_tres, cpus, nodes) == mb * MB


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
    for call, field in ((lambda: rss_bytes("12Q"), "MaxRSS"), (lambda: whole("-3", "ElapsedRaw"), "ElapsedRaw"),
                        (lambda: gpu_count("gres/gpu=two"), "AllocTRES"),
                        (lambda: req_mem_bytes("lotsMc", "", 1, 1), "ReqMem"),
                        (lambda: to_bytes("nan", "ReqTRES", "M"), "ReqTRES"),
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
    assert req_mem_bytes("18446744073709551616.00M", "", 4, 1) == 0      # seen on 22.05 when slurmdbd was down
    assert req_mem_bytes("18446744073709551616.00Mc", "", 4, 1) == 0
    assert req_mem_bytes("1T", "", 1, 1) == 1024 ** 4                    # a real large request still counts


@pytest.mark.parametrize("text, ms", [
    ("", 0), ("00:00:00", 0), ("01:02.345", 62345),      # below an hour sacct prints MM:SS.mmm
    ("00:59:59", 3599000), ("01:00:00", 3600000),        # from an hour on, whole seconds
    ("12:34:56", (12 * 3600 + 34 * 60 + 56) * 1000), ("3-04:05:06", (3 * 86400 + 4 * 3600 + 5 * 60 + 6) * 1000),
    ("1:02:03.5", 3723500), ("59:59.999", 3599999),
])
def test_cpu_time_formats_are_read_to_the_millisecond(text, ms):
    assert cpu_time_ms(text) == ms


@pytest.mark.parametrize("text", ["abc", "1:2:3:4", "-01:00", "01:00.x", "1-", "١٢:٠٠", "01:-2"])
def test_unknown_cpu_time_formats_are_bad_fields(text):
    with pytest.raises(BadField) as caught:
        cpu_time_ms(text)
    assert caught.value.field == "TotalCPU"


@pytest.mark.parametrize("text, seconds", [("60", 3600), ("1", 60), ("0", None), ("", None), ("UNLIMITED", None),
                                           ("Partition_Limit", None), ("INVALID", None), ("4294967295", None)])
def test_time_limits_are_minutes_or_none(text, seconds):
    assert time_limit_s(text) == seconds


def test_an_unreadable_time_limit_is_a_bad_field():
    with pytest.raises(BadField):
        time_limit_s("2-00:00:00")


@pytest.mark.parametrize("tres, mem, util", [
    ("cpu=00:00:10,energy=0,fs/disk=1234,gres/gpumem=1024,gres/gpuutil=87,mem=5000,pages=0", 5000, 87),
    ("mem=12", 12, None), ("cpu=00:01:00,vmem=3", None, None), ("gres/gpumem=5,mem=NONE", None, None),
    ("gres/gpuutil=310,mem=1.5K", 1536, 310), ("", None, None)])
def test_step_usage_memory_and_gpu_utilisation(tres, mem, util):
    assert tres_memory_bytes(tres) == mem       # gres/gpumem= is not mem=
    assert gpu_util(tres) == util
