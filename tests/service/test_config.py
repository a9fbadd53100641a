"""`snugfit serve` configuration: defaults, file < environment < flags, validation by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snugfit.scheduler.app.config import (
    DEFAULT_MODEL_MEMORY_MIB,
    ConfigError,
    ExtenderConfig,
    load_config,
)


def test_defaults_validate() -> None:
    config = ExtenderConfig()
    assert config.validate() is config
    assert (config.host, config.port, config.policy, config.mode) == (
        "127.0.0.1",
        8888,
        "snugfit",
        "scores",
    )
    assert config.max_request_bytes == 64 * 2**20
    assert config.model_memory_mib == DEFAULT_MODEL_MEMORY_MIB
    assert load_config(env={}) == config


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "snugfit.yaml"
    path.write_text(
        "port: 9000\npolicy: bestfit\nmode: narrow\nlog_level: debug\n"
        "model_memory_mib: {Tesla-T4: 15360}\n"
    )
    env = {"SNUGFIT_PORT": "9100", "SNUGFIT_POLICY": "packing", "SNUGFIT_SEED": "7", "HOME": "/x"}
    config = load_config(path, env, port=9200, policy=None, host="0.0.0.0")
    assert config.port == 9200  # flag over environment over file
    assert config.policy == "packing"  # environment over file (a None flag is no flag)
    assert config.mode == "narrow"  # file only
    assert config.log_level == "debug"
    assert config.seed == 7
    assert config.host == "0.0.0.0"
    assert config.model_memory_mib == {"Tesla-T4": 15360}  # replaces the table
    assert config.watch_timeout_s == 300  # default


def test_environment_values_are_coerced(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    env = {
        "SNUGFIT_MODEL_MEMORY_MIB": "{A: 100, B: '200'}",
        "SNUGFIT_KUBECONFIG": str(kubeconfig),
        "SNUGFIT_MAX_REQUEST_BYTES": "2048",
        "SNUGFIT_MODE": "narrow",
    }
    config = load_config(env=env)
    assert config.model_memory_mib == {"A": 100, "B": 200}
    assert config.kubeconfig == kubeconfig
    assert config.max_request_bytes == 2048
    assert config.mode == "narrow"


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_config(path, env={}) == ExtenderConfig()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"policy": "nope"}, "policy: unknown 'nope'; known: "),
        (
            {"policy": "snugfit-oracle"},
            "policy: 'snugfit-oracle' knows future pods; simulator only",
        ),
        ({"mode": "eager"}, "mode: must be one of scores, narrow, got 'eager'"),
        ({"port": 0}, "port: must be 1..65535, got 0"),
        ({"port": 65536}, "port: must be 1..65535, got 65536"),
        ({"tls_cert_file": "CERT"}, "tls_cert_file and tls_key_file: give both or neither"),
        ({"tls_key_file": "CERT"}, "tls_cert_file and tls_key_file: give both or neither"),
        ({"client_ca_file": "CERT"}, "client_ca_file: needs TLS (tls_cert_file, tls_key_file)"),
        ({"kubeconfig": "MISSING"}, "kubeconfig: no such file"),
        (
            {"tls_cert_file": "MISSING", "tls_key_file": "CERT"},
            "tls_cert_file: no such file",
        ),
        ({"max_request_bytes": 1023}, "max_request_bytes: must be at least 1024"),
        ({"gpushare_unit_mib": 0}, "gpushare_unit_mib"),
        ({"watch_timeout_s": -1}, "watch_timeout_s"),
        ({"workload_refresh_pods": 0}, "workload_refresh_pods"),
        ({"model_memory_mib": {"X": 0}}, "model_memory_mib: every value must be a positive"),
        ({"model_memory_mib": {"X": -5}}, "model_memory_mib: every value must be a positive"),
        ({"log_level": "LOUD"}, "log_level: unknown 'LOUD'"),
    ],
)
def test_validation_names_the_field(tmp_path: Path, fields: dict[str, Any], message: str) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    paths = {"CERT": cert, "MISSING": tmp_path / "missing.pem"}
    values: dict[str, Any] = {
        k: paths.get(v, v) if isinstance(v, str) else v for k, v in fields.items()
    }
    with pytest.raises(ConfigError) as caught:
        ExtenderConfig(**values).validate()
    assert message in str(caught.value)
    # the same through load_config (as flags)
    with pytest.raises(ConfigError) as caught:
        load_config(env={}, **values)
    assert message in str(caught.value)


def test_every_problem_is_listed() -> None:
    with pytest.raises(ConfigError) as caught:
        ExtenderConfig(policy="x", mode="y", port=0, log_level="z").validate()
    text = str(caught.value)
    assert text.startswith("invalid configuration:")
    for field in ("policy:", "mode:", "port:", "log_level:"):
        assert field in text


def test_unknown_file_field_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("port: 9000\nbogus: 1\nalso_bogus: 2\n")
    with pytest.raises(ConfigError, match="unknown field\\(s\\) also_bogus, bogus"):
        load_config(path, env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- port\n- 9000\n", "expected a mapping"),
        ("port: [1\n", "config file"),
        ("port: abc\n", "port: cannot read 'abc'"),
        ("model_memory_mib: [1, 2]\n", "model_memory_mib: cannot read"),
        ("model_memory_mib: {A: lots}\n", "model_memory_mib: cannot read"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", "\\[")):
        load_config(path, env={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*missing\.yaml"):
        load_config(tmp_path / "missing.yaml", env={})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SNUGFIT_PORT": "eighty"}, "port: cannot read 'eighty'"),
        ({"SNUGFIT_PORT": ""}, "port: cannot read ''"),
        ({"SNUGFIT_SEED": "1.5"}, "seed: cannot read '1.5'"),
        ({"SNUGFIT_MODEL_MEMORY_MIB": "just text"}, "model_memory_mib: cannot read"),
        ({"SNUGFIT_POLICY": "nope"}, "policy: unknown 'nope'"),
    ],
)
def test_bad_environment(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env=env)


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNUGFIT_PORT", "9555")
    assert load_config().port == 9555
