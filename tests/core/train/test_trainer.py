"""The trainer end to end on tiny data: loss falls, checkpoints, resume, cancel, events."""
import gc
import shutil
import threading

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from faceforge.core.errors import CheckpointError, DatasetError
from faceforge.core.models.wsdf import WSDFModel
from faceforge.core.train.checkpoint import read_trainer_info
from faceforge.core.train.config import ConfigError, LossConfig
from faceforge.core.train.events import (CheckpointEvent, DoneEvent, EvalEvent, StepEvent,
                                         read_events)
from faceforge.core.train.trainer import train


def run(gen):
    """All events and the TrainResult of a generator."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def steps_of(events):
    return [e for e in events if isinstance(e, StepEvent)]


def until_step(gen, n):
    """Advance `gen` until its StepEvent `n`; returns the events so far (gen stays open)."""
    events = []
    while not (events and isinstance(events[-1], StepEvent) and events[-1].step == n):
        events.append(next(gen))
    return events


def assert_same_checkpoint(a, b):
    for name in ("weights.safetensors", "trainer.safetensors"):
        ta, tb = load_file(a / name), load_file(b / name)
        assert ta.keys() == tb.keys()
        for k in ta:
            if k != "rng/torch":
                assert torch.equal(ta[k], tb[k]), f"{name}:{k} differs"


def test_tiny_run_trains_evaluates_and_logs(tiny_data, tiny_config, tmp_path):
    config = tiny_config.replace(steps=30, eval_every=15, checkpoint_every=15, log_every=5)
    events, result = run(train(config, tiny_data, tmp_path))
    steps = steps_of(events)
    assert [e.step for e in steps] == list(range(1, 31)) and steps[-1].total == 30
    assert set(steps[0].losses) == {"rec", "kl", "neu", "jac", "mi", "total"}
    first = np.mean([e.losses["total"] for e in steps[:5]])
    last = np.mean([e.losses["total"] for e in steps[-5:]])
    assert last < 0.5 * first, (first, last)
    assert np.mean([e.losses["rec"] for e in steps[-5:]]) < np.mean([e.losses["rec"] for e in steps[:5]])
    assert all(e.meshes_per_s > 0 for e in steps)
    evals = [e for e in events if isinstance(e, EvalEvent)]
    assert [e.step for e in evals] == [15, 30]
    for key in ("e_avd", "e_id", "e_exp", "e_neu"):
        assert np.isfinite(evals[-1].metrics[f"{key}_mean"]) and evals[-1].metrics[f"{key}_median"] >= 0
    assert [e.step for e in events if isinstance(e, CheckpointEvent)] == [15, 30]
    assert isinstance(events[-1], DoneEvent) and not events[-1].cancelled
    assert result.step == 30 and not result.cancelled and result.metrics == evals[-1].metrics
    # events.jsonl: every 5th step, the evals, checkpoints and the end
    log = read_events(tmp_path / "events.jsonl")
    assert [r["step"] for r in log if r["event"] == "step"] == [5, 10, 15, 20, 25, 30]
    assert [r["event"] for r in log if r["event"] != "step"] == ["eval", "checkpoint", "eval", "checkpoint", "done"]
    info = read_trainer_info(tmp_path)
    assert info["step"] == 30 and info["split"]["seed"] == 0 and len(info["split"]["test_subjects"]) == 2
    assert not set(info["split"]["test_subjects"]) & set(info["subjects"])  # subject-disjoint
    # the checkpoint reloads to bit-identical decodes and codes
    loaded = WSDFModel.load(result.checkpoint)
    assert loaded.metadata["train"]["step"] == 30
    z_id, z_exp = np.random.default_rng(0).normal(size=(2, 5, 6)).astype(np.float32)
    assert np.array_equal(loaded.decode(z_id, z_exp), result.model.decode(z_id, z_exp))
    codes = loaded.encode(tiny_data.vertices[:4]), result.model.encode(tiny_data.vertices[:4])
    assert all(np.array_equal(a, b) for a, b in zip(*codes))


def test_resume_after_a_kill_matches_an_uninterrupted_run(tiny_data, tiny_config, tmp_path):
    config = tiny_config.replace(steps=10, checkpoint_every=4)
    _, full = run(train(config, tiny_data, tmp_path / "full"))

    # 1. dropped mid-run (as when the process is told to quit): it checkpoints step 6
    gen = train(config, tiny_data, tmp_path / "dropped")
    events = until_step(gen, 6)
    assert [e.step for e in events if isinstance(e, CheckpointEvent)] == [4]
    # 2. a hard kill right after step 6 leaves only the periodic checkpoint of step 4
    shutil.copytree(tmp_path / "dropped", tmp_path / "killed")
    del gen
    gc.collect()
    assert read_trainer_info(tmp_path / "dropped")["step"] == 6
    assert read_trainer_info(tmp_path / "killed")["step"] == 4
    assert read_events(tmp_path / "dropped" / "events.jsonl")[-1] == {
        "event": "done", "step": 6, "cancelled": True, "checkpoint": str(tmp_path / "dropped" / "checkpoint")}

    for name, start in (("dropped", 7), ("killed", 5)):
        events, result = run(train(config, tiny_data, tmp_path / name))
        assert steps_of(events)[0].step == start and result.step == 10
        assert_same_checkpoint(tmp_path / "full" / "checkpoint", tmp_path / name / "checkpoint")
        assert result.losses == full.losses


def test_cancel_event_stops_with_a_checkpoint(tiny_data, tiny_config, tmp_path):
    cancel = threading.Event()
    gen = train(tiny_config.replace(steps=50), tiny_data, tmp_path, cancel=cancel)
    events = until_step(gen, 3)
    threading.Thread(target=cancel.set).start()  # any thread may cancel
    cancel.wait()
    more, result = run(gen)
    assert not steps_of(more)  # stopped before another step
    assert [type(e) for e in more] == [CheckpointEvent, DoneEvent] and more[-1].cancelled
    assert result.cancelled and result.step == 3
    assert read_trainer_info(tmp_path)["step"] == 3
    WSDFModel.load(tmp_path / "checkpoint")
    # resuming continues the step count
    events, result = run(train(tiny_config.replace(steps=5), tiny_data, tmp_path))
    assert [e.step for e in steps_of(events)] == [4, 5] and not result.cancelled
    # the recorded training time adds up the sessions
    first = read_trainer_info(tmp_path)["seconds"]
    run(train(tiny_config.replace(steps=7), tiny_data, tmp_path))
    seconds = read_trainer_info(tmp_path)["seconds"]
    assert seconds > first > 0
    assert WSDFModel.load(tmp_path / "checkpoint").metadata["train"]["seconds"] == seconds


def test_close_writes_a_checkpoint(tiny_data, tiny_config, tmp_path):
    gen = train(tiny_config, tiny_data, tmp_path)
    until_step(gen, 2)
    gen.close()
    assert read_trainer_info(tmp_path)["step"] == 2


def test_switched_off_losses_are_not_computed(tiny_data, tiny_config, tmp_path):
    config = tiny_config.replace(steps=3, loss=LossConfig(neu=0, jac=0, mi=0, kl=0),
                                 drop_neutral=True)
    events, _ = run(train(config, tiny_data, tmp_path))
    assert set(steps_of(events)[0].losses) == {"rec", "total"}
    tensors = load_file(tmp_path / "checkpoint" / "trainer.safetensors")
    assert not any(k.startswith("bank/") for k in tensors)  # no bank without L_neu
    info = read_trainer_info(tmp_path)
    assert info["bank"] is None
    assert WSDFModel.load(tmp_path / "checkpoint").metadata["train"]["data"]["train_meshes"] == 6 * 5


def test_resume_refuses_another_model(tiny_data, tiny_config, tmp_path):
    run(train(tiny_config.replace(steps=1), tiny_data, tmp_path))
    other = tiny_config.replace(model=tiny_config.model.__class__(**{
        **tiny_config.model.to_dict(), "id_dim": 7}))
    with pytest.raises(CheckpointError, match="id_dim"):
        run(train(other, tiny_data, tmp_path))
    events, _ = run(train(other.replace(steps=1), tiny_data, tmp_path, resume=False))
    assert steps_of(events)[0].step == 1


def test_resume_refuses_changed_training_settings(tiny_data, tiny_config, tmp_path):
    no_bank = tiny_config.replace(steps=2, loss=LossConfig(neu=0, mi=1.0))
    run(train(no_bank, tiny_data, tmp_path))
    changes = [  # (changed config, its differing settings)
        (tiny_config, ["loss.neu: 0 in the checkpoint, 1.0 in the config"]),  # was a bare KeyError
        (no_bank.replace(lr=0.01, samples_per_subject=2), ["samples_per_subject: 3 in the checkpoint, "
                                                           "2 in the config", "lr: 0.001 in the "
                                                           "checkpoint, 0.01 in the config"]),
        (no_bank.replace(weight_decay=0.0, ema_beta=0.9, loss=LossConfig(neu=0, mi=1.0, jac_gamma=5)),
         ["loss.jac_gamma", "weight_decay", "ema_beta"]),
        (no_bank.replace(seed=1), ["seed: 0 in the checkpoint, 1 in the config"]),
    ]
    for config, names in changes:
        with pytest.raises(CheckpointError) as caught:
            run(train(config.replace(steps=4), tiny_data, tmp_path))
        assert caught.value.path == tmp_path / "checkpoint" / "trainer.json"
        assert all(n in str(caught.value) for n in names), str(caught.value)
        assert "same config" in str(caught.value) and "new output folder (--out)" in str(caught.value)
    assert read_trainer_info(tmp_path)["step"] == 2  # untouched
    # the step budget and operational settings may change
    session = no_bank.replace(steps=3, eval_every=1, checkpoint_every=1, log_every=2, threads=1,
                              eval_batch=5, device="auto")
    events, result = run(train(session, tiny_data, tmp_path))
    assert [e.step for e in steps_of(events)] == [3] and result.step == 3


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


TRAINER_DAMAGE = {  # file -> ways to damage it
    "trainer.json": [_truncate, lambda p: p.write_bytes(b"\xff\xfe\x00garbage"),
                     lambda p: p.write_text("[]"), lambda p: p.write_text('{"format": "faceforge-trainer"}'),
                     lambda p: p.write_text(p.read_text().replace('"step": 2', '"step": "two"')),
                     lambda p: p.unlink()],
    "trainer.safetensors": [_truncate, lambda p: p.write_bytes(b""), lambda p: p.unlink(),
                            lambda p: save_file({k: v for k, v in load_file(p).items()
                                                 if not k.startswith("bank/")}, p)],
}


@pytest.mark.parametrize("name", list(TRAINER_DAMAGE))
def test_damaged_trainer_state_is_a_typed_error_naming_the_file(tiny_data, tiny_config, name, tmp_path):
    run(train(tiny_config.replace(steps=2), tiny_data, tmp_path / "good"))
    for i, damage in enumerate(TRAINER_DAMAGE[name]):
        folder = tmp_path / str(i)
        shutil.copytree(tmp_path / "good", folder)
        damage(folder / "checkpoint" / name)
        with pytest.raises(CheckpointError, match=name.replace(".", r"\.")) as caught:
            run(train(tiny_config.replace(steps=3), tiny_data, folder))
        assert caught.value.path == folder / "checkpoint" / name, (i, caught.value)
        assert "start over" in str(caught.value)


def test_bad_setups_are_typed_errors(tiny_data, tiny_config, tmp_path):
    from dataclasses import replace

    with pytest.raises(DatasetError, match="template"):
        run(train(tiny_config, replace(tiny_data, template=None), tmp_path))
    with pytest.raises(ConfigError, match="subjects_per_batch=7"):
        run(train(tiny_config.replace(subjects_per_batch=7), tiny_data, tmp_path))


def test_unaligned_meshes_are_warned_about(tiny_data, tiny_config, tmp_path):
    from dataclasses import replace

    from faceforge.core.train.trainer import UnalignedDataWarning

    shift = np.repeat(np.linspace(-300, 300, 8), 6)[:, None, None] * np.array([0, 1, 0])
    moved = replace(tiny_data, vertices=(tiny_data.vertices + shift).astype(np.float32))
    with pytest.warns(UnalignedDataWarning, match="rigidly misaligned"):
        run(train(tiny_config.replace(steps=1), moved, tmp_path))


def test_resume_from_a_checkpoint_set_aside_mid_swap(tiny_data, tiny_config, tmp_path):
    run(train(tiny_config.replace(steps=2), tiny_data, tmp_path))
    # a kill between the two renames of a checkpoint swap leaves only the set-aside old one
    (tmp_path / "checkpoint").rename(tmp_path / ".checkpoint.deadbeef.old")
    (tmp_path / ".checkpoint.cafe.tmp").mkdir()  # and maybe a half-written new one
    events, result = run(train(tiny_config.replace(steps=3), tiny_data, tmp_path))
    assert [e.step for e in steps_of(events)] == [3] and result.step == 3
    assert read_trainer_info(tmp_path)["step"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "events.jsonl"]


def test_split_is_split_datasets(tiny_data, tiny_config, tmp_path):
    from faceforge.core.data.stats import split_dataset

    run(train(tiny_config.replace(steps=1, seed=5), tiny_data, tmp_path))
    train_ds, test_ds = split_dataset(tiny_data, 0.25, 5)
    info = read_trainer_info(tmp_path)
    assert info["split"]["test_subjects"] == list(test_ds.subjects())
    assert info["subjects"] == list(train_ds.subjects())
