"""Models: shapes, config round trips, pluggable encoders, CNN/LSTM halves, learning a toy problem."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from harnets_core.errors import ConfigError
from harnets_core.models import (
    ENCODERS,
    CNNLSTM,
    CNNLSTMConfig,
    LSTMClassifier,
    LSTMConfig,
    build_model,
    model_config_dict,
    register_encoder,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_lstm_shapes(bidirectional, num_layers):
    model = LSTMClassifier(LSTMConfig(input_dim=7, num_classes=5, hidden_size=8, num_layers=num_layers, bidirectional=bidirectional))
    assert model(torch.randn(4, 11, 7)).shape == (4, 5)
    with pytest.raises(ValueError, match=r"\(B, T, 7\)"):
        model(torch.randn(4, 11, 6))


def test_lstm_config_validation_and_round_trip():
    cfg = LSTMConfig(input_dim=3, num_classes=2, dropout=0.1)
    assert LSTMConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="num_layers"):
        LSTMConfig(input_dim=3, num_classes=2, num_layers=4)
    with pytest.raises(ConfigError, match="unknown key"):
        LSTMConfig.from_dict({"input_dim": 3, "num_classes": 2, "hiden_size": 8})
    with pytest.raises(ConfigError, match="input_dim"):
        LSTMConfig.from_dict({"num_classes": 2})


def test_an_ensemble_averages_its_members_probabilities():
    torch.manual_seed(0)
    config = LSTMConfig(input_dim=7, num_classes=5, hidden_size=8, members=3)
    model = LSTMClassifier(config).eval()
    x = torch.randn(4, 11, 7)
    with torch.no_grad():
        want = torch.stack([torch.softmax(m(x), -1) for m in model.members]).mean(0)
        got = torch.softmax(model(x), -1)
        assert not torch.allclose(torch.softmax(model.members[0](x), -1), torch.softmax(model.members[1](x), -1))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert all(LSTMClassifier(LSTMConfig(input_dim=7, num_classes=5, hidden_size=8)).state_dict().keys()
               == m.state_dict().keys() for m in model.members)  # each member is a plain model
    assert {k.split(".")[0] for k in model.state_dict()} == {"members"}
    assert build_model("skeleton_lstm", config.to_dict()).config.members == 3
    with pytest.raises(ConfigError, match="members"):
        LSTMConfig(input_dim=3, num_classes=2, members=0)


def test_build_model_round_trip_and_errors():
    for model_type in ("skeleton_lstm", "pose_lstm"):
        model = build_model(model_type, {"input_dim": 4, "num_classes": 3})
        assert isinstance(model, LSTMClassifier)
        assert build_model(model_type, model_config_dict(model)).config == model.config
    cnn = build_model("cnn_lstm", {"num_classes": 3, "height": 32, "width": 48})
    assert CNNLSTMConfig.from_dict(model_config_dict(cnn)) == cnn.config
    with pytest.raises(ConfigError, match="unknown model_type"):
        build_model("transformer", {})
    with pytest.raises(ConfigError, match="unknown key"):
        build_model("cnn_lstm", {"num_classes": 3, "colour": True})
    with pytest.raises(ConfigError, match="unknown encoder"):
        build_model("cnn_lstm", {"num_classes": 3, "encoder": "resnet50"})
    with pytest.raises(ConfigError, match="encoder_config"):
        build_model("cnn_lstm", {"num_classes": 3, "encoder_config": {"depth": 3}})


def small_cnn(**kw) -> CNNLSTM:
    torch.manual_seed(0)
    cfg = dict(num_classes=3, height=24, width=32, encoder_config={"channels": [8, 16]}, feature_dim=12, hidden_size=8)
    cfg.update(kw)
    return CNNLSTM(CNNLSTMConfig(**cfg)).eval()


def test_cnn_lstm_uint8_equals_float_and_halves_equal_forward():
    model = small_cnn()
    frames = torch.randint(0, 256, (2, 5, 3, 24, 32), dtype=torch.uint8)  # (B, T, C, H, W)
    with torch.no_grad():
        logits = model(frames)
        assert logits.shape == (2, 3)
        assert torch.allclose(model(frames.float() / 255.0), logits, atol=1e-6)
        feats = torch.stack([model.encode_frames(frames[:, t]) for t in range(5)], dim=1)  # per frame, as streaming does
        assert feats.shape == (2, 5, 12)
        assert torch.allclose(model.classify_features(feats), logits, atol=1e-6)
    with pytest.raises(ValueError, match="3, 24, 32"):
        model(torch.zeros(2, 5, 3, 24, 30))


def test_default_small_encoder_at_96x160_and_wide_encoder():
    model = CNNLSTM(CNNLSTMConfig(num_classes=14)).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 2, 3, 96, 160, dtype=torch.uint8)).shape == (1, 14)
    wide = small_cnn(encoder="wide", encoder_config={"channels": [8, 16], "convs_per_block": 1})
    with torch.no_grad():
        assert wide.encode_frames(torch.rand(3, 3, 24, 32)).shape == (3, 12)
    assert set(ENCODERS) >= {"small", "wide"}


@pytest.mark.parametrize("encoder", ["small", "wide"])
@pytest.mark.parametrize("norm", ["group", "batch", "none"])
def test_encoder_norm_option(encoder, norm):
    kinds = {"group": nn.GroupNorm, "batch": nn.BatchNorm2d, "none": None}
    extra = {"convs_per_block": 1} if encoder == "wide" else {}
    model = small_cnn(encoder=encoder, encoder_config={"channels": [8, 16], "norm": norm, **extra})
    found = {type(m) for m in model.encoder.modules()} & {nn.GroupNorm, nn.BatchNorm2d}
    assert found == ({kinds[norm]} if kinds[norm] else set())
    assert model(torch.rand(2, 3, 3, 24, 32)).shape == (2, 3)
    rebuilt = build_model("cnn_lstm", model_config_dict(model))
    assert rebuilt.config.encoder_config["norm"] == norm
    with pytest.raises(ConfigError, match="norm"):
        small_cnn(encoder=encoder, encoder_config={"channels": [8, 16], "norm": "layer", **extra})


def test_default_encoder_uses_group_norm_so_train_and_eval_agree():
    """GroupNorm (the default) has no running statistics: a frame's features do not depend
    on the batch or on train/eval mode (BatchNorm's running statistics made validation
    swing from epoch to epoch)."""
    torch.manual_seed(0)
    model = CNNLSTM(CNNLSTMConfig(num_classes=4, height=48, width=80))
    assert any(isinstance(m, nn.GroupNorm) for m in model.encoder.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert model.encoder.out_dim == 64 * 3 * 5  # 3 blocks, a 3 x 5 grid at 48 x 80
    frames = torch.randint(0, 256, (6, 3, 48, 80), dtype=torch.uint8)
    with torch.no_grad():
        model.train()
        train_feats = model.encoder(frames.float() / 255.0)
        one = model.encoder(frames[:1].float() / 255.0)
        model.eval()
        eval_feats = model.encoder(frames.float() / 255.0)
    assert torch.allclose(train_feats, eval_feats, atol=1e-5)
    assert torch.allclose(train_feats[:1], one, atol=1e-5)
    global_pool = build_model("cnn_lstm", {"num_classes": 2, "height": 48, "width": 80, "encoder_config": {"grid_hw": None}})
    assert global_pool.encoder.out_dim == 64


def test_input_standardization_and_mean_head():
    model = small_cnn(input_mean=0.4, input_std=0.2)
    frames = torch.rand(2, 4, 3, 24, 32)
    with torch.no_grad():
        feats = model.encode_frames(frames[:, 0])
        assert torch.allclose(feats, model.project(model.encoder((frames[:, 0] - 0.4) / 0.2)), atol=1e-6)
    assert isinstance(model.mean_head, nn.Linear)
    assert small_cnn(mean_head=False).mean_head is None
    with pytest.raises(ConfigError, match="input_std"):
        small_cnn(input_std=0.0)


def test_temporal_diff_feeds_the_lstm_each_feature_change():
    """temporal_diff: the LSTM head sees (f_t, f_t - f_{t-1}) with a zero change at t = 0;
    old model files (no key) keep the plain head."""
    model = small_cnn(temporal_diff=True)
    assert model.head.config.input_dim == 2 * 12
    assert CNNLSTMConfig.from_dict({"num_classes": 3}).temporal_diff is False
    feats = torch.randn(2, 5, 12)
    step = torch.zeros_like(feats)
    step[:, 1:] = feats[:, 1:] - feats[:, :-1]
    with torch.no_grad():
        want = model.head(torch.cat([feats, step], dim=-1)) + model.mean_head(feats.mean(dim=1))
        assert torch.allclose(model.classify_features(feats), want, atol=1e-6)
        # a still scene: every change is zero, so only the features themselves count
        still = feats[:, :1].expand(2, 5, 12)
        want_still = model.head(torch.cat([still, torch.zeros_like(still)], dim=-1)) + model.mean_head(still[:, 0])
        assert torch.allclose(model.classify_features(still), want_still, atol=1e-6)
    rebuilt = build_model("cnn_lstm", model_config_dict(model))
    assert rebuilt.config.temporal_diff and rebuilt.head.config.input_dim == 24


class TinyEncoder(nn.Module):
    def __init__(self, in_channels: int = 3, width: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1)
        self.out_dim = width

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))  # (N, width)


def test_custom_encoder_instance_and_registered_class():
    model = CNNLSTM(CNNLSTMConfig(num_classes=2, height=8, width=8, feature_dim=6, hidden_size=4), encoder=TinyEncoder(width=5))
    assert model(torch.rand(2, 3, 3, 8, 8)).shape == (2, 2)
    with pytest.raises(ConfigError, match="out_dim"):
        CNNLSTM(CNNLSTMConfig(num_classes=2), encoder=nn.Identity())
    register_encoder("tiny_test", TinyEncoder)
    try:
        rebuilt = build_model("cnn_lstm", {"num_classes": 2, "height": 8, "width": 8, "encoder": "tiny_test", "encoder_config": {"width": 5}})
        assert isinstance(rebuilt.encoder, TinyEncoder) and rebuilt.encoder.out_dim == 5
    finally:
        ENCODERS.pop("tiny_test")


def _train(model: nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return float((model(X).argmax(-1) == y).float().mean())


def test_lstm_learns_separable_sequences():
    torch.manual_seed(0)
    y = torch.randint(0, 3, (48,))
    X = 0.3 * torch.randn(48, 6, 4)
    X[torch.arange(48), :, y] += 2.0  # class c lifts feature c
    model = LSTMClassifier(LSTMConfig(input_dim=4, num_classes=3, hidden_size=16, num_layers=1))
    assert _train(model, X, y, steps=60, lr=1e-2) >= 0.95


def test_cnn_lstm_learns_brightness_classes():
    torch.manual_seed(0)
    y = torch.randint(0, 2, (16,))
    frames = torch.randint(0, 100, (16, 3, 3, 16, 16), dtype=torch.uint8)
    frames[y == 1] += 120  # class 1 clips are bright
    model = CNNLSTM(CNNLSTMConfig(num_classes=2, height=16, width=16, encoder_config={"channels": [4, 8]}, feature_dim=8, hidden_size=8))
    assert _train(model, frames, y, steps=40, lr=1e-2) == 1.0
