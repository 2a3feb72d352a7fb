"""Signed models: published with a key, loaded only as a trusted key signed them.

Signatures are OpenSSF Model Signing bundles, checked here also with the
``model_signing`` command line on the loaded folder.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers import files_below
from helpers import publish
import pytest

import audmodel
from audmodel import _archive
from audmodel import _layout
from audmodel._cli import main


# A file system, S3 on moto, and Artifactory.
SIGNING_BACKENDS = ["artifactory", "file-system", "s3"]


def private_pem(key) -> bytes:
    """A private key in PEM, unencrypted, as ``openssl`` writes it."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_key_pair(folder: pathlib.Path, name: str) -> tuple[str, str]:
    """An elliptic-curve key pair as PEM files: (private, public)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = folder / f"{name}.pem"
    private.write_bytes(private_pem(key))
    public = folder / f"{name}.pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )
    return str(private), str(public)


@pytest.fixture
def keys(tmp_path) -> dict[str, str]:
    folder = tmp_path / "keys"
    folder.mkdir()
    ours, ours_public = write_key_pair(folder, "ours")
    theirs, theirs_public = write_key_pair(folder, "theirs")
    return {
        "private": ours,
        "public": ours_public,
        "other": theirs,
        "other_public": theirs_public,
    }


@pytest.fixture
def strict(keys, monkeypatch):
    """Our key trusted, and a signature required."""
    monkeypatch.setattr(audmodel.config, "TRUSTED_KEYS", [keys["public"]])
    monkeypatch.setattr(audmodel.config, "REQUIRE_SIGNATURE", True)


def fingerprint_of(public: str) -> str:
    import hashlib

    key = serialization.load_pem_public_key(pathlib.Path(public).read_bytes())
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"sha256:{hashlib.sha256(pem).hexdigest()}"


def nothing_of(uid: str, cache: str) -> None:
    """Assert that the cache holds nothing of a model but its header and meta."""
    short_id, version = uid.split("-", 1)
    folder = pathlib.Path(cache, short_id)
    left = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert version not in left
    # Lock files stay, as for every file of the cache: they hold nothing.
    kept = [name for name in left if not name.endswith(".lock")]
    assert not [name for name in kept if "staging" in name]
    assert f"{version}.sigstore.json" not in kept
    assert uid not in set(audmodel.cached().index)


@pytest.mark.parametrize("backend_name", SIGNING_BACKENDS)
def test_a_signed_model_loads_with_its_key_trusted_and_a_signature_required(
    repository, model_root, keys, strict, cache
):
    uid = publish(model_root, signing_key=keys["private"])
    folder = audmodel.load(uid)
    assert files_below(folder) == files_below(model_root)
    bundle = audmodel.signature(uid)
    # Beside the folder, never inside it: the folder stays what 1.5 loads.
    assert os.path.dirname(bundle) == os.path.dirname(folder)
    assert not bundle.startswith(folder + os.sep)
    assert audmodel.verify_signature(uid) == fingerprint_of(keys["public"])
    # model_signing's own command line agrees.
    command = [sys.executable, "-m", "model_signing", "verify", "key", folder]
    command += ["--signature", bundle, "--public_key", keys["public"]]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def replace_archive(repository, uid: str, model_root: str, tmp_path) -> None:
    """Put a well-formed archive with other bytes in one file in a model's place."""
    short_id, version = uid.split("-", 1)
    other = tmp_path / "other"
    other.mkdir()
    for name, data in files_below(model_root).items():
        (other / name).parent.mkdir(parents=True, exist_ok=True)
        (other / name).write_bytes(data)
    (other / "model.onnx").write_bytes(b"weights that run something else")
    archive = str(tmp_path / "other.zip")
    _archive.create(str(other), archive)
    header = audmodel.header(uid)
    stored = _layout.archive_path(short_id, header["name"], header["subgroup"])
    interface = repository.create_backend_interface()
    with interface.backend:
        interface.put_file(archive, stored, version)


