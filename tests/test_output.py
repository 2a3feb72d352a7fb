"""``verbose`` means the same in every function: steps on stderr, else silence."""

import inspect
import os
import subprocess
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from helpers import make_file_system_repository
from helpers import publish
import pytest

import audmodel


# Every public function that takes 'verbose', called on a published model
# with the aliases 'best' and 'spare' (another model, 'other', can be removed).
CALLS = {
    "aliases": lambda uid, **kw: audmodel.aliases(uid, **kw),
    "available": lambda uid, **kw: audmodel.available(**kw),
    "check": lambda uid, **kw: audmodel.check(audmodel.config.REPOSITORIES[0], **kw),
    "copy": lambda uid, **kw: audmodel.copy(uid, kw.pop("target"), **kw),
    "files": lambda uid, **kw: audmodel.files(uid, **kw),
    "header": lambda uid, **kw: audmodel.header(uid, **kw),
    "load": lambda uid, **kw: audmodel.load(uid, **kw),
    "load_file": lambda uid, **kw: audmodel.load_file(uid, "model.yaml", **kw),
    "lookup_table": lambda uid, **kw: audmodel.lookup_table("torch", **kw),
    "meta": lambda uid, **kw: audmodel.meta(uid, **kw),
    "name": lambda uid, **kw: audmodel.name(uid, **kw),
    "parameters": lambda uid, **kw: audmodel.parameters(uid, **kw),
    "publish": lambda uid, **kw: publish(kw.pop("root"), "3.0.0", **kw),
    "remove": lambda uid, **kw: audmodel.remove(kw.pop("other"), **kw),
    "remove_alias": lambda uid, **kw: audmodel.remove_alias("spare", **kw),
    "resolve_alias": lambda uid, **kw: audmodel.resolve_alias("best", **kw),
    "set_alias": lambda uid, **kw: audmodel.set_alias("new", uid, **kw),
    "signature": lambda uid, **kw: audmodel.signature(kw.pop("signed"), **kw),
    "subgroup": lambda uid, **kw: audmodel.subgroup(uid, **kw),
    "update_meta": lambda uid, **kw: audmodel.update_meta(uid, {"a": 1}, **kw),
    "url": lambda uid, **kw: audmodel.url(uid, **kw),
    "verify_signature": lambda uid, **kw: audmodel.verify_signature(
        kw.pop("signed"), kw.pop("public_key"), **kw
    ),
    "version": lambda uid, **kw: audmodel.version(uid, **kw),
}
EXTRA = {
    "copy": ["target"],
    "publish": ["root"],
    "remove": ["other"],
    "signature": ["signed"],
    "verify_signature": ["signed", "public_key"],
}


def test_every_function_with_verbose_is_covered():
    public = [
        name
        for name in dir(audmodel)
        if inspect.isfunction(getattr(audmodel, name))
        and "verbose" in inspect.signature(getattr(audmodel, name)).parameters
    ]
    assert sorted(public) == sorted(CALLS)


@pytest.fixture
def published(request, tmp_path, monkeypatch, model_root):
    repository = make_file_system_repository(request, tmp_path, "models")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    uid = publish(model_root, alias="best")
    other = publish(model_root, "2.0.0")
    audmodel.set_alias("spare", uid)
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = tmp_path / "key.pem", tmp_path / "key.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )
    signed = publish(model_root, "4.0.0", signing_key=str(private))
    keys = {"signed": signed, "public_key": str(public)}
    return uid, other, request, tmp_path, model_root, keys


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.parametrize("function", sorted(CALLS))
def test_verbose_tells_each_step_on_stderr_and_nothing_else(
    published, capfd, function, verbose
):
    uid, other, request, tmp_path, model_root, keys = published
    extra = {
        "target": make_file_system_repository(request, tmp_path, "target"),
        "root": model_root,
        "other": other,
        **keys,
    }
    kwargs = {key: extra[key] for key in EXTRA.get(function, [])}
    capfd.readouterr()
    CALLS[function](uid, verbose=verbose, **kwargs)
    out, err = capfd.readouterr()
    assert out == ""
    if verbose:
        assert err.strip(), f"{function}(verbose=True) told nothing"
    else:
        assert err == "", f"{function}(verbose=False) told: {err}"


def test_command_line_v_before_the_command_shows_steps(published):
    uid = published[0]
    host = audmodel.config.REPOSITORIES[0].host
    args = ["-r", "models", host, "file-system"]
    args += ["--cache-root", str(published[3] / "cli-cache")]
    quiet = _run("author", uid, *args)
    told = _run(
        "-v", "author", uid, *args[:4], "--cache-root", str(published[3] / "other")
    )
    assert quiet.stdout == told.stdout == "tester\n"
    assert quiet.stderr == ""
    assert f"Found '{uid}' in Repository('models'" in told.stderr


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "audmodel", *args],
        capture_output=True,
        text=True,
        check=True,
    )


def test_a_file_system_publish_and_load_show_their_progress_with_sizes(
    tmp_path, capfd, monkeypatch
):
    repository = make_file_system_repository(None, tmp_path, "models")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(4 * 1024 * 1024))  # stored
    capfd.readouterr()
    # The archive is written and read where it lies: packing and unpacking
    # are the transfers to show.
    uid = publish(str(root), verbose=True)
    err = capfd.readouterr().err
    assert "Pack model" in err and "/4.00M" in err, err
    audmodel.load(uid, cache_root=str(tmp_path / "cache"), verbose=True)
    err = capfd.readouterr().err
    assert "Unpack " in err and "/4.00M" in err, err
