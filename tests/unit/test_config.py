"""Settings come from defaults, the TOML file, the env file, the environment and --set, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk_rec.config import Secret, env_name, load_settings, read_env_file
from asterisk_rec.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    """With an empty config file and no environment, the defaults hold."""
    settings = load_settings(write(tmp_path / "c.toml", ""), environ={})
    assert settings.ari.url == "http://127.0.0.1:8088/"
    assert settings.database.port == 5432
    assert settings.ari.password == Secret("")


def test_each_layer_overrides_the_one_before(tmp_path: Path) -> None:
    """file < env file < environment < --set, setting by setting."""
    config = write(tmp_path / "c.toml", '[ami]\nhost = "10.0.0.1"\nport = 1001\nuser = "from-file"\n'
                                        '[database]\nname = "from-file"\n')
    env_file = write(tmp_path / "e.env", "# comment\nASTERISK_REC_AMI_PORT=1002\nASTERISK_REC_AMI_USER=envfile\n"
                                         "ASTERISK_REC_DB_PASSWORD='quoted secret'\n")
    settings = load_settings(config, env_file, overrides=["ami.user=flag"],
                             environ={"ASTERISK_REC_AMI_PORT": "1003"})
    assert settings.ami.host == "10.0.0.1"
    assert settings.ami.port == 1003
    assert settings.ami.user == "flag"
    assert settings.database.name == "from-file"
    assert settings.database.password.reveal() == "quoted secret"


def test_env_file_named_by_environment(tmp_path: Path) -> None:
    """ASTERISK_REC_ENV_FILE names the env file when no --env-file is given."""
    env_file = write(tmp_path / "e.env", "ASTERISK_REC_ARI_USER=someone\n")
    settings = load_settings(write(tmp_path / "c.toml", ""), environ={"ASTERISK_REC_ENV_FILE": str(env_file)})
    assert settings.ari.user == "someone"


def test_secrets_never_show_in_reprs(tmp_path: Path) -> None:
    """A password is in neither repr nor str of the settings."""
    settings = load_settings(write(tmp_path / "c.toml", '[ari]\npassword = "hunter2"\n'), environ={})
    assert settings.ari.password.reveal() == "hunter2"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.ari.password)


def test_environment_names() -> None:
    """Sections map to ASTERISK_REC_<SECTION>_<KEY>, database as DB."""
    assert env_name("ari", "url") == "ASTERISK_REC_ARI_URL"
    assert env_name("database", "password") == "ASTERISK_REC_DB_PASSWORD"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[ari]\nurll = "x"\n', "unknown setting ari.urll"),
        ('[nope]\nx = 1\n', "unknown section 'nope'"),
        ("[ami]\nport = \"many\"\n", "expected a whole number, got 'many'"),
        ("[ami\n", "is not valid TOML"),
        ('ari = "x"\n', "'ari' must be a [section]"),
        ('[service]\nlog_format = "JSON"\n', "service.log_format 'JSON': expected one of text, json"),
    ],
)
def test_bad_config_file_gets_a_clear_error(tmp_path: Path, toml: str, message: str) -> None:
    """Mistakes in the file are reported with the file and the setting."""
    path = write(tmp_path / "c.toml", toml)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")) as raised:
        load_settings(path, environ={})
    assert raised.value.error_id == "config_invalid"


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    """A wrong value in the environment names the variable."""
    with pytest.raises(ConfigError, match="ASTERISK_REC_DB_PORT: expected a whole number"):
        load_settings(write(tmp_path / "c.toml", ""), environ={"ASTERISK_REC_DB_PORT": "x"})


def test_bad_set_flag() -> None:
    """--set without section.key=value says what it expects."""
    with pytest.raises(ConfigError, match=r"expected section\.key=value"):
        load_settings(overrides=["url=x"], environ={})


def test_missing_named_files_are_errors(tmp_path: Path) -> None:
    """A config or env file named explicitly must exist."""
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.toml", environ={})
    with pytest.raises(ConfigError, match="cannot read env file"):
        read_env_file(tmp_path / "missing.env")


def test_env_file_line_without_equals(tmp_path: Path) -> None:
    """A malformed env file line is reported with its line number."""
    with pytest.raises(ConfigError, match=r"e.env:2: expected KEY=VALUE"):
        read_env_file(write(tmp_path / "e.env", "A=1\nnonsense\n"))


def test_example_config_file_is_valid(tmp_path: Path) -> None:
    """The shipped, commented example loads and changes nothing."""
    example = Path(__file__).parents[2] / "asterisk_rec" / "asterisk-rec.example.toml"
    assert load_settings(example, environ={}) == load_settings(write(tmp_path / "c.toml", ""), environ={})


def test_recording_method_is_checked(tmp_path: Path) -> None:
    """Only snoop and bridge are recording methods."""
    assert load_settings(write(tmp_path / "c.toml", '[calls]\nrecording_method = "bridge"\n'),
                         environ={}).calls.recording_method == "bridge"
    with pytest.raises(ConfigError, match=r"calls\.recording_method 'mixer'"):
        load_settings(write(tmp_path / "c.toml", '[calls]\nrecording_method = "mixer"\n'), environ={})


def test_web_settings_take_booleans_and_refuse_bad_ports(tmp_path: Path) -> None:
    """web.enabled and web.secure_cookies read true/false from TOML and yes/no from the environment; a port
    out of range or a word that is not a yes or no is refused, naming the setting."""
    settings = load_settings(write(tmp_path / "c.toml", "[web]\nenabled = false\nport = 9000\n"),
                             environ={"ASTERISK_REC_WEB_SECURE_COOKIES": "yes"})
    assert (settings.web.enabled, settings.web.port, settings.web.secure_cookies) == (False, 9000, True)
    with pytest.raises(ConfigError, match=r"web\.port"):
        load_settings(write(tmp_path / "p.toml", "[web]\nport = 70000\n"), environ={})
    with pytest.raises(ConfigError, match="ASTERISK_REC_WEB_ENABLED"):
        load_settings(write(tmp_path / "e.toml", ""), environ={"ASTERISK_REC_WEB_ENABLED": "perhaps"})