@pytest.mark.parametrize("backend_name", SIGNING_BACKENDS)
def test_an_archive_replaced_by_another_is_refused_with_nothing_left(
    repository, model_root, tmp_path, keys, strict, cache
):
    uid = publish(model_root, signing_key=keys["private"])
    replace_archive(repository, uid, model_root, tmp_path)
    with pytest.raises(audmodel.errors.SignatureError) as error:
        audmodel.load(uid)
    message = str(error.value)
    assert isinstance(error.value, RuntimeError)
    assert f"Model '{uid}' does not match its signature" in message
    assert fingerprint_of(keys["public"]) in message
    assert "'model.onnx' differs from the signed file" in message
    nothing_of(uid, cache)
    # check() tells it too, without a key.
    audmodel.config.TRUSTED_KEYS = []
    audmodel.config.REQUIRE_SIGNATURE = False
    table = audmodel.check()
    assert "signature does not match" in set(table["problem"])


@pytest.mark.parametrize("backend_name", SIGNING_BACKENDS)
def test_a_signature_by_another_key_is_refused_with_nothing_left(
    repository, model_root, keys, strict, cache
):
    uid = publish(model_root, signing_key=keys["other"])
    with pytest.raises(audmodel.errors.SignatureError) as error:
        audmodel.load(uid)
    assert fingerprint_of(keys["other_public"]) in str(error.value)
    assert "which is not trusted" in str(error.value)
    nothing_of(uid, cache)


@pytest.mark.parametrize("backend_name", ["s3"])
def test_a_signature_copied_from_another_model_is_refused(
    repository, model_root, tmp_path, keys, strict, cache
):
    signed = publish(model_root, "1.0.0", signing_key=keys["private"])
    pathlib.Path(model_root, "model.onnx").write_bytes(b"other weights")
    other = publish(model_root, "2.0.0")
    short_id = signed.split("-")[0]
    path = _layout.signature_path(short_id)
    interface = repository.create_backend_interface()
    with interface.backend:
        interface.get_file(path, str(tmp_path / "copied.json"), "1.0.0")
        interface.put_file(str(tmp_path / "copied.json"), path, "2.0.0")
    with pytest.raises(audmodel.errors.SignatureError, match="differs from the signed"):
        audmodel.load(other)
    nothing_of(other, cache)


@pytest.mark.parametrize("backend_name", SIGNING_BACKENDS)
def test_an_unsigned_model_is_refused_where_a_signature_is_required(
    repository, model_root, strict, cache
):
    uid = publish(model_root)
    with pytest.raises(audmodel.errors.SignatureError, match="is not signed"):
        audmodel.load(uid)
    nothing_of(uid, cache)


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_without_a_required_signature_other_keys_warn_and_unsigned_loads(
    repository, model_root, keys, cache, monkeypatch
):
    monkeypatch.setattr(audmodel.config, "TRUSTED_KEYS", [keys["public"]])
    unsigned = publish(model_root, "1.0.0")
    assert files_below(audmodel.load(unsigned)) == files_below(model_root)
    theirs = publish(model_root, "2.0.0", signing_key=keys["other"])
    with pytest.warns(UserWarning, match="is not trusted: its files are not checked"):
        audmodel.load(theirs)


@pytest.mark.parametrize("backend_name", SIGNING_BACKENDS)
def test_copy_keeps_the_signature_valid(
    make_repository, model_root, keys, strict, monkeypatch, cache
):
    source, target = make_repository(), make_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [source])
    uid = publish(model_root, signing_key=keys["private"])
    audmodel.copy(uid, target)
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [target])
    assert audmodel.verify_signature(uid) == fingerprint_of(keys["public"])
    assert files_below(audmodel.load(uid)) == files_below(model_root)


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_remove_takes_the_signature_along(repository, model_root, keys):
    from helpers import backend_files

    uid = publish(model_root, signing_key=keys["private"])
    assert any("sigstore" in path for path in backend_files(repository))
    audmodel.remove(uid)
    assert not any("sigstore" in path for path in backend_files(repository))
    assert audmodel.check().empty


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_a_model_is_checked_without_being_loaded(repository, model_root, keys, cache):
    uid = publish(model_root, signing_key=keys["private"])
    fingerprint = fingerprint_of(keys["public"])
    assert audmodel.verify_signature(uid, keys["public"]) == fingerprint
    assert audmodel.cached().empty  # checked in a temporary folder
    with pytest.raises(audmodel.errors.SignatureError, match="not a trusted key"):
        audmodel.verify_signature(uid, keys["other_public"])
    with pytest.raises(ValueError, match="No key to check the signature with"):
        audmodel.verify_signature(uid)


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_offline_and_in_the_shared_cache_the_kept_signature_is_checked(
    repository, model_root, keys, strict, tmp_path, monkeypatch
):
    uid = publish(model_root, signing_key=keys["private"])
    shared = str(tmp_path / "shared")
    filled = audmodel.load(uid, cache_root=shared)  # the administrator's load
    monkeypatch.setattr(audmodel.config, "SHARED_CACHE_ROOT", shared)
    assert audmodel.load(uid) == filled
    monkeypatch.setattr(audmodel.config, "OFFLINE", True)
    assert audmodel.load(uid) == filled  # with the signature kept there


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_a_model_of_the_shared_cache_that_was_not_signed_so_is_refused(
    repository, model_root, keys, tmp_path, monkeypatch
):
    uid = publish(model_root, signing_key=keys["private"])
    replace_archive(repository, uid, model_root, tmp_path)
    # The administrator, trusting no key, fills the shared cache from the
    # replaced archive: its files match the archive, not the signature.
    shared = str(tmp_path / "shared")
    audmodel.load(uid, cache_root=shared)
    monkeypatch.setattr(audmodel.config, "SHARED_CACHE_ROOT", shared)
    monkeypatch.setattr(audmodel.config, "TRUSTED_KEYS", [keys["public"]])
    with (
        pytest.warns(UserWarning, match="not taken from the shared cache"),
        pytest.raises(audmodel.errors.SignatureError, match=r"'model\.onnx' differs"),
    ):
        audmodel.load(uid)


