"""TrainConfig: YAML loading, unknown keys and bad values give actionable errors."""
import pytest

from faceforge.core.errors import FaceForgeError
from faceforge.core.train.config import ConfigError, TrainConfig


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("model: {id_dim: 8, exp_dim: 4, channels: [8, 8, 8], factors: [4, 4]}\n"
                    "loss: {jac: 0, mi: 2.5}\nsteps: 7\ndrop_neutral: true\n")
    config = TrainConfig.from_yaml(path)
    assert config.model.id_dim == 8 and config.model.channels == (8, 8, 8)
    assert config.loss.jac == 0 and config.loss.mi == 2.5 and config.loss.rec == 1.0
    assert config.steps == 7 and config.drop_neutral and config.subjects_per_batch == 8
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.total_steps(100) == 7 and config.replace(steps=None).total_steps(3) == 300


def test_empty_yaml_gives_the_defaults(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    assert TrainConfig.from_yaml(tmp_path / "empty.yaml") == TrainConfig()


@pytest.mark.parametrize("text, names", [
    ("stepz: 5\n", ["'stepz'", "steps", "subjects_per_batch", "drop_neutral"]),
    ("loss: {jacobian: 1}\n", ["'loss.jacobian'", "under 'loss'", "jac", "mi", "jac_gamma"]),
    ("model: {latent: 3}\n", ["'model.latent'", "under 'model'", "id_dim", "generator_hidden"]),
])
def test_unknown_key_is_a_clear_error_listing_valid_keys(tmp_path, text, names):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_yaml(path)
    message = str(info.value)
    assert str(path) in message and "unknown key" in message
    for name in names:
        assert name in message
    assert isinstance(info.value, FaceForgeError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("text, fragment", [
    ("subjects_per_batch: 0\n", "'subjects_per_batch' must be an integer >= 1"),
    ("test_fraction: 0\n", "'test_fraction' must be in (0, 1)"),
    ("loss: {rec: 0, neu: 0}\n", "nothing trains the decoder"),
    ("loss: {kl: -1}\n", "loss weights must be numbers >= 0"),
    ("model: {channels: [8, 8]}\n", "invalid 'model'"),
    ("- a list\n", "expected a mapping"),
    ("steps: [1\n", "not valid YAML"),
])
def test_bad_values_are_clear_errors(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_yaml(path)
    assert fragment in str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        TrainConfig.from_yaml(tmp_path / "nope.yaml")


def test_training_differences_ignore_only_the_budget_and_operational_settings():
    from faceforge.core.train.config import LossConfig, NOT_RECORDED, training_differences

    base = TrainConfig()
    session = base.replace(steps=5, epochs=3, eval_every=1, checkpoint_every=2, log_every=7,
                           device="auto", threads=2, eval_batch=8)
    assert training_differences(base.to_dict(), session.to_dict()) == {}
    changed = base.replace(lr=1e-3, samples_per_subject=2, loss=LossConfig(neu=0.0, jac_gamma=1.0))
    assert training_differences(base.to_dict(), changed.to_dict()) == {
        "loss.neu": (1.0, 0.0), "loss.jac_gamma": (500.0, 1.0), "samples_per_subject": (4, 2),
        "lr": (1e-4, 1e-3)}
    recorded = base.to_dict()
    del recorded["loss"]["mi"]
    assert training_differences(recorded, base.to_dict()) == {"loss.mi": (NOT_RECORDED, 0.0)}