@pytest.mark.parametrize("backend_name", ["s3"])
def test_a_file_fetched_alone_is_checked_against_the_signature(
    repository, model_root, keys, strict, cache
):
    uid = publish(model_root, signing_key=keys["private"])
    path = audmodel.load_file(uid, "model.yaml")
    assert pathlib.Path(path).read_text() == "layers: 10\n"


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_bad_keys_are_one_line_errors_naming_the_file(
    repository, model_root, keys, tmp_path
):
    missing = str(tmp_path / "missing.pem")
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(
        private_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    )
    cases = {
        missing: "does not exist",
        keys["public"]: "is a public key: signing takes the private key",
        str(rsa_key): "model signing takes elliptic-curve keys",
        str(model_root): "cannot be read",
    }
    for key, said in cases.items():
        with pytest.raises(audmodel.errors.KeyFileError) as error:
            publish(model_root, signing_key=key)
        message = str(error.value)
        assert isinstance(error.value, ValueError)
        assert f"'{key}'" in message and said in message
        assert "\n" not in message
    assert audmodel.available().empty  # nothing was published


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_a_corrupt_signature_in_the_repository_is_named(
    repository, model_root, keys, strict, cache
):
    uid = publish(model_root, signing_key=keys["private"])
    short_id, version = uid.split("-", 1)
    interface = repository.create_backend_interface()
    with interface.backend:
        local = pathlib.Path(cache, "broken.json")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text("{not json")
        interface.put_file(str(local), _layout.signature_path(short_id), version)
    with pytest.raises(audmodel.errors.SignatureError, match="is corrupt") as error:
        audmodel.load(uid)
    assert f"of model '{uid}' in " in str(error.value)
    nothing_of(uid, cache)


def test_a_required_signature_without_trusted_keys_is_a_configuration_error(
    repository, model_root, monkeypatch
):
    uid = publish(model_root)
    monkeypatch.setattr(audmodel.config, "REQUIRE_SIGNATURE", True)
    with pytest.raises(audmodel.errors.ConfigurationError, match="no key is trusted"):
        audmodel.load(uid)


def test_without_the_extra_signing_says_which_extra_to_install(
    tmp_path, model_root, keys
):
    code = (
        "import sys; sys.modules['model_signing'] = None\n"
        "import audmodel\n"
        f"audmodel.config.REPOSITORIES = [audmodel.Repository('m', {str(tmp_path)!r}, "
        "'file-system')]\n"
        "try:\n"
        f"    audmodel.publish({model_root!r}, 'x', {{}}, '1.0.0', "
        f"signing_key={keys['private']!r})\n"
        "except ImportError as ex:\n"
        "    print(type(ex).__name__, ex)\n"
    )
    (tmp_path / "m").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("ExtraMissingError")
    assert "pip install 'audmodel[sign]'" in done.stdout


# --- the command line ------------------------------------------------------------


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_the_command_line_signs_verifies_and_fetches_signatures(
    capsys, repository, model_root, keys, cache
):
    args = ["-r", repository.name, repository.host, repository.backend]
    signed = ["publish", model_root, "onnx", "1.0.0", "--sign", keys["private"]]
    assert main([*signed, *args]) == 0
    uid = capsys.readouterr().out.strip()
    assert main(["verify", uid, "--public-key", keys["public"], *args]) == 0
    assert capsys.readouterr().out.strip() == fingerprint_of(keys["public"])
    assert main(["signature", uid, *args]) == 0
    assert capsys.readouterr().out.strip().endswith("1.0.0.sigstore.json")
    assert main(["verify", uid, "--public-key", keys["other_public"], *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("audmodel: error: ") and err.count("\n") == 1


# --- the catalog -----------------------------------------------------------------


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_the_catalog_tells_who_signed(repository, model_root, keys, tmp_path):
    from starlette.testclient import TestClient

    from audmodel import _ui

    signed = publish(model_root, "1.0.0", signing_key=keys["private"])
    unsigned = publish(model_root, "2.0.0")
    catalog = _ui.Catalog([repository], str(tmp_path / "catalog-cache"))
    client = TestClient(_ui.app(catalog))
    fingerprint = fingerprint_of(keys["public"])
    assert client.get(f"/api/models/{signed}").json()["signed_by"] == fingerprint
    assert client.get(f"/api/models/{unsigned}").json()["signed_by"] is None
    page = client.get(f"/models/{signed}").text
    assert f"signed by <code>{fingerprint}</code>" in page
    assert "unsigned" in client.get(f"/models/{unsigned}").text


# --- with certificates -------------------------------------------------------------


def write_certified_key(folder: pathlib.Path, name: str) -> tuple[str, str]:
    """A key with its certificate and the root's after it, and the root: (key, root)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from cryptography.x509.oid import NameOID

    def certificate(subject, issuer, public_key, signing_key, ca):
        now = datetime.datetime.now(datetime.timezone.utc)
        usage = dict.fromkeys(
            [
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
                "encipher_only",
                "decipher_only",
            ],
            False,
        )
        usage.update(key_cert_sign=ca, crl_sign=ca, digital_signature=not ca)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
            .add_extension(x509.KeyUsage(**usage), True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False
            )
        return builder.sign(signing_key, hashes.SHA256()).public_bytes(
            serialization.Encoding.PEM
        )

    root_key = ec.generate_private_key(ec.SECP256R1())
    root = certificate(
        f"{name} root", f"{name} root", root_key.public_key(), root_key, True
    )
    key = ec.generate_private_key(ec.SECP256R1())
    own = certificate(
        f"{name} signer", f"{name} root", key.public_key(), root_key, False
    )
    private = folder / f"{name}.pem"
    private.write_bytes(private_pem(key) + own + root)
    (folder / f"{name}-root.pem").write_bytes(root)
    return str(private), str(folder / f"{name}-root.pem")


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_a_key_with_its_certificate_chain_signs_and_the_root_verifies(
    repository, model_root, tmp_path, monkeypatch, cache
):
    ours, our_root = write_certified_key(tmp_path, "ours")
    theirs, _ = write_certified_key(tmp_path, "theirs")
    monkeypatch.setattr(audmodel.config, "TRUSTED_KEYS", [our_root])
    monkeypatch.setattr(audmodel.config, "REQUIRE_SIGNATURE", True)
    uid = publish(model_root, "1.0.0", signing_key=ours)
    assert files_below(audmodel.load(uid)) == files_below(model_root)
    assert audmodel.verify_signature(uid).startswith("sha256:")
    other = publish(model_root, "2.0.0", signing_key=theirs)
    with pytest.raises(audmodel.errors.SignatureError, match="is not valid for"):
        audmodel.load(other)
    nothing_of(other, cache)


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_with_a_root_trusted_too_another_plain_key_warns_where_not_required(
    repository, model_root, keys, tmp_path, monkeypatch
):
    _, root = write_certified_key(tmp_path, "ours")
    monkeypatch.setattr(audmodel.config, "TRUSTED_KEYS", [keys["public"], root])
    theirs = publish(model_root, signing_key=keys["other"])
    with pytest.warns(UserWarning, match="is not trusted: its files are not checked"):
        assert files_below(audmodel.load(theirs)) == files_below(model_root)
